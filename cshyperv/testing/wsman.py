"""A loopback WS-Management endpoint that pywinrm talks to over real HTTP(S), as a Windows host would.

:class:`LoopbackWSManServer` answers the WinRM shell protocol (Create, Command, Send, Receive,
Signal, Delete) on 127.0.0.1 the way a Windows Server host with WinRM's defaults does:

* **Authentication**: NTLM (HTTP ``Negotiate``) by default, with pyspnego's real NTLM acceptor
  checking the client's NTLMv2 response against the account given (a wrong password is a 401);
  over plain HTTP the SOAP bodies must then be sealed (``multipart/encrypted``, MS-WSMV 2.2.9.1.1)
  and the answers are sealed the same way; an unsealed body is refused (500), as with
  ``AllowUnencrypted=false``. Basic authentication only when asked (``auth=("basic",)``), and over
  plain HTTP only with ``allow_unencrypted=True``.
* **HTTPS** with a certificate (:class:`TestCertificateAuthority` makes a CA and a server
  certificate); NTLM then carries the TLS channel binding, which the acceptor checks.
* **Quotas**: a request over ``max_envelope_kb`` (MaxEnvelopeSizekb, default 500) is refused with
  the fault a host gives; a Receive waits at most its OperationTimeout, then answers w:TimedOut.
* **The command line**: only the plug-in's two constant bootstrap command lines run
  (:func:`cshyperv.hyperv.winrm.bootstrap_command_line`); any other Command is refused with a
  fault, so a runner that puts a value on a command line fails every test. The bootstrap reads
  its envelope from the shell's environment (``CSHYPERV_ENVELOPE_*``, set at Create) or from
  stdin, as ``_bootstrap.ps1`` does (the stdin-only variant always from stdin), and runs while
  the client polls with Receive. Deleting a shell ends its command.

It plays ``powershell.exe`` running the bootstrap: the envelope ``{"script", "params"}`` goes to a
Python handler (e.g. :class:`cshyperv.testing.hyperv_host.SimulatedHyperVHost`), and the outcome
comes back on stdout in the bootstrap's marker-line format. It counts WS-Management exchanges per
action (``exchanges``) and every HTTP request, authentication legs included (``http_requests``),
records every script and command line received, and can inject faults (401, 500, connection
reset, the WinRM busy fault, a dropped shell, delays).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import re
import ssl
import struct
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "BUSY_FAULT_CODE",
    "ENVELOPE_TOO_LARGE_FAULT_CODE",
    "MARKER",
    "OPERATION_TIMEOUT_FAULT_CODE",
    "SHELL_NOT_FOUND_FAULT_CODE",
    "LoopbackWSManServer",
    "TestCertificateAuthority",
    "run_envelope",
]

MARKER = "#cshyperv-result:"
SHELL_NOT_FOUND_FAULT_CODE = 2150858843
BUSY_FAULT_CODE = 2150859174
OPERATION_TIMEOUT_FAULT_CODE = 2150858793
# HRESULT 0x80338111: "the request size exceeded the configured MaxEnvelopeSize quota".
ENVELOPE_TOO_LARGE_FAULT_CODE = 2150859025
_UNSUPPORTED_FAULT_CODE = 2150858778

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
_SEALED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_BOUNDARY = b"--Encrypted Boundary"
_SEALED_TYPE = f'multipart/encrypted;protocol="{_SEALED_PROTOCOL}";boundary="Encrypted Boundary"'
# pyspnego's NTLM acceptor reads its accounts from the file NTLM_USER_FILE names: one process-wide
# variable, so servers take turns setting it around each acceptor step.
_NTLM_ENVIRONMENT = threading.Lock()
_RECEIVE_WAIT_DEFAULT_S = 20.0

Handler = Callable[[str, Any], Any]


class _Command:
    """One process in a shell: its stdin, its output once it has finished."""

    def __init__(self, command_line: str) -> None:
        self.command_line = command_line
        self.stdin = bytearray()
        self.stdout: bytes | None = None
        self.ended = threading.Event()
        self.started = False


class _Shell:
    """One WinRS shell: its environment (from Create), idle timeout and commands."""

    def __init__(self, environment: dict[str, str], idle_timeout: str | None) -> None:
        self.environment = environment
        self.idle_timeout = idle_timeout
        self.commands: dict[str, _Command] = {}


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


def _seconds(duration: str | None, default: float) -> float:
    """An xs:duration as WS-Management sends it (``PT20S``, ``PT20.000S``), in seconds."""
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", (duration or "").strip())
    return float(match.group(1)) if match else default


@attrs.frozen
class TestCertificateAuthority:
    """A throw-away CA and a server certificate it signed for 127.0.0.1 and localhost (PEM files).

    ``ca_path`` is the bundle a client trusts (``ca_trust_path``); ``certificate_path`` and
    ``key_path`` are what :class:`LoopbackWSManServer` serves with ``tls=``.
    """

    __test__ = False  # not a pytest test class

    ca_path: Path
    certificate_path: Path
    key_path: Path

    @classmethod
    def create(cls, directory: Path, *, name: str = "cshyperv test CA") -> TestCertificateAuthority:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        paths = cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
        paths.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.certificate_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        paths.key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return paths


class LoopbackWSManServer:
    """The endpoint; use as a context manager. ``url`` is ``http(s)://127.0.0.1:<port>/wsman``.

    ``auth``: the schemes offered, ``("ntlm",)`` (WinRM's default Negotiate) and/or ``"basic"``;
    ``allow_unencrypted``: accept Basic and unsealed bodies over plain HTTP (WinRM's
    AllowUnencrypted); ``tls``: serve HTTPS with that CA's server certificate;
    ``any_command``: run any command line as a process that prints nothing (only to model other
    clients' traffic, e.g. pywinrm's ``run_ps``) instead of refusing all but the bootstrap.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        username: str = "admin",
        password: str = "P@ss w0rd",
        auth: Collection[str] = ("ntlm",),
        allow_unencrypted: bool = False,
        tls: TestCertificateAuthority | None = None,
        any_command: bool = False,
        max_envelope_kb: int = 500,
    ) -> None:
        unknown = set(auth) - {"ntlm", "basic"}
        if unknown or not auth:
            raise ValueError(f"auth must name ntlm and/or basic, not {sorted(unknown)}")
        from cshyperv.hyperv.winrm import bootstrap_command_line

        self.handler = handler
        self.username = username
        self.password = password
        self.auth = tuple(auth)
        self.allow_unencrypted = allow_unencrypted
        self.tls = tls
        self.any_command = any_command
        self.max_envelope_bytes = max_envelope_kb * 1024
        self.bootstrap = bootstrap_command_line()
        self.stdin_bootstrap = bootstrap_command_line(stdin_only=True)
        self.exchanges: Counter[str] = Counter()
        self.http_requests = 0
        self.refused_logons = 0
        self.scripts: list[str] = []
        self.command_lines: list[str] = []
        self.refused_command_lines: list[str] = []
        # Shell id -> its state: a WinRS shell (_Shell) here, a runspace pool in LoopbackPSRPServer.
        self.shells: dict[str, Any] = {}
        self._faults: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._scratch = tempfile.TemporaryDirectory(prefix="cshyperv-wsman-")
        self._user_file = self._write_user_file() if "ntlm" in self.auth else None
        self._binding: bytes | None = None
        outer = self

        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY each answer waits for the
            # client's delayed ACK (~40 ms a request on Linux), which no Windows host adds.
            disable_nagle_algorithm = True
            # Per TCP connection, as NTLM binds the logon to the connection.
            acceptor: Any = None
            logged_on = False
            seal_reply = False

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                outer._serve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self._httpd.daemon_threads = True
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls.certificate_path), str(tls.key_path))
            # The handshake happens in the connection's own thread, not in the accept loop.
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self._binding = _channel_binding(tls.certificate_path)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}/wsman"

    @property
    def open_shells(self) -> int:
        """Shells the host still holds (each a process tree on a real host)."""
        with self._lock:
            return len(self.shells)

    def inject(self, action: str, fault: str) -> None:
        """Make the next request for ``action`` (Create, Command, Send, Receive, Signal, Delete or
        ``*``) fail with ``fault``: ``401``, ``500``, ``reset``, ``busy``, ``drop-shell`` or
        ``delay:<seconds>``."""
        with self._lock:
            self._faults.append((action, fault))

    def total_exchanges(self) -> int:
        """WS-Management exchanges (SOAP requests answered after authentication)."""
        return sum(self.exchanges.values())

    def __enter__(self) -> LoopbackWSManServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loopback-wsman", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._scratch.cleanup()

    # -- authentication -------------------------------------------------------------------------

    def _write_user_file(self) -> str:
        if any(c in self.password for c in ":\r\n"):
            raise ValueError("the NTLM account file cannot hold a password with ':' or a line break")
        domain, _, user = self.username.rpartition("\\")
        path = Path(self._scratch.name) / "ntlm-users"
        path.write_text(f"{domain}:{user}:{self.password}\n", encoding="utf-8")
        return str(path)

    @contextlib.contextmanager
    def _accounts(self) -> Iterator[None]:
        """NTLM_USER_FILE pointing at this server's account while its acceptor runs."""
        assert self._user_file is not None
        with _NTLM_ENVIRONMENT:
            saved = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self._user_file
            try:
                yield
            finally:
                if saved is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = saved

    def _challenge(self, request: BaseHTTPRequestHandler, *values: str) -> None:
        request.send_response(401)
        for value in values or self._offers():
            request.send_header("WWW-Authenticate", value)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def _offers(self) -> list[str]:
        offers = ["Negotiate"] if "ntlm" in self.auth else []
        if "basic" in self.auth:
            offers.append('Basic realm="WSMAN"')
        return offers

    def _authenticate(self, request: Any) -> bool:
        """Whether the request may proceed; answers the 401 legs itself."""
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        scheme = scheme.lower()
        if scheme in ("negotiate", "ntlm") and "ntlm" in self.auth:
            return self._ntlm(request, scheme, value)
        if scheme == "basic" and "basic" in self.auth:
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if (self.tls is not None or self.allow_unencrypted) and value.strip() == expected:
                return True
            with self._lock:
                self.refused_logons += 1
            self._challenge(request)
            return False
        if not scheme and request.logged_on:
            return True  # NTLM: the connection is logged on
        self._challenge(request)
        return False

    def _ntlm(self, request: Any, scheme: str, value: str) -> bool:
        import spnego
        from spnego.channel_bindings import GssChannelBindings

        label = "Negotiate" if scheme == "negotiate" else "NTLM"
        try:
            token = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            token = b""
        if token[:8] != b"NTLMSSP\x00" or len(token) < 12:
            self._challenge(request, label)
            return False
        kind = struct.unpack("<I", token[8:12])[0]
        try:
            with self._accounts():
                if kind == 1:
                    bindings = None
                    if self._binding is not None:
                        bindings = GssChannelBindings(application_data=b"tls-server-end-point:" + self._binding)
                    request.acceptor, request.logged_on = (
                        spnego.server(protocol="ntlm", channel_bindings=bindings),
                        False,
                    )
                elif request.acceptor is None or request.logged_on:
                    raise ValueError("an NTLM message out of order")
                answer = request.acceptor.step(token)
        except Exception:  # a wrong password, an unknown user, bad bindings: the logon is refused
            request.acceptor, request.logged_on = None, False
            with self._lock:
                self.refused_logons += 1
            self._challenge(request, label)
            return False
        if not request.acceptor.complete:
            self._challenge(request, f"{label} {base64.b64encode(answer or b'').decode()}")
            return False
        request.logged_on = True
        return True

    # -- message sealing ------------------------------------------------------------------------

    def _unseal(self, request: Any, raw: bytes) -> bytes:
        head, found, rest = raw.partition(b"\tContent-Type: application/octet-stream\r\n")
        length = re.search(rb"Length=(\d+)", head)
        if not found or length is None or request.acceptor is None or not request.logged_on:
            raise ValueError("not a sealed WS-Management message")
        end = _BOUNDARY + b"--\r\n"
        if rest.endswith(end):
            rest = rest[: -len(end)]
        size = struct.unpack("<I", rest[:4])[0]
        body = bytes(request.acceptor.unwrap_winrm(rest[4 : 4 + size], rest[4 + size :]))
        if len(body) != int(length.group(1)):
            raise ValueError("sealed length mismatch")
        return body

    def _seal(self, request: Any, body: bytes) -> bytes:
        wrapped = request.acceptor.wrap_winrm(body)
        return bytes(
            _BOUNDARY + b"\r\n\tContent-Type: " + _SEALED_PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(body)).encode()
            + b"\r\n"
            + _BOUNDARY
            + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<I", len(wrapped.header))
            + wrapped.header
            + wrapped.data
            + _BOUNDARY
            + b"--\r\n"
        )

    # -- protocol -------------------------------------------------------------------------------

    def _take_fault(self, action: str) -> str | None:
        with self._lock:
            for index, (target, fault) in enumerate(self._faults):
                if target in (action, "*"):
                    del self._faults[index]
                    return fault
        return None

    def _reply(self, request: Any, status: int, body: bytes) -> None:
        content_type = "application/soap+xml;charset=UTF-8"
        if request.seal_reply:
            body, content_type = self._seal(request, body), _SEALED_TYPE
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _serve(self, request: Any) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        request.seal_reply = False
        with self._lock:
            self.http_requests += 1
        if not self._authenticate(request):
            return
        if "multipart/encrypted" in (request.headers.get("Content-Type") or ""):
            try:
                body = self._unseal(request, raw)
            except Exception:
                self._plain(request, 400)
                return
            request.seal_reply = True
        elif not raw:
            self._plain(request, 200)  # the empty request a client logs on with before sealing
            return
        elif request.logged_on and self.tls is None and not self.allow_unencrypted:
            self._plain(request, 500)  # AllowUnencrypted=false: an unsealed body over HTTP is refused
            return
        else:
            body = raw
        if len(body) > self.max_envelope_bytes:
            reason = "The WinRM client sent a request that exceeded the configured MaxEnvelopeSize quota."
            self._reply(request, 500, _fault(ENVELOPE_TOO_LARGE_FAULT_CODE, reason))
            return
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            self._plain(request, 400)
            return
        action_uri = root.findtext("s:Header/a:Action", default="", namespaces=NS)
        action = ACTIONS.get(action_uri, "Unknown")
        message_id = root.findtext("s:Header/a:MessageID", default="", namespaces=NS)
        shell_id = root.findtext('s:Header/w:SelectorSet/w:Selector[@Name="ShellId"]', default="", namespaces=NS)
        with self._lock:
            self.exchanges[action] += 1
        fault = self._take_fault(action)
        if fault is not None:
            if fault == "401":
                self._plain(request, 401)
                return
            if fault == "500":
                self._reply(request, 500, b"internal error")
                return
            if fault == "reset":
                request.close_connection = True
                request.connection.close()
                return
            if fault == "busy":
                reason = "The WS-Management service cannot process the request: too many operations."
                self._reply(request, 500, _fault(BUSY_FAULT_CODE, reason))
                return
            if fault == "drop-shell":
                with self._lock:
                    self.shells.pop(shell_id, None)
            elif fault.startswith("delay:"):
                time.sleep(float(fault.split(":", 1)[1]))
        self._handle(request, root, action, message_id, shell_id)

    def _plain(self, request: Any, status: int) -> None:
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def _shell_not_found(self, request: BaseHTTPRequestHandler) -> None:
        reason = "The request for the Windows Remote Shell with ShellId failed because the shell was not found."
        self._reply(request, 500, _fault(SHELL_NOT_FOUND_FAULT_CODE, reason))

    def _handle(
        self, request: BaseHTTPRequestHandler, root: ET.Element, action: str, message_id: str, shell_id: str
    ) -> None:
        """The WinRS cmd-shell protocol; subclasses serve other shells on the same plumbing."""
        if action == "Create":
            self._winrs_create(request, root, message_id)
            return
        with self._lock:
            shell = self.shells.get(shell_id)
        if not isinstance(shell, _Shell):
            self._shell_not_found(request)
            return
        if action == "Delete":
            with self._lock:
                self.shells.pop(shell_id, None)  # and its processes with it
            self._reply(request, 200, _envelope("", message_id))
            return
        if action == "Command":
            self._winrs_command(request, root, message_id, shell)
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
        command = shell.commands.get(command_id)
        if command is None:
            self._reply(request, 500, _fault(_UNSUPPORTED_FAULT_CODE, "unknown command"))
            return
        if action == "Send":
            assert stream is not None
            if not command.started:
                command.stdin.extend(base64.b64decode(stream.text or ""))
                if stream.get("End") == "true":
                    self._start(command, bytes(command.stdin).decode("utf-8", "replace"))
            self._reply(request, 200, _envelope("<rsp:SendResponse/>", message_id))
            return
        if action == "Receive":
            timeout = _seconds(root.findtext("s:Header/w:OperationTimeout", namespaces=NS), _RECEIVE_WAIT_DEFAULT_S)
            if not command.ended.wait(timeout):
                # What WinRM answers when a Receive waited its OperationTimeout for nothing.
                reason = "The WS-Management service cannot complete the operation within the time specified."
                self._reply(request, 500, _fault(OPERATION_TIMEOUT_FAULT_CODE, reason))
                return
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
                shell.commands.pop(command_id, None)
            self._reply(request, 200, _envelope("<rsp:SignalResponse/>", message_id))
            return
        self._reply(request, 500, _fault(_UNSUPPORTED_FAULT_CODE, "unsupported action"))

    def _winrs_create(self, request: BaseHTTPRequestHandler, root: ET.Element, message_id: str) -> None:
        environment = {
            variable.get("Name", ""): variable.text or ""
            for variable in root.findall("s:Body/rsp:Shell/rsp:Environment/rsp:Variable", NS)
        }
        if any(len(value) > 32_767 for value in environment.values()):
            # Windows refuses an environment variable over 32,767 characters.
            self._reply(request, 500, _fault(_UNSUPPORTED_FAULT_CODE, "The environment variable is too long."))
            return
        idle = root.findtext("s:Body/rsp:Shell/rsp:IdleTimeOut", namespaces=NS)
        new_id = str(uuid.uuid4()).upper()
        with self._lock:
            self.shells[new_id] = _Shell(environment, idle)
        body = (
            "<x:ResourceCreated><a:Address>loopback</a:Address><a:ReferenceParameters><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{new_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{new_id}</rsp:ShellId></rsp:Shell>"
        )
        self._reply(request, 200, _envelope(body, message_id))

    def _winrs_command(self, request: BaseHTTPRequestHandler, root: ET.Element, message_id: str, shell: _Shell) -> None:
        line = root.find("s:Body/rsp:CommandLine", NS)
        parts = [] if line is None else [line.findtext("rsp:Command", default="", namespaces=NS).strip()]
        parts += [(node.text or "") for node in ([] if line is None else line.findall("rsp:Arguments", NS))]
        command_line = " ".join(part for part in parts if part)
        with self._lock:
            self.command_lines.append(command_line)
        is_bootstrap = command_line in (self.bootstrap, self.stdin_bootstrap)
        if not is_bootstrap and not self.any_command:
            # Only the plug-in's constant bootstrap exists on this "host": a command line that
            # carries anything else (a value, a script) fails.
            with self._lock:
                self.refused_command_lines.append(command_line)
            reason = "cshyperv test host: only the plug-in's constant bootstrap command line may run."
            self._reply(request, 500, _fault(_UNSUPPORTED_FAULT_CODE, reason))
            return
        command_id = str(uuid.uuid4()).upper()
        command = _Command(command_line)
        with self._lock:
            shell.commands[command_id] = command
        if not is_bootstrap:
            command.started, command.stdout = True, b""  # another client's process: prints nothing here
            command.ended.set()
        elif command_line == self.bootstrap and "CSHYPERV_ENVELOPE_PARTS" in shell.environment:
            # _bootstrap.ps1 reads its envelope from the environment when the shell carries one.
            env = shell.environment
            try:
                count = int(env["CSHYPERV_ENVELOPE_PARTS"])
            except ValueError:
                count = 0
            self._start(command, "".join(env.get(f"CSHYPERV_ENVELOPE_{n}", "") for n in range(count)))
        body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
        self._reply(request, 200, _envelope(body, message_id))

    def _start(self, command: _Command, envelope: str) -> None:
        """Run the bootstrap on its own, as a process does, while the client polls with Receive."""
        command.started = True

        def run() -> None:
            command.stdout = (run_envelope(self.handler, envelope, self._note_script) + "\r\n").encode()
            command.ended.set()

        threading.Thread(target=run, name="loopback-wsman-command", daemon=True).start()

    def _run(self, stdin: bytes) -> bytes:
        """What the bootstrap would print for this stdin document."""
        return (run_envelope(self.handler, stdin.decode("utf-8", "replace"), self._note_script) + "\r\n").encode()

    def _note_script(self, script: str) -> None:
        with self._lock:
            self.scripts.append(script)


def _channel_binding(certificate: Path) -> bytes:
    """RFC 5929 tls-server-end-point: the certificate's hash (SHA-256 for a SHA-256 signature)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(certificate.read_bytes()).public_bytes(Encoding.DER)
    return hashlib.sha256(der).digest()


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
