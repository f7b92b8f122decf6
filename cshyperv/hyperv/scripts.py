"""The PowerShell scripts of the Hyper-V plug-in, loaded from package data.

Each operation is one ``scripts/<name>.ps1`` starting with ``param($p)``; ``_common.ps1`` holds
helpers every operation may use. The text sent to the host is
``param($p)`` + common helpers + the operation's body, constant per operation: values never enter
script text, they travel in the single JSON parameter document ``$p``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["OPERATIONS", "bootstrap_text", "operation_of", "script_text"]

OPERATIONS = (
    "attach_disk",
    "checkpoint",
    "create_vm",
    "destroy_vm",
    "detach_disk",
    "get_vm",
    "host_info",
    "host_stats",
    "list_vms",
    "migrate_vm",
    "nic",
    "path_capacity",
    "preflight",
    "reboot_vm",
    "start_vm",
    "stop_vm",
    "vm_control",
    "vm_stats",
    "volume",
)

_PARAM = re.compile(r"\A\s*param\(\$p\)\s*\n", re.IGNORECASE)


def _read(name: str) -> str:
    return resources.files("cshyperv.hyperv").joinpath("scripts").joinpath(f"{name}.ps1").read_text(encoding="utf-8")


@cache
def script_text(operation: str) -> str:
    """The full, constant script text sent for ``operation``."""
    if operation not in OPERATIONS:
        raise KeyError(f"no PowerShell script for {operation!r}")
    body = _read(operation)
    match = _PARAM.match(body)
    if match is None:
        raise ValueError(f"{operation}.ps1 must start with param($p)")
    return "param($p)\n" + _read("_common") + "\n# --- " + operation + "\n" + body[match.end() :]


@cache
def bootstrap_text(runner: str) -> str:
    """The constant entry script of a runner: ``winrm`` (run as the one command line, reads the
    envelope from stdin) or ``psrp`` (sent as the one pipeline script, the envelope a parameter).
    Both share ``_envelope.ps1``, so an operation behaves the same whichever runner carries it."""
    envelope = _read("_envelope")
    if runner == "winrm":
        return envelope + "\n" + _read("_bootstrap")
    if runner == "psrp":
        body = _read("_psrp_bootstrap")
        match = re.match(r"\A\s*param\(\[string\] \$Envelope\)\s*\n", body)
        if match is None:
            raise ValueError("_psrp_bootstrap.ps1 must start with param([string] $Envelope)")
        return "param([string] $Envelope)\n" + envelope + "\n" + body[match.end() :]
    raise KeyError(f"no bootstrap for runner {runner!r}")


@cache
def _by_text() -> dict[str, str]:
    return {script_text(name): name for name in OPERATIONS}


def operation_of(text: str) -> str | None:
    """Which operation a script text is (test doubles use it to emulate the host)."""
    return _by_text().get(text)
