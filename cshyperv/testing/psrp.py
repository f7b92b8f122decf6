"""A loopback PSRP endpoint: PowerShell remoting over real HTTP, for pypsrp and the PSRP runner.

:class:`LoopbackPSRPServer` serves the ``Microsoft.PowerShell`` shell on the same WS-Management
plumbing as :class:`~cshyperv.testing.wsman.LoopbackWSManServer` (its authentication, sealing and
TLS, exchange counts, fault injection), with psrpcore's server-side runspace pool speaking PSRP. A pipeline
that runs the PSRP runner's constant entry script with its ``Envelope`` parameter is executed by
a Python handler (e.g. :class:`~cshyperv.testing.hyperv_host.SimulatedHyperVHost`), and the
entry script's one marker line goes back on the output stream; any other pipeline gets an error
record, as a host without the script would give.
"""

from __future__ import annotations

import base64
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from cshyperv.hyperv.scripts import bootstrap_text
from cshyperv.testing.wsman import (
    NS,
    SHELL,
    Handler,
    LoopbackWSManServer,
    _envelope,
    _fault,
    run_envelope,
)

__all__ = ["LoopbackPSRPServer", "OPERATION_TIMEOUT_FAULT_CODE"]

PWSH = "http://schemas.microsoft.com/powershell"
OPERATION_TIMEOUT_FAULT_CODE = 2150858793
_RECEIVE_WAIT_S = 0.5


class _Pool:
    """One runspace pool: psrpcore's server state and what waits to be received, per pipeline."""

    def __init__(self) -> None:
        try:
            import psrpcore
        except ImportError:  # psrpcore comes with the testing extra, beside pypsrp's client side
            raise ImportError(
                "the loopback PSRP endpoint needs psrpcore: pip install 'cshyperv[testing]'", name="psrpcore"
            ) from None

        self.server = psrpcore.ServerRunspacePool()
        self.outgoing: defaultdict[uuid.UUID | None, deque[bytes]] = defaultdict(deque)
        # One lock for psrpcore's state and the queues: requests and running pipelines share them.
        self.ready = threading.Condition(threading.RLock())


