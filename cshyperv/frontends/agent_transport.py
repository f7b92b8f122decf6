"""The agent's connection-level defences: who may connect, how many at once, how long a request may
take to arrive.

uvicorn alone checks none of this before a request head is parsed: it wraps every accepted socket
in TLS, waits forever for a head that trickles in a byte at a time, and has no connection limit.
Here each accepted connection first meets :class:`ConnectionGuard`:

* the peer address is checked against the allow-list at accept time, before the TLS handshake and
  before any byte is read: a denied peer's socket is closed at once and counts for nothing;
* at most ``max_connections`` connections are open at once; one more is closed at once;
* the TLS handshake and the request head must be complete within ``header_timeout`` seconds of
  the accept (and the next head within ``header_timeout`` of the previous response), the body
  within ``body_timeout`` of its head; a connection that misses a deadline is cut.

The guard drives uvicorn's own HTTP/1.1 protocol (h11), and the TLS handshake it starts itself
(``loop.start_tls``) only once the peer is allowed. Proxy headers are never trusted: the client
is the socket's peer, whatever ``X-Forwarded-For`` says.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import attrs

__all__ = ["AllowList", "ConnectionGuard", "TransportLimits", "guarded_config"]

log = logging.getLogger("cshyperv.agent")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen(kw_only=True)
class TransportLimits:
    """Per-connection bounds. Defaults suit a management server on a LAN; all are CLI flags."""

    header_timeout: float = 10.0
    """Seconds from accept to a complete request head (TLS handshake included), and from the end
    of one response to the next head on a kept-alive connection."""
    body_timeout: float = 60.0
    """Seconds from a complete head to the end of its body (16 MiB at ~300 KB/s)."""
    max_connections: int = 128
    """Connections open at once, denied ones not counted; more are closed at accept."""
    idle_timeout: float = 5.0
    """Seconds a kept-alive connection may sit idle between requests (uvicorn's keep-alive)."""
    max_head_bytes: int = 16 * 1024
    """Largest request line plus headers (h11's bound); larger heads get HTTP 400."""

    def __attrs_post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")


class AllowList:
    """Client addresses and networks allowed to connect. ``*``, ``any`` or a /0 allow everyone."""

    def __init__(self, entries: Iterable[str]) -> None:
        """Raises ValueError naming the first entry that is not an address or CIDR."""
        networks: list[_Network] = []
        everyone = False
        for entry in entries:
            text = entry.strip()
            if text in ("*", "any"):
                everyone = True
                continue
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                shown = text[:60].encode("unicode_escape").decode("ascii")
                raise ValueError(
                    f"{shown!r} is not an IP address or CIDR (e.g. 10.1.0.0/16, 192.0.2.7, ::1, or * for all)"
                ) from None
            if network.prefixlen == 0:
                everyone = True
            networks.append(network)
        self.everyone = everyone
        self.networks = tuple(networks)

    def allows(self, host: str) -> bool:
        """True when ``host`` (a textual address, as a socket reports it) is allowed."""
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
            mapped = address.ipv4_mapped
            return any(mapped in n or address in n for n in self.networks)
        return any(address in network for network in self.networks)

    def __repr__(self) -> str:
        return "AllowList(*)" if self.everyone else f"AllowList({', '.join(map(str, self.networks))})"


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int]:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return "", 0


