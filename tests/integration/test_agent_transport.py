"""The agent's connection-level defences, with real sockets on 127.0.0.0/8.

Who may connect is decided at accept time (before TLS, before a byte is read); a connection that
trickles its handshake, head or body is cut; a connection limit holds; proxy headers are ignored;
``--client-ca`` requires a client certificate. No test measures a duration: every wait is bounded
and a broken promise shows as a failed assertion or a wait that runs out.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from cshyperv.client import DirectConnectClient
from cshyperv.commands import PowerState, ReadyAnswer, ReadyCommand
from cshyperv.frontends.direct_connect import AgentServer, TransportLimits, _uvicorn_config, create_app
from cshyperv.wire import Answer, Command

API = "/api/HypervResource/"
READY = API + "com.cloud.agent.api.ReadyCommand"
STOP = API + "com.cloud.agent.api.StopCommand"
WAIT_S = 20.0  # the longest any test waits for the agent to act (never asserted as a duration)


class EchoBackend:
    """An AgentBackend whose ReadyAnswer carries the decoded command's ``_details``."""

    def __init__(self) -> None:
        self.executed: list[Command] = []

    def execute(self, command: Command) -> Answer:
        self.executed.append(command)
        return ReadyAnswer(result=True, details=str(getattr(command, "details", None) or ""))

    def startup(self, commands: Sequence[Command]) -> list[Command]:
        return list(commands)

    def host_vm_states(self) -> dict[str, PowerState]:
        return {}


