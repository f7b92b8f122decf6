"""A management-side client for direct-connect agents, behaving as CloudStack's Java side does.

:class:`DirectConnectClient` posts commands to ``https://<host>:8250/api/HypervResource/<FQCN>``
and decodes the answers the way HypervDirectConnectResource does: HTTP 404 becomes an
UnsupportedAnswer naming the path, any other failure (other status, refused or broken connection)
becomes ``Answer.createUnsupportedCommandAnswer``'s UnsupportedAnswer. It never raises for what the
agent answers; use it to script an agent (CloudMonkey-style) or to test one.

Standard library only: ``http.client`` over TLS, one keep-alive connection per thread. Like Java,
it trusts any certificate unless told otherwise (``verify=True`` or a CA bundle path); unlike
Java, it can present a client certificate (``client_cert``) to an agent run with ``--client-ca``.
Bodies are UTF-8 and say so (``charset=utf-8``): an agent reads a body without a charset as
ISO-8859-1, as Java's ``StringEntity`` writes it.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Sequence
from typing import Any

from cshyperv.commands.enums import PowerState
from cshyperv.commands.generic import UnsupportedAnswer
from cshyperv.errors import WireError
from cshyperv.wire import HOST_VM_STATE_REPORT_FQCN, STARTUP_FQCN, Codec
from cshyperv.wire._model import Answer, Command

__all__ = ["DirectConnectClient"]

PREFIX = "/api/HypervResource"
_RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, http.client.CannotSendRequest)


class DirectConnectClient:
    def __init__(
        self,
        host: str,
        port: int = 8250,
        *,
        tls: bool = True,
        verify: bool | str = False,
        timeout: float = 600.0,
        codec: Codec | None = None,
        client_cert: str | tuple[str, str] | None = None,
    ) -> None:
        """``client_cert``: a PEM file holding certificate and key, or ``(certfile, keyfile)``."""
        self.host = host
        self.port = port
        self.tls = tls
        self.timeout = timeout
        self.codec = codec if codec is not None else Codec()
        if tls:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif verify is True:
                context = ssl.create_default_context()
            else:
                context = ssl.create_default_context(cafile=verify)
            if client_cert is not None:
                certfile, keyfile = (client_cert, None) if isinstance(client_cert, str) else client_cert
                context.load_cert_chain(certfile, keyfile)
            self._context: ssl.SSLContext | None = context
        else:
            self._context = None
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    # -- transport -----------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._context is not None:
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"content-type": "application/json; charset=utf-8"} if body is not None else {}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop()
                return response.status, data
            except _RETRYABLE:
                # A keep-alive connection the agent closed while idle: retry once on a new one.
                self._drop()
                if attempt == 2:
                    raise
            except Exception:
                self._drop()
                raise
        raise AssertionError("unreachable")

    # -- protocol ------------------------------------------------------------------------------

    def execute(self, command: Command) -> Answer:
        """Post ``command`` and return the agent's first answer, as Java reads it."""
        fqcn = type(command).FQCN or type(command).__name__
        path = f"{PREFIX}/{fqcn}"
        try:
            status, data = self._request("POST", path, self.codec.encode(command))
        except (OSError, http.client.HTTPException):
            return UnsupportedAnswer.for_command(fqcn)
        if status == 404:
            details = f"Unsupported command {path}.  Are you sure you got the right type of server?"
            return UnsupportedAnswer(result=False, details=details)
        if status != 200:
            return UnsupportedAnswer.for_command(fqcn)
        try:
            answers = self.codec.decode_answers(data)
        except WireError as exc:
            return Answer(result=False, details=f"unreadable answer from the agent: {exc}")
        if not answers:
            return Answer(result=False, details="the agent returned no answer")
        return answers[0]

    def startup(self, commands: Sequence[Command]) -> list[Command]:
        """Post the StartupCommand array; returns the agent's filled-in array.

        Raises :class:`cshyperv.errors.WireError` (or ``OSError``) when the agent does not answer
        with a command array: Java gives up on the host in that case.
        """
        status, data = self._request("POST", f"{PREFIX}/{STARTUP_FQCN}", self.codec.encode_commands(commands))
        if status != 200:
            raise WireError(f"StartupCommand got HTTP {status}")
        return self.codec.decode_commands(data)

    def host_vm_states(self) -> dict[str, PowerState]:
        """The HostVmStateReport: every VM on the host and its power state."""
        status, data = self._request("POST", f"{PREFIX}/{HOST_VM_STATE_REPORT_FQCN}", b"{}")
        if status != 200:
            raise WireError(f"HostVmStateReportCommand got HTTP {status}")
        states: dict[str, Any] = self.codec.decode_vm_states(data)
        return states

    def alive(self) -> bool:
        """True when ``GET /api/HypervResource`` answers 200."""
        try:
            status, _ = self._request("GET", PREFIX)
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> DirectConnectClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
