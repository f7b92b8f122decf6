"""The ``cshyperv`` console script.

Exit codes: 0 success; 1 the input (or the thing checked) is bad, with a message naming the JSON
path; 2 a usage error (click's own).
"""

from __future__ import annotations

import sys

from cshyperv._cli_warmup import warm_up

# First, before the imports below: a `storage cp` to or from SMB begins loading libsmbclient
# and its second stream's process while they run (see cshyperv._cli_warmup).
warm_up(sys.argv)

import json  # noqa: E402
import re  # noqa: E402
from typing import TYPE_CHECKING, Any, BinaryIO  # noqa: E402

import click  # noqa: E402

from cshyperv.errors import WireError, format_path  # noqa: E402

if TYPE_CHECKING:
    from cshyperv.wire import Codec

# The codec, registry and schemas are imported by the commands that use them (with the model,
# which they load): `cshyperv storage cp` and `agent` start without them.

__all__ = ["main"]


def _read(stream: BinaryIO) -> bytes:
    return stream.read()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cshyperv")
def main() -> None:
    """cshyperv: CloudStack's agent protocol for Hyper-V, typed and lossless."""


# -- schema --------------------------------------------------------------------------------------


@main.group()
def schema() -> None:
    """Browse and apply the JSON Schemas of CloudStack's agent protocol."""


@schema.command("list")
@click.option("--kind", type=click.Choice(["command", "answer", "object"]), help="Only this kind.")
def schema_list(kind: str | None) -> None:
    """List every known Java class (FQCN), its kind and its Python name."""
    from cshyperv.wire import builtin_registry
    from cshyperv.wire.schema import type_kind

    for fqcn, cls in builtin_registry().items():
        k = type_kind(cls)
        if kind is None or k == kind:
            click.echo(f"{k:8} {fqcn}  ({cls.__name__})")


@schema.command("show")
@click.argument("fqcn")
def schema_show(fqcn: str) -> None:
    """Print the JSON Schema of FQCN (e.g. com.cloud.agent.api.StartCommand)."""
    from cshyperv.wire import builtin_registry
    from cshyperv.wire.schema import build_schema

    registry = builtin_registry()
    cls = registry.get(fqcn)
    if cls is None:
        _fail(f"unknown type {fqcn!r} (see `cshyperv schema list`)")
        return
    click.echo(json.dumps(build_schema(cls, registry), indent=2))


def _documents(codec: Codec, raw: bytes, fqcn: str | None) -> list[tuple[str, Any, str]]:
    """(FQCN, document, path prefix) for a bare body with --type, or each element of a wrapped array."""
    document = codec._loads(raw)
    if fqcn is not None:
        return [(fqcn, document, "$")]
    if not isinstance(document, list):
        raise click.UsageError('without --type the input must be a wrapped array [{"<FQCN>": {...}}]')
    out = []
    for index, element in enumerate(document):
        if not isinstance(element, dict) or len(element) != 1:
            raise WireError("expected an object with one member named after a Java class", [index])
        ((name, body),) = element.items()
        out.append((name, body, f"$[{index}]"))
    return out


@schema.command("validate")
@click.option("--type", "fqcn", metavar="FQCN", help="Java class of a bare body; omit for a wrapped array.")
@click.argument("source", type=click.File("rb"), default="-")
def schema_validate(fqcn: str | None, source: BinaryIO) -> None:
    """Validate a JSON document (FILE or - for stdin) against its schema.

    Exits 0 when valid; 1 listing every problem by JSON path.
    """
    from cshyperv.wire import Codec, builtin_registry
    from cshyperv.wire.schema import SchemaValidator

    registry = builtin_registry()
    codec = Codec(registry)
    validator = SchemaValidator(registry)
    problems: list[str] = []
    try:
        for name, document, prefix in _documents(codec, _read(source), fqcn):
            cls = registry.lookup(name)
            for parts, reason in validator.problems(cls, document):
                problems.append(f"{prefix}{format_path(parts)[1:]}: {reason}")
    except WireError as exc:
        _fail(str(exc))
    if problems:
        for line in problems:
            click.echo(line)
        sys.exit(1)
    click.echo("valid")


# -- wire ----------------------------------------------------------------------------------------


@main.group()
def wire() -> None:
    """Decode and re-encode CloudStack agent JSON."""


