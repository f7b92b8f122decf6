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
import contextlib
import logging
import re
import signal
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cshyperv._redact import redact_text
from cshyperv.frontends._backend import AgentBackend
from cshyperv.frontends.agent_transport import AllowList, ConnectionGuard, TransportLimits, guarded_config
from cshyperv.resource import handle_request, handle_request_quickly
from cshyperv.wire import Answer, Codec

__all__ = ["LIVENESS_TEXT", "AgentServer", "DirectConnectApp", "TransportLimits", "create_app", "serve"]

log = logging.getLogger("cshyperv.agent")

PREFIX = "/api/HypervResource"
LIVENESS_TEXT = "HypervResource controller running, use POST to send JSON encoded RPCs"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
_FQCN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


_DRAIN_FACTOR = 4
_ALLOWED_CACHE_SIZE = 256
_READ_HEADERS = frozenset({b"content-type", b"content-length"})


class _TooLarge(Exception):
    pass


class DirectConnectApp:
    """The ASGI application. Commands run on a thread pool, so slow hypervisor calls never block
    the event loop and concurrent requests run concurrently; only a command the backend can
    answer without waiting (:func:`cshyperv.resource.handle_request_quickly`) runs on the loop."""

    def __init__(
        self,
        backend: AgentBackend,
        *,
        codec: Codec | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        allowed_clients: Sequence[str] | AllowList = ("127.0.0.1", "::1"),
        access_log: logging.Logger | None = None,
        max_workers: int = 64,
        observer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.backend = backend
        # Told (FQCN, "true"/"false"/"-", seconds) after each POST answered: the metrics hook.
        self.observer = observer
        self.codec = codec if codec is not None else Codec()
        self.max_body_bytes = max_body_bytes
        self.allowed = _allow_list(allowed_clients)
        self._allowed_cache: dict[str, bool] = {}
        self._allowed_for = self.allowed
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
        target = path[len(PREFIX) + 1 :] if path.startswith(PREFIX + "/") else path
        if self.observer is not None and method == "POST" and path.startswith(PREFIX + "/"):
            self.observer(path[len(PREFIX) + 1 :], result, time.perf_counter() - started)
        if not self.access_log.isEnabledFor(logging.INFO):
            return  # nothing would be written: skip making the line
        self.access_log.info(
            "%s %s %s %d %.1fms result=%s",
            client,
            method,
            _loggable(target),
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
        # The transport (agent_transport) refuses other peers at accept time; this check is for
        # the app run under another ASGI server, where it is the only one. Parsing the address
        # on every request cost more than the rest of this method: answers are kept per
        # address (the management servers: a handful), in a bounded table.
        if self._allowed_for is not self.allowed:  # replaced: what was kept is about the old one
            self._allowed_cache.clear()
            self._allowed_for = self.allowed
        known = self._allowed_cache.get(client)
        if known is None:
            known = self.allowed.allows(client)
            if len(self._allowed_cache) >= _ALLOWED_CACHE_SIZE:
                self._allowed_cache.clear()
            self._allowed_cache[client] = known
        return known

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
        # Only these two are read: the others are not decoded at all.
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in ((k.lower(), v) for k, v in scope.get("headers", ()))
            if k in _READ_HEADERS
        }
        try:
            body = await self._read_body(receive, headers)
        except _TooLarge:
            await self._drain(receive, headers)
            answer = Answer(result=False, details=f"request body exceeds {self.max_body_bytes} bytes")
            await _send(send, 200, self.codec.encode_answers([answer]), close=True)
            return 200, "false"
        content_type = headers.get("content-type")
        # A command the plug-in answers from local state is answered here: the hop to a worker
        # thread and back cost more than the command. It gives up at the first thing that could
        # wait, before changing anything, and then goes to the pool like every other one.
        quick = handle_request_quickly(self.backend, fqcn, body, content_type, codec=self.codec)
        if quick is not None:
            payload, result = quick.body, "true" if quick.ok else "false"
        else:
            loop = asyncio.get_running_loop()
            payload, result = await loop.run_in_executor(self._executor, self.handle, fqcn, body, content_type)
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
        """Answer one POST: (response body, "true"/"false" for the access log). Never raises.

        Every routing rule is :func:`cshyperv.resource.handle_request`'s (docs/frontends.md).
        """
        reply = handle_request(self.backend, fqcn, body, content_type, codec=self.codec)
        return reply.body, "true" if reply.ok else "false"


def _allow_list(entries: Sequence[str] | AllowList) -> AllowList:
    return entries if isinstance(entries, AllowList) else AllowList(entries)


def _loggable(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters, secrets redacted, and every control or non-ASCII
    character escaped (``\\r``, ``\\x00``, ``\\u2028``): one request can never forge a log line."""
    return redact_text(text[:limit]).encode("unicode_escape").decode("ascii")


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
    allowed_clients: Sequence[str] | AllowList = ("127.0.0.1", "::1"),
    access_log: logging.Logger | None = None,
    observer: Callable[[str, str, float], None] | None = None,
) -> DirectConnectApp:
    """The agent as an ASGI 3 application, for any ASGI server.

    Under another server the app still refuses clients outside ``allowed_clients`` (HTTP 403, by
    the ASGI ``client`` the server reports: do not let it trust proxy headers), but the
    connection-level defences (accept-time refusal, deadlines, connection limit) are
    :func:`serve`'s and :class:`AgentServer`'s.
    """
    return DirectConnectApp(
        backend,
        codec=codec,
        max_body_bytes=max_body_bytes,
        allowed_clients=allowed_clients,
        access_log=access_log,
        observer=observer,
    )


def _server_tls(
    *,
    host: str,
    certfile: str | Path | None,
    keyfile: str | Path | None,
    client_ca: str | Path | None,
    state_dir: str | Path,
) -> ssl.SSLContext:
    from cshyperv.frontends.tls import ensure_self_signed, server_context

    own = certfile is None or keyfile is None
    if own:
        hostnames = [host] if host not in ("0.0.0.0", "::", "") else []
        certfile, keyfile = ensure_self_signed(Path(state_dir) / "tls", hostnames)
    assert certfile is not None and keyfile is not None
    return server_context(certfile, keyfile, client_ca=client_ca, own_key=own)


def _uvicorn_config(
    app: Any,
    *,
    host: str,
    port: int,
    tls: bool,
    certfile: str | Path | None,
    keyfile: str | Path | None,
    state_dir: str | Path,
    allowed_clients: Sequence[str] | AllowList = ("127.0.0.1", "::1"),
    limits: TransportLimits | None = None,
    client_ca: str | Path | None = None,
) -> tuple[Any, ConnectionGuard]:
    """uvicorn's config for ``app`` behind a :class:`ConnectionGuard`, and that guard."""
    context = None
    if tls:
        context = _server_tls(host=host, certfile=certfile, keyfile=keyfile, client_ca=client_ca, state_dir=state_dir)
    elif client_ca is not None:
        raise ValueError("a client CA needs TLS")
    allow = _allow_list(allowed_clients)
    guard = ConnectionGuard(allow, limits or TransportLimits(), context)
    return guarded_config(app, host=host, port=port, guard=guard), guard


def serve(
    backend: AgentBackend,
    *,
    host: str = "0.0.0.0",
    port: int = 8250,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    tls: bool = True,
    state_dir: str | Path = "cshyperv-agent",
    allowed_clients: Sequence[str] | AllowList = ("127.0.0.1", "::1"),
    max_body_bytes: int = DEFAULT_MAX_BODY,
    limits: TransportLimits | None = None,
    client_ca: str | Path | None = None,
    observer: Callable[[str, str, float], None] | None = None,
) -> None:
    """Run the agent until SIGINT/SIGTERM (in-flight requests finish first, 30 s at most), then
    return: the caller closes the plug-in.

    TLS is on by default; without ``certfile``/``keyfile`` a self-signed certificate is made in
    ``state_dir/tls`` (mode 0700) on first run and reused. ``client_ca`` requires a client
    certificate signed by one of its CAs. Raises ValueError for a bad ``allowed_clients`` entry
    and :class:`cshyperv.frontends.tls.TLSConfigError` for unusable TLS files, before binding.
    """
    import uvicorn

    allow = _allow_list(allowed_clients)
    app = create_app(backend, max_body_bytes=max_body_bytes, allowed_clients=allow, observer=observer)
    config, _ = _uvicorn_config(
        app,
        host=host,
        port=port,
        tls=tls,
        certfile=certfile,
        keyfile=keyfile,
        state_dir=state_dir,
        allowed_clients=allow,
        limits=limits,
        client_ca=client_ca,
    )
    scheme = "https" if tls else "http"
    log.warning("cshyperv agent listening on %s://%s:%d%s (allowed: %s)", scheme, host, port, PREFIX, allow)

    class Server(graceful_server_class(uvicorn)):  # type: ignore[misc]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises SIGTERM/SIGINT once it has shut down, which would kill the process
            # before the caller closes the plug-in; here serve() returns instead.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    Server(config).run()
    log.warning("cshyperv agent stopped")


def graceful_server_class(uvicorn: Any) -> Any:
    """uvicorn's ``Server``, with idle connections dropped at shutdown instead of waited for.

    Closing a TLS connection sends close_notify and waits (up to asyncio's 30 s SSL shutdown
    timeout) for the client's; an idle keep-alive client such as CloudStack's never answers, so
    every stop or reload would wait 30 s. Idle connections are aborted instead, while connections
    with a request in flight finish it first, as uvicorn promises.
    """

    class GracefulServer(uvicorn.Server):  # type: ignore[misc]
        async def shutdown(self, sockets: Any = None) -> None:
            reaper = asyncio.ensure_future(self._drop_idle())
            try:
                await super().shutdown(sockets)
            finally:
                reaper.cancel()

        async def _drop_idle(self) -> None:
            while True:
                for connection in list(self.server_state.connections):
                    cycle = getattr(connection, "cycle", None)
                    transport = getattr(connection, "transport", None)
                    if transport is not None and (cycle is None or cycle.response_complete):
                        transport.abort()
                await asyncio.sleep(0.05)

    return GracefulServer


class AgentServer:
    """The agent in a background thread (tests, demos, embedding). Use as a context manager.

    ``port=0`` binds a free port; :attr:`port` tells which once started. :attr:`guard` holds the
    connection counters (open, refused, cut).
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
        allowed_clients: Sequence[str] | AllowList = ("127.0.0.1", "::1"),
        max_body_bytes: int = DEFAULT_MAX_BODY,
        access_log: logging.Logger | None = None,
        limits: TransportLimits | None = None,
        client_ca: str | Path | None = None,
        observer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        import uvicorn

        allow = _allow_list(allowed_clients)
        self.app = create_app(
            backend, max_body_bytes=max_body_bytes, allowed_clients=allow, access_log=access_log, observer=observer
        )
        config, self.guard = _uvicorn_config(
            self.app,
            host=host,
            port=port,
            tls=tls,
            certfile=certfile,
            keyfile=keyfile,
            state_dir=state_dir,
            allowed_clients=allow,
            limits=limits,
            client_ca=client_ca,
        )
        # uvicorn installs signal handlers only when it runs in the main thread, so this background
        # server leaves the embedding program's handlers alone.
        self._server = graceful_server_class(uvicorn)(config)
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
