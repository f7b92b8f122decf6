"""A ScriptRunner on WinRS (pywinrm's ``Protocol``): the constant bootstrap, values never on a command line.

Each invocation runs ONE constant command line, :data:`BOOTSTRAP_COMMAND_LINE` (``powershell.exe``
with the bootstrap as ``-EncodedCommand``), which reads the JSON envelope ``{"script", "params"}``
and prints one marker line. The envelope reaches it one of two ways, never on the command line
(cmd.exe's 8,191-character limit, and a command line is logged and visible to every process):

* **kept shell** (the agent): one shell per host, reused; the envelope goes on stdin, in Send
  messages of at most :data:`STDIN_CHUNK` bytes (a real host refuses a request larger than its
  MaxEnvelopeSizekb). A warm invocation is Command, Send, Receive, Signal: 4 HTTP exchanges.
* **one shot** (the Extensions executable, one process per action): the shell is created with
  the first envelope in its *environment* (``CSHYPERV_ENVELOPE_PARTS`` and
  ``CSHYPERV_ENVELOPE_<n>``, each under Windows' 32,767-character limit for one variable), so a
  one-invocation action is Create, Command, Receive, Delete: 4 exchanges. An envelope over
  :data:`ENVIRONMENT_BUDGET` characters (a Create must stay under the host's MaxEnvelopeSizekb;
  150 KB is the lowest default) goes on stdin instead (5). Later invocations of the same process
  reuse the shell (Command, Send, Receive; the stdin-only bootstrap). The shell is deleted at
  :meth:`WinRMRunner.close` and on every failure path, the deadline included, and asks the host
  to drop it by itself after its idle timeout should the process be killed.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from cshyperv import deadline
from cshyperv.errors import HypervisorError, OperationTimeoutError, PluginError
from cshyperv.hyperv.connection import HostConnection
from cshyperv.hyperv.invocation import BUSY_CODES, SHELL_NOT_FOUND, map_transport_error, outcome_of, parse_clixml
from cshyperv.hyperv.scripts import bootstrap_text

__all__ = [
    "BOOTSTRAP_COMMAND",
    "ENVIRONMENT_BUDGET",
    "STDIN_CHUNK",
    "HostConnection",
    "WinRMRunner",
    "bootstrap_command_line",
    "envelope_environment",
    "parse_clixml",
]

BOOTSTRAP_COMMAND = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <bootstrap>"
# Windows limits one environment variable to 32,767 characters; parts stay well under it.
ENVIRONMENT_PART = 32_000
# Envelope characters carried in a shell's environment; above it, stdin. Keeps a Create (the
# envelope plus ~2 KB of SOAP) under 150 KB, the lowest MaxEnvelopeSizekb default.
ENVIRONMENT_BUDGET = 128 * 1024
# Bytes of stdin per Send: base64 makes 128 KiB of it, well under MaxEnvelopeSizekb.
STDIN_CHUNK = 96 * 1024
PARTS_VARIABLE = "CSHYPERV_ENVELOPE_PARTS"
# The bounded wait for a clean-up Delete, after the deadline if need be.
_DELETE_TIMEOUT_S = 5.0
# A one-shot shell asks the host to drop it after this long without a request from the client
# (beyond the invocation's own deadline), should the process die before its Delete.
_ONE_SHOT_IDLE_MARGIN_S = 60


# The stdin-only variant: for the later invocations of a one-shot process, whose shell still
# carries the first envelope in its environment. A constant prefix, no value.
_STDIN_ONLY = f"Remove-Item -LiteralPath 'Env:{PARTS_VARIABLE}' -ErrorAction SilentlyContinue\n"


@cache
def _bootstrap_command(stdin_only: bool = False) -> tuple[str, tuple[str, ...]]:
    text = (_STDIN_ONLY if stdin_only else "") + bootstrap_text("winrm")
    encoded = base64.b64encode(text.encode("utf-16-le")).decode("ascii")
    return "powershell.exe", ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded)


def bootstrap_command_line(*, stdin_only: bool = False) -> str:
    """The exact command line of an invocation, as it travels in a WinRS Command (``Command`` and
    ``Arguments`` joined by a space). There are two, both constant: the bootstrap (envelope from
    the shell's environment if there, else stdin) and, with ``stdin_only``, the same script told
    to ignore the environment. No other command line is ever sent."""
    command, args = _bootstrap_command(stdin_only)
    return " ".join((command, *args))


def envelope_environment(envelope: str) -> dict[str, str] | None:
    """The shell environment carrying ``envelope`` (ASCII JSON) in parts, or None when it is over
    :data:`ENVIRONMENT_BUDGET` and must go on stdin."""
    if len(envelope) > ENVIRONMENT_BUDGET:
        return None
    count = max(1, math.ceil(len(envelope) / ENVIRONMENT_PART))
    env = {PARTS_VARIABLE: str(count)}
    for n in range(count):
        env[f"CSHYPERV_ENVELOPE_{n}"] = envelope[n * ENVIRONMENT_PART : (n + 1) * ENVIRONMENT_PART]
    return env


@contextlib.contextmanager
def _timeouts(protocol: Any, operation_s: float, read_s: float) -> Iterator[None]:
    """Temporarily shorter WS-Management OperationTimeout and HTTP read timeout."""
    saved = protocol.operation_timeout_sec, protocol.transport.read_timeout_sec
    protocol.operation_timeout_sec = max(1, int(min(saved[0], operation_s)))
    protocol.transport.read_timeout_sec = max(protocol.operation_timeout_sec + 1, min(saved[1], read_s))
    try:
        yield
    finally:
        protocol.operation_timeout_sec, protocol.transport.read_timeout_sec = saved


class WinRMRunner:
    """Runs scripts on one host over WinRS.

    Invocations on one runner are serialised (one shell runs one command at a time here); use one
    runner per host and several hosts in parallel.
    """

    def __init__(self, connection: HostConnection, *, busy_retries: int = 4, one_shot: bool = False) -> None:
        """``one_shot``: the runner serves one short-lived process (an Extensions call): each
        invocation gets a shell of its own, the envelope in its environment, deleted at the end."""
        self.connection = connection
        self.busy_retries = busy_retries
        self.one_shot = one_shot
        self._lock = threading.Lock()
        self._protocol: Any = None
        self._shell: str | None = None
        #: WS-Management exchanges sent (NTLM/Kerberos logon legs not counted), for metrics.
        self.exchanges = 0
        #: Failed invocations by the typed error they became, for metrics.
        self.errors: collections.Counter[str] = collections.Counter()

    @property
    def open_shells(self) -> int:
        """Shells this runner holds open on the host now (0 or 1)."""
        return 0 if self._shell is None else 1

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
        protocol = Protocol(**options)
        # Every WS-Management request goes through send_message: count them there.
        send = protocol.send_message

        def counted(message: Any) -> Any:
            self.exchanges += 1
            return send(message)

        protocol.send_message = counted  # type: ignore[method-assign]
        return protocol

    def _ensure_protocol(self) -> Any:
        if self._protocol is None:
            self._protocol = self._make_protocol()
        return self._protocol

    def close(self) -> None:
        with self._lock:
            if self._protocol is not None and self._shell is not None:
                # Closing is best effort: the host drops idle shells anyway.
                with (
                    contextlib.suppress(Exception),
                    _timeouts(self._protocol, _DELETE_TIMEOUT_S, _DELETE_TIMEOUT_S * 2),
                ):
                    self._protocol.close_shell(self._shell)
            self._shell = None
            if self._protocol is not None:
                with contextlib.suppress(Exception):
                    self._protocol.transport.close_session()

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        # ASCII JSON (non-ASCII as \\u escapes): valid in XML and in an environment block, and
        # no encoding error whatever the strings hold.
        envelope = json.dumps({"script": script, "params": params}, ensure_ascii=True)
        with self._lock:
            stdout, stderr = self._run(envelope)
        try:
            return outcome_of(stdout, stderr)
        except HypervisorError as exc:  # the script's own failure, by the typed error it maps to
            self.errors[type(exc).__name__] += 1
            raise

    def _run(self, envelope: str) -> tuple[bytes, bytes]:
        from winrm.exceptions import WinRMTransportError, WSManFaultError

        busy = 0
        reconnected = False
        while True:
            deadline.check("WinRM invocation")
            fresh = self._shell is None
            # A one-shot process's first invocation rides in the new shell's environment; later
            # ones (an action that makes several) reuse that shell with the envelope on stdin.
            environment = envelope_environment(envelope) if (self.one_shot and fresh) else None
            try:
                protocol = self._ensure_protocol()
                if fresh:
                    self._shell = self._open(protocol, environment)
                shell = self._shell
                assert shell is not None
                command_id = self._start(protocol, shell, stdin_only=self.one_shot and not fresh)
            except WSManFaultError as exc:
                if exc.wsman_fault_code == SHELL_NOT_FOUND and not fresh and not reconnected:
                    # The host dropped our idle shell: open a new one; the command never ran.
                    self._shell, reconnected = None, True
                    continue
                if self._busy(exc, busy):
                    busy += 1
                    continue  # (a one-shot shell already made is reused, the envelope on stdin)
                self._drop_if_one_shot()
                raise self._map(exc) from None
            except Exception as exc:
                self._drop_if_one_shot()
                raise self._map(exc) from None
            try:
                if environment is None:
                    self._send(protocol, shell, command_id, envelope.encode("ascii"))
                output = self._receive(protocol, shell, command_id)
                if not self.one_shot:
                    # Release the finished command on the kept shell; a failed Signal changes
                    # nothing. (A one-shot shell is deleted soon, which frees its commands.)
                    with contextlib.suppress(WSManFaultError, WinRMTransportError):
                        protocol.cleanup_command(shell, command_id)
                return output
            except OperationTimeoutError:
                self._abandon_shell()  # the command may still run there: delete its shell now
                raise
            except Exception as exc:
                self._abandon_shell()
                raise self._map(exc) from None

    def _open(self, protocol: Any, environment: dict[str, str] | None) -> str:
        if not self.one_shot:
            return str(protocol.open_shell(codepage=65001))
        # Should the process die before its Delete, the host drops the shell once idle this long.
        left = deadline.remaining(None)
        idle = int(left if left is not None else self.connection.read_timeout_s) + _ONE_SHOT_IDLE_MARGIN_S
        return str(protocol.open_shell(codepage=65001, env_vars=environment, idle_timeout=f"PT{idle}S"))

    # -- steps ----------------------------------------------------------------------------------

    def _busy(self, exc: Any, busy: int) -> bool:
        """Whether to retry after the host's busy fault (waits first)."""
        if exc.wsman_fault_code in BUSY_CODES and busy < self.busy_retries:
            time.sleep(min(2.0, 0.1 * 2 ** (busy + 1)))
            return True
        return False

    def _start(self, protocol: Any, shell: str, *, stdin_only: bool) -> str:
        command, args = _bootstrap_command(stdin_only)
        return str(protocol.run_command(shell, command, list(args), skip_cmd_shell=True))

    def _send(self, protocol: Any, shell: str, command_id: str, document: bytes) -> None:
        chunks = [document[n : n + STDIN_CHUNK] for n in range(0, len(document), STDIN_CHUNK)] or [b""]
        for n, chunk in enumerate(chunks):
            deadline.check("WinRM invocation")
            protocol.send_command_input(shell, command_id, chunk, end=n == len(chunks) - 1)

    def _receive(self, protocol: Any, shell: str, command_id: str) -> tuple[bytes, bytes]:
        from winrm.exceptions import WinRMOperationTimeoutError

        out: list[bytes] = []
        err: list[bytes] = []
        while True:
            left = deadline.remaining(None)
            if left is not None and left < 0.5:
                raise OperationTimeoutError("the host did not answer before the deadline")
            # Each Receive waits at most the OperationTimeout; never past the deadline.
            wait = self.connection.operation_timeout_s
            if left is not None:
                wait = min(wait, left)
            try:
                with _timeouts(protocol, wait, self.connection.read_timeout_s):
                    stdout, stderr, _code, done = protocol.get_command_output_raw(shell, command_id)
            except WinRMOperationTimeoutError:
                continue  # nothing yet: ask again
            out.append(stdout)
            err.append(stderr)
            if done:
                return b"".join(out), b"".join(err)

    def _delete(self, protocol: Any, shell: str) -> None:
        """Delete a shell, best effort and bounded (also after the deadline: the host would keep
        the shell and its process otherwise)."""
        with contextlib.suppress(Exception), _timeouts(protocol, _DELETE_TIMEOUT_S, 2 * _DELETE_TIMEOUT_S):
            protocol.close_shell(shell, close_session=False)

    def _drop_if_one_shot(self) -> None:
        """A failed start: a kept shell stays for the next invocation; a one-shot one goes now."""
        if self.one_shot:
            self._abandon_shell()

    def _abandon_shell(self) -> None:
        shell, self._shell = self._shell, None
        if shell is not None and self._protocol is not None:
            self._delete(self._protocol, shell)

    def _map(self, exc: BaseException) -> HypervisorError:
        from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError

        mapped = map_transport_error(
            exc,
            self.connection.host,
            "WinRM",
            refused=isinstance(exc, InvalidCredentialsError),
            fault=(exc.wsman_fault_code or exc.code) if isinstance(exc, WSManFaultError) else None,
            transport=exc.code if isinstance(exc, WinRMTransportError) else None,
        )
        self.errors[type(mapped).__name__] += 1
        return mapped
