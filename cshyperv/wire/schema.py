"""JSON Schemas (draft 2020-12) generated from the wire model.

The model is the single source: these schemas use the codec's own field tables
(:func:`cshyperv.wire._codec.field_specs`), so a key cannot be spelled differently here.

* one self-contained document per registered FQCN (every class it reaches is under ``$defs``),
  with a stable ``$id`` of the form ``urn:cshyperv:schema:<FQCN>``;
* commands and transfer objects are open (members this model does not know are allowed, because
  newer CloudStack versions add them); answers and the value types only we emit are closed;
* every integer is bounded by its Java type, every enum of a closed class is listed;
* ``index.json`` lists every document with its kind.

Regenerate the committed copies with ``python -m cshyperv.wire.schema schemas/``; a test fails when
they are stale.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cshyperv.errors import SchemaValidationError
from cshyperv.wire._codec import FieldSpec, TypeInfo, field_specs
from cshyperv.wire._model import Answer, Command, WireObject
from cshyperv.wire._registry import Registry, builtin_registry

__all__ = [
    "DIALECT",
    "ID_PREFIX",
    "SchemaValidator",
    "build_index",
    "build_schema",
    "build_schemas",
    "def_name",
    "main",
    "type_kind",
    "write_schemas",
]

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX: Final = "urn:cshyperv:schema:"


def def_name(cls: type[WireObject]) -> str:
    """The ``$defs`` key of a class: its FQCN, or ``python:<module>.<name>`` for Java abstracts."""
    fqcn = cls.__dict__.get("FQCN")
    return str(fqcn) if fqcn else f"python:{cls.__module__}.{cls.__qualname__}"


def type_kind(cls: type[WireObject]) -> str:
    """``answer``, ``command`` or ``object`` (transfer objects and value types)."""
    if issubclass(cls, Answer):
        return "answer"
    if issubclass(cls, Command):
        return "command"
    return "object"


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null: Gson reads a null member as an absent one, and legacy agents write nulls."""
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema and len(schema) == 1:
        return {"enum": [*schema["enum"], None]}
    return {"anyOf": [schema, {"type": "null"}]}


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


