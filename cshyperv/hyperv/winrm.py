"""Reaching a Hyper-V host over WinRM: one way to name it, and a runner that keeps one shell.

:class:`HostConnection` is the single way to name a host everywhere (Python, the agent's options
and environment, the Extensions host details): ``url`` (a bare host meaning
``https://host:5986/wsman``, ``host:port``, or a full ``http(s)://host:port/wsman``), ``username``,
``password``, ``transport`` (ntlm, kerberos, credssp, certificate, basic) and
``verify_tls_certificate`` (on unless turned off).

:class:`WinRMRunner` runs the plug-in's scripts on pywinrm's ``Protocol`` (not ``Session.run_ps``,
which opens a shell per call and is limited by cmd.exe's command line): one shell per host, kept and
reused; each invocation is one constant ``powershell.exe`` command line (the bootstrap) with the
script and its JSON parameters delivered on stdin, so nothing has a length limit and no value is
ever on a command line. A warm invocation is four HTTP exchanges: Command, Send, Receive, Signal.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Mapping
from functools import cache
from typing import Any

import attrs

from cshyperv import deadline
from cshyperv.errors import (
    HypervisorAccessDeniedError,
    HypervisorConnectionError,
    HypervisorError,
    OperationTimeoutError,
    PluginError,
    PowerShellError,
)
from cshyperv.hyperv.scripts import bootstrap_text

__all__ = ["BOOTSTRAP_COMMAND", "HostConnection", "WinRMRunner"]

TRANSPORTS = ("ntlm", "kerberos", "credssp", "certificate", "basic")
MARKER = "#cshyperv-result:"
SHELL_NOT_FOUND = 2150858843
BUSY_CODES = (2150859174, 2150859173)  # operation-limit and shell-quota faults
_LOOPBACK_NAMES = ("localhost",)


def _hidden(value: object) -> str:
    return "None" if value is None else "'<redacted>'"


def _bool(value: object, default: bool = True) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@attrs.frozen(kw_only=True)
class HostConnection:
    """How to reach one Hyper-V host. ``repr`` never shows the password."""

    url: str
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=_hidden)
    transport: str = "ntlm"
    verify_tls_certificate: bool = True
    ca_trust_path: str | None = None
    # transport=certificate: a client certificate and its key (PEM files) mapped to a host account.
    client_certificate: str | None = None
    client_key: str | None = None
    read_timeout_s: float = 60.0
    operation_timeout_s: float = 20.0

    def __attrs_post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise PluginError(f"unknown WinRM transport {self.transport!r} (use one of {', '.join(TRANSPORTS)})")
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme == "http" and self.transport == "basic" and not _is_loopback(parts.hostname or ""):
            raise PluginError("basic authentication over plain HTTP sends the password in clear; use HTTPS")
        if self.transport == "certificate":
            if not (self.client_certificate and self.client_key):
                raise PluginError("certificate authentication needs client_certificate and client_key (PEM files)")
            if parts.scheme != "https":
                raise PluginError("certificate authentication works over HTTPS only")

    @property
    def endpoint(self) -> str:
        """The WS-Management URL: ``https://host:5986/wsman`` unless said otherwise."""
        text = self.url.strip()
        if "://" not in text:
            host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
            if not host:
                host, port = text, ""
            scheme = "http" if port == "5985" else "https"
            return f"{scheme}://{host}:{port or '5986'}/wsman"
        parts = urllib.parse.urlsplit(text)
        path = parts.path if parts.path and parts.path != "/" else "/wsman"
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.endpoint).hostname or ""

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> HostConnection:
        """From string settings (agent --set, Extensions host details)."""
        if not settings.get("url"):
            raise PluginError("a Hyper-V host needs a url (a host name, host:port or https://host:5986/wsman)")
        return cls(
            url=str(settings["url"]),
            username=settings.get("username") or None,
            password=settings.get("password") or None,
            transport=str(settings.get("transport") or "ntlm").strip().lower(),
            verify_tls_certificate=_bool(settings.get("verify_tls_certificate"), True),
            ca_trust_path=settings.get("ca_trust_path") or None,
            client_certificate=settings.get("client_certificate") or None,
            client_key=settings.get("client_key") or None,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> HostConnection:
        """From CSHYPERV_WINRM_URL, _USERNAME, _PASSWORD, _TRANSPORT, _VERIFY_TLS, _CLIENT_CERTIFICATE,
        _CLIENT_KEY (overridable)."""
        env = os.environ if environ is None else environ
        settings: dict[str, Any] = {
            "url": env.get("CSHYPERV_WINRM_URL"),
            "username": env.get("CSHYPERV_WINRM_USERNAME"),
            "password": env.get("CSHYPERV_WINRM_PASSWORD"),
            "transport": env.get("CSHYPERV_WINRM_TRANSPORT"),
            "verify_tls_certificate": env.get("CSHYPERV_WINRM_VERIFY_TLS"),
            "client_certificate": env.get("CSHYPERV_WINRM_CLIENT_CERTIFICATE"),
            "client_key": env.get("CSHYPERV_WINRM_CLIENT_KEY"),
        }
        settings.update({k: v for k, v in overrides.items() if v})
        return cls.from_mapping(settings)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cache
def _bootstrap_command() -> tuple[str, list[str]]:
    encoded = base64.b64encode(bootstrap_text("winrm").encode("utf-16-le")).decode("ascii")
    return "powershell.exe", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded]


