"""Model objects with their secrets taken out, for what leaves the agent (answers, echoes).

Answers echo what the management server sent (StartAnswer carries the whole ``vm`` back,
CopyCmdAnswer and CreateObjectAnswer carry transfer objects with store URLs). CloudStack reads a
few members of those echoes and ignores the rest; none of the secrets must travel back.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from cshyperv._redact import MAX_SCAN, REDACTED, looks_secret, redact_text
from cshyperv.wire._codec import TypeInfo, field_specs
from cshyperv.wire._model import META_SECRET, OpaqueTO, WireObject

__all__ = ["redact_secrets"]

W = TypeVar("W", bound=WireObject)

_KEEP = object()  # marker: the value needs no change


def redact_secrets(obj: W) -> W:
    """A copy of ``obj`` that is safe to send back: the same object when it holds no secret.

    At any depth:

    * a field declared secret (``jfield(secret=True)``: ``vncPassword``, ``vmData``, S3 keys,
      ``passphrase``...) is set to ``None``, so the encoder omits it. Omitted, not masked:
      CloudStack writes a non-null ``vncPassword`` from a StartAnswer into its database
      (``UserVmManagerImpl.updateVncPasswordIfItHasChanged``);
    * text has its credentials redacted (``?password=``/``user:pass@`` in URLs and UNC paths,
      ``password=`` and ``authorized_key=`` in boot arguments);
    * map values under secret-looking keys (``password``, ``chap.target.secret``) become
      ``<redacted>``;
    * members this model does not know are kept, with the same treatment of their raw JSON.

    What CloudStack reads back from a StartAnswer (``nics[].type``/``ip``, ``disks[].type`` and
    their volumes' ``id``/``path``/``chainInfo``, ``gpuDevice``, ``deployAsIsInfo``) is left as
    it came, unless it held a credential.
    """
    result = _object(obj)
    return obj if result is _KEEP else result


# Per class: the fields that can hold text or a secret, each with what to do with it, and
# whether the instance's ``__dict__`` holds exactly its fields, so it can be read directly and a
# copy made by filling a new ``__dict__`` (a dict class without validators, converters or a
# post-init hook, as the codec builds them: what ``__init__`` would do, without its cost).
#
# The plan comes from the declared types (the codec's own field_specs), so a field that can only
# hold numbers or booleans is never looked at: an echoed VirtualMachineTO declares dozens of
# fields, and visiting each of them on every answer cost more than decoding the command did.
# Skipping by declared type is safe because the encoder refuses a value of another type (text in
# an int or bool field is an EncodeError, never written). Enum fields are the exception: their
# encoder also writes plain text, so their values are checked. Built once per class (a benign
# race: two threads build the same value).
_SECRET, _TEXT, _ENUM, _OBJECT, _TEXTS, _VALUE = range(6)
_Plan = tuple[Callable[[dict[str, Any]], dict[str, Any] | None], bool]
_PLANS: dict[type, _Plan] = {}
_NO_TEXT = frozenset({"bool", "int", "float"})


def _action(info: TypeInfo) -> int | None:
    """What to do with a value declared as ``info``; None when it cannot hold text."""
    kind = info.kind
    if kind in _NO_TEXT:
        return None
    if kind == "str":
        return _TEXT
    if kind == "enum":
        return _ENUM
    if kind in ("object", "wrapped"):
        return _OBJECT
    if kind == "list":
        item = _action(info.items[0])
        if item is None:
            return None
        return _TEXTS if item == _TEXT else _VALUE
    return _VALUE  # maps, pairs, raw JSON: walked by value


def _plan(cls: type[WireObject]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        steps: list[tuple[str, int]] = []
        for spec in field_specs(cls):
            action = _SECRET if spec.field.metadata.get(META_SECRET) == "value" else _action(spec.info)
            if action is not None:
                steps.append((spec.attr, action))
        fields = attrs.fields(cls)
        plain = (
            getattr(cls, "__slots__", None) is None
            and not hasattr(cls, "__attrs_post_init__")
            and all(f.validator is None and f.converter is None and f.init for f in fields)
        )
        plan = _PLANS[cls] = (_compile(cls, steps), plain)
    return plan


def _compile(cls: type, steps: list[tuple[str, int]]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A straight-line function from an instance's field values to its changes (None: none).

    One block per field that can hold text or a secret, as the encoder is compiled: a loop over
    the plan paid for the loop and the dispatch on every field of every echoed object. Text is
    handed to redact_text only when it holds a character a credential pattern starts with (the
    test _redact makes first) or is longer than MAX_SCAN (it is then cut): most text CloudStack
    echoes (names, UUIDs, paths without a query) holds none.
    """
    lines = ["def changes_of(d):", "    c = None"]

    def change(indent: str, name: str, value: str) -> None:
        lines.append(f"{indent}if c is None:")
        lines.append(f"{indent}    c = {{}}")
        lines.append(f"{indent}c[{name!r}] = {value}")

    def text(indent: str, name: str) -> None:
        lines.append(f"{indent}if '=' in v or '@' in v or ':' in v or len(v) > MAX_SCAN:")
        lines.append(f"{indent}    n = redact_text(v)")
        lines.append(f"{indent}    if n != v:")
        change(indent + "        ", name, "n")

    def other(indent: str, name: str, call: str) -> None:
        lines.append(f"{indent}n = {call}(v)")
        lines.append(f"{indent}if n is not KEEP:")
        change(indent + "    ", name, "n")

    for name, action in [*steps, ("unknown_members", _VALUE)]:
        lines.append(f"    v = d[{name!r}]")
        if action == _SECRET:
            lines.append("    if v is not None:")
            change("        ", name, "None")
        elif action == _TEXT:
            lines.append("    if v:")
            lines.append("        if type(v) is str:")
            text("            ", name)
            lines.append("        else:")
            other("            ", name, "value")
        elif action == _ENUM:
            # A member of the enum is a name from the model; plain text is written as it is.
            lines.append("    if v and type(v) is str:")
            text("        ", name)
        else:
            lines.append("    if v:")
            other("        ", name, "texts" if action == _TEXTS else "value")
    lines.append("    return c")
    namespace: dict[str, Any] = {
        "KEEP": _KEEP,
        "MAX_SCAN": MAX_SCAN,
        "redact_text": redact_text,
        "value": _value,
        "texts": _texts,
    }
    exec(compile("\n".join(lines), f"<cshyperv redaction for {cls.__qualname__}>", "exec"), namespace)
    function: Callable[[dict[str, Any]], dict[str, Any] | None] = namespace["changes_of"]
    return function


def _copy(obj: W, plain: bool, changes: dict[str, Any]) -> W:
    if not plain:
        return attrs.evolve(obj, **changes)
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


def _object(obj: WireObject) -> Any:
    if isinstance(obj, OpaqueTO):
        members = _raw(obj.members)
        return _KEEP if members is _KEEP else attrs.evolve(obj, members=members)
    changes_of, plain = _PLANS.get(type(obj)) or _plan(type(obj))
    changes = changes_of(obj.__dict__ if plain else attrs.asdict(obj, recurse=False))
    if changes is None:
        return _KEEP
    return _copy(obj, plain, changes)


def _texts(values: list[Any]) -> Any:
    """A list of text (boot arguments, host names): redacted item by item."""
    out = None
    for index, item in enumerate(values):
        new = redact_text(item) if type(item) is str else _value(item)
        if new is _KEEP or new == item:
            continue
        if out is None:
            out = list(values)
        out[index] = new
    return _KEEP if out is None else out


def _value(value: Any) -> Any:
    """A declared member's value (model objects inside, text and maps of text)."""
    if isinstance(value, WireObject):
        return _object(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return _KEEP
        items = [_value(v) for v in value]
        if all(i is _KEEP for i in items):
            return _KEEP
        return type(value)(v if i is _KEEP else i for v, i in zip(value, items, strict=True))
    return _raw(value)


def _raw(value: Any) -> Any:
    """Raw JSON (unknown members, JsonObject fields) and plain values."""
    if isinstance(value, str):
        if isinstance(value, enum.Enum):
            return _KEEP
        text = redact_text(value)
        return _KEEP if text == value else text
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        changed = False
        for key, item in value.items():
            # Only text is masked: a map of objects keyed by a name that looks secret keeps its shape.
            if isinstance(item, str) and isinstance(key, str) and looks_secret(key):
                out[key] = REDACTED
                changed = True
                continue
            new = _value(item)
            if new is _KEEP:
                out[key] = item
            else:
                out[key] = new
                changed = True
        return out if changed else _KEEP
    if isinstance(value, (list, tuple, WireObject)):
        return _value(value)
    return _KEEP
