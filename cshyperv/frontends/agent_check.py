"""``cshyperv agent check``: a preflight an operator runs before CloudStack's ``addHost``.

For each ``[[host]]`` of the agent's config file, one row per check: the agent's own listen
address and certificate, then (for the Hyper-V plug-in) WinRM reachable and authenticated,
Windows PowerShell's version, the Hyper-V module and service, the vSwitch, the VM and VHD folders
writable, live migration, and each configured share writable both from the agent (over SMB/NFS
from Linux) and from the host itself (the second hop, where Kerberos delegation or the host's
computer account decides). The host's part is one PowerShell invocation (``preflight.ps1``).
A failed row says what to change.
"""

from __future__ import annotations

import datetime
import errno
import socket
import ssl
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from cshyperv.errors import (
    CSHyperVError,
    HypervisorAccessDeniedError,
    HypervisorConnectionError,
)
from cshyperv.frontends.agent_config import HostConfig

__all__ = ["Check", "check_host", "failures", "format_table"]


@attrs.frozen
class Check:
    """One row: ``ok``, what was found, and (when not ok) what to change."""

    host: str
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_host(host: HostConfig, *, open_plugin: Callable[[HostConfig], Any]) -> list[Check]:
    """Every check for one host. Never raises for a failing check: each is a row."""
    rows = [_listen(host), _certificate(host)]
    if host.hypervisor != "hyperv":
        return rows
    try:
        plugin = open_plugin(host)
    except CSHyperVError as exc:
        return [*rows, Check(host.name, "plug-in", False, str(exc), "fix the host's settings in the config file")]
    try:
        rows.extend(_host_rows(host, plugin))
        rows.extend(_agent_share_rows(host, plugin))
    finally:
        plugin.close()
    return rows


def _listen(host: HostConfig) -> Check:
    family = socket.AF_INET6 if ":" in host.listen_host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host.listen_host, 0))
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            return Check(
                host.name,
                f"listen {host.listen}",
                False,
                "the address is not on this machine",
                "add it as an IP alias of this box (CloudStack calls each Hyper-V host's own address)",
            )
        return Check(host.name, f"listen {host.listen}", False, exc.strerror or str(exc), "check the listen address")
    return Check(host.name, f"listen {host.listen}", True, "address present on this machine")


def _certificate(host: HostConfig) -> Check:
    if not host.tls:
        return Check(host.name, "certificate", False, "TLS is off", "CloudStack speaks HTTPS only: remove tls = false")
    if host.cert is None or host.key is None:
        return Check(host.name, "certificate", True, f"self-signed, made on first start in {host.state_dir / 'tls'}")
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(host.cert, host.key)
    except (OSError, ssl.SSLError) as exc:
        return Check(host.name, "certificate", False, f"cannot load {host.cert}: {exc}", "point cert/key at a PEM pair")
    try:
        from cryptography import x509

        with open(host.cert, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
    except (ImportError, ValueError, OSError):
        return Check(host.name, "certificate", True, f"{host.cert} loads with its key")
    expires = cert.not_valid_after_utc
    if expires <= datetime.datetime.now(datetime.timezone.utc):
        return Check(host.name, "certificate", False, f"expired on {expires:%Y-%m-%d}", "renew the certificate")
    return Check(host.name, "certificate", True, f"loads with its key, valid until {expires:%Y-%m-%d}")


def _host_rows(host: HostConfig, plugin: Any) -> list[Check]:
    from cshyperv.hyperv.scripts import script_text

    params = {
        "switch": host.default_switch,
        "vm_path": host.settings.get("vm_path"),
        "vhd_path": host.settings.get("vhd_path"),
        "shares": [s for s in host.shares if s.startswith("\\\\")],
        "live_migration": host.live_migration,
    }
    try:
        outcome = plugin.runner.invoke(script_text("preflight"), params)
    except HypervisorAccessDeniedError as exc:
        return [Check(host.name, "winrm", False, str(exc), "check username, password and transport in the settings")]
    except HypervisorConnectionError as exc:
        fix = "check the url, that WinRM listens there (winrm quickconfig -transport:https) and the firewall"
        return [Check(host.name, "winrm", False, str(exc), fix)]
    except CSHyperVError as exc:
        return [Check(host.name, "winrm", False, str(exc), "see docs/hyperv.md (first run on a real host)")]
    result = getattr(outcome, "result", outcome)
    rows = [Check(host.name, "winrm", True, "reachable and authenticated")]
    for row in (result or {}).get("checks", []) if isinstance(result, dict) else []:
        rows.append(
            Check(
                host.name,
                str(row.get("name")),
                bool(row.get("ok")),
                str(row.get("detail") or ""),
                str(row.get("fix") or ""),
            )
        )
    return rows


def _agent_share_rows(host: HostConfig, plugin: Any) -> list[Check]:
    rows = []
    for share in host.shares:
        name = f"agent share {_shown(share)}"
        try:
            adaptor, path = plugin.storage_access().locate(share)
            probe = f"{path.rstrip('/')}/.cshyperv-preflight-{uuid.uuid4().hex}.tmp".lstrip("/")
            with adaptor.open_write(probe) as handle:
                handle.write(b"\0")
            adaptor.remove(probe)
        except PermissionError:
            rows.append(Check(host.name, name, False, "access denied", "give the agent's SMB account modify rights"))
        except FileNotFoundError:
            rows.append(Check(host.name, name, False, "does not exist", "create the share or fix its path"))
        except (OSError, CSHyperVError) as exc:
            rows.append(Check(host.name, name, False, str(exc), "check the smb_* settings and the file server"))
        else:
            rows.append(Check(host.name, name, True, "writable from the agent"))
    return rows


def _shown(location: str) -> str:
    from cshyperv._redact import redact_url_credentials

    return redact_url_credentials(location)


def format_table(rows: Iterable[Check]) -> str:
    """The rows as an aligned text table, failures with their fix on the next line."""
    rows = list(rows)
    width_host = max((len(r.host) for r in rows), default=4)
    width_name = max((len(r.name) for r in rows), default=5)
    lines = [f"{'host':{width_host}}  {'check':{width_name}}  result  detail"]
    for r in rows:
        lines.append(f"{r.host:{width_host}}  {r.name:{width_name}}  {'ok' if r.ok else 'FAIL':6}  {r.detail}")
        if not r.ok and r.fix:
            lines.append(f"{'':{width_host}}  {'':{width_name}}  {'':6}  -> {r.fix}")
    return "\n".join(lines)


def failures(rows: Sequence[Check]) -> int:
    return sum(1 for r in rows if not r.ok)
