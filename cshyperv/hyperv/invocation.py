"""What both runners share: the outcome of one invocation and the mapping of transport errors.

The entry scripts (``_envelope.ps1``) print ONE marker line, ``#cshyperv-result:`` + JSON holding
``ok`` (the script's result) or ``error`` (the error record); :func:`outcome_of` reads it.
:func:`map_transport_error` turns a runner library's foreign exception into cshyperv's error tree
once, naming the host and never a credential. The WS-Management fault codes the runners react to
live here too.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from cshyperv.errors import (
    HypervisorAccessDeniedError,
    HypervisorConnectionError,
    HypervisorError,
    OperationTimeoutError,
)
from cshyperv.hyperv.plugin import PowerShellError

__all__ = [
    "BUSY_CODES",
    "MARKER",
    "OPERATION_TIMED_OUT",
    "SHELL_NOT_FOUND",
    "map_transport_error",
    "outcome_of",
    "parse_clixml",
]

MARKER = "#cshyperv-result:"
SHELL_NOT_FOUND = 2150858843
BUSY_CODES = (2150859174, 2150859173)  # operation-limit and shell-quota faults
# w:TimedOut on a Receive: nothing arrived within the request's OperationTimeout; ask again.
OPERATION_TIMED_OUT = 2150858793


def parse_clixml(stderr: bytes) -> list[str]:
    """Error/warning messages from PowerShell's CLIXML stderr (``#< CLIXML`` + <Objs>)."""
    text = stderr.decode("utf-8", "replace")
    if "#< CLIXML" not in text:
        return [text.strip()] if text.strip() else []
    messages = []
    body = text.split("#< CLIXML", 1)[1].strip()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    for node in root.iter():
        is_string = node.tag.endswith("}S") or node.tag == "S"
        if is_string and node.get("S") in ("Error", "Warning", "Verbose") and node.text:
            messages.append(node.text.replace("_x000D__x000A_", "\n").strip())
    return messages


def outcome_of(stdout: bytes, stderr: bytes) -> Any:
    """The result in the entry script's marker line, or the error record it carries (raised as
    :class:`PowerShellError`)."""
    for line in stdout.decode("utf-8", "replace").splitlines():
        if line.startswith(MARKER):
            outcome = json.loads(line[len(MARKER) :])
            if "error" in outcome:
                raise PowerShellError(outcome["error"])
            return outcome.get("ok")
    messages = parse_clixml(stderr)
    raise HypervisorError("PowerShell gave no result" + (f": {messages[0][:300]}" if messages else ""))


def map_transport_error(
    exc: BaseException, host: str, label: str, *, refused: bool, fault: Any, transport: Any
) -> HypervisorError:
    """A runner's foreign error, translated once into cshyperv's tree. The runner says what its
    library's exception means (credentials refused, a WS-Management fault code, an HTTP status);
    messages name the host, never a credential."""
    if isinstance(exc, HypervisorError):
        return exc
    if refused or transport == 401:
        return HypervisorAccessDeniedError(f"the Hyper-V host {host} refused the credentials")
    if fault is not None:
        return HypervisorError(f"WinRM fault {fault} from {host}")
    if transport is not None:
        return HypervisorConnectionError(f"WinRM transport error {transport} from {host}")
    name = type(exc).__name__
    if "Timeout" in name:
        return OperationTimeoutError(f"{host} did not answer in time")
    if "SSL" in name or "Certificate" in name:
        return HypervisorConnectionError(f"the TLS certificate of {host} was not accepted ({name})")
    if isinstance(exc, (ConnectionError, OSError)) or "Connection" in name:
        return HypervisorConnectionError(f"cannot reach the Hyper-V host {host} ({name})")
    return HypervisorError(f"{label} call to {host} failed ({name})")
