"""What ``preflight.ps1`` finds on a simulated Hyper-V host, with a knob for every check.

:class:`HostReadiness` describes the host; :func:`preflight_answer` answers the preflight script
from it, row for row as the real script does (same names, same details, same fixes), so
``cshyperv agent check`` can be tested against the loopback WS-Management endpoint with the host
configured to fail any one check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["HostReadiness", "preflight_answer"]


@attrs.define
class HostReadiness:
    """A simulated host's readiness; change a field to make that check fail.

    ``missing`` and ``denied`` hold folders and shares (as the host names them) that do not exist
    or that the WinRM account (for shares: the host, on the second hop) cannot write.
    """

    powershell: str = "5.1.20348.2849"
    hyperv_module: bool = True
    vmms: str = "Running"
    hyperv_admin: bool = True
    switches: set[str] = attrs.field(factory=lambda: {"vSwitch"})
    missing: set[str] = attrs.field(factory=set)
    denied: set[str] = attrs.field(factory=set)
    migration_enabled: bool = True
    migration_auth: str = "Kerberos"
    vm_path: str = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V"
    vhd_path: str = "C:\\Users\\Public\\Documents\\Hyper-V\\Virtual Hard Disks"


def _row(name: str, ok: bool, detail: str, fix: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail, "fix": "" if ok else fix}


def _writable(readiness: HostReadiness, folder: str) -> str | None:
    key = folder.lower()
    if key in {m.lower() for m in readiness.missing}:
        return "does not exist"
    if key in {d.lower() for d in readiness.denied}:
        return "access denied"
    return None


def preflight_answer(readiness: HostReadiness, p: Mapping[str, Any]) -> dict[str, Any]:
    """What ``preflight.ps1`` returns on a host like ``readiness`` for parameters ``p``."""
    rows = []
    major, minor = (int(x) for x in readiness.powershell.split(".")[:2])
    rows.append(
        _row(
            "powershell",
            major > 5 or (major == 5 and minor >= 1),
            "Windows PowerShell " + readiness.powershell,
            "install Windows Management Framework 5.1",
        )
    )
    rows.append(
        _row(
            "hyperv_module",
            readiness.hyperv_module,
            "Hyper-V module 2.0.0.0" if readiness.hyperv_module else "not installed",
            "Install-WindowsFeature -Name Hyper-V, Hyper-V-PowerShell -Restart",
        )
    )
    if not readiness.hyperv_module:
        return {"checks": rows}
    rows.append(
        _row(
            "hyperv_service",
            readiness.vmms == "Running",
            "vmms " + readiness.vmms,
            "Start-Service -Name vmms (and check the Hyper-V role is installed)",
        )
    )
    if not readiness.hyperv_admin:
        rows.append(
            _row(
                "hyperv_host",
                False,
                "You do not have the required permission to complete this task.",
                "add the WinRM account to the Hyper-V Administrators group",
            )
        )
    else:
        if p.get("switch"):
            name = str(p["switch"])
            found = [s for s in readiness.switches if s.lower() == name.lower()]
            rows.append(
                _row(
                    "switch " + name,
                    len(found) == 1,
                    "External switch" if found else "no such vSwitch",
                    "create it (New-VMSwitch) or name an existing one (Get-VMSwitch) as the default switch",
                )
            )
        for key, default in (("vm_path", readiness.vm_path), ("vhd_path", readiness.vhd_path)):
            folder = str(p.get(key) or default)
            problem = _writable(readiness, folder)
            rows.append(
                _row(
                    f"{key} {folder}",
                    problem is None,
                    problem or "writable",
                    "create the folder and give the WinRM account modify rights on it",
                )
            )
        if p.get("live_migration"):
            rows.append(
                _row(
                    "live_migration",
                    readiness.migration_enabled,
                    f"enabled: {readiness.migration_enabled}, authentication: {readiness.migration_auth}",
                    "Enable-VMMigration; Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos (with "
                    "constrained delegation) or CredSSP",
                )
            )
    for share in p.get("shares") or []:
        problem = _writable(readiness, str(share))
        rows.append(
            _row(
                f"host share {share}",
                problem is None,
                problem or "writable from the host",
                "give the host's computer account (or the delegated WinRM account) modify rights on the share",
            )
        )
    return {"checks": rows}