@wire.command("roundtrip")
@click.option("--type", "fqcn", metavar="FQCN", help="Java class of a bare body; omit for a wrapped array.")
@click.argument("source", type=click.File("rb"), default="-")
def wire_roundtrip(fqcn: str | None, source: BinaryIO) -> None:
    """Decode FILE (or - for stdin) and print its canonical re-encoding.

    Members this version does not model are kept; only null members disappear.
    """
    from cshyperv.wire import Codec

    codec = Codec()
    raw = _read(source)
    try:
        if fqcn is not None:
            out = codec.encode(codec.decode(fqcn, raw))
        else:
            out = codec.encode_wrapped(codec.decode_wrapped(raw))
    except WireError as exc:
        _fail(str(exc))
        return
    click.echo(out.decode("utf-8"))


# -- demo ----------------------------------------------------------------------------------------


@main.command()
@click.option("--codec", "codec_only", is_flag=True, help="Only show the wire codec (no agent).")
def demo(codec_only: bool) -> None:
    """Run the agent on the simulator and drive it over HTTPS as a management server would.

    Exits 0 only if every answer is the one CloudStack expects.
    """
    if codec_only:
        from cshyperv._demo import run_codec_demo

        sys.exit(run_codec_demo(click.echo))
    from cshyperv._agent_demo import run_agent_demo

    sys.exit(run_agent_demo(click.echo))


# -- agent ---------------------------------------------------------------------------------------


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {key!r}", param_hint="--set")
        out[key.strip()] = value
    return out


@main.group()
def agent() -> None:
    """The direct-connect agent that CloudStack's Hyper-V hosts expect on port 8250."""


