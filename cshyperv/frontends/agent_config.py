"""The agent's configuration file: several Hyper-V hosts served by one process.

CloudStack calls every Hyper-V host at ``https://<host address>:8250``, so an agentless
deployment needs one agent address per host; one ``cshyperv agent serve --config FILE`` process
serves them all, one listener per ``[[host]]``::

    [defaults]
    allow = ["10.1.0.0/16"]                 # the management servers
    hypervisor = "hyperv"
    settings = { transport = "ntlm", username = "LAB\\\\cloud" }

    [[host]]
    name = "hv01"
    listen = "10.1.5.11:8250"               # an IP alias of this box, one per Hyper-V host
    settings = { url = "hv01.lab", password_file = "/etc/cshyperv/hv01.pw" }

A setting ``X_file = PATH`` is read from that file (which must not be accessible to group or
others) and ``X_env = NAME`` from that environment variable, so no secret needs to be written in
the file itself. :func:`load_config` checks everything before anything is served and raises
:class:`~cshyperv.errors.ConfigError` naming the file, the host and the key; it never shows a
setting's value. The reference is docs/agent.md.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cshyperv.errors import ConfigError
from cshyperv.frontends.agent_transport import TransportLimits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_PORT", "AgentConfig", "HostConfig", "load_config", "parse_listen"]

#: CloudStack's HypervDirectConnectResource always calls this port.
DEFAULT_PORT = 8250

# Keys a [[host]] may set; [defaults] may set the same except name and listen, plus metrics.
_HOST_KEYS = frozenset(
    {
        "name",
        "listen",
        "hypervisor",
        "settings",
        "allow",
        "cert",
        "key",
        "client_ca",
        "tls",
        "state_dir",
        "workers",
        "default_switch",
        "shares",
        "live_migration",
        "header_timeout",
        "body_timeout",
        "max_connections",
    }
)
_DEFAULT_KEYS = (_HOST_KEYS - {"name", "listen"}) | {"metrics"}
_SECRET_FILE_MODE_MASK = stat.S_IRWXG | stat.S_IRWXO


def _keys_only(settings: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k!r}: ..." for k in sorted(settings)) + "}"


@attrs.frozen(kw_only=True)
class HostConfig:
    """One served Hyper-V host: its listener and its plug-in. ``repr`` never shows settings' values."""

    name: str
    listen_host: str
    port: int
    hypervisor: str
    settings: Mapping[str, str] = attrs.field(repr=_keys_only)
    allow: tuple[str, ...]
    cert: str | None = None
    key: str | None = None
    client_ca: str | None = None
    tls: bool = True
    state_dir: Path
    workers: int = 16
    default_switch: str | None = None
    #: Shares `cshyperv agent check` tests from the agent and from the host (UNC paths or URLs).
    shares: tuple[str, ...] = attrs.field(default=(), repr=lambda shares: f"<{len(shares)} share(s)>")
    #: Whether `agent check` requires live migration to be set up on the host.
    live_migration: bool = True
    #: Read deadlines and the connection limit of this host's listener.
    limits: TransportLimits = attrs.field(factory=TransportLimits)

    @property
    def listen(self) -> str:
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{host}:{self.port}"

    def listener(self) -> tuple[str, int, bool, str | None, str | None, str | None]:
        """What the socket and TLS depend on: a host whose listener is unchanged keeps its socket."""
        return (self.listen_host, self.port, self.tls, self.cert, self.key, self.client_ca)


@attrs.frozen(kw_only=True)
class AgentConfig:
    """A whole configuration file, checked."""

    file: str
    hosts: tuple[HostConfig, ...]
    metrics: tuple[str, int] | None = None

    def host(self, name: str) -> HostConfig:
        for host in self.hosts:
            if host.name == name:
                return host
        raise ConfigError(f"no [[host]] named {name!r}", file=self.file)


