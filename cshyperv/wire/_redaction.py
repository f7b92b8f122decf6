"""Model objects with their secrets taken out, for what leaves the agent (answers, echoes).

Answers echo what the management server sent (StartAnswer carries the whole ``vm`` back,
CopyCmdAnswer and CreateObjectAnswer carry transfer objects with store URLs). CloudStack reads a
few members of those echoes and ignores the rest; none of the secrets must travel back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from cshyperv._redact import REDACTED, looks_secret, redact_text
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


# Per class: what to do with each field by name (_PLAIN, _SECRET or _UNKNOWN; fields not named
# are never looked at: wire_members and non-init fields never hold sent data), and whether the
# instance's ``__dict__`` holds exactly its fields, so it can be read directly and a copy made by
# filling a new ``__dict__`` (a dict class without validators, converters or a post-init hook, as
# the codec builds them: what ``__init__`` would do, without its cost). Built once per class (a
# benign race: two threads build the same value). Reading ``__dict__`` instead of one getattr per
# declared field matters: an echoed VirtualMachineTO declares dozens of fields, most of them None.
_PLAIN, _SECRET, _UNKNOWN = 0, 1, 2
_Plan = tuple[dict[str, int], bool]
_PLANS: dict[type[WireObject], _Plan] = {}
# Values that cannot hold text: skipped without a call (most fields of an echoed VM).
_SCALARS = (int, float, bool)


def _plan(cls: type[WireObject]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        fields = attrs.fields(cls)
        look = {
            field.name: _SECRET
            if field.metadata.get(META_SECRET) == "value"
            else _UNKNOWN
            if field.name == "unknown_members"
            else _PLAIN
            for field in fields
            if field.name != "wire_members" and field.init
        }
        plain = (
            getattr(cls, "__slots__", None) is None
            and not hasattr(cls, "__attrs_post_init__")
            and all(f.validator is None and f.converter is None and f.init for f in fields)
        )
        plan = _PLANS[cls] = (look, plain)
    return plan


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
    changes: dict[str, Any] = {}
    look, plain = _plan(type(obj))
    items = obj.__dict__.items() if plain else ((name, getattr(obj, name)) for name in look)
    for name, value in items:
        if value is None:
            continue
        kind = look.get(name)
        if kind is None:
            continue
        if kind == _SECRET:
            changes[name] = None
            continue
        kind_of_value = type(value)
        if kind_of_value is str:
            if value:
                text = redact_text(value)
                if text != value:
                    changes[name] = text
            continue
        if kind_of_value in _SCALARS or not value or isinstance(value, enum.Enum):
            continue  # numbers, booleans, enum members, empty maps and lists: nothing to hide
        new = _raw(value) if kind == _UNKNOWN else _value(value)
        if new is not _KEEP:
            changes[name] = new
    if not changes:
        return _KEEP
    return _copy(obj, plain, changes)


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
