"""Structure and unstructure model objects with Gson's rules, losslessly.

The codec works on parsed JSON values (dicts, lists, str, int, float, bool). Byte handling lives in
``cshyperv.wire._json``; the public entry points in ``cshyperv.wire``.

For each model class the codec builds, once, a table of member handlers from the class's attrs
fields and type hints; decoding a member is then one dict lookup and one call. Members that the
class does not declare are kept in ``unknown_members``; the member names present on input are kept
in ``wire_members`` so that encoding writes back what came in (defaults included) and nothing more.
"""

from __future__ import annotations

import enum
import math
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from cshyperv.errors import (
    EncodeError,
    LimitExceededError,
    MissingMemberError,
    ValueOutOfRangeError,
    WireError,
    WireTypeError,
)
from cshyperv.wire._limits import DEFAULT_LIMITS, DecodeLimits
from cshyperv.wire._model import (
    JAVA_DOUBLE,
    JAVA_LONG,
    META_ALIASES,
    META_COMPAT,
    META_REQUIRED,
    DataStoreTO,
    DataTO,
    JavaEnum,
    JavaNumber,
    OpaqueTO,
    WireObject,
    wire_key,
)
from cshyperv.wire._registry import Registry

__all__ = ["Converter", "FieldSpec", "TypeInfo", "analyze_type", "field_specs", "json_type_name"]

Decoder = Callable[[Any], Any]
Encoder = Callable[[Any], Any]

_EMPTY: Final[Mapping[str, Any]] = types.MappingProxyType({})
_BASE_FIELDS: Final = frozenset({"unknown_members", "wire_members"})
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def json_type_name(value: object) -> str:
    """The JSON type of a parsed value, for messages that must not quote the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _type_error(expected: str, value: object) -> WireTypeError:
    return WireTypeError(f"expected {expected}, got {json_type_name(value)}")


# --------------------------------------------------------------------------------------------
# Type analysis: one TypeInfo per annotation, shared by the codec and the schema generator.


@attrs.frozen
class TypeInfo:
    """What an annotation means on the wire.

    ``kind`` is one of: str, bool, int, float, enum, object, wrapped, list, map, pair, raw.
    """

    kind: str
    number: JavaNumber | None = None
    enum_type: type[JavaEnum] | None = None
    object_type: type[WireObject] | None = None
    interface: type | None = None  # DataTO or DataStoreTO for kind == "wrapped"
    items: tuple[TypeInfo, ...] = ()
    raw_object: bool = False  # kind == "raw": True when the JSON value must be an object


def analyze_type(tp: Any) -> TypeInfo:
    """Translate a resolved type hint of a model field into a :class:`TypeInfo`."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        number = next((e for e in extras if isinstance(e, JavaNumber)), None)
        info = analyze_type(base)
        if number is not None and info.kind in ("int", "float"):
            return attrs.evolve(info, number=number)
        return info
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}: only X | None is allowed in the model")
        return analyze_type(args[0])
    if origin in (list, Sequence):
        (item,) = typing.get_args(tp)
        return TypeInfo("list", items=(analyze_type(item),))
    if origin is tuple:
        pair = typing.get_args(tp)
        if len(pair) == 2 and pair[1] is not Ellipsis:
            return TypeInfo("pair", items=(analyze_type(pair[0]), analyze_type(pair[1])))
        if len(pair) == 2:
            return TypeInfo("list", items=(analyze_type(pair[0]),))
        raise TypeError(f"unsupported tuple {tp!r}")
    if origin in (dict, Mapping):
        key, value = typing.get_args(tp)
        if key is not str:
            raise TypeError(f"map keys must be str, not {key!r}")
        value_info = analyze_type(value)
        if value_info.kind == "raw" and not value_info.raw_object:
            # dict[str, Any]: a Java object we do not model, kept as raw JSON.
            return TypeInfo("raw", raw_object=True)
        return TypeInfo("map", items=(value_info,))
    if tp is Any:
        return TypeInfo("raw")
    if tp is bool:
        return TypeInfo("bool")
    if tp is int:
        return TypeInfo("int", number=JAVA_LONG)
    if tp is float:
        return TypeInfo("float", number=JAVA_DOUBLE)
    if tp is str:
        return TypeInfo("str")
    if tp is DataTO or tp is DataStoreTO:
        return TypeInfo("wrapped", interface=tp)
    if isinstance(tp, type) and issubclass(tp, JavaEnum):
        return TypeInfo("enum", enum_type=tp)
    if isinstance(tp, type) and issubclass(tp, WireObject):
        return TypeInfo("object", object_type=tp)
    raise TypeError(f"unsupported annotation {tp!r} in the wire model")


