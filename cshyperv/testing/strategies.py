"""Hypothesis strategies for the wire model, both ways.

* :func:`wire_objects` builds model objects field by field from the attrs declarations;
* :func:`schema_documents` builds JSON documents from one of the generated JSON Schemas (the subset
  of draft 2020-12 that :mod:`cshyperv.wire.schema` emits), including members the model does not
  know wherever a schema is open, so losslessness gets exercised too.

Written here rather than taken from hypothesis-jsonschema, whose current release breaks with
current hypothesis and which cannot follow recursive ``$ref`` s (VMSnapshotTO.parent).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from cshyperv.wire import OpaqueTO, Registry, TypeInfo, WireObject, builtin_registry, field_specs

__all__ = ["json_values", "schema_documents", "text_values", "wire_objects"]

# Text as CloudStack sends it: any Unicode except lone surrogates (UTF-8 cannot carry them).
_TEXT = st.characters(codec="utf-8")


def text_values(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(_TEXT, max_size=max_size)


def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (what an unmodelled member may hold)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**53), max_value=2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text_values()
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(text_values(6), children, max_size=3),
        max_leaves=max_leaves,
    )


# -- from the model ------------------------------------------------------------------------------


def wire_objects(
    cls: type[WireObject], registry: Registry | None = None, *, max_depth: int = 3
) -> st.SearchStrategy[Any]:
    """Instances of ``cls`` with every field drawn from its Java type (None where allowed)."""
    reg = registry if registry is not None else builtin_registry()
    return _objects(cls, reg, max_depth)


def _objects(cls: type[WireObject], registry: Registry, depth: int) -> st.SearchStrategy[Any]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for spec in field_specs(cls):
        value = _value(spec.info, registry, depth - 1)
        # None only where it survives the trip: Gson writes nothing for it and reads the default
        # back, so a field whose default is not None cannot hold None on the wire.
        can_be_none = spec.nullable and spec.default is None and not spec.required
        if spec.required:
            fields[spec.attr] = value
        elif depth <= 0:
            fields[spec.attr] = st.just(spec.default)
        else:
            fields[spec.attr] = (st.none() | value) if can_be_none else value
    return st.fixed_dictionaries(fields).map(lambda kwargs: cls(**kwargs))


def _deferred_objects(cls: type[WireObject], registry: Registry, depth: int) -> st.SearchStrategy[Any]:
    return st.deferred(lambda: _objects(cls, registry, depth))


def _value(info: TypeInfo, registry: Registry, depth: int) -> st.SearchStrategy[Any]:
    kind = info.kind
    if kind == "str":
        return text_values()
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        assert info.number is not None
        return st.integers(min_value=info.number.minimum, max_value=info.number.maximum)
    if kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "enum":
        assert info.enum_type is not None
        return st.sampled_from(list(info.enum_type))
    if kind == "object":
        assert info.object_type is not None
        return _deferred_objects(info.object_type, registry, depth)
    if kind == "wrapped":
        assert info.interface is not None
        interface = info.interface
        impls = [c for _, c in registry.items() if issubclass(c, interface)]
        opaque = st.builds(
            OpaqueTO,
            fqcn=st.just("com.example.FutureTO"),
            members=st.dictionaries(text_values(6), json_values(), max_size=2),
        )
        return st.one_of([_deferred_objects(c, registry, depth) for c in impls] + [opaque])
    if kind == "list":
        return st.lists(_value(info.items[0], registry, depth), max_size=2 if depth > 0 else 0)
    if kind == "map":
        return st.dictionaries(text_values(8), _value(info.items[0], registry, depth), max_size=2 if depth > 0 else 0)
    if kind == "pair":
        first, second = (_value(i, registry, depth) for i in info.items)
        return st.tuples(st.none() | first, st.none() | second)
    if kind == "raw":
        if info.raw_object:
            return st.dictionaries(text_values(6), json_values(), max_size=3)
        return json_values()
    raise AssertionError(kind)


# -- from a JSON Schema --------------------------------------------------------------------------

_EXTRA_NAMES = st.text(string.ascii_letters + "_", min_size=1, max_size=10).map(lambda s: "x" + s)


def schema_documents(schema: Mapping[str, Any], *, max_depth: int = 4, extras: bool = True) -> st.SearchStrategy[Any]:
    """Documents valid against ``schema`` (a document built by :mod:`cshyperv.wire.schema`).

    ``extras`` adds members unknown to the schema wherever the schema allows them.
    """
    return _Generator(schema, extras).node(schema, max_depth)


class _Generator:
    def __init__(self, root: Mapping[str, Any], extras: bool) -> None:
        self.root = root
        self.extras = extras

    def resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node  # type: ignore[no-any-return]

    def node(self, schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
        if "anyOf" in schema:
            return st.one_of([self.node(option, depth) for option in schema["anyOf"]])
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of([self.node({**schema, "type": k}, depth) for k in kind])
        if kind == "null":
            return st.none()
        if "$ref" in schema:
            target = self.resolve(schema["$ref"])
            return st.deferred(lambda: self.node(target, depth - 1))
        if "enum" in schema:
            return st.sampled_from(list(schema["enum"]))
        if kind == "string":
            examples = schema.get("examples")
            return st.sampled_from(examples) | text_values() if examples else text_values()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
        if kind == "number":
            return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**31), 2**31)
        if kind == "array":
            items = schema.get("items", {})
            return st.lists(self.node(items, depth), max_size=2 if depth > 0 else 0)
        if kind == "object":
            return self.object(schema, depth)
        if not schema or set(schema) <= {"description", "title"}:
            return json_values()
        raise ValueError(f"schema construct not supported by this generator: {sorted(schema)}")

    def object(self, schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        additional = schema.get("additionalProperties", True)
        if schema.get("maxProperties") == 1 and schema.get("minProperties") == 1:
            # A wrapped DataTO/DataStoreTO: exactly one member named after a Java class.
            choices = [st.fixed_dictionaries({name: self.node(sub, depth)}) for name, sub in properties.items()]
            if additional is not False:
                unknown = st.fixed_dictionaries(
                    {"com.example.FutureTO": st.dictionaries(text_values(6), json_values(), max_size=2)}
                )
                choices.append(unknown)
            return st.one_of(choices)
        required = set(schema.get("required", ()))
        members: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        same_as: dict[str, str] = {}
        for name, sub in properties.items():
            if "x-cshyperv-alias-of" in sub:
                continue  # generated separately below: never together with the current name
            if "x-cshyperv-same-as" in sub:
                same_as[name] = sub["x-cshyperv-same-as"]
                continue
            if name in required:
                members[name] = self.node(sub, depth)
            elif depth > 0:
                optional[name] = self.node(sub, depth)
        aliases = {n: s for n, s in properties.items() if "x-cshyperv-alias-of" in s}
        base = st.fixed_dictionaries(members, optional=optional)
        if aliases and depth > 0:
            base = base.flatmap(lambda doc: self._maybe_alias(doc, aliases, depth))
        if same_as:
            base = base.map(lambda doc: {**doc, **{old: doc[new] for old, new in same_as.items() if new in doc}})
        if self.extras and additional is not False and depth > 0:
            value = json_values() if additional is True else self.node(additional, depth)
            extra = st.dictionaries(_EXTRA_NAMES.filter(lambda n: n not in properties), value, max_size=2)
            base = st.tuples(base, extra).map(lambda pair: {**pair[1], **pair[0]})
        return base

    def _maybe_alias(
        self, doc: dict[str, Any], aliases: Mapping[str, Any], depth: int
    ) -> st.SearchStrategy[dict[str, Any]]:
        usable = {n: s for n, s in aliases.items() if s["x-cshyperv-alias-of"] not in doc}
        if not usable:
            return st.just(doc)
        options = st.fixed_dictionaries({}, optional={n: self.node(s, depth) for n, s in usable.items()})
        return options.map(lambda extra: self._one_per_member(doc, extra, usable))

    @staticmethod
    def _one_per_member(doc: dict[str, Any], extra: dict[str, Any], aliases: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(doc)
        for name, value in extra.items():
            target = aliases[name]["x-cshyperv-alias-of"]
            if target not in out and not any(aliases[o]["x-cshyperv-alias-of"] == target for o in out if o in aliases):
                out[name] = value
        return out
