"""A PowerShell runner on PSRP (pypsrp's RunspacePool), the ``psrp`` extra.

Where :class:`~cshyperv.hyperv.winrm.WinRMRunner` starts ``powershell.exe`` in a kept WinRS shell
and feeds it the envelope on stdin, this runner keeps ONE runspace pool open per host and runs
each operation as a pipeline in it: the constant entry script (``_psrp_bootstrap.ps1``) with the
JSON envelope as a serialized string *parameter* — never in script text — and the one marker line
read from the output stream. No process is started per operation on the host, and a pipeline
costs three HTTP exchanges on a warm pool (Command, Receive, Signal).

Same host naming, same checks (basic over plain HTTP only to loopback), same outcome format and
error mapping as the WinRM runner. Choose it with the ``runner=psrp`` setting.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from cshyperv import deadline
from cshyperv.errors import (
    HypervisorError,
    OperationTimeoutError,
    PluginError,
)
from cshyperv.hyperv.connection import HostConnection
from cshyperv.hyperv.invocation import BUSY_CODES, SHELL_NOT_FOUND, map_transport_error, outcome_of
from cshyperv.hyperv.scripts import bootstrap_text

__all__ = ["PSRPRunner"]

# WS-Management "operation timed out" on a Receive: nothing yet, ask again.
_OPERATION_TIMEOUT = 2150858793
_AUTH = {"ntlm": "ntlm", "kerberos": "kerberos", "credssp": "credssp", "basic": "basic", "certificate": "certificate"}


class PSRPRunner:
    """A ScriptRunner over one PSRP runspace pool per host. Thread-safe (one pipeline at a time)."""

    def __init__(self, connection: HostConnection, *, busy_retries: int = 4) -> None:
        self.connection = connection
        self.busy_retries = busy_retries
        self._lock = threading.Lock()
        self._pool: Any = None
        self._bootstrap = bootstrap_text("psrp")

    @property
    def open_shells(self) -> int:
        """Runspace pools this runner holds open on the host now (0 or 1)."""
        return 0 if self._pool is None else 1

    def __repr__(self) -> str:
        return f"PSRPRunner({self.connection.endpoint!r}, transport={self.connection.transport!r})"

    def _open_pool(self) -> Any:
        try:
            from pypsrp.powershell import RunspacePool
            from pypsrp.wsman import WSMan
        except ImportError:
            raise PluginError("the psrp runner needs pypsrp (pip install 'cshyperv[psrp]')") from None
        c = self.connection
        parts = urllib.parse.urlsplit(c.endpoint)
        https = parts.scheme == "https"
        # requests' ``verify``: a CA bundle path or a flag (pypsrp's annotation says bool only).
        cert_validation: Any = c.ca_trust_path or c.verify_tls_certificate
        options: dict[str, Any] = {
            "port": parts.port or (5986 if https else 5985),
            "path": parts.path.lstrip("/") or "wsman",
            "ssl": https,
            "auth": _AUTH[c.transport],
            "cert_validation": cert_validation,
            # Basic carries no message encryption; HostConnection allows it over HTTP to loopback only.
            "encryption": "never" if (c.transport == "basic" or https) else "auto",
            "operation_timeout": int(c.operation_timeout_s),
            "read_timeout": int(c.read_timeout_s),
        }
        if c.transport == "certificate":
            options.update(certificate_pem=c.client_certificate, certificate_key_pem=c.client_key)
        else:
            options.update(username=c.username, password=c.password)
        wsman = WSMan(parts.hostname or "", **options)
        pool = RunspacePool(wsman)
        pool.open()
        return pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # Closing is best effort: the host drops idle pools anyway.
            with contextlib.suppress(Exception):
                pool.close()

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        envelope = json.dumps({"script": script, "params": params}, ensure_ascii=False)
        with self._lock:
            lines = self._run(envelope)
        return outcome_of("\n".join(lines).encode("utf-8"), b"")

    def _run(self, envelope: str) -> list[str]:
        from pypsrp.complex_objects import PSInvocationState
        from pypsrp.exceptions import WSManFaultError
        from pypsrp.powershell import PowerShell

        busy = 0
        reconnected = False
        while True:
            deadline.check("PSRP invocation")
            try:
                if self._pool is None:
                    self._pool = self._open_pool()
                ps = PowerShell(self._pool)
                ps.add_script(self._bootstrap).add_parameter("Envelope", envelope)
                ps.begin_invoke()
            except WSManFaultError as exc:
                if exc.code == SHELL_NOT_FOUND and not reconnected:
                    # The host dropped the idle pool: open a new one; the pipeline never ran.
                    self._pool, reconnected = None, True
                    continue
                if exc.code in BUSY_CODES and busy < self.busy_retries:
                    busy += 1
                    time.sleep(min(2.0, 0.1 * 2**busy))
                    continue
                self._pool = None
                raise self._map(exc) from None
            except Exception as exc:
                self._pool = None
                raise self._map(exc) from None
            try:
                while ps.state == PSInvocationState.RUNNING:
                    left = deadline.remaining(None)
                    if left is not None and left < 1.0:
                        raise OperationTimeoutError("the host did not answer before the deadline")
                    # Each Receive waits at most the OperationTimeout, never past the deadline.
                    wait = self.connection.operation_timeout_s
                    if left is not None:
                        wait = min(wait, left)
                    ps.poll_invoke(timeout=max(1, int(wait)))
                # Release the finished pipeline on the kept pool.
                ps.close()
                return [str(item) for item in ps.output]
            except OperationTimeoutError:
                self._drop_pool()  # the pipeline may still run there: close its pool, never reuse it
                raise
            except Exception as exc:
                self._drop_pool()
                raise self._map(exc) from None

    def _drop_pool(self) -> None:
        """Close the pool on the host (best effort, bounded: also after the deadline, or the host
        would keep it and its pipeline) and forget it."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        with contextlib.suppress(Exception):
            # pypsrp's WSMan keeps the HTTP read timeout on the transport.
            pool.connection.transport.read_timeout = min(pool.connection.transport.read_timeout, 10)
            pool.close()

    def _map(self, exc: BaseException) -> HypervisorError:
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

        return map_transport_error(
            exc,
            self.connection.host,
            "PSRP",
            refused=isinstance(exc, AuthenticationError),
            fault=exc.code if isinstance(exc, WSManFaultError) else None,
            transport=exc.code if isinstance(exc, WinRMTransportError) else None,
        )