class _Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.defs: dict[str, Any] = {}

    def implementations(self, interface: type) -> list[type[WireObject]]:
        return [cls for _, cls in self.registry.items() if issubclass(cls, interface)]

    def ref(self, cls: type[WireObject]) -> dict[str, Any]:
        name = def_name(cls)
        if name not in self.defs:
            self.defs[name] = {}  # placeholder: recursion stops here
            self.defs[name] = self.class_schema(cls)
        return {"$ref": f"#/$defs/{name}"}

    def class_schema(self, cls: type[WireObject]) -> dict[str, Any]:
        closed = bool(getattr(cls, "CLOSED", False))
        properties: dict[str, Any] = {}
        required: list[str] = []
        exclusive: list[dict[str, Any]] = []
        for spec in field_specs(cls):
            schema = self.member_schema(spec.info, closed)
            doc = spec.field.metadata.get("cshyperv.doc")
            if doc:
                schema = {**schema, "description": doc}
            properties[spec.key] = schema if spec.required else nullable(schema)
            for alias in spec.aliases:
                if alias in spec.compat:
                    continue  # written together with the current name: see below
                # Another version's name for the same member: a document carries one of them.
                alias_schema = nullable(self.alias_schema(spec, closed))
                properties[alias] = {**alias_schema, "x-cshyperv-alias-of": spec.key}
                exclusive.append({"not": {"required": [spec.key, alias]}})
            for old in spec.compat:
                # Written beside the current name for older management servers, with the same value.
                properties.setdefault(old, {**nullable(schema), "x-cshyperv-same-as": spec.key})
            if spec.required:
                required.append(spec.key)
        for key, legacy in cls.__dict__.get("LEGACY_MEMBERS", {}).items():
            # Written by older agents, ignored by Java: accepted on input, never declared or emitted.
            properties.setdefault(key, {**nullable(legacy), "x-cshyperv-legacy": True})
        out: dict[str, Any] = {"type": "object", "title": cls.__name__}
        summary = _summary(cls)
        if summary:
            out["description"] = summary
        out["properties"] = properties
        if required:
            out["required"] = required
        if exclusive:
            out["allOf"] = exclusive
        if closed:
            out["additionalProperties"] = False
        return out

    def alias_schema(self, spec: FieldSpec, closed: bool) -> dict[str, Any]:
        if spec.info.kind == "list":
            # The older single-value form of a list member.
            return self.member_schema(spec.info.items[0], closed)
        return self.member_schema(spec.info, closed)

    def member_schema(self, info: TypeInfo, closed: bool) -> dict[str, Any]:
        kind = info.kind
        if kind == "str":
            return {"type": "string"}
        if kind == "bool":
            return {"type": "boolean"}
        if kind == "int":
            assert info.number is not None
            return {"type": "integer", "minimum": info.number.minimum, "maximum": info.number.maximum}
        if kind == "float":
            return {"type": "number"}
        if kind == "enum":
            assert info.enum_type is not None
            names = [member.value for member in info.enum_type]
            if closed:
                return {"enum": names}
            # Open: a name from a newer CloudStack is accepted (and kept); the known ones are listed.
            return {"type": "string", "examples": names}
        if kind == "object":
            assert info.object_type is not None
            return self.ref(info.object_type)
        if kind == "wrapped":
            assert info.interface is not None
            impls = self.implementations(info.interface)
            return {
                "type": "object",
                "description": f'a {info.interface.__name__}, wrapped as {{"<Java class>": {{...}}}}',
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {def_name(c): self.ref(c) for c in impls},
                "additionalProperties": {"type": "object"},
            }
        if kind == "list":
            return {"type": "array", "items": nullable(self.member_schema(info.items[0], closed))}
        if kind == "map":
            return {"type": "object", "additionalProperties": nullable(self.member_schema(info.items[0], closed))}
        if kind == "pair":
            return {
                "type": "object",
                "properties": {
                    "t": nullable(self.member_schema(info.items[0], closed)),
                    "u": nullable(self.member_schema(info.items[1], closed)),
                },
                "additionalProperties": False,
            }
        if kind == "raw":
            return {"type": "object"} if info.raw_object else {}
        raise AssertionError(kind)


def build_schema(cls: type[WireObject], registry: Registry | None = None) -> dict[str, Any]:
    """The self-contained schema document of one class."""
    builder = _Builder(registry if registry is not None else builtin_registry())
    root = builder.ref(cls)
    name = def_name(cls)
    doc: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": ID_PREFIX + name,
        "title": cls.__name__,
        "x-java-class": name,
        "x-kind": type_kind(cls),
    }
    summary = _summary(cls)
    if summary:
        doc["description"] = summary
    doc["$ref"] = root["$ref"]
    doc["$defs"] = dict(sorted(builder.defs.items()))
    return doc


def build_schemas(registry: Registry | None = None) -> dict[str, dict[str, Any]]:
    """Every registered class's schema, keyed by FQCN."""
    reg = registry if registry is not None else builtin_registry()
    return {fqcn: build_schema(cls, reg) for fqcn, cls in reg.items()}


def build_index(registry: Registry | None = None) -> dict[str, Any]:
    reg = registry if registry is not None else builtin_registry()
    return {
        "$comment": "Generated by `python -m cshyperv.wire.schema schemas/`; do not edit.",
        "schemas": [
            {"fqcn": fqcn, "title": cls.__name__, "kind": type_kind(cls), "file": f"{fqcn}.json"}
            for fqcn, cls in reg.items()
        ],
    }


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def render_files(registry: Registry | None = None) -> dict[str, str]:
    """File name -> text of every file that belongs in ``schemas/``."""
    reg = registry if registry is not None else builtin_registry()
    files = {f"{fqcn}.json": _dump(schema) for fqcn, schema in build_schemas(reg).items()}
    files["index.json"] = _dump(build_index(reg))
    return files


def write_schemas(directory: Path, registry: Registry | None = None) -> list[Path]:
    """Write every schema into ``directory`` and remove stale ``*.json`` files there."""
    directory.mkdir(parents=True, exist_ok=True)
    files = render_files(registry)
    written = []
    for name, text in files.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    return written