def _allow_list(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    from cshyperv.frontends.agent_transport import AllowList

    try:
        return AllowList(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _agent_logging(level: str, log_file: str | None) -> None:
    """The agent's log: the access log and warnings, to ``log_file`` (reopened when logrotate
    moves it) or stderr. Records are one line each; paths in them are escaped."""
    import logging
    import logging.handlers

    handler: logging.Handler
    if log_file:
        try:
            handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot open {log_file}: {exc.strerror}", param_hint="--log-file") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())


@agent.command("serve")
@click.option(
    "--hypervisor",
    default="simulator",
    show_default=True,
    help="Plug-in name: simulator, hyperv, or any registered entry point.",
)
@click.option("--listen", default="0.0.0.0:8250", show_default=True, metavar="HOST:PORT")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default="./cshyperv-agent",
    show_default=True,
    help="Where the simulator database, its files and the generated certificate live (made 0700).",
)
@click.option("--cert", "certfile", type=click.Path(dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", "keyfile", type=click.Path(dir_okay=False), help="TLS private key (PEM), not world-readable.")
@click.option(
    "--client-ca",
    type=click.Path(dir_okay=False),
    help="Require a client certificate signed by a CA in this PEM bundle (mutual TLS).",
)
@click.option("--no-tls", is_flag=True, help="Serve plain HTTP (tests only; CloudStack always uses HTTPS).")
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    default=("127.0.0.1", "::1"),
    show_default=True,
    callback=_allow_list,
    help="Client addresses or CIDRs allowed to connect (repeat; * allows all). Others are closed at accept.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds for the TLS handshake and a request head to arrive.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds for a request body to arrive once its head has.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="Connections open at once; more are closed at accept.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="info logs one access line per request.",
)
@click.option("--log-file", type=click.Path(dir_okay=False), help="Log here instead of stderr.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Plug-in setting (repeatable).")
@click.option("--default-switch", help="vSwitch for NICs whose network has no label.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Serve every [[host]] of this TOML file (docs/agent.md); SIGHUP reloads it.",
)
@click.option("--metrics", metavar="HOST:PORT", help="Serve Prometheus metrics here (e.g. 127.0.0.1:9250).")
def agent_serve(
    hypervisor: str,
    listen: str,
    state_dir: str,
    certfile: str | None,
    keyfile: str | None,
    client_ca: str | None,
    no_tls: bool,
    allowed: Any,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    log_level: str,
    log_file: str | None,
    settings: tuple[str, ...],
    default_switch: str | None,
    config_file: str | None,
    metrics: str | None,
) -> None:
    """Serve CloudStack's direct-connect agent protocol (POST /api/HypervResource/<FQCN>).

    Hyper-V hosts are named by CSHYPERV_WINRM_URL / _USERNAME / _PASSWORD / _TRANSPORT /
    _VERIFY_TLS (or --set url=... etc.), so no password needs to appear on a command line.
    Stops on SIGTERM/SIGINT once in-flight requests finish, then closes the plug-in.
    """
    import importlib.util
    import logging
    from pathlib import Path

    from cshyperv.errors import CSHyperVError
    from cshyperv.frontends.agent_transport import TransportLimits
    from cshyperv.plugins import default_plugins

    missing = [m for m in ("uvicorn", "cryptography") if importlib.util.find_spec(m) is None]
    if missing:
        _fail(f"the agent needs the agent extra (missing: {', '.join(missing)}): pip install 'cshyperv[agent]'")
        return
    if config_file is not None:
        _serve_config(config_file, metrics)
        return

    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise click.BadParameter("expected HOST:PORT", param_hint="--listen")
    if no_tls and client_ca:
        raise click.BadParameter("a client CA needs TLS (drop --no-tls)", param_hint="--client-ca")
    _agent_logging(log_level, log_file)
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        _fail("the agent needs the 'agent' extra: pip install 'cshyperv[agent]'")
        return
    from cshyperv.frontends.direct_connect import serve
    from cshyperv.frontends.tls import TLSConfigError, ensure_private_dir
    from cshyperv.resource import ResourceSettings, ServerResource

    limits = TransportLimits(header_timeout=header_timeout, body_timeout=body_timeout, max_connections=max_connections)
    try:
        state = ensure_private_dir(Path(state_dir))
    except TLSConfigError as exc:
        _fail(str(exc))
        return
    config = _settings(settings)
    if hypervisor == "simulator":
        config.setdefault("state", str(state / "simulator.db"))
    observer = _single_host_metrics(metrics, name=listen)
    try:
        plugin = default_plugins().load(hypervisor, config)
    except Exception as exc:  # a plug-in's factory refusing its settings is a one-line error
        logging.getLogger("cshyperv.agent").debug("plug-in %s failed to start", hypervisor, exc_info=True)
        reason = str(exc) if isinstance(exc, CSHyperVError) else f"{type(exc).__name__}: {exc}"
        _fail(f"the {hypervisor} plug-in cannot start: {_redacted(reason)}")
        return
    try:
        if plugin.storage is None:
            _fail(f"the {hypervisor} plug-in offers no storage access for the agent")
            return
        resource = ServerResource(plugin, settings=ResourceSettings(default_switch=default_switch))
        try:
            serve(
                resource,
                host=host.strip("[]"),
                port=int(port_text),
                certfile=certfile,
                keyfile=keyfile,
                tls=not no_tls,
                state_dir=state,
                allowed_clients=allowed,
                limits=limits,
                client_ca=client_ca,
                observer=observer,
            )
        except TLSConfigError as exc:
            _fail(str(exc))
    finally:
        _close(plugin, hypervisor)


def _redacted(text: str) -> str:
    from cshyperv._redact import redact_text

    return redact_text(text[:500])


def _close(plugin: object, name: str) -> None:
    """The plug-in's close(), once the server has stopped; a failure there is logged, not raised."""
    import logging

    log = logging.getLogger("cshyperv.agent")
    close = getattr(plugin, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.warning("closing the %s plug-in failed", name, exc_info=True)
        else:
            log.info("closed the %s plug-in", name)


# -- simulator -----------------------------------------------------------------------------------

_SIZE = re.compile(r"([0-9]+) *([KMGT]?)(?:I?B)?", re.ASCII)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _size(text: str) -> int:
    """``10G``, ``10GiB``, ``10GB``, ``512M`` or plain bytes; binary units, as Hyper-V counts them."""
    match = _SIZE.fullmatch(text.strip().upper())
    if match is None:
        raise click.BadParameter(f"expected a size like 10G, 512M or 1048576, got {text!r}", param_hint="--size")
    return int(match.group(1)) * _UNITS[match.group(2)]


@main.group()
def simulator() -> None:
    """Prepare the simulator's hosts: the templates and ISOs a real host would already hold."""


@simulator.command("add-disk")
@click.argument("state", type=click.Path(dir_okay=False))
@click.argument("windows_path")
@click.option("--size", "size_text", default="10G", show_default=True, help="Virtual size (binary units).")
def simulator_add_disk(state: str, windows_path: str, size_text: str) -> None:
    """Put a template VHD/VHDX (or an .iso) at WINDOWS_PATH on the simulated hosts of STATE.

    STATE is the simulator's database: the path in a `simulator:///STATE` Extensions url, or
    <state-dir>/simulator.db for `cshyperv agent serve --hypervisor simulator`. WINDOWS_PATH is a
    drive path (D:\\Templates\\t.vhdx) or a UNC path (\\\\fs\\share\\t.vhdx).
    """
    from cshyperv.errors import CSHyperVError
    from cshyperv.simulator import seed_disk

    size = _size(size_text)
    try:
        info = seed_disk(state, windows_path, size)
    except CSHyperVError as exc:
        _fail(str(exc))
        return
    click.echo(f"{info.path}  {info.format}  {info.size_bytes} bytes")


@agent.command("check")
@click.option(
    "--config", "config_file", required=True, type=click.Path(dir_okay=False), help="The agent's config file."
)
@click.option("--host", "names", multiple=True, help="Check only this [[host]] (repeatable).")
def agent_check(config_file: str, names: tuple[str, ...]) -> None:
    """Preflight before addHost: one row per check for every host; exit 1 if any fails."""
    from cshyperv.errors import ConfigError
    from cshyperv.frontends.agent_check import check_host, failures, format_table
    from cshyperv.frontends.agent_config import HostConfig, load_config
    from cshyperv.plugins import default_plugins

    try:
        config = load_config(config_file)
        hosts = [config.host(name) for name in names] if names else list(config.hosts)
    except ConfigError as exc:
        _fail(str(exc))
        return

    def open_plugin(host: HostConfig) -> object:
        return default_plugins().create(host.hypervisor, dict(host.settings))

    rows = [row for host in hosts for row in check_host(host, open_plugin=open_plugin)]
    click.echo(format_table(rows))
    failed = failures(rows)
    click.echo(f"\nchecks: {len(rows) - failed} ok, {failed} failing")
    if failed:
        sys.exit(1)


@agent.command("unit")
@click.option(
    "--config",
    "config_file",
    default="/etc/cshyperv/agent.toml",
    show_default=True,
    help="The config file the service serves.",
)
@click.option("--exec", "executable", help="The cshyperv command to run (default: this one).")
def agent_unit(config_file: str, executable: str | None) -> None:
    """Print a systemd unit that runs the agent as a hardened service (docs/agent.md)."""
    import shlex
    import shutil
    from importlib.resources import files
    from pathlib import Path

    text = (files("cshyperv") / "data" / "cshyperv-agent.service").read_text(encoding="utf-8")
    command = executable or shutil.which("cshyperv") or str(Path(sys.argv[0]).resolve())
    start = f"ExecStart={shlex.quote(command)} agent serve --config {shlex.quote(config_file)}"
    lines = [start if line.startswith("ExecStart=") else line for line in text.splitlines()]
    click.echo("\n".join(lines))


def _single_host_metrics(address: str | None, *, name: str) -> Any:
    """``--metrics`` without a config file: the admin listener, and the app's hook for one host."""
    if address is None:
        return None
    from cshyperv.frontends.agent_config import parse_listen
    from cshyperv.frontends.metrics import AgentMetrics

    metrics = AgentMetrics()
    try:
        metrics.serve(*parse_listen(address))
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics") from None
    metrics.hosts.set(1)
    return metrics.observer(name)


def _serve_config(config_file: str, metrics_listen: str | None) -> None:
    """``agent serve --config``: every [[host]] of the file, in this process."""
    import logging

    from cshyperv.errors import ConfigError
    from cshyperv.frontends.agent_config import load_config, parse_listen
    from cshyperv.frontends.metrics import AgentMetrics
    from cshyperv.frontends.multi_host import MultiHostAgent

    ctx = click.get_current_context()
    per_host = ("hypervisor", "listen", "certfile", "keyfile", "no_tls", "allowed", "settings", "default_switch")
    given = [name for name in per_host if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"with --config, set {', '.join(given)} per host in the file, not on the command line")
    try:
        config = load_config(config_file)
        address = metrics_listen or (f"{config.metrics[0]}:{config.metrics[1]}" if config.metrics else None)
        metrics = AgentMetrics() if address else None
        if metrics is not None and address is not None:
            metrics_host, metrics_port = parse_listen(address)
            metrics.serve(metrics_host, metrics_port)
    except ConfigError as exc:
        _fail(str(exc))
        return
    except (ValueError, OSError) as exc:
        _fail(f"--metrics: {exc}")
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        MultiHostAgent(config_file, metrics=metrics).run()
    except ConfigError as exc:
        _fail(str(exc))


def _register_storage() -> None:
    from cshyperv._storage_cli import storage

    main.add_command(storage)


_register_storage()


if __name__ == "__main__":  # pragma: no cover
    main()
