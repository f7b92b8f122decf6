"""A loopback WS-Management endpoint that pywinrm talks to over real HTTP.

:class:`LoopbackWSManServer` answers the WinRM shell protocol (Create, Command, Send, Receive,
Signal, Delete) on 127.0.0.1 with HTTP basic authentication. It plays the part of
``powershell.exe`` running cshyperv's bootstrap: the stdin document ``{"script", "params"}`` goes
to a Python handler (e.g. :class:`cshyperv.testing.hyperv_host.SimulatedHyperVHost`), and the
outcome comes back on stdout in the bootstrap's marker-line format. It counts HTTP exchanges per
action, records every script received, and can inject faults (401, 500, connection reset, the
WinRM busy fault, a dropped shell, delays) to test the runner's handling of each.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BUSY_FAULT_CODE", "MARKER", "SHELL_NOT_FOUND_FAULT_CODE", "LoopbackWSManServer", "run_envelope"]

MARKER = "#cshyperv-result:"
SHELL_NOT_FOUND_FAULT_CODE = 2150858843
BUSY_FAULT_CODE = 2150859174

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "Create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "Delete",
    f"{SHELL}/Command": "Command",
    f"{SHELL}/Send": "Send",
    f"{SHELL}/Receive": "Receive",
    f"{SHELL}/Signal": "Signal",
}

Handler = Callable[[str, Any], Any]


class _Command:
    def __init__(self) -> None:
        self.stdin = bytearray()
        self.stdout: bytes | None = None
        self.ended = threading.Event()


def _envelope(body: str, relates_to: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" '
        f'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer">'
        f"<s:Header><a:RelatesTo>{relates_to}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _fault(code: int, reason: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault">'
        "<s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
        "<s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="{code}" Machine="loopback"><f:Message>{reason}</f:Message>'
        "</f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


class LoopbackWSManServer:
    """The endpoint; use as a context manager. ``url`` is ``http://127.0.0.1:<port>/wsman``."""

    def __init__(self, handler: Handler, *, username: str = "admin", password: str = "P@ss w0rd") -> None:
        self.handler = handler
        self.username = username
        self.password = password
        self.exchanges: Counter[str] = Counter()
        self.scripts: list[str] = []
        # Shell id -> its state: commands of a WinRS shell here, a runspace pool in LoopbackPSRPServer.
        self.shells: dict[str, Any] = {}
        self._faults: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        outer = self

        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                outer._serve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/wsman"

    def inject(self, action: str, fault: str) -> None:
        """Make the next request for ``action`` (Create, Command, Send, Receive, Signal, Delete or
        ``*``) fail with ``fault``: ``401``, ``500``, ``reset``, ``busy``, ``drop-shell`` or
        ``delay:<seconds>``."""
        with self._lock:
            self._faults.append((action, fault))

    def total_exchanges(self) -> int:
        return sum(self.exchanges.values())

    def __enter__(self) -> LoopbackWSManServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loopback-wsman", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- protocol -------------------------------------------------------------------------------

    def _take_fault(self, action: str) -> str | None:
        with self._lock:
            for index, (target, fault) in enumerate(self._faults):
                if target in (action, "*"):
                    del self._faults[index]
                    return fault
        return None

    def _reply(self, request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        root = ET.fromstring(raw)
        action_uri = root.findtext("s:Header/a:Action", default="", namespaces=NS)
        action = ACTIONS.get(action_uri, "Unknown")
        message_id = root.findtext("s:Header/a:MessageID", default="", namespaces=NS)
        shell_id = root.findtext('s:Header/w:SelectorSet/w:Selector[@Name="ShellId"]', default="", namespaces=NS)
        with self._lock:
            self.exchanges[action] += 1
        fault = self._take_fault(action)
        if fault is not None:
            if fault == "401":
                request.send_response(401)
                request.send_header("Content-Length", "0")
                request.end_headers()
                return
            if fault == "500":
                self._reply(request, 500, b"internal error")
                return
            if fault == "reset":
                request.close_connection = True
                request.connection.close()
                return
            if fault == "busy":
                self._reply(
                    request,
                    500,
                    _fault(
                        BUSY_FAULT_CODE, "The WS-Management service cannot process the request: too many operations."
                    ),
                )
                return
            if fault == "drop-shell":
                with self._lock:
                    self.shells.pop(shell_id, None)
            elif fault.startswith("delay:"):
                time.sleep(float(fault.split(":", 1)[1]))
        self._handle(request, root, action, message_id, shell_id)

    def _shell_not_found(self, request: BaseHTTPRequestHandler) -> None:
        reason = "The request for the Windows Remote Shell with ShellId failed because the shell was not found."
        self._reply(request, 500, _fault(SHELL_NOT_FOUND_FAULT_CODE, reason))

    def _handle(
        self, request: BaseHTTPRequestHandler, root: ET.Element, action: str, message_id: str, shell_id: str
    ) -> None:
        """The WinRS cmd-shell protocol; subclasses serve other shells on the same plumbing."""
        if action == "Create":
            new_id = str(uuid.uuid4()).upper()
            with self._lock:
                self.shells[new_id] = {}
            body = (
                "<x:ResourceCreated><a:Address>loopback</a:Address><a:ReferenceParameters><w:SelectorSet>"
                f'<w:Selector Name="ShellId">{new_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
                f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{new_id}</rsp:ShellId></rsp:Shell>"
            )
            self._reply(request, 200, _envelope(body, message_id))
            return
        with self._lock:
            shell = self.shells.get(shell_id)
        if shell is None:
            self._shell_not_found(request)
            return
        if action == "Delete":
            with self._lock:
                self.shells.pop(shell_id, None)
            self._reply(request, 200, _envelope("", message_id))
            return
        if action == "Command":
            command_id = str(uuid.uuid4()).upper()
            with self._lock:
                shell[command_id] = _Command()
            body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
            self._reply(request, 200, _envelope(body, message_id))
            return
        # (Elements without children are falsy: compare with None, never use `or`.)
        stream = root.find("s:Body/rsp:Send/rsp:Stream", NS)
        if stream is None:
            stream = root.find("s:Body/rsp:Receive/rsp:DesiredStream", NS)
        signal = root.find("s:Body/rsp:Signal", NS)
        wanted: str | None = None
        if stream is not None:
            wanted = stream.get("CommandId")
        elif signal is not None:
            wanted = signal.get("CommandId")
        command_id = wanted or ""
        command = shell.get(command_id)
        if command is None:
            self._reply(request, 500, _fault(2150858778, "unknown command"))
            return
        if action == "Send":
            assert stream is not None
            command.stdin.extend(base64.b64decode(stream.text or ""))
            if stream.get("End") == "true":
                command.stdout = self._run(bytes(command.stdin))
                command.ended.set()
            self._reply(request, 200, _envelope("<rsp:SendResponse/>", message_id))
            return
        if action == "Receive":
            # A command that gets no stdin (pywinrm's run_ps) is answered as finished, empty.
            if not command.ended.wait(0.05) and not command.stdin:
                command.stdout = b""
                command.ended.set()
            command.ended.wait(30)
            out = base64.b64encode(command.stdout or b"").decode()
            body = (
                f'<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="{command_id}">{out}</rsp:Stream>'
                f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>'
                f'<rsp:CommandState CommandId="{command_id}" State="{SHELL}/CommandState/Done">'
                "<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>"
            )
            self._reply(request, 200, _envelope(body, message_id))
            return
        if action == "Signal":
            with self._lock:
                shell.pop(command_id, None)
            self._reply(request, 200, _envelope("<rsp:SignalResponse/>", message_id))
            return
        self._reply(request, 500, _fault(2150858778, "unsupported action"))

    def _run(self, stdin: bytes) -> bytes:
        """What the bootstrap would print for this stdin document."""
        return (run_envelope(self.handler, stdin.decode("utf-8", "replace"), self._note_script) + "\r\n").encode()

    def _note_script(self, script: str) -> None:
        with self._lock:
            self.scripts.append(script)


def run_envelope(handler: Handler, text: str, note: Callable[[str], None] | None = None) -> str:
    """What ``_envelope.ps1``'s Invoke-CsEnvelope returns for ``text``: one marker line."""
    try:
        envelope = json.loads(text)
        script, params = envelope["script"], envelope["params"]
    except (ValueError, KeyError, TypeError):
        record = {"category": "ParserError", "fully_qualified_error_id": "cshyperv.BadEnvelope", "message": "bad input"}
        return MARKER + json.dumps({"error": record})
    if note is not None:
        note(script)
    from cshyperv.hyperv.plugin import PowerShellError

    try:
        result = handler(script, params)
        outcome: dict[str, Any] = {"ok": getattr(result, "result", result)}
    except PowerShellError as exc:
        outcome = {"error": exc.record}
    return MARKER + json.dumps(outcome, ensure_ascii=False)