class _Notes:
    """At most one log line a second about refused or cut connections, with a count of the rest:
    a flood of denied peers must not become a flood of log lines."""

    def __init__(self) -> None:
        self._last = 0.0
        self._quiet = 0

    def note(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < 1.0:
            self._quiet += 1
            return
        self._last = now
        if self._quiet:
            log.warning(message + " (and %d more refused or cut since the last note)", *args, self._quiet)
            self._quiet = 0
        else:
            log.warning(message, *args)


class ConnectionGuard:
    """State shared by every connection of one server: the allow-list, the limits, the TLS context
    and the live connections. Counters (:attr:`refused`, :attr:`cut`) are for tests and the soak."""

    def __init__(self, allow: AllowList, limits: TransportLimits, ssl_context: ssl.SSLContext | None) -> None:
        self.allow = allow
        self.limits = limits
        self.ssl_context = ssl_context
        self.open = 0
        self.refused = 0
        self.cut = 0
        self.live: dict[tuple[str, int], _GuardedProtocol] = {}
        self._notes = _Notes()

    def protocol_factory(self) -> Callable[..., asyncio.Protocol]:
        """What uvicorn's ``Config(http=...)`` calls for each accepted connection."""
        from uvicorn.protocols.http.h11_impl import H11Protocol

        def create(
            config: Any, server_state: Any, app_state: Any, _loop: asyncio.AbstractEventLoop | None = None
        ) -> asyncio.Protocol:
            # uvicorn's protocol is built only for a connection that passed the checks: a refused
            # one costs an accept and a close, nothing more.
            def inner() -> asyncio.Protocol:
                return H11Protocol(config=config, server_state=server_state, app_state=app_state, _loop=_loop)

            return _GuardedProtocol(self, inner, server_state.connections)

        return create

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` with its requests reported to the guard (deadlines) and the body deadline kept."""

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            connection = self.live.get(tuple(scope.get("client") or ("", 0))) if scope["type"] == "http" else None
            if connection is None:
                await app(scope, receive, send)
                return
            connection.request_started()

            async def receive_body() -> MutableMapping[str, Any]:
                message = await receive()
                if message.get("type") != "http.request" or not message.get("more_body", False):
                    connection.body_complete()
                return message

            try:
                await app(scope, receive_body, send)
            finally:
                connection.request_finished()

        return guarded

    def _note(self, message: str, *args: object) -> None:
        self._notes.note(message, *args)


_NOT_CONNECTED = asyncio.Protocol()  # the inner protocol until a connection is handed to HTTP


class _GuardedProtocol(asyncio.Protocol):
    """One accepted connection: checked, then TLS, then uvicorn's h11 protocol, all under deadlines."""

    def __init__(self, guard: ConnectionGuard, inner: Callable[[], asyncio.Protocol], registry: set[Any]) -> None:
        self.guard = guard
        self.make_inner = inner
        self.inner: asyncio.Protocol = _NOT_CONNECTED
        self.registry = registry  # uvicorn's server_state.connections: graceful shutdown asks each
        self.raw: asyncio.Transport | None = None
        self.key: tuple[str, int] = ("", 0)
        self.counted = False
        self.connected = False  # inner.connection_made has been called
        self.closed = False
        self.pending: list[bytes] = []
        self.pending_eof = False
        self.timer: asyncio.TimerHandle | None = None
        self.phase = "request head"
        self.handshake: asyncio.Task[None] | None = None

    # -- accept -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        guard = self.guard
        host, port = _peer(transport)
        if not guard.allow.allows(host):
            guard.refused += 1
            self.closed = True
            transport.abort()
            guard._note("refused a connection from %s: not in the allow-list (--allow)", host or "?")
            return
        if guard.open >= guard.limits.max_connections:
            guard.refused += 1
            self.closed = True
            transport.abort()
            guard._note(
                "refused a connection from %s: %d connections open (--max-connections)", host or "?", guard.open
            )
            return
        guard.open += 1
        self.counted = True
        self.raw = transport
        self.key = (host, port)
        guard.live[self.key] = self
        self.registry.add(self)
        self._arm(guard.limits.header_timeout, "TLS handshake and request head")
        if guard.ssl_context is None:
            self._connect(transport)
            return
        # Not a byte is read before the handshake starts, and none is given to HTTP before it ends.
        transport.pause_reading()
        loop = asyncio.get_running_loop()
        self.handshake = loop.create_task(self._start_tls(loop, transport, guard.ssl_context))

    async def _start_tls(
        self, loop: asyncio.AbstractEventLoop, raw: asyncio.Transport, context: ssl.SSLContext
    ) -> None:
        if self.closed:
            return
        try:
            secured = await loop.start_tls(
                raw, self, context, server_side=True, ssl_handshake_timeout=self.guard.limits.header_timeout
            )
        except Exception:
            # A failed handshake (no client certificate, garbage, a cut, the deadline) is the
            # client's problem. asyncio does not report a connection lost mid-handshake to us.
            raw.abort()
            self._release()
            return
        if secured is None or self.closed:
            raw.abort()
            self._release()
            return
        self._connect(secured)

    def _connect(self, transport: asyncio.Transport) -> None:
        self.connected = True
        self.inner = self.make_inner()
        self.inner.connection_made(transport)
        pending, self.pending = self.pending, []
        for data in pending:
            self.inner.data_received(data)
        if self.pending_eof:
            self.inner.eof_received()

    # -- deadlines ----------------------------------------------------------------------------

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self.phase = phase
        self.timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if self.closed or self.raw is None:
            return
        self.guard.cut += 1
        self.guard._note("cut the connection from %s: %s not complete in time", self.key[0] or "?", self.phase)
        self.closed = True
        self.raw.abort()

    def request_started(self) -> None:
        self._arm(self.guard.limits.body_timeout, "request body")

    def body_complete(self) -> None:
        if self.phase == "request body":
            self._disarm()
            self.phase = "response"

    def request_finished(self) -> None:
        if not self.closed:
            self._arm(self.guard.limits.header_timeout, "request head")

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: a connection not yet handed to HTTP is simply closed."""
        if not self.connected and self.raw is not None and not self.closed:
            self.closed = True
            self.raw.abort()

    # -- events, passed on to uvicorn's protocol once connected --------------------------------

    def data_received(self, data: bytes) -> None:
        if self.connected:
            self.inner.data_received(data)
        elif not self.closed:
            self.pending.append(data)

    def eof_received(self) -> bool | None:
        if self.connected:
            return self.inner.eof_received()
        self.pending_eof = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self.handshake is not None and not self.handshake.done():
            self.handshake.cancel()
        if self.connected:
            self.connected = False
            self.inner.connection_lost(exc)

    def _release(self) -> None:
        """Give the connection's slot back (once), whichever way it ended."""
        self._disarm()
        self.closed = True
        if self.counted:
            self.counted = False
            self.guard.open -= 1
            if self.guard.live.get(self.key) is self:
                del self.guard.live[self.key]
        self.registry.discard(self)

    def pause_writing(self) -> None:
        if self.connected:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.connected:
            self.inner.resume_writing()


def guarded_config(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    guard: ConnectionGuard,
    timeout_graceful_shutdown: float = 30.0,
) -> Any:
    """A ``uvicorn.Config`` serving ``app`` behind ``guard`` (TLS comes from the guard, not uvicorn)."""
    import uvicorn

    return uvicorn.Config(
        guard.wrap(app),
        host=host,
        port=port,
        http=guard.protocol_factory(),  # type: ignore[arg-type]
        # asyncio's own loop, never uvloop (which uvicorn's default "auto" picks whenever it is
        # installed, as uvicorn[standard] does): the guard starts TLS itself on a paused asyncio
        # transport, and under uvloop that handshake stalls until the guard's deadline cuts it.
        loop="asyncio",
        ws="none",
        log_level="warning",
        log_config=None,  # logging is the embedding program's (the CLI's --log-level/--log-file)
        access_log=False,  # the app writes its own access log, without bodies
        lifespan="on",
        proxy_headers=False,  # the client is the socket's peer, never X-Forwarded-For
        forwarded_allow_ips=[],
        timeout_keep_alive=int(max(1, min(guard.limits.idle_timeout, guard.limits.header_timeout))),
        timeout_graceful_shutdown=int(timeout_graceful_shutdown),
        h11_max_incomplete_event_size=guard.limits.max_head_bytes,
        server_header=False,
    )