def agent(tmp: Path, **kwargs: Any) -> AgentServer:
    return AgentServer(EchoBackend(), state_dir=tmp, **kwargs)


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def raw(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(WAIT_S)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def closed_by_agent(sock: socket.socket) -> bool:
    """True once the agent has closed ``sock`` (EOF or reset); a silent agent runs out the timeout."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False


def until(predicate: Callable[[], bool]) -> bool:
    """Poll ``predicate`` for at most WAIT_S seconds (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=kw.pop("context", unverified()), timeout=WAIT_S, **kw)
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def ready_details(data: bytes) -> str:
    (answer,) = json.loads(data)[0].values()
    assert answer["result"] is True, answer
    return str(answer.get("details"))


# -- the allow-list, at accept time ------------------------------------------------------------------


def test_denied_peer_is_closed_before_tls_and_holds_nothing(tmp_path: Path) -> None:
    limits = TransportLimits(header_timeout=600, max_connections=2)
    with agent(tmp_path, allowed_clients=["127.0.0.2"], limits=limits) as server:
        # 127.0.0.1 is not allowed: closed at once, without a byte sent by either side. The head
        # deadline is 10 minutes, so only the accept-time check can have closed it.
        denied = [raw(server.port) for _ in range(5)]
        assert all(closed_by_agent(sock) for sock in denied)
        assert server.guard.refused == 5 and server.guard.open == 0
        # A TLS client from there fails its handshake: no certificate was ever sent to it.
        with pytest.raises(OSError):
            post(server.port, READY, b"{}")
        # Denied peers held no slot: the allowed address is served though the limit is 2.
        status, data = post(server.port, READY, b"{}", source_address=("127.0.0.2", 0))
        assert status == 200 and ready_details(data) == ""
        for sock in denied:
            sock.close()


def test_spoofed_forwarded_for_is_cut_at_accept(tmp_path: Path) -> None:
    """D10 end to end: --allow 10.9.9.0/24, a local client claiming 10.9.9.5 gets no answer."""
    with agent(tmp_path, allowed_clients=["10.9.9.0/24"]) as server:
        with pytest.raises(OSError):
            post(server.port, STOP, b'{"vmName": "i-2-3-VM"}', {"x-forwarded-for": "10.9.9.5"})
        assert server.guard.refused == 1
        assert server.app.backend.executed == []  # type: ignore[attr-defined]


@contextlib.contextmanager
def running(config: Any) -> Iterator[int]:
    import uvicorn

    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert until(lambda: server.started)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(WAIT_S)


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_spoofed_forwarded_for_gets_403_from_the_app(tmp_path: Path, header: str) -> None:
    """D10 in the app layer: the transport lets loopback in, the app allows only 10.9.9.0/24.

    uvicorn would rewrite the client from X-Forwarded-For (it trusts 127.0.0.1 by default), and
    the StopCommand would run; the agent's config trusts no proxy header, so the app sees
    127.0.0.1 and answers 403.
    """
    backend = EchoBackend()
    app = create_app(backend, allowed_clients=["10.9.9.0/24"])
    config, _ = _uvicorn_config(
        app, host="127.0.0.1", port=0, tls=True, certfile=None, keyfile=None, state_dir=tmp_path, allowed_clients=["*"]
    )
    value = "for=10.9.9.5" if header == "forwarded" else "10.9.9.5"
    with running(config) as port:
        status, data = post(port, STOP, b'{"vmName": "i-2-3-VM"}', {header: value, "x-forwarded-proto": "https"})
    assert (status, data) == (403, b"forbidden\n")
    assert backend.executed == []


def test_allow_list_understands_ipv4_mapped_peers() -> None:
    from cshyperv.frontends.agent_transport import AllowList

    allow = AllowList(["10.1.0.0/16"])
    assert allow.allows("::ffff:10.1.2.3") and allow.allows("10.1.2.3")
    assert not allow.allows("::ffff:10.2.2.3") and not allow.allows("not-an-address")
    for bad in ("localhost", "/33", "10.0.0.0/33", ""):
        with pytest.raises(ValueError, match="is not an IP address or CIDR"):
            AllowList([bad])


# -- slowloris ----------------------------------------------------------------------------------------


def test_silent_connection_is_cut_before_the_handshake(tmp_path: Path) -> None:
    with agent(tmp_path, limits=TransportLimits(header_timeout=0.5)) as server:
        sock = raw(server.port)
        assert closed_by_agent(sock)
        assert server.guard.cut == 1 and until(lambda: server.guard.open == 0)
        sock.close()


def test_failed_handshakes_give_their_slot_back(tmp_path: Path) -> None:
    """Plain HTTP to the TLS port and garbage fail the handshake at once; each slot is freed."""
    with agent(tmp_path, limits=TransportLimits(header_timeout=120, max_connections=2)) as server:
        for garbage in (f"POST {READY} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), b"\x16\x03\x01\x00\x05hello", b"\0" * 64):
            for _ in range(3):
                sock = raw(server.port)
                sock.sendall(garbage)
                assert closed_by_agent(sock)
                sock.close()
                assert until(lambda: server.guard.open == 0)
        status, _ = post(server.port, READY, b"{}")
        assert status == 200 and server.guard.cut == 0


def trickle(sock: socket.socket, data: bytes, *, pause: float = 0.05, limit: int = 2000) -> bool:
    """Send ``data`` a byte at a time; True when the agent cut the connection before it was all sent."""
    for index in range(min(len(data), limit)):
        try:
            sock.sendall(data[index : index + 1])
        except OSError:
            return True
        time.sleep(pause)
    return False


def tls(port: int) -> ssl.SSLSocket:
    return unverified().wrap_socket(raw(port), server_hostname="127.0.0.1")


def test_trickling_head_is_cut(tmp_path: Path) -> None:
    head = b"POST " + READY.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 4000 + b"\r\n\r\n"
    with agent(tmp_path, limits=TransportLimits(header_timeout=0.5)) as server:
        sock = tls(server.port)
        assert trickle(sock, head), "the agent never cut a head sent a byte at a time"
        assert server.guard.cut == 1
        sock.close()
        # ...and it still serves.
        status, _data = post(server.port, READY, b"{}")
        assert status == 200


def test_trickling_body_is_cut(tmp_path: Path) -> None:
    body = b'{"_details": "' + b"a" * 4000 + b'"}'
    head = f"POST {READY} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    with agent(tmp_path, limits=TransportLimits(header_timeout=30, body_timeout=0.5)) as server:
        sock = tls(server.port)
        sock.sendall(head)
        assert trickle(sock, body), "the agent never cut a body sent a byte at a time"
        assert server.guard.cut == 1
        sock.close()
        assert server.app.backend.executed == []  # type: ignore[attr-defined]


def test_kept_alive_connection_must_send_its_next_head_in_time(tmp_path: Path) -> None:
    with agent(tmp_path, limits=TransportLimits(header_timeout=0.5, idle_timeout=30)) as server:
        sock = tls(server.port)
        sock.sendall(f"POST {READY} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        reply = b""
        while b"ReadyAnswer" not in reply:
            chunk = sock.recv(65536)
            assert chunk, reply
            reply += chunk
        assert trickle(sock, f"POST {READY} HTTP/1.1\r\nHost: x\r\n".encode() * 50)
        sock.close()


def test_healthy_client_is_served_while_trickling_connections_are_open(tmp_path: Path) -> None:
    trickling = 40
    with agent(tmp_path, limits=TransportLimits(header_timeout=120, max_connections=trickling + 8)) as server:
        silent = [raw(server.port) for _ in range(trickling // 2)]
        partial = [tls(server.port) for _ in range(trickling // 2)]
        for sock in partial:
            sock.sendall(f"POST {READY} HTTP/1.1\r\nHost: x\r\nX-Slow: a".encode())
        assert until(lambda: server.guard.open == trickling)
        with DirectConnectClient("127.0.0.1", server.port, timeout=WAIT_S) as client:
            for _ in range(5):
                assert client.execute(ReadyCommand(details="healthy")).details == "healthy"
        # The tricklers were still open while the healthy client was served.
        assert server.guard.open >= trickling and server.guard.cut == 0
        for sock in silent + partial:
            sock.close()
        assert until(lambda: server.guard.open == 0)


def test_connection_limit(tmp_path: Path) -> None:
    with agent(tmp_path, limits=TransportLimits(header_timeout=120, max_connections=4)) as server:
        held = [raw(server.port) for _ in range(4)]
        assert until(lambda: server.guard.open == 4)
        extra = raw(server.port)
        assert closed_by_agent(extra), "a fifth connection was kept open over the limit of 4"
        assert server.guard.refused == 1
        held.pop().close()
        assert until(lambda: server.guard.open == 3)
        status, _ = post(server.port, READY, b"{}")
        assert status == 200
        for sock in [*held, extra]:
            sock.close()


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="header_timeout"):
        TransportLimits(header_timeout=0)
    with pytest.raises(ValueError, match="max_connections"):
        TransportLimits(max_connections=0)


# -- bytes as Java sends them ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentServer]:
    with agent(tmp_path_factory.mktemp("echo")) as server:
        yield server


def test_body_without_charset_is_iso_8859_1(echo: AgentServer) -> None:
    text = '{"_details": "caf\u00e9"}'
    status, data = post(echo.port, READY, text.encode("iso-8859-1"))
    assert status == 200 and ready_details(data) == "caf\u00e9"
    # UTF-8 bytes that do not say so are read as Java would have written them: ISO-8859-1.
    status, data = post(echo.port, READY, text.encode("utf-8"))
    assert ready_details(data) == "caf\u00c3\u00a9"
    status, data = post(echo.port, READY, text.encode("utf-8"), {"content-type": "application/json; charset=UTF-8"})
    assert ready_details(data) == "caf\u00e9"
    for charset in ("iso-8859-1", "us-ascii"):
        status, data = post(
            echo.port, READY, b'{"_details": "ok"}', {"content-type": f"application/json;charset={charset}"}
        )
        assert ready_details(data) == "ok"


@pytest.mark.parametrize("charset", ["punycode", "utf-16", "utf_8", "latin1", "idna", "rot13", "x" * 500])
def test_other_charsets_are_refused(echo: AgentServer, charset: str) -> None:
    status, data = post(
        echo.port, READY, b'{"_details": "x"}', {"content-type": f"application/json; charset={charset}"}
    )
    (answer,) = json.loads(data)[0].values()
    assert status == 200 and answer["result"] is False
    assert "unsupported charset" in answer["details"] and len(answer["details"]) < 200


def test_client_declares_utf8(echo: AgentServer) -> None:
    with DirectConnectClient("127.0.0.1", echo.port) as client:
        assert client.execute(ReadyCommand(details="caf\u00e9 \u2603")).details == "caf\u00e9 \u2603"


# -- mutual TLS -----------------------------------------------------------------------------------


def _pki(folder: Path) -> dict[str, Path]:
    """A CA, a client certificate it signed, and a stranger's self-signed client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    out: dict[str, Path] = {}

    def write(name: str, cert: Any, key: Any) -> None:
        out[name] = folder / f"{name}.pem"
        out[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out[name + "-key"] = folder / f"{name}-key.pem"
        out[name + "-key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        out[name + "-key"].chmod(0o600)

    def certificate(subject: str, key: Any, issuer: Any, issuer_key: Any, *, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test management CA")])
    write("ca", certificate("test management CA", ca_key, ca_name, ca_key, ca=True), ca_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    write("client", certificate("ms1", client_key, ca_name, ca_key, ca=False), client_key)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    write("stranger", certificate("stranger", stranger_key, stranger_name, stranger_key, ca=False), stranger_key)
    return out


def test_client_ca_requires_a_client_certificate_it_signed(tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    with agent(tmp_path / "agent", client_ca=pki["ca"]) as server:
        for cert in (None, (str(pki["stranger"]), str(pki["stranger-key"]))):
            context = unverified()
            if cert is not None:
                context.load_cert_chain(*cert)
            # TLS 1.3 finishes the client's side of the handshake before the server checks the
            # certificate: the refusal may come on the first read. Either way, no answer.
            with pytest.raises((OSError, http.client.HTTPException)):
                post(server.port, READY, b'{"_details": "x"}', context=context)
        assert server.app.backend.executed == []  # type: ignore[attr-defined]
        assert until(lambda: server.guard.open == 0)
        good = (str(pki["client"]), str(pki["client-key"]))
        with DirectConnectClient("127.0.0.1", server.port, client_cert=good, timeout=WAIT_S) as client:
            assert client.execute(ReadyCommand(details="mutual")).details == "mutual"


# -- files: D18 -------------------------------------------------------------------------------------


def test_state_and_tls_directories_are_private(tmp_path: Path) -> None:
    from cshyperv.frontends.tls import TLSConfigError, ensure_self_signed, server_context

    state = tmp_path / "a" / "state"
    cert, key = ensure_self_signed(state / "tls")
    for folder in (tmp_path / "a", state, state / "tls"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o640)
    with pytest.raises(TLSConfigError, match=r"open to users other than its owner \(mode 0640\)"):
        ensure_self_signed(state / "tls")
    key.chmod(0o600)
    assert ensure_self_signed(state / "tls") == (cert, key)
    # A key the operator gives may be group-readable (Debian's ssl-cert group), never world-readable.
    key.chmod(0o640)
    assert server_context(cert, key).verify_mode == ssl.CERT_NONE
    key.chmod(0o604)
    with pytest.raises(TLSConfigError, match="open to others"):
        server_context(cert, key)
    with pytest.raises(TLSConfigError, match="client CA bundle"):
        key.chmod(0o600)
        server_context(cert, key, client_ca=tmp_path / "missing.pem")


# -- the event loop ---------------------------------------------------------------------------------


def test_answers_with_uvloop_installed(tmp_path: Path) -> None:
    """uvicorn's default loop ("auto") is uvloop whenever uvloop is installed (uvicorn[standard]
    installs it), and the guard's TLS start stalls under uvloop: the agent must keep asyncio's
    loop. The dev extra installs uvloop so that this runs in CI."""
    pytest.importorskip("uvloop")
    with agent(tmp_path) as server:
        with DirectConnectClient("127.0.0.1", server.port, timeout=WAIT_S) as client:
            for _ in range(3):
                assert client.execute(ReadyCommand(details="loop")).details == "loop"
        assert server.guard.cut == 0