def _admits_none(tp: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        return _admits_none(typing.get_args(tp)[0])
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


@attrs.frozen
class FieldSpec:
    """One wire member of a model class."""

    attr: str
    key: str
    info: TypeInfo
    default: Any
    has_factory: bool
    aliases: tuple[str, ...]
    compat: tuple[str, ...]
    required: bool
    nullable: bool  # the annotation admits None
    field: attrs.Attribute[Any]


def _declaring_class(cls: type, name: str) -> type:
    # The base-most class that declares the attribute: Gson orders members by where Java declares
    # them, and a Python subclass that only changes a default must not move the member.
    for klass in reversed(cls.__mro__):
        if attrs.has(klass) and any(a.name == name for a in attrs.fields(klass)):
            return klass
    return cls


_SPEC_CACHE: dict[type, tuple[FieldSpec, ...]] = {}


def field_specs(cls: type[WireObject]) -> tuple[FieldSpec, ...]:
    """The wire members of ``cls`` in Gson's order: own fields first, then each superclass's."""
    cached = _SPEC_CACHE.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls, include_extras=True)
    chain = [k for k in cls.__mro__ if attrs.has(k)]
    rank = {k: i for i, k in enumerate(chain)}
    specs: list[tuple[int, int, FieldSpec]] = []
    for position, field in enumerate(attrs.fields(cls)):
        if field.name in _BASE_FIELDS:
            continue
        default: Any = field.default
        factory = getattr(default, "factory", None)
        has_factory = factory is not None and getattr(default, "takes_self", None) is not None
        if has_factory:
            default = factory() if factory is not None else None
        elif default is attrs.NOTHING:
            default = None
        spec = FieldSpec(
            attr=field.name,
            key=wire_key(field),
            info=analyze_type(hints[field.name]),
            default=default,
            has_factory=has_factory,
            aliases=tuple(field.metadata.get(META_ALIASES, ())),
            compat=tuple(field.metadata.get(META_COMPAT, ())),
            required=bool(field.metadata.get(META_REQUIRED, False)),
            nullable=_admits_none(hints[field.name]),
            field=field,
        )
        declaring = _declaring_class(cls, field.name)
        # Within a class, Java's declaration order: the position where that class declares it.
        own_position = next(i for i, f in enumerate(attrs.fields(declaring)) if f.name == field.name)
        specs.append((rank[declaring], own_position if declaring is not cls else position, spec))
    result = tuple(s for _, _, s in sorted(specs, key=lambda t: (t[0], t[1])))
    _SPEC_CACHE[cls] = result
    return result


# --------------------------------------------------------------------------------------------
# Scalar converters (Gson's leniency: numbers from numeric strings, strings from numbers).


def _decode_str(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise _type_error("a string", value)


def _decode_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is str:
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise _type_error("a boolean", value)


def _int_decoder(number: JavaNumber) -> Decoder:
    lo, hi, name = number.minimum, number.maximum, number.name

    def decode(value: Any) -> int:
        if type(value) is int:
            result = value
        elif (type(value) is float and value.is_integer()) or (
            type(value) is str and _INT_TEXT.fullmatch(value.strip())
        ):
            result = int(value)
        else:
            raise _type_error(f"an integer ({name})", value)
        if (lo is not None and result < lo) or (hi is not None and result > hi):
            raise ValueOutOfRangeError(f"number out of range for Java {name}")
        return result

    return decode


def _decode_float(value: Any) -> float:
    if type(value) is float:
        if not math.isfinite(value):
            raise ValueOutOfRangeError("expected a finite number")
        return value
    if type(value) is int:
        return float(value)
    if type(value) is str and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)
    raise _type_error("a number", value)


