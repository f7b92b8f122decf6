"""The direct-connect HTTPS agent: what CloudStack's HypervDirectConnectResource talks to.

``POST https://<host>:8250/api/HypervResource/<Java FQCN>`` with the bare command as the body is
answered with ``[{"<Answer FQCN>": {...}}]``; StartupCommand travels as a wrapped array both ways;
the HostVmStateReportCommand pseudo-command (body ``{}``) gets a plain ``[{"vm": "PowerOn"}]``;
``GET /api/HypervResource`` says the agent is alive.

Every reply to a POST is HTTP 200 with an answer the Java side can read, even for garbage:
malformed JSON, wrong types, unknown classes, oversize bodies and wrong content types get a failed
Answer (or CloudStack's UnsupportedAnswer) naming what is wrong, never a traceback, a 500, or a
secret. :func:`create_app` is a plain ASGI 3 application (no web framework); :func:`serve` and
:class:`AgentServer` run it under uvicorn with TLS (the ``agent`` extra).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cshyperv._redact import redact_text
from cshyperv.commands.generic import UnsupportedAnswer
from cshyperv.dispatch import failed_answer
from cshyperv.errors import CSHyperVError, WireError
from cshyperv.frontends._backend import AgentBackend
from cshyperv.wire import HOST_VM_STATE_REPORT_FQCN, STARTUP_FQCN, Codec
from cshyperv.wire._model import Answer

__all__ = ["LIVENESS_TEXT", "AgentServer", "DirectConnectApp", "create_app", "serve"]

log = logging.getLogger("cshyperv.agent")

PREFIX = "/api/HypervResource"
LIVENESS_TEXT = "HypervResource controller running, use POST to send JSON encoded RPCs"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
_FQCN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*")
_JSON_TYPES = ("application/json", "text/json", "application/x-json")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


_DRAIN_FACTOR = 4


class _TooLarge(Exception):
    pass


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """Parsed allow-list; None means everyone (``*`` or a /0)."""
    networks = []
    for entry in entries:
        text = entry.strip()
        if text in ("*", "any"):
            return None
        network = ipaddress.ip_network(text, strict=False)
        if network.prefixlen == 0:
            return None
        networks.append(network)
    return networks


class DirectConnectApp:
    """The ASGI application. Commands run on a thread pool, so slow hypervisor calls never block
    the event loop and concurrent requests run concurrently."""

    def __init__(
        self,
        backend: AgentBackend,
        *,
        codec: Codec | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        allowed_clients: Sequence[str] = ("127.0.0.1", "::1"),
        access_log: logging.Logger | None = None,
        max_workers: int = 64,
        observer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.backend = backend
        # Told (FQCN, "true"/"false"/"-", seconds) after each POST answered: the metrics hook.
        self.observer = observer
        self.codec = codec if codec is not None else Codec()
        self.max_body_bytes = max_body_bytes
        self.allowed = _networks(allowed_clients)
        self.access_log = access_log if access_log is not None else logging.getLogger("cshyperv.agent.access")
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cshyperv-agent")

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        client = (scope.get("client") or ("?", 0))[0]
        method, path = scope["method"], scope["path"]
        status, result = await self._respond(scope, receive, send, client=client, method=method, path=path)
        if self.observer is not None and method == "POST" and path.startswith(PREFIX + "/"):
            self.observer(path[len(PREFIX) + 1 :], result, time.perf_counter() - started)
        self.access_log.info(
            "%s %s %s %d %.1fms result=%s",
            client,
            method,
            redact_text(path[:300]),
            status,
            (time.perf_counter() - started) * 1000,
            result,
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._executor.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _client_allowed(self, client: str) -> bool:
        if self.allowed is None:
            return True
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self.allowed)

    async def _respond(
        self, scope: Scope, receive: Receive, send: Send, *, client: str, method: str, path: str
    ) -> tuple[int, str]:
        if not self._client_allowed(client):
            await _send(send, 403, b"forbidden\n", "text/plain; charset=utf-8")
            return 403, "-"
        if path in (PREFIX, PREFIX + "/"):
            if method in ("GET", "HEAD"):
                await _send(send, 200, LIVENESS_TEXT.encode(), "text/plain; charset=utf-8", head=method == "HEAD")
                return 200, "-"
            await _send(send, 405, b"use GET here\n", "text/plain; charset=utf-8", extra=[(b"allow", b"GET")])
            return 405, "-"
        if not path.startswith(PREFIX + "/"):
            await _send(send, 404, b"not found\n", "text/plain; charset=utf-8")
            return 404, "-"
        if method != "POST":
            await _send(
                send,
                405,
                b"use POST to send JSON encoded RPCs\n",
                "text/plain; charset=utf-8",
                extra=[(b"allow", b"POST")],
            )
            return 405, "-"
        fqcn = path[len(PREFIX) + 1 :]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            body = await self._read_body(receive, headers)
        except _TooLarge:
            await self._drain(receive, headers)
            answer = Answer(result=False, details=f"request body exceeds {self.max_body_bytes} bytes")
            await _send(send, 200, self.codec.encode_answers([answer]), close=True)
            return 200, "false"
        loop = asyncio.get_running_loop()
        payload, result = await loop.run_in_executor(
            self._executor, self.handle, fqcn, body, headers.get("content-type")
        )
        await _send(send, 200, payload)
        return 200, result

    async def _drain(self, receive: Receive, headers: dict[str, str]) -> None:
        """Read and drop the rest of an oversized body, up to a bound, before answering: a client
        that sends its whole body before reading (Java's does) then gets the failed Answer
        instead of a connection reset in the middle of sending. Beyond the bound the connection
        is simply closed after the answer."""
        bound = _DRAIN_FACTOR * self.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > bound:
            return
        drained = 0
        while drained <= bound:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    # -- the protocol (synchronous: runs on the thread pool) -----------------------------------

    def handle(self, fqcn: str, body: bytes, content_type: str | None) -> tuple[bytes, str]:
        """Answer one POST: (response body, "true"/"false"/"-" for the access log). Never raises."""
        try:
            return self._handle(fqcn, body, content_type)
        except WireError as exc:
            answer = Answer(result=False, details=redact_text(str(exc)))
        except Exception as exc:
            if not isinstance(exc, CSHyperVError):
                log.exception("request for %s failed", fqcn[:200])
            answer = failed_answer(exc)
        return self.codec.encode_answers([answer]), "false"

    def _handle(self, fqcn: str, body: bytes, content_type: str | None) -> tuple[bytes, str]:
        if not _FQCN.fullmatch(fqcn) or len(fqcn) > 300:
            answer = Answer(result=False, details="the request path does not name a Java class")
            return self.codec.encode_answers([answer]), "false"
        text = _decode_body(body, content_type)
        if fqcn == STARTUP_FQCN:
            commands = self.codec.decode_commands(text)
            return self.codec.encode_commands(self.backend.startup(commands)), "true"
        if fqcn == HOST_VM_STATE_REPORT_FQCN:
            return self.codec.encode_vm_states(self.backend.host_vm_states()), "true"
        if fqcn not in self.codec.registry:
            unsupported = UnsupportedAnswer.for_command(fqcn)
            return self.codec.encode_answers([unsupported]), "false"
        command = self.codec.decode_command(fqcn, text)
        reply = self.backend.execute(command)
        return self.codec.encode_answers([reply]), "true" if reply.result else "false"


def _decode_body(body: bytes, content_type: str | None) -> str:
    """Text of the body. Java's StringEntity sends ISO-8859-1 without saying so: when no charset is
    given and the bytes are not UTF-8, read them as ISO-8859-1 rather than failing."""
    charset = None
    if content_type:
        media, _, params = content_type.partition(";")
        media = media.strip().lower()
        if media and media not in _JSON_TYPES:
            raise WireError(f"expected content type application/json, got {media[:60]}")
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                charset = value.strip().strip('"').lower()
    if charset:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise WireError(f"body is not valid {charset[:20]}") from None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("iso-8859-1")


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "application/json; charset=utf-8",
    *,
    head: bool = False,
    close: bool = False,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def create_app(
    backend: AgentBackend,
    *,
    codec: Codec | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    allowed_clients: Sequence[str] = ("127.0.0.1", "::1"),
    access_log: logging.Logger | None = None,
) -> DirectConnectApp:
    """The agent as an ASGI 3 application, for any ASGI server."""
    return DirectConnectApp(
        backend, codec=codec, max_body_bytes=max_body_bytes, allowed_clients=allowed_clients, access_log=access_log
    )


def _uvicorn_config(
    app: DirectConnectApp,
    *,
    host: str,
    port: int,
    tls: bool,
    certfile: str | Path | None,
    keyfile: str | Path | None,
    state_dir: str | Path,
) -> Any:
    import uvicorn

    ssl: dict[str, Any] = {}
    if tls:
        if certfile is None or keyfile is None:
            from cshyperv.frontends.tls import ensure_self_signed

            hostnames = [host] if host not in ("0.0.0.0", "::", "") else []
            certfile, keyfile = ensure_self_signed(Path(state_dir) / "tls", hostnames)
        ssl = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # the app writes its own access log, without bodies
        lifespan="on",
        timeout_graceful_shutdown=30,
        server_header=False,
        **ssl,
    )


def serve(
    backend: AgentBackend,
    *,
    host: str = "0.0.0.0",
    port: int = 8250,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    tls: bool = True,
    state_dir: str | Path = "cshyperv-agent",
    allowed_clients: Sequence[str] = ("127.0.0.1", "::1"),
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> None:
    """Run the agent until SIGINT/SIGTERM (in-flight requests finish first).

    TLS is on by default; without ``certfile``/``keyfile`` a self-signed certificate is made in
    ``state_dir/tls`` on first run and reused.
    """
    import uvicorn

    app = create_app(backend, max_body_bytes=max_body_bytes, allowed_clients=allowed_clients)
    config = _uvicorn_config(
        app, host=host, port=port, tls=tls, certfile=certfile, keyfile=keyfile, state_dir=state_dir
    )
    scheme = "https" if tls else "http"
    log.warning("cshyperv agent listening on %s://%s:%d%s", scheme, host, port, PREFIX)
    uvicorn.Server(config).run()


class AgentServer:
    """The agent in a background thread (tests, demos, embedding). Use as a context manager.

    ``port=0`` binds a free port; :attr:`port` tells which once started.
    """

    def __init__(
        self,
        backend: AgentBackend,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        state_dir: str | Path = "cshyperv-agent",
        allowed_clients: Sequence[str] = ("127.0.0.1", "::1"),
        max_body_bytes: int = DEFAULT_MAX_BODY,
        access_log: logging.Logger | None = None,
    ) -> None:
        import uvicorn

        self.app = create_app(
            backend, max_body_bytes=max_body_bytes, allowed_clients=allowed_clients, access_log=access_log
        )
        config = _uvicorn_config(
            self.app, host=host, port=port, tls=tls, certfile=certfile, keyfile=keyfile, state_dir=state_dir
        )
        # uvicorn installs signal handlers only when it runs in the main thread, so this background
        # server leaves the embedding program's handlers alone.
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self, timeout: float = 15.0) -> AgentServer:
        self._thread = threading.Thread(target=self._server.run, name="cshyperv-agent-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the agent server did not start")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> AgentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