BOOTSTRAP_COMMAND = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <bootstrap>"


def parse_clixml(stderr: bytes) -> list[str]:
    """Error/warning messages from PowerShell's CLIXML stderr (``#< CLIXML`` + <Objs>)."""
    text = stderr.decode("utf-8", "replace")
    if "#< CLIXML" not in text:
        return [text.strip()] if text.strip() else []
    import xml.etree.ElementTree as ET

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


class WinRMRunner:
    """Runs scripts on one host through one kept WinRM shell.

    Invocations on one runner are serialised (one shell runs one command at a time here); use one
    runner per host and several hosts in parallel.
    """

    def __init__(self, connection: HostConnection, *, busy_retries: int = 4, one_shot: bool = False) -> None:
        """``one_shot``: the runner serves one short-lived process (an Extensions call) whose shell
        is deleted at the end, which frees finished commands too, so no Signal is sent for them."""
        self.connection = connection
        self.busy_retries = busy_retries
        self.one_shot = one_shot
        self._lock = threading.Lock()
        self._protocol: Any = None
        self._shell: str | None = None

    def __repr__(self) -> str:
        return f"WinRMRunner({self.connection.endpoint!r}, transport={self.connection.transport!r})"

    def _make_protocol(self) -> Any:
        try:
            from winrm.protocol import Protocol
        except ImportError:  # pragma: no cover - pywinrm is a dependency of the hyperv extra
            raise PluginError("the Hyper-V plug-in needs pywinrm (pip install 'cshyperv[hyperv]')") from None
        c = self.connection
        options: dict[str, Any] = {
            "endpoint": c.endpoint,
            "transport": c.transport,
            "username": c.username,
            "password": c.password,
            "server_cert_validation": "validate" if c.verify_tls_certificate else "ignore",
            "read_timeout_sec": c.read_timeout_s,
            "operation_timeout_sec": c.operation_timeout_s,
        }
        if c.ca_trust_path:
            options["ca_trust_path"] = c.ca_trust_path
        if c.transport == "certificate":
            options.update(cert_pem=c.client_certificate, cert_key_pem=c.client_key)
        return Protocol(**options)

    def _ensure_shell(self) -> tuple[Any, str]:
        if self._protocol is None:
            self._protocol = self._make_protocol()
        if self._shell is None:
            self._shell = self._protocol.open_shell(codepage=65001)
        return self._protocol, self._shell

    def close(self) -> None:
        with self._lock:
            if self._protocol is not None and self._shell is not None:
                # Closing is best effort: the host drops idle shells anyway.
                with contextlib.suppress(Exception):
                    self._protocol.close_shell(self._shell)
            self._shell = None

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        document = json.dumps({"script": script, "params": params}, ensure_ascii=False).encode("utf-8")
        with self._lock:
            stdout, stderr = self._run(document)
        return outcome_of(stdout, stderr)

    def _run(self, document: bytes) -> tuple[bytes, bytes]:
        from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

        busy = 0
        reconnected = False
        while True:
            deadline.check("WinRM invocation")
            try:
                protocol, shell = self._ensure_shell()
                command, args = _bootstrap_command()
                command_id = protocol.run_command(shell, command, args, skip_cmd_shell=True)
            except WSManFaultError as exc:
                if exc.wsman_fault_code == SHELL_NOT_FOUND and not reconnected:
                    # The host dropped our idle shell: open a new one; the command never ran.
                    self._shell, reconnected = None, True
                    continue
                if exc.wsman_fault_code in BUSY_CODES and busy < self.busy_retries:
                    busy += 1
                    time.sleep(min(2.0, 0.1 * 2**busy))
                    continue
                raise self._map(exc) from None
            except Exception as exc:
                raise self._map(exc) from None
            try:
                protocol.send_command_input(shell, command_id, document, end=True)
                out: list[bytes] = []
                err: list[bytes] = []
                while True:
                    if deadline.remaining(1.0) == 0.0:
                        raise OperationTimeoutError("the host did not answer before the deadline")
                    try:
                        stdout, stderr, _code, done = protocol.get_command_output_raw(shell, command_id)
                    except WinRMOperationTimeoutError:
                        continue  # nothing yet: ask again (each Receive waits up to the operation timeout)
                    out.append(stdout)
                    err.append(stderr)
                    if done:
                        break
                if not self.one_shot:
                    # Release the finished command on the kept shell; a failed Signal changes nothing.
                    with contextlib.suppress(WSManFaultError, WinRMTransportError):
                        protocol.cleanup_command(shell, command_id)
                return b"".join(out), b"".join(err)
            except OperationTimeoutError:
                self._shell = None  # the command may still run there: do not reuse its shell
                raise
            except Exception as exc:
                self._shell = None
                raise self._map(exc) from None

    def _map(self, exc: BaseException) -> HypervisorError:
        from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError

        return map_transport_error(
            exc,
            self.connection.host,
            "WinRM",
            refused=isinstance(exc, InvalidCredentialsError),
            fault=(exc.wsman_fault_code or exc.code) if isinstance(exc, WSManFaultError) else None,
            transport=exc.code if isinstance(exc, WinRMTransportError) else None,
        )


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
    if isinstance(exc, (ConnectionError, OSError)) or "Connection" in name:
        return HypervisorConnectionError(f"cannot reach the Hyper-V host {host} ({name})")
    return HypervisorError(f"{label} call to {host} failed ({name})")