def _encode_str(value: Any) -> str:
    if isinstance(value, str):
        return str(value) if type(value) is not str else value
    raise EncodeError(f"expected str, got {type(value).__name__}")


def _encode_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise EncodeError(f"expected bool, got {type(value).__name__}")


def _int_encoder(number: JavaNumber) -> Encoder:
    lo, hi, name = number.minimum, number.maximum, number.name

    def encode(value: Any) -> int:
        if type(value) is not int and not (isinstance(value, int) and not isinstance(value, bool)):
            raise EncodeError(f"expected int, got {type(value).__name__}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise EncodeError(f"number out of range for Java {name}")
        return int(value)

    return encode


def _encode_float(value: Any) -> float | int:
    if type(value) is float or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        if not math.isfinite(value):
            raise EncodeError("NaN and infinities cannot be written (Gson rejects them)")
        return value
    raise EncodeError(f"expected float, got {type(value).__name__}")


def _identity(value: Any) -> Any:
    return value


# --------------------------------------------------------------------------------------------


class Converter:
    """Converts between parsed JSON values and model objects for one :class:`Registry`.

    Thread-safe: each handler table entry is built once, under a lock, and published only when
    it is complete; lookups of built entries take no lock.
    """

    def __init__(self, registry: Registry, *, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.registry = registry
        self.limits = limits
        self._decoders: dict[type, Decoder] = {}
        self._encoders: dict[type, Encoder] = {}
        # Guards building (not reading) the tables: a handler is published only when complete.
        self._lock = threading.RLock()
        self._building: set[tuple[int, type]] = set()

    # -- public ------------------------------------------------------------------------------

    def structure(self, cls: type[WireObject], value: Any) -> Any:
        """Build a ``cls`` from a parsed JSON value; :class:`WireError` names the failing path."""
        return self._object_decoder(cls)(value)

    def unstructure(self, obj: WireObject) -> dict[str, Any]:
        """The JSON object (as Python values) that Gson would write for ``obj``."""
        if not isinstance(obj, WireObject):
            raise EncodeError(f"expected a wire model object, got {type(obj).__name__}")
        return self._object_encoder(type(obj))(obj)  # type: ignore[no-any-return]

    def structure_wrapped(self, value: Any, base: type[WireObject] | None = None) -> WireObject:
        """Decode ``{"<FQCN>": {...}}`` into the registered class (which must subclass ``base``)."""
        if type(value) is not dict:
            raise _type_error("an object naming a Java class", value)
        if len(value) != 1:
            raise WireTypeError("expected exactly one member, named after a Java class")
        ((fqcn, body),) = value.items()
        cls = self.registry.lookup(fqcn)
        if base is not None and not issubclass(cls, base):
            raise WireTypeError(f"{fqcn} is not a {base.__name__}").at(fqcn)
        try:
            return self._object_decoder(cls)(body)  # type: ignore[no-any-return]
        except WireError as exc:
            raise exc.at(fqcn) from None

    def unstructure_wrapped(self, obj: WireObject) -> dict[str, Any]:
        if isinstance(obj, OpaqueTO):
            return {obj.fqcn: dict(obj.members)}
        fqcn = type(obj).__dict__.get("FQCN")
        if not fqcn:
            raise EncodeError(f"{type(obj).__name__} has no Java class name to wrap it with")
        return {fqcn: self.unstructure(obj)}

    # -- per-type converters --------------------------------------------------------------------

    def _object_decoder(self, cls: type) -> Decoder:
        decoder = self._decoders.get(cls)
        if decoder is None:
            decoder = self._build_once(self._decoders, cls, self._build_object_decoder)
        return decoder

    def _object_encoder(self, cls: type) -> Encoder:
        encoder = self._encoders.get(cls)
        if encoder is None:
            encoder = self._build_once(self._encoders, cls, self._build_object_encoder)
        return encoder

    def _build_once(
        self, table: dict[type, Callable[[Any], Any]], cls: type, build: Callable[[type], Callable[[Any], Any]]
    ) -> Callable[[Any], Any]:
        """Build the handler for ``cls`` and publish it in ``table`` only once it is finished.

        Other threads wait on the lock instead of picking up a half-built handler. While the
        builder thread is inside ``build``, a recursive type (VMSnapshotTO.parent) that asks for
        its own handler gets a forwarder that resolves through ``table`` at call time.
        """
        with self._lock:
            handler = table.get(cls)
            if handler is not None:
                return handler
            key = (id(table), cls)
            if key in self._building:
                return lambda value: table[cls](value)  # noqa: PLW0108 - resolved at call time
            self._building.add(key)
            try:
                handler = build(cls)
            finally:
                self._building.discard(key)
            table[cls] = handler
            return handler

    def _decoder_for(self, info: TypeInfo) -> Decoder:
        kind = info.kind
        if kind == "str":
            return _decode_str
        if kind == "bool":
            return _decode_bool
        if kind == "int":
            assert info.number is not None
            return _int_decoder(info.number)
        if kind == "float":
            return _decode_float
        if kind == "enum":
            return self._enum_decoder(info)
        if kind == "object":
            assert info.object_type is not None
            cls = info.object_type
            # Looked up at call time: the class may be the one being built (recursive types).
            return lambda value: self._object_decoder(cls)(value)  # noqa: PLW0108
        if kind == "wrapped":
            return self._wrapped_decoder(info)
        if kind == "list":
            return self._list_decoder(self._decoder_for(info.items[0]), self.limits.max_array_items)
        if kind == "map":
            return self._map_decoder(self._decoder_for(info.items[0]), self.limits.max_members)
        if kind == "pair":
            return self._pair_decoder(self._decoder_for(info.items[0]), self._decoder_for(info.items[1]))
        if kind == "raw":
            return self._raw_decoder(info)
        raise AssertionError(kind)

    def _encoder_for(self, info: TypeInfo) -> Encoder:
        kind = info.kind
        if kind == "str":
            return _encode_str
        if kind == "bool":
            return _encode_bool
        if kind == "int":
            assert info.number is not None
            return _int_encoder(info.number)
        if kind == "float":
            return _encode_float
        if kind == "enum":
            return self._enum_encoder(info)
        if kind == "object":
            assert info.object_type is not None
            declared = info.object_type

            def encode_object(value: Any) -> Any:
                if not isinstance(value, declared):
                    raise EncodeError(f"expected {declared.__name__}, got {type(value).__name__}")
                # Gson writes the runtime class's fields, so a subclass keeps its extra members.
                return self._object_encoder(type(value))(value)

            return encode_object
        if kind == "wrapped":
            interface = info.interface

            def encode_wrapped(value: Any) -> Any:
                if not isinstance(value, WireObject) or (interface and not isinstance(value, interface)):
                    name = interface.__name__ if interface else "a wire object"
                    raise EncodeError(f"expected a {name}, got {type(value).__name__}")
                return self.unstructure_wrapped(value)

            return encode_wrapped
        if kind == "list":
            return self._list_encoder(self._encoder_for(info.items[0]))
        if kind == "map":
            return self._map_encoder(self._encoder_for(info.items[0]))
        if kind == "pair":
            return self._pair_encoder(self._encoder_for(info.items[0]), self._encoder_for(info.items[1]))
        if kind == "raw":
            return _identity
        raise AssertionError(kind)

    @staticmethod
    def _enum_decoder(info: TypeInfo) -> Decoder:
        enum_type = info.enum_type
        assert enum_type is not None
        members = dict(enum_type.__members__)

        def decode(value: Any) -> Any:
            if type(value) is str:
                member = members.get(value)
                return member if member is not None else enum_type(value)
            raise _type_error(f"a string ({enum_type.__name__} name)", value)

        return decode

    @staticmethod
    def _enum_encoder(info: TypeInfo) -> Encoder:
        enum_type = info.enum_type
        assert enum_type is not None
        # The text of each declared member, looked up once: ``.value`` is a descriptor call.
        # Names kept from a newer CloudStack (pseudo-members) are not in it and take the long way.
        texts = {member: str(member.value) for member in enum_type}

        def encode(value: Any) -> str:
            if type(value) is enum_type:
                text = texts.get(value)
                if text is not None:
                    return text
            if isinstance(value, enum.Enum):
                if not isinstance(value, enum_type):
                    raise EncodeError(f"expected {enum_type.__name__}, got {type(value).__name__}")
                return str(value.value)
            if type(value) is str:
                return value
            raise EncodeError(f"expected {enum_type.__name__}, got {type(value).__name__}")

        return encode

    def _wrapped_decoder(self, info: TypeInfo) -> Decoder:
        interface = info.interface
        registry = self.registry

        def decode(value: Any) -> Any:
            if type(value) is not dict:
                raise _type_error("an object naming a Java class", value)
            if len(value) != 1:
                raise WireTypeError("expected exactly one member, named after a Java class")
            ((fqcn, body),) = value.items()
            cls = registry.get(fqcn)
            if cls is None or (interface is not None and not issubclass(cls, interface)):
                # A DataTO/DataStoreTO this model does not know: keep it whole, untouched.
                if type(body) is not dict:
                    raise _type_error("an object", body).at(fqcn)
                return OpaqueTO(fqcn=fqcn, members=body)
            try:
                return self._object_decoder(cls)(body)
            except WireError as exc:
                raise exc.at(fqcn) from None

        return decode

    @staticmethod
    def _list_decoder(item: Decoder, max_items: int) -> Decoder:
        def decode(value: Any) -> list[Any]:
            if type(value) is not list:
                raise _type_error("an array", value)
            if len(value) > max_items:
                raise LimitExceededError(f"more than {max_items} array elements")
            out: list[Any] = []
            for index, element in enumerate(value):
                if element is None:
                    # Gson writes nulls inside arrays; keep them so the array re-encodes as it came.
                    out.append(None)
                    continue
                try:
                    out.append(item(element))
                except WireError as exc:
                    raise exc.at(index) from None
            return out

        return decode

    @staticmethod
    def _map_decoder(item: Decoder, max_entries: int) -> Decoder:
        def decode(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _type_error("an object", value)
            if len(value) > max_entries:
                raise LimitExceededError(f"more than {max_entries} map entries")
            out = {}
            for key, element in value.items():
                if element is None:
                    continue
                try:
                    out[key] = item(element)
                except WireError as exc:
                    raise exc.at(key) from None
            return out

        return decode

    @staticmethod
    def _pair_decoder(first: Decoder, second: Decoder) -> Decoder:
        def decode(value: Any) -> tuple[Any, Any]:
            if type(value) is not dict:
                raise _type_error("an object with members t and u", value)
            t, u = value.get("t"), value.get("u")
            try:
                t = None if t is None else first(t)
            except WireError as exc:
                raise exc.at("t") from None
            try:
                u = None if u is None else second(u)
            except WireError as exc:
                raise exc.at("u") from None
            return (t, u)

        return decode

    @staticmethod
    def _raw_decoder(info: TypeInfo) -> Decoder:
        if not info.raw_object:
            return _identity

        def decode(value: Any) -> Any:
            if type(value) is not dict:
                raise _type_error("an object", value)
            return value

        return decode

    @staticmethod
    def _list_encoder(item: Encoder) -> Encoder:
        def encode(value: Any) -> list[Any]:
            if not isinstance(value, (list, tuple)):
                raise EncodeError(f"expected list, got {type(value).__name__}")
            out = []
            for index, element in enumerate(value):
                try:
                    out.append(None if element is None else item(element))
                except WireError as exc:
                    raise exc.at(index) from None
            return out

        return encode

    @staticmethod
    def _map_encoder(item: Encoder) -> Encoder:
        def encode(value: Any) -> dict[str, Any]:
            if not isinstance(value, Mapping):
                raise EncodeError(f"expected a mapping, got {type(value).__name__}")
            out = {}
            for key, element in value.items():
                if element is None:
                    continue
                skey = key if type(key) is str else str(key.value if isinstance(key, enum.Enum) else key)
                try:
                    out[skey] = item(element)
                except WireError as exc:
                    raise exc.at(skey) from None
            return out

        return encode

    @staticmethod
    def _pair_encoder(first: Encoder, second: Encoder) -> Encoder:
        def encode(value: Any) -> dict[str, Any]:
            if not isinstance(value, tuple) or len(value) != 2:
                raise EncodeError(f"expected a 2-tuple, got {type(value).__name__}")
            out = {}
            for key, element, enc in (("t", value[0], first), ("u", value[1], second)):
                if element is not None:
                    try:
                        out[key] = enc(element)
                    except WireError as exc:
                        raise exc.at(key) from None
            return out

        return encode

    # -- classes -------------------------------------------------------------------------------

    def _build_object_decoder(self, cls: type) -> Decoder:
        specs = field_specs(cls)
        # key -> (attribute, decoder, JSON type that needs no conversion or None)
        handlers: dict[str, tuple[str, Decoder, type | None]] = {}
        has_aliases = False
        for spec in specs:
            decode = self._decoder_for(spec.info)
            passthrough = {"str": str, "bool": bool}.get(spec.info.kind)
            handlers[spec.key] = (spec.attr, decode, passthrough)
            for alias in spec.aliases:
                has_aliases = True
                if spec.info.kind == "list":
                    # An older single-value form of a list member (secondaryStorage -> secondaryStorages).
                    item = self._decoder_for(spec.info.items[0])
                    handlers[alias] = (spec.attr, self._alias_list_decoder(decode, item), None)
                else:
                    handlers[alias] = (spec.attr, decode, passthrough)
        required = tuple((s.attr, s.key) for s in specs if s.required)
        name = cls.__name__
        build = _instance_builder(cls)
        max_members = self.limits.max_members

        def decode_object(value: Any) -> Any:
            if type(value) is not dict:
                raise _type_error(f"an object ({name})", value)
            if len(value) > max_members:
                raise LimitExceededError(f"more than {max_members} members in one object")
            kwargs: dict[str, Any] = {}
            unknown: dict[str, Any] | None = None
            saw_null = False
            for key, member in value.items():
                if member is None:
                    saw_null = True  # Gson treats null and absent alike
                    continue
                handler = handlers.get(key)
                if handler is None:
                    if unknown is None:
                        unknown = {}
                    unknown[key] = member
                    continue
                attr, decode, passthrough = handler
                if has_aliases and attr in kwargs:
                    continue  # the current name and an alias both present: the first one wins
                if type(member) is passthrough:
                    kwargs[attr] = member
                    continue
                try:
                    kwargs[attr] = decode(member)
                except WireError as exc:
                    raise exc.at(key) from None
            for attr, key in required:
                if attr not in kwargs:
                    raise MissingMemberError("required member is missing").at(key)
            kwargs["unknown_members"] = unknown if unknown is not None else _EMPTY
            kwargs["wire_members"] = (
                frozenset(k for k, v in value.items() if v is not None) if saw_null else frozenset(value)
            )
            return build(kwargs)

        return decode_object

    @staticmethod
    def _alias_list_decoder(list_decode: Decoder, item_decode: Decoder) -> Decoder:
        def decode(value: Any) -> list[Any]:
            if type(value) is list:
                return list_decode(value)  # type: ignore[no-any-return]
            return [item_decode(value)]

        return decode

    def _build_object_encoder(self, cls: type) -> Encoder:
        """Compile a straight-line encoder for ``cls``: one block per field, no per-field loop.

        Each block skips a None value, skips a member that was absent on input and still has its
        default, and otherwise writes the member (under the name(s) it came in with).
        """
        namespace: dict[str, Any] = {"WireError": WireError, "_complex": _emit_complex}
        lines = ["def encode_object(obj):", "    d = obj.__dict__", "    out = {}", "    present = d['wire_members']"]
        lines.append("    key = None")
        lines.append("    try:")
        for index, spec in enumerate(field_specs(cls)):
            encode = self._encoder_for(spec.info)
            namespace[f"E{index}"] = encode
            namespace[f"D{index}"] = spec.default
            key = repr(spec.key)
            lines.append(f"        v = d[{spec.attr!r}]")
            lines.append("        if v is not None:")
            lines.append(f"            key = {key}")
            if spec.aliases or spec.compat:
                namespace[f"S{index}"] = spec
                lines.append(f"            _complex(out, present, S{index}, E{index}, v)")
                continue
            lines.append(f"            if present is None or {key} in present or v != D{index}:")
            kind = spec.info.kind
            if kind in ("str", "bool"):
                check = f"type(v) is {kind}"
            elif kind == "int" and spec.info.number is not None:
                lo, hi = spec.info.number.minimum, spec.info.number.maximum
                check = f"type(v) is int and {lo} <= v <= {hi}"
            elif kind == "raw":
                check = "True"
            else:
                check = ""
            if check:
                lines.append(f"                out[{key}] = v if {check} else E{index}(v)")
            else:
                lines.append(f"                out[{key}] = E{index}(v)")
        lines.append("    except WireError as exc:")
        lines.append("        raise exc.at(key) from None")
        lines.append("    unknown = d['unknown_members']")
        lines.append("    if unknown:")
        lines.append("        for k, member in unknown.items():")
        lines.append("            if k not in out:")
        lines.append("                out[k] = member")
        lines.append("    return out")
        exec(compile("\n".join(lines), f"<cshyperv encoder for {cls.__qualname__}>", "exec"), namespace)
        encoder: Encoder = namespace["encode_object"]
        return encoder


def _emit_complex(
    out: dict[str, Any], present: frozenset[str] | None, spec: FieldSpec, encode: Encoder, value: Any
) -> None:
    """Write a member that has other names (aliases read from other versions, compat names)."""
    key = spec.key
    if present is None:
        # Built in Python: the current name, plus the names older management servers still read.
        keys: tuple[str, ...] = (key, *spec.compat)
    else:
        # Decoded: the names that came in; an absent member only if it changed since.
        keys = tuple(k for k in (key, *spec.aliases, *spec.compat) if k in present)
        if not keys:
            if value == spec.default:
                return
            keys = (key,)
    encoded = encode(value)
    is_list = spec.info.kind == "list"
    for out_key in keys:
        if is_list and out_key in spec.aliases and out_key not in spec.compat:
            # The older single-value form of a list member (secondaryStorage).
            if type(encoded) is list and len(encoded) == 1:
                out[out_key] = encoded[0]
            else:
                out[key] = encoded  # no longer fits the old shape: use the current one
        else:
            out[out_key] = encoded


def _instance_builder(cls: type) -> Callable[[dict[str, Any]], Any]:
    """Make instances of an attrs model class from decoded attributes, the fast way when allowed.

    Model classes are frozen dict classes without validators or converters, so filling
    ``__dict__`` (defaults, then decoded values) is what ``__init__`` would do, minus the cost of
    one frozen ``__setattr__`` per field. Classes with validators, converters or a post-init hook
    (a plug-in's) go through ``__init__``.
    """
    fields = attrs.fields(cls)
    slotted = "__dict__" not in dir(cls) or getattr(cls, "__slots__", None) is not None
    if (
        slotted
        or hasattr(cls, "__attrs_post_init__")
        or any(f.validator is not None or f.converter is not None for f in fields)
    ):
        return lambda kwargs: cls(**kwargs)
    static: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    for f in fields:
        default: Any = f.default
        factory = getattr(default, "factory", None)
        if factory is not None and getattr(default, "takes_self", False) is False:
            factories.append((f.name, factory))
        elif default is attrs.NOTHING:
            return lambda kwargs: cls(**kwargs)
        else:
            static[f.name] = default
    new = object.__new__

    def build(kwargs: dict[str, Any]) -> Any:
        obj: Any = new(cls)
        slots = obj.__dict__
        slots.update(static)
        for name, factory in factories:
            if name not in kwargs:
                slots[name] = factory()
        slots.update(kwargs)
        return obj

    return build
