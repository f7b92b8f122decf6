"""How to name one Hyper-V host: :class:`HostConnection`, parsed once from settings or the environment.

``url`` (a bare host meaning ``https://host:5986/wsman``, ``host:port``, or a full
``http(s)://host:port/wsman``), ``username``, ``password``, ``transport`` (ntlm, kerberos,
credssp, certificate, basic), ``verify_tls_certificate`` (on unless turned off), ``ca_trust_path``
and, for ``transport=certificate``, ``client_certificate`` / ``client_key``. The same names are
used everywhere: Python, the agent's ``--set`` options, the Extensions host details, and the
``CSHYPERV_WINRM_*`` environment variables (:data:`ENVIRONMENT`), which are read only here.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from cshyperv.errors import PluginError

__all__ = ["ENVIRONMENT", "TRANSPORTS", "HostConnection", "parse_flag", "settings_from_environment"]

TRANSPORTS = ("ntlm", "kerberos", "credssp", "certificate", "basic")
# Setting name -> the environment variable that supplies it when the setting is absent.
ENVIRONMENT = {
    "url": "CSHYPERV_WINRM_URL",
    "username": "CSHYPERV_WINRM_USERNAME",
    "password": "CSHYPERV_WINRM_PASSWORD",
    "transport": "CSHYPERV_WINRM_TRANSPORT",
    "verify_tls_certificate": "CSHYPERV_WINRM_VERIFY_TLS",
    "ca_trust_path": "CSHYPERV_WINRM_CA_TRUST_PATH",
    "client_certificate": "CSHYPERV_WINRM_CLIENT_CERTIFICATE",
    "client_key": "CSHYPERV_WINRM_CLIENT_KEY",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_LOOPBACK_NAMES = ("localhost",)


def parse_flag(value: object, *, name: str, default: bool) -> bool:
    """A boolean setting: absent or empty is ``default``; true/false, yes/no, on/off, 1/0 in any
    case; anything else is a :class:`PluginError` naming the setting (a typo in
    ``verify_tls_certificate`` must not turn verification off)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PluginError(f"{name} must be true or false")


def settings_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connection settings the ``CSHYPERV_WINRM_*`` variables give (unset ones left out)."""
    env = os.environ if environ is None else environ
    return {key: env[variable] for key, variable in ENVIRONMENT.items() if env.get(variable)}


def _hidden(value: object) -> str:
    return "None" if value is None else "'<redacted>'"


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        """From string settings (agent --set, Extensions host details); the one place they are parsed."""
        if not settings.get("url"):
            raise PluginError("a Hyper-V host needs a url (a host name, host:port or https://host:5986/wsman)")
        return cls(
            url=str(settings["url"]),
            username=settings.get("username") or None,
            password=settings.get("password") or None,
            transport=str(settings.get("transport") or "ntlm").strip().lower(),
            verify_tls_certificate=parse_flag(
                settings.get("verify_tls_certificate"), name="verify_tls_certificate", default=True
            ),
            ca_trust_path=settings.get("ca_trust_path") or None,
            client_certificate=settings.get("client_certificate") or None,
            client_key=settings.get("client_key") or None,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> HostConnection:
        """From the ``CSHYPERV_WINRM_*`` variables (:data:`ENVIRONMENT`), non-empty ``overrides`` winning."""
        settings: dict[str, Any] = dict(settings_from_environment(environ))
        settings.update({k: v for k, v in overrides.items() if v})
        return cls.from_mapping(settings)