class LoopbackPSRPServer(LoopbackWSManServer):
    """The endpoint; use as a context manager. ``url`` is ``http://127.0.0.1:<port>/wsman``."""

    def __init__(self, handler: Handler, **options: Any) -> None:
        """``options`` as for :class:`~cshyperv.testing.wsman.LoopbackWSManServer` (the account,
        ``auth``, ``allow_unencrypted``, ``tls``)."""
        super().__init__(handler, **options)
        self.pipelines_run = 0
        self._entry = bootstrap_text("psrp")

    # -- PSRP over WinRS messages -----------------------------------------------------------------

    def _handle(
        self, request: BaseHTTPRequestHandler, root: ET.Element, action: str, message_id: str, shell_id: str
    ) -> None:
        if action == "Create":
            self._create(request, root, message_id)
            return
        with self._lock:
            pool = self.shells.get(shell_id)
        if not isinstance(pool, _Pool):
            self._shell_not_found(request)
            return
        if action == "Delete":
            with self._lock:
                self.shells.pop(shell_id, None)
            self._reply(request, 200, _envelope("", message_id))
        elif action == "Command":
            self._command(request, root, message_id, pool)
        elif action == "Send":
            stream = root.find("s:Body/rsp:Send/rsp:Stream", NS)
            assert stream is not None
            self._feed(pool, base64.b64decode(stream.text or ""), _pipeline_id(stream.get("CommandId")))
            self._reply(request, 200, _envelope("<rsp:SendResponse/>", message_id))
        elif action == "Receive":
            self._receive(request, root, message_id, pool)
        elif action == "Signal":
            signal = root.find("s:Body/rsp:Signal", NS)
            pipeline = _pipeline_id(signal.get("CommandId") if signal is not None else None)
            if pipeline is not None:
                with pool.ready:
                    pool.server.pipeline_table.pop(pipeline, None)
                    pool.outgoing.pop(pipeline, None)
            self._reply(request, 200, _envelope("<rsp:SignalResponse/>", message_id))
        else:
            self._reply(request, 500, _fault(2150858778, "unsupported action"))

    def _create(self, request: BaseHTTPRequestHandler, root: ET.Element, message_id: str) -> None:
        shell = root.find("s:Body/rsp:Shell", NS)
        creation = root.find(f"s:Body/rsp:Shell/{{{PWSH}}}creationXml", NS)
        if shell is None or creation is None:
            self._reply(request, 500, _fault(2150858778, "not a PowerShell runspace pool"))
            return
        new_id = (shell.get("ShellId") or str(uuid.uuid4())).upper()
        pool = _Pool()
        with self._lock:
            self.shells[new_id] = pool
        self._feed(pool, base64.b64decode(creation.text or ""), None)
        body = (
            "<x:ResourceCreated><a:Address>loopback</a:Address><a:ReferenceParameters><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{new_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{new_id}</rsp:ShellId></rsp:Shell>"
        )
        self._reply(request, 200, _envelope(body, message_id))

    def _command(self, request: BaseHTTPRequestHandler, root: ET.Element, message_id: str, pool: _Pool) -> None:
        import psrpcore

        line = root.find("s:Body/rsp:CommandLine", NS)
        arguments = root.find("s:Body/rsp:CommandLine/rsp:Arguments", NS)
        pipeline = _pipeline_id(line.get("CommandId") if line is not None else None) or uuid.uuid4()
        with pool.ready:
            psrpcore.ServerPipeline(pool.server, pipeline)
        if arguments is not None and arguments.text:
            self._feed(pool, base64.b64decode(arguments.text), pipeline)
        body = f"<rsp:CommandResponse><rsp:CommandId>{str(pipeline).upper()}</rsp:CommandId></rsp:CommandResponse>"
        self._reply(request, 200, _envelope(body, message_id))

    def _receive(self, request: BaseHTTPRequestHandler, root: ET.Element, message_id: str, pool: _Pool) -> None:
        stream = root.find("s:Body/rsp:Receive/rsp:DesiredStream", NS)
        command = stream.get("CommandId") if stream is not None else None
        pipeline = _pipeline_id(command)
        with pool.ready:
            if not pool.outgoing.get(pipeline):
                pool.ready.wait_for(lambda: bool(pool.outgoing.get(pipeline)), timeout=_RECEIVE_WAIT_S)
            queued = pool.outgoing.pop(pipeline, deque())
        if not queued:
            # What WinRM answers when a Receive waited its operation timeout for nothing.
            self._reply(request, 500, _fault(OPERATION_TIMEOUT_FAULT_CODE, "The WS-Management operation timed out."))
            return
        attribute = f' CommandId="{command}"' if command else ""
        streams = "".join(
            f'<rsp:Stream Name="stdout"{attribute}>{base64.b64encode(data).decode()}</rsp:Stream>' for data in queued
        )
        state = f'<rsp:CommandState{attribute} State="{SHELL}/CommandState/Running"/>' if command else ""
        self._reply(request, 200, _envelope(f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>", message_id))

    # -- PSRP -----------------------------------------------------------------------------------

    def _feed(self, pool: _Pool, data: bytes, pipeline: uuid.UUID | None) -> None:
        import psrpcore

        started = []
        with pool.ready:
            pool.server.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pipeline))
            while True:
                event = pool.server.next_event()
                if event is None:
                    break
                if isinstance(event, psrpcore.CreatePipelineEvent):
                    started.append(event.pipeline_id)
        self._flush(pool)
        for pipeline_id in started:
            # As on a real host, the pipeline runs on its own while the client polls with Receive.
            threading.Thread(target=self._run_pipeline, args=(pool, pipeline_id), daemon=True).start()

    def _flush(self, pool: _Pool) -> None:
        with pool.ready:
            while True:
                payload = pool.server.data_to_send()
                if payload is None:
                    break
                pool.outgoing[payload.pipeline_id].append(payload.data)
            pool.ready.notify_all()

    def _run_pipeline(self, pool: _Pool, pipeline_id: uuid.UUID) -> None:
        from psrpcore.types import ErrorCategory, ErrorCategoryInfo, NETException

        with pool.ready:
            pipeline: Any = pool.server.pipeline_table.get(pipeline_id)
            if pipeline is None:
                return
            pipeline.start()
            commands = list(pipeline.metadata.commands)
        with self._lock:
            self.pipelines_run += 1
        if len(commands) == 1 and commands[0].command_text == self._entry:
            envelope = str(dict(commands[0].parameters).get("Envelope", ""))
            line: str | None = run_envelope(self.handler, envelope, self._note_script)
        else:
            line = None  # only the runner's entry script exists on this "host"
        with pool.ready:
            if line is not None:
                pipeline.write_output(line)
            else:
                pipeline.write_error(
                    NETException(Message="unknown script"),
                    ErrorCategoryInfo(Category=ErrorCategory.ParserError, Reason="UnknownScript"),
                    fully_qualified_error_id="cshyperv.UnknownScript",
                )
            pipeline.complete()
        self._flush(pool)


def _pipeline_id(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
