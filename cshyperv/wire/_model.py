"""Building blocks for the wire model: base classes, Java-typed aliases and the field helper.

Every class that crosses the wire is a frozen, keyword-only attrs class that derives from
:class:`WireObject`. The codec (``cshyperv.wire._codec``) and the schema generator
(``cshyperv.wire.schema``) read the same declarations, so a wire key is spelled in exactly one place.

Rules a model class follows (they mirror Gson 2.10.1 as CloudStack configures it):

* the Python attribute is snake_case; its wire key is the Java field name, derived by
  :func:`wire_key` (``host_ip`` -> ``hostIp``) unless :func:`jfield` names it explicitly
  (``jfield("_url")``, ``jfield("networkReadKBs")``);
* defaults are what Gson leaves in a field that is absent from the JSON: the value set by the
  class's no-arg constructor, or Java's zero value when the class has none (Gson then allocates it
  without running any constructor);
* a field declared in Java as the interface ``DataTO`` or ``DataStoreTO`` is typed with the Python
  marker classes of the same names; the codec then wraps it as ``{"<FQCN>": {...}}``;
* members this version does not model are kept in ``unknown_members`` and written back unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Final

import attrs

from cshyperv._redact import REDACTED, looks_secret, redact_text, redact_url_credentials

__all__ = [
    "Answer",
    "Command",
    "DataStoreTO",
    "DataTO",
    "JByte",
    "JDouble",
    "JFloat",
    "JInt",
    "JLong",
    "JShort",
    "JavaEnum",
    "JavaNumber",
    "JsonObject",
    "OpaqueTO",
    "WireObject",
    "jfield",
    "shown",
    "wire_key",
]


@attrs.frozen
class JavaNumber:
    """Annotation marker: the Java primitive behind a Python ``int`` or ``float`` field.

    The codec range-checks integers against it and the schema generator turns it into
    ``minimum``/``maximum``.
    """

    name: str
    minimum: int | None = None
    maximum: int | None = None
    integral: bool = True


JAVA_BYTE: Final = JavaNumber("byte", -(2**7), 2**7 - 1)
JAVA_SHORT: Final = JavaNumber("short", -(2**15), 2**15 - 1)
JAVA_INT: Final = JavaNumber("int", -(2**31), 2**31 - 1)
JAVA_LONG: Final = JavaNumber("long", -(2**63), 2**63 - 1)
JAVA_FLOAT: Final = JavaNumber("float", integral=False)
JAVA_DOUBLE: Final = JavaNumber("double", integral=False)

JsonObject = dict[str, Any]
"""A Java object this model keeps as raw JSON (types CloudStack sends but no handler needs)."""

JByte = Annotated[int, JAVA_BYTE]
JShort = Annotated[int, JAVA_SHORT]
JInt = Annotated[int, JAVA_INT]
JLong = Annotated[int, JAVA_LONG]
JFloat = Annotated[float, JAVA_FLOAT]
JDouble = Annotated[float, JAVA_DOUBLE]


class JavaEnum(str, enum.Enum):
    """A Java enum as Gson writes it: by ``name()``.

    Gson maps a name it does not know to ``null``; we keep it instead, as a pseudo-member that is
    not listed in the enum, so a value from a newer CloudStack survives decode -> encode.
    """

    @classmethod
    def _missing_(cls, value: object) -> JavaEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)

    @property
    def known(self) -> bool:
        """True when this name is one CloudStack defined when this model was written."""
        return self._name_ in type(self).__members__


# Metadata keys understood by the codec and the schema generator.
META_KEY: Final = "cshyperv.key"
META_ALIASES: Final = "cshyperv.aliases"
META_COMPAT: Final = "cshyperv.compat"
META_REQUIRED: Final = "cshyperv.required"
META_SECRET: Final = "cshyperv.secret"
META_DOC: Final = "cshyperv.doc"


def _redacted_repr(value: object) -> str:
    return "None" if value is None else repr(REDACTED)


def shown(value: Any) -> Any:
    """A copy of a plain model value fit to be shown or sent: text with its credentials redacted
    (:func:`~cshyperv._redact.redact_text`), map values under secret-looking keys replaced by
    ``<redacted>``, at any depth. Numbers, enums and model objects are returned as they are."""
    if isinstance(value, str):
        return value if isinstance(value, enum.Enum) else redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if v is not None and isinstance(k, str) and looks_secret(k) else shown(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [shown(v) for v in value]
    if isinstance(value, tuple):
        return tuple(shown(v) for v in value)
    return value


def _safe_repr(self: WireObject) -> str:
    # Decoded commands hold attacker-chosen text and the management server's secrets in fields
    # that are not secret in themselves (paths with a credentials query, boot arguments, details
    # maps): every value is shown through shown(), secret fields not at all.
    parts = []
    for field in attrs.fields(type(self)):
        if field.repr is False:
            continue
        value = getattr(self, field.name)
        text = field.repr(value) if callable(field.repr) else repr(shown(value))
        parts.append(f"{field.name}={text}")
    return f"{type(self).__qualname__}({', '.join(parts)})"


def _url_repr(value: object) -> str:
    if isinstance(value, str):
        return repr(redact_url_credentials(value))
    if isinstance(value, (list, tuple)):
        return repr([redact_url_credentials(v) if isinstance(v, str) else v for v in value])
    return repr(value)


def _keys_repr(value: Mapping[str, object]) -> str:
    # Unknown members may hold anything, secrets included: show only their names.
    return "{" + ", ".join(f"{k!r}: ..." for k in value) + "}"


def jfield(
    key: str | None = None,
    *,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    aliases: tuple[str, ...] = (),
    compat: tuple[str, ...] = (),
    required: bool = False,
    secret: bool | str = False,
    doc: str | None = None,
) -> Any:
    """Declare a wire field with more than a plain default.

    ``key``      the Java field name when :func:`wire_key` would not derive it.
    ``aliases``  older (or newer) names of the same field accepted on input; an object decoded from
                 an alias is written back under that alias, in the shape it came in.
    ``compat``   names also written (besides ``key``) for objects built in Python, so that older
                 management servers which still read the old name get the value too.
    ``required`` the member must be present (the command means nothing without it).
    ``secret``   ``True`` hides the value from ``repr``; ``"url"`` hides only credentials inside it.
    """
    metadata: dict[str, Any] = {}
    if key is not None:
        metadata[META_KEY] = key
    if aliases:
        metadata[META_ALIASES] = aliases
    if compat:
        metadata[META_COMPAT] = compat
    if required:
        metadata[META_REQUIRED] = True
    if doc:
        metadata[META_DOC] = doc
    repr_fn: Callable[[Any], str] | bool = True
    if secret is True:
        metadata[META_SECRET] = "value"
        repr_fn = _redacted_repr
    elif secret == "url":
        metadata[META_SECRET] = "url"
        repr_fn = _url_repr
    if factory is not None:
        return attrs.field(factory=factory, metadata=metadata, repr=repr_fn)
    if default is attrs.NOTHING:
        default = None
    return attrs.field(default=default, metadata=metadata, repr=repr_fn)


def wire_key(field: attrs.Attribute[Any]) -> str:
    """The JSON member name of a model field: explicit key, else snake_case -> camelCase."""
    explicit = field.metadata.get(META_KEY)
    if explicit is not None:
        return str(explicit)
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@attrs.frozen(kw_only=True, slots=False)
class WireObject:
    """Base of every class that crosses the wire.

    ``unknown_members`` holds JSON members this model does not know, exactly as received; they are
    written back on encode. ``wire_members`` records which member names were present when the
    object was decoded (``None`` for objects built in Python); the encoder uses it to write back
    only what came in, plus whatever was changed since.
    """

    FQCN: ClassVar[str] = ""
    """The Java class name on the wire; empty for abstract bases that never travel alone."""
    CLOSED: ClassVar[bool] = False
    """Schema: True when no member beyond the declared ones is allowed (answers we emit)."""

    unknown_members: Mapping[str, Any] = attrs.field(factory=dict, repr=_keys_repr)
    wire_members: frozenset[str] | None = attrs.field(default=None, eq=False, repr=False)

    __repr__ = _safe_repr

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Runs before the subclass's attrs decorator: a __repr__ of its own makes attrs keep it
        # instead of generating one that would print every value as it is.
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _safe_repr  # type: ignore[method-assign,assignment]


@attrs.frozen(kw_only=True, slots=False)
class Command(WireObject):
    """``com.cloud.agent.api.Command``: what the management server asks an agent to do."""

    context_map: dict[str, str] = attrs.field(factory=dict)
    wait: JInt = 0
    bypass_host_maintenance: bool = False
    # Extensions pass host access details (passwords included) here.
    external_details: dict[str, dict[str, str]] | None = jfield(secret=True)


@attrs.frozen(kw_only=True, slots=False)
class Answer(Command):
    """``com.cloud.agent.api.Answer``: the reply to a Command.

    Defaults follow ``Answer()``: ``result`` is True. Answer classes that Java can only allocate
    without a constructor override it to False, because that is what CloudStack reads when the
    member is missing.
    """

    FQCN: ClassVar[str] = "com.cloud.agent.api.Answer"
    CLOSED: ClassVar[bool] = True

    result: bool = True
    details: str | None = None
    # Not a field of Java's Answer: the legacy C# agent wrote it on plain Answers (to PingCommand
    # and PingRoutingCommand) and Java ignores it. Declared so that the closed answer schemas accept
    # what legacy agents send; SetupAnswer and CheckNetworkAnswer really have it, default False.
    reconnect: bool | None = jfield("_reconnect")


class DataTO:
    """Marker for ``com.cloud.agent.api.to.DataTO``: a field of this type is FQCN-wrapped."""


class DataStoreTO:
    """Marker for ``com.cloud.agent.api.to.DataStoreTO``: a field of this type is FQCN-wrapped."""


@attrs.frozen(kw_only=True, slots=False)
class OpaqueTO(WireObject, DataTO, DataStoreTO):
    """A wrapped DataTO/DataStoreTO whose Java class this model does not know.

    It is kept whole (``fqcn`` and the raw ``members``) so that it re-encodes unchanged.
    """

    fqcn: str = ""
    members: Mapping[str, Any] = attrs.field(factory=dict, repr=_keys_repr)