def outcome_of(stdout: bytes, stderr: bytes) -> Any:
    """The result in the entry script's marker line, or the error record it carries (raised as
    :class:`PowerShellError`). Shared by the WinRM and PSRP runners."""
    for line in stdout.decode("utf-8", "replace").splitlines():
        if line.startswith(MARKER):
            outcome = json.loads(line[len(MARKER) :])
            if "error" in outcome:
                raise PowerShellError(outcome["error"])
            return outcome.get("ok")
    messages = parse_clixml(stderr)
    raise HypervisorError("PowerShell gave no result" + (f": {messages[0][:300]}" if messages else ""))


def create(config: Mapping[str, str]) -> Any:
    """Plug-in factory (entry point ``hyperv``): settings url/username/password/transport/...,
    defaulting to the CSHYPERV_WINRM_* environment variables."""
    from cshyperv.hyperv.plugin import HyperVHypervisor
    from cshyperv.hyperv.storage import storage_access_from_settings

    if config.get("url"):
        connection = HostConnection.from_mapping(config)
    else:
        connection = HostConnection.from_env(None, **dict(config))
    storage = storage_access_from_settings(
        config, host=connection.host, winrm_username=connection.username, winrm_password=connection.password
    )
    kind = str(config.get("runner") or "winrm").strip().lower()
    runner: Any
    if kind == "psrp":
        from cshyperv.hyperv.psrp import PSRPRunner

        runner = PSRPRunner(connection)
    elif kind == "winrm":
        runner = WinRMRunner(connection, one_shot=_bool(config.get("one_shot"), False))
    else:
        raise PluginError(f"unknown runner {kind!r} (use winrm or psrp)")
    return HyperVHypervisor(runner, storage=storage, config_drive=_bool(config.get("config_drive"), True))