# --------------------------------------------------------------------------------------------


def _describe(error: Any) -> str:
    # jsonschema's own messages quote the offending instance; rebuild one from the keyword alone.
    keyword = error.validator
    value = error.validator_value
    if keyword == "type":
        return f"expected type {value}"
    if keyword == "required":
        missing = [name for name in value if isinstance(error.instance, Mapping) and name not in error.instance]
        return "missing required member " + ", ".join(repr(m) for m in missing)
    if keyword == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return "member not allowed here: " + ", ".join(repr(e[:100]) for e in extra[:5])
    if keyword in ("minimum", "maximum"):
        return f"number out of range ({keyword} {value})"
    if keyword == "enum":
        return "not one of the allowed names"
    if keyword in ("minProperties", "maxProperties"):
        return "expected exactly one member naming a Java class"
    return f"fails schema keyword {keyword!r}"


def _leaves(errors: Any) -> list[Any]:
    # "X or null" is written as anyOf / a type list; when X fails, report why X failed (at its own
    # path), not that the member failed the anyOf.
    out = []
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            inner = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
            out.extend(_leaves(inner) if inner else [error])
        elif error.validator == "type" and isinstance(error.validator_value, list):
            kinds = [k for k in error.validator_value if k != "null"]
            error.validator_value = kinds[0] if len(kinds) == 1 else kinds
            out.append(error)
        else:
            out.append(error)
    return out


class SchemaValidator:
    """Validates parsed documents against the model's schemas (built in memory, cached per class).

    With ``jsonschema_rs`` installed (the ``fast`` extra) valid documents are checked by it (about
    a hundred times faster); the ``jsonschema`` package explains invalid ones. Problems are
    reported as JSON paths and reasons that never quote the offending value.
    """

    def __init__(self, registry: Registry | None = None, *, use_rust: bool | None = None) -> None:
        self.registry = registry if registry is not None else builtin_registry()
        self._validators: dict[type, Any] = {}
        self._fast: dict[type, Any] = {}
        if use_rust is None:
            try:
                import jsonschema_rs  # noqa: F401
            except ImportError:
                use_rust = False
            else:
                use_rust = True
        self.use_rust = use_rust

    def _fast_validator(self, cls: type[WireObject]) -> Any:
        validator = self._fast.get(cls)
        if validator is None:
            import jsonschema_rs

            validator = jsonschema_rs.Draft202012Validator(build_schema(cls, self.registry))
            self._fast[cls] = validator
        return validator

    def is_valid(self, cls: type[WireObject], document: Any) -> bool:
        if self.use_rust:
            return bool(self._fast_validator(cls).is_valid(document))
        return not self.problems(cls, document)

    def _validator(self, cls: type[WireObject]) -> Any:
        validator = self._validators.get(cls)
        if validator is None:
            from jsonschema import Draft202012Validator

            schema = build_schema(cls, self.registry)
            validator = Draft202012Validator(schema)
            self._validators[cls] = validator
        return validator

    def problems(self, cls: type[WireObject], document: Any) -> list[tuple[list[str | int], str]]:
        """Every (path parts, reason) where ``document`` breaks the schema of ``cls``."""
        validator = self._validator(cls)
        found = []
        for error in _leaves(validator.iter_errors(document)):
            parts = [p if isinstance(p, (int, str)) else str(p) for p in error.absolute_path]
            found.append((parts, _describe(error)))
        return sorted(found, key=lambda item: [str(p) for p in item[0]])

    def validate(self, cls: type[WireObject], document: Any) -> None:
        """Raise :class:`SchemaValidationError` listing every problem, or return None."""
        if self.use_rust and self._fast_validator(cls).is_valid(document):
            return
        problems = self.problems(cls, document)
        if problems:
            raise SchemaValidationError(problems)


def main(argv: list[str] | None = None) -> int:
    """``python -m cshyperv.wire.schema DIR``: (re)write the schemas into DIR."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m cshyperv.wire.schema DIRECTORY", file=sys.stderr)
        return 2
    paths = write_schemas(Path(args[0]))
    print(f"wrote {len(paths)} files to {args[0]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
