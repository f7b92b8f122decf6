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
from cshyperv.wire import Codec
from cshyperv.wire._registry import builtin_registry
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
def demo() -> None:
    """Show the wire codec at work on a StartCommand (the agent demo arrives with the simulator)."""
    from cshyperv._demo import run_codec_demo

    sys.exit(run_codec_demo(click.echo))


if __name__ == "__main__":  # pragma: no cover
    main()
