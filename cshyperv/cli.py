"""The ``cshyperv`` console script.

Exit codes: 0 success; 1 the input (or the thing checked) is bad, with a message naming the JSON
path; 2 a usage error (click's own).
"""

from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO

import click

from cshyperv.errors import WireError, format_path
from cshyperv.wire import Codec, builtin_registry
from cshyperv.wire.schema import SchemaValidator, build_schema, type_kind

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
    for fqcn, cls in builtin_registry().items():
        k = type_kind(cls)
        if kind is None or k == kind:
            click.echo(f"{k:8} {fqcn}  ({cls.__name__})")


@schema.command("show")
@click.argument("fqcn")
def schema_show(fqcn: str) -> None:
    """Print the JSON Schema of FQCN (e.g. com.cloud.agent.api.StartCommand)."""
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
    help="Where the simulator database, its files and the generated certificate live.",
)
@click.option("--cert", "certfile", type=click.Path(dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", "keyfile", type=click.Path(dir_okay=False), help="TLS private key (PEM).")
@click.option("--no-tls", is_flag=True, help="Serve plain HTTP (tests only; CloudStack always uses HTTPS).")
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    default=("127.0.0.1", "::1"),
    show_default=True,
    help="Client addresses or CIDRs allowed to connect (repeat; * allows all).",
)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Plug-in setting (repeatable).")
@click.option("--default-switch", help="vSwitch for NICs whose network has no label.")
def agent_serve(
    hypervisor: str,
    listen: str,
    state_dir: str,
    certfile: str | None,
    keyfile: str | None,
    no_tls: bool,
    allowed: tuple[str, ...],
    settings: tuple[str, ...],
    default_switch: str | None,
) -> None:
    """Serve CloudStack's direct-connect agent protocol (POST /api/HypervResource/<FQCN>).

    Hyper-V hosts are named by CSHYPERV_WINRM_URL / _USERNAME / _PASSWORD / _TRANSPORT /
    _VERIFY_TLS (or --set url=... etc.), so no password needs to appear on a command line.
    """
    from pathlib import Path

    from cshyperv.errors import CSHyperVError
    from cshyperv.plugins import default_plugins
    from cshyperv.resource import ResourceSettings, ServerResource

    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise click.BadParameter("expected HOST:PORT", param_hint="--listen")
    state = Path(state_dir)
    config = _settings(settings)
    if hypervisor == "simulator":
        config.setdefault("state", str(state / "simulator.db"))
    try:
        plugin = default_plugins().load(hypervisor, config)
    except CSHyperVError as exc:
        _fail(str(exc))
        return
    if plugin.storage is None:
        _fail(f"the {hypervisor} plug-in offers no storage access for the agent")
        return
    resource = ServerResource(plugin, settings=ResourceSettings(default_switch=default_switch))
    from cshyperv.frontends.direct_connect import serve

    serve(
        resource,
        host=host.strip("[]"),
        port=int(port_text),
        certfile=certfile,
        keyfile=keyfile,
        tls=not no_tls,
        state_dir=state,
        allowed_clients=list(allowed),
    )


def _register_storage() -> None:
    from cshyperv._storage_cli import storage

    main.add_command(storage)


_register_storage()


if __name__ == "__main__":  # pragma: no cover
    main()