def parse_listen(text: str) -> tuple[str, int]:
    """``10.1.5.11:8250``, ``10.1.5.11`` (port 8250), ``[fd00::11]:8250``, ``fd00::11``; else ValueError."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("expected [IPv6 address]:PORT")
        port_text: str | None = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, None
        if ":" in text:  # only a bare IPv6 address may hold several colons
            try:
                ipaddress.IPv6Address(text)
            except ValueError:
                raise ValueError("expected HOST:PORT (an IPv6 address with a port goes in brackets)") from None
    if not host:
        raise ValueError("expected HOST:PORT")
    return host, DEFAULT_PORT if port_text is None else _port(port_text)


def _port(text: str) -> int:
    # 0 asks the system for a free port: for tests, which then read the port back.
    if not (text.isascii() and text.isdecimal()) or not 0 <= int(text) < 65536:
        raise ValueError("the port must be a number from 0 to 65535")
    return int(text)


class _Reader:
    """Reads one file; every error names it, and the host and key being read."""

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file = file
        self.environ = environ

    def fail(self, message: str, *, host: str | None = None, key: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, host=host, key=key)

    def table(self, value: Any, *, host: str | None, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("expected a table", host=host, key=key)
        return value

    def string(self, value: Any, *, host: str | None, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail("expected a non-empty string", host=host, key=key)
        return value.strip()

    def check_keys(self, table: Mapping[str, Any], allowed: frozenset[str], *, host: str | None, where: str) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(f"unknown key in {where} (known: {known})", host=host, key=key)

    def settings(self, table: Mapping[str, Any], *, host: str | None, prefix: str = "settings") -> dict[str, str]:
        """Plug-in settings as strings, with ``X_file`` and ``X_env`` indirections resolved."""
        out: dict[str, str] = {}
        for key, value in table.items():
            where = f"{prefix}.{key}"
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (int, str)):
                text = str(value)
            else:
                raise self.fail("expected a string, a number or a boolean", host=host, key=where)
            name = key
            if key.endswith("_file"):
                name, text = key[: -len("_file")], self._secret_file(text, host=host, key=where)
            elif key.endswith("_env"):
                name = key[: -len("_env")]
                if text not in self.environ:
                    raise self.fail(f"the environment variable {text} is not set", host=host, key=where)
                text = self.environ[text]
            if name in out or (name != key and name in table):
                raise self.fail(f"{name!r} is given more than once (directly, _file or _env)", host=host, key=where)
            out[name] = text
        return out

    def _secret_file(self, path_text: str, *, host: str | None, key: str) -> str:
        path = Path(path_text)
        try:
            info = path.stat()
            if info.st_mode & _SECRET_FILE_MODE_MASK:
                raise self.fail(
                    f"{path} is accessible to group or others; make it private (chmod 600)", host=host, key=key
                )
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise self.fail(f"cannot read {path} ({exc.strerror or type(exc).__name__})", host=host, key=key) from None
        except UnicodeDecodeError:
            raise self.fail(f"{path} is not UTF-8 text", host=host, key=key) from None
        # One trailing newline is what `echo pw > file` leaves; anything else is the secret.
        return text[:-1] if text.endswith("\n") else text


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read and check the configuration file at ``path``.

    Raises :class:`~cshyperv.errors.ConfigError` (naming the file, the host and the key) for a
    file that cannot be read or parsed, an unknown key, a wrong type, a bad listen address or
    ``allow`` entry, two hosts with one name or one listen address, or a secret file that others
    can read. Plug-in names are not looked up here (the caller builds the plug-ins).
    """
    file = os.fspath(path)
    reader = _Reader(file, os.environ if environ is None else environ)
    try:
        with open(file, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise reader.fail(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message gives line and column, never more of the text than a key name.
        raise reader.fail(f"not valid TOML ({exc})") from None

    reader.check_keys(document, frozenset({"defaults", "host"}), host=None, where="the file")
    defaults = reader.table(document.get("defaults", {}), host=None, key="defaults")
    reader.check_keys(defaults, _DEFAULT_KEYS, host=None, where="[defaults]")
    entries = document.get("host")
    if not isinstance(entries, list) or not entries:
        raise reader.fail("no [[host]] entries: name at least one host to serve", key="host")

    metrics = None
    if "metrics" in defaults:
        try:
            metrics = parse_listen(reader.string(defaults["metrics"], host=None, key="metrics"))
        except ValueError as exc:
            raise reader.fail(str(exc), key="metrics") from None
    shared_settings = reader.settings(reader.table(defaults.get("settings", {}), host=None, key="settings"), host=None)

    hosts: list[HostConfig] = []
    for index, entry in enumerate(entries):
        table = reader.table(entry, host=None, key=f"host[{index}]")
        if "listen" not in table:
            name = table.get("name") if isinstance(table.get("name"), str) else f"#{index + 1}"
            raise reader.fail("missing", host=name, key="listen")
        listen_text = reader.string(table["listen"], host=None, key=f"host[{index}].listen")
        name = reader.string(table.get("name", listen_text), host=None, key=f"host[{index}].name")
        reader.check_keys(table, _HOST_KEYS, host=name, where="[[host]]")
        hosts.append(
            _host(
                reader,
                name=name,
                listen_text=listen_text,
                merged={**defaults, **table},
                shared_settings=shared_settings,
                own=table,
            )
        )

    seen_names: set[str] = set()
    seen_listen: set[tuple[str, int]] = set()
    for host in hosts:
        if host.name in seen_names:
            raise reader.fail("two [[host]] entries have this name", host=host.name, key="name")
        if (host.listen_host, host.port) in seen_listen:
            raise reader.fail(f"another [[host]] already listens on {host.listen}", host=host.name, key="listen")
        seen_names.add(host.name)
        seen_listen.add((host.listen_host, host.port))
    return AgentConfig(file=file, hosts=tuple(hosts), metrics=metrics)


def _host(
    reader: _Reader,
    *,
    name: str,
    listen_text: str,
    merged: Mapping[str, Any],
    shared_settings: Mapping[str, str],
    own: Mapping[str, Any],
) -> HostConfig:
    try:
        listen_host, port = parse_listen(listen_text)
    except ValueError as exc:
        raise reader.fail(str(exc), host=name, key="listen") from None
    if "hypervisor" not in merged:
        raise reader.fail(
            "missing (set it in [defaults] or the [[host]]: hyperv, simulator, ...)", host=name, key="hypervisor"
        )
    hypervisor = reader.string(merged["hypervisor"], host=name, key="hypervisor")

    allow_value = merged.get("allow", ["127.0.0.1", "::1"])
    if isinstance(allow_value, str):
        allow_value = [allow_value]
    if not isinstance(allow_value, list) or not all(isinstance(a, str) for a in allow_value):
        raise reader.fail("expected a list of addresses or CIDRs", host=name, key="allow")
    for entry in allow_value:
        if entry.strip() in ("*", "any"):
            continue
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise reader.fail(f"{entry!r} is not an IP address or CIDR", host=name, key="allow") from None

    def optional_path(key: str) -> str | None:
        return reader.string(merged[key], host=name, key=key) if key in merged else None

    tls = merged.get("tls", True)
    if not isinstance(tls, bool):
        raise reader.fail("expected true or false", host=name, key="tls")
    workers = merged.get("workers", 16)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024:
        raise reader.fail("expected a number of threads from 1 to 1024", host=name, key="workers")
    if ("cert" in merged) != ("key" in merged):
        raise reader.fail("cert and key go together", host=name, key="cert" if "cert" in merged else "key")

    shares = merged.get("shares", [])
    if not isinstance(shares, list) or not all(isinstance(x, str) and x.strip() for x in shares):
        raise reader.fail("expected a list of UNC paths or storage URLs", host=name, key="shares")
    live_migration = merged.get("live_migration", True)
    if not isinstance(live_migration, bool):
        raise reader.fail("expected true or false", host=name, key="live_migration")

    numbers: dict[str, Any] = {}
    for key, kind in (("header_timeout", float), ("body_timeout", float), ("max_connections", int)):
        if key in merged:
            value = merged[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (kind is int and not isinstance(value, int))
            ):
                raise reader.fail("expected a number", host=name, key=key)
            numbers[key] = kind(value)
    try:
        limits = TransportLimits(**numbers)
    except ValueError as exc:
        raise reader.fail(str(exc), host=name, key=next(iter(numbers), "header_timeout")) from None

    settings = dict(shared_settings)
    settings.update(reader.settings(reader.table(own.get("settings", {}), host=name, key="settings"), host=name))
    # A host's own state_dir is used as given; a shared one (or systemd's StateDirectory=, which
    # exports STATE_DIRECTORY) gets a folder per host, so certificates and simulator state differ.
    if "state_dir" in own:
        state_dir = Path(reader.string(own["state_dir"], host=name, key="state_dir"))
    elif "state_dir" in merged:
        state_dir = Path(reader.string(merged["state_dir"], host=name, key="state_dir")) / name
    else:
        state_dir = Path(reader.environ.get("STATE_DIRECTORY", "cshyperv-agent").split(":")[0]) / name
    return HostConfig(
        name=name,
        listen_host=listen_host,
        port=port,
        hypervisor=hypervisor,
        settings=settings,
        allow=tuple(a.strip() for a in allow_value),
        cert=optional_path("cert"),
        key=optional_path("key"),
        client_ca=optional_path("client_ca"),
        tls=tls,
        state_dir=state_dir,
        workers=workers,
        default_switch=optional_path("default_switch"),
        shares=tuple(x.strip() for x in shares),
        live_migration=live_migration,
        limits=limits,
    )
