"""Byte-level entry points: CloudStack JSON in, model objects out, and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar

from cshyperv.errors import UnknownTypeError, WireError, WireTypeError
from cshyperv.wire import _json
from cshyperv.wire._codec import Converter, json_type_name
from cshyperv.wire._limits import DEFAULT_LIMITS, DecodeLimits, check_document
from cshyperv.wire._model import Answer, Command, WireObject
from cshyperv.wire._registry import Registry, builtin_registry

__all__ = [
    "Codec",
    "HOST_VM_STATE_REPORT_FQCN",
    "STARTUP_FQCN",
    "decode",
    "decode_answers",
    "decode_command",
    "decode_commands",
    "decode_vm_states",
    "default_codec",
    "encode",
    "encode_answers",
    "encode_commands",
    "encode_vm_states",
    "parse_json",
]

STARTUP_FQCN: Final = "com.cloud.agent.api.StartupCommand"
"""The action name Java posts StartupCommand under, whatever the array holds."""
HOST_VM_STATE_REPORT_FQCN: Final = "org.apache.cloudstack.HostVmStateReportCommand"
"""The pseudo-command (no Java class) whose reply is a plain ``[{"vm": "PowerOn"}]`` array."""

W = TypeVar("W", bound=WireObject)
Data = bytes | bytearray | memoryview | str


def parse_json(data: Data | Any) -> Any:
    """Parse bytes or text; an already parsed value (dict, list) is returned as it is."""
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        return _json.loads(data)
    return data


class Codec:
    """Decode and encode CloudStack agent JSON for one :class:`Registry`.

    ``validate=True`` checks every decoded document against the generated JSON Schema first
    (:class:`~cshyperv.errors.SchemaValidationError` lists the failing paths). ``use_orjson``
    picks the JSON backend (default: orjson when installed). ``limits`` is the budget of one
    decoded document (:class:`DecodeLimits`; beyond it, :class:`~cshyperv.errors.LimitExceededError`
    before anything is built). Instances are thread-safe.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        validate: bool = False,
        use_orjson: bool | None = None,
        limits: DecodeLimits = DEFAULT_LIMITS,
    ) -> None:
        self.registry = registry if registry is not None else builtin_registry()
        self.limits = limits
        self.converter = Converter(self.registry, limits=limits)
        self.validate = validate
        self.use_orjson = _json.HAVE_ORJSON if use_orjson is None else use_orjson
        self._validator: Any = None

    # -- helpers -----------------------------------------------------------------------------

    def _loads(self, data: Data | Any) -> Any:
        if isinstance(data, (bytes, bytearray, memoryview, str)):
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            check_document(data, self.limits)  # before the parser builds anything
            return _json.loads(data, use_orjson=self.use_orjson)
        return data

    def _dumps(self, value: Any) -> bytes:
        return _json.dumps(value, use_orjson=self.use_orjson)

    def _check(self, cls: type[WireObject], document: Any) -> None:
        if not self.validate:
            return
        if self._validator is None:
            from cshyperv.wire.schema import SchemaValidator

            self._validator = SchemaValidator(self.registry)
        self._validator.validate(cls, document)

    def _class(self, fqcn: str, base: type[WireObject]) -> type[WireObject]:
        cls = self.registry.lookup(fqcn)
        if not issubclass(cls, base):
            raise WireTypeError(f"{fqcn} is not a {base.__name__}")
        return cls

    # -- decoding ----------------------------------------------------------------------------

    def decode(self, type_: str | type[W], data: Data | Any) -> Any:
        """Decode a bare JSON object as the class named by FQCN (or given directly)."""
        cls = self.registry.lookup(type_) if isinstance(type_, str) else type_
        document = self._loads(data)
        self._check(cls, document)
        return self.converter.structure(cls, document)

    def decode_command(self, fqcn: str, data: Data | Any) -> Command:
        """Decode a bare command body as posted to ``/api/HypervResource/<fqcn>``."""
        cls = self._class(fqcn, Command)
        document = self._loads(data)
        self._check(cls, document)
        result = self.converter.structure(cls, document)
        assert isinstance(result, Command)
        return result

    def _decode_wrapped_array(self, data: Data | Any, base: type[WireObject]) -> list[Any]:
        document = self._loads(data)
        if type(document) is not list:
            raise WireTypeError(f"expected an array, got {json_type_name(document)}")
        out = []
        for index, element in enumerate(document):
            try:
                if type(element) is not dict or len(element) != 1:
                    raise WireTypeError("expected an object with one member named after a Java class")
                ((fqcn, body),) = element.items()
                try:
                    cls = self._class(fqcn, base)
                except UnknownTypeError as exc:
                    raise exc.at(fqcn) from None
                try:
                    self._check(cls, body)
                    out.append(self.converter.structure(cls, body))
                except WireError as exc:
                    raise exc.at(fqcn) from None
            except WireError as exc:
                raise exc.at(index) from None
        return out

    def decode_wrapped(self, data: Data | Any) -> list[WireObject]:
        """Decode any wrapped ``[{"<FQCN>": {...}}, ...]`` array of registered classes."""
        return self._decode_wrapped_array(data, WireObject)

    def decode_commands(self, data: Data | Any) -> list[Command]:
        """Decode a wrapped ``[{"<FQCN>": {...}}, ...]`` command array (StartupCommand's form)."""
        return self._decode_wrapped_array(data, Command)

    def decode_answers(self, data: Data | Any) -> list[Answer]:
        """Decode the wrapped answer array an agent returns: ``[{"<Answer FQCN>": {...}}]``."""
        return self._decode_wrapped_array(data, Answer)

    def decode_vm_states(self, data: Data | Any) -> dict[str, Any]:
        """Decode the HostVmStateReport reply ``[{"i-2-17-VM": "PowerOn"}, ...]`` to a dict."""
        from cshyperv.commands.enums import PowerState

        document = self._loads(data)
        if type(document) is not list:
            raise WireTypeError(f"expected an array, got {json_type_name(document)}")
        states: dict[str, Any] = {}
        for index, element in enumerate(document):
            if type(element) is not dict:
                raise WireTypeError(f"expected an object, got {json_type_name(element)}").at(index)
            for name, state in element.items():
                if type(state) is not str:
                    raise WireTypeError(f"expected a string, got {json_type_name(state)}").at(name).at(index)
                states[name] = PowerState(state)
        return states

    # -- encoding ----------------------------------------------------------------------------

    def to_json_value(self, obj: WireObject) -> dict[str, Any]:
        """The bare JSON object of ``obj`` as Python values (dicts, lists, str, numbers)."""
        return self.converter.unstructure(obj)

    def encode(self, obj: WireObject) -> bytes:
        """The bare JSON body of ``obj``, as Java posts a command."""
        return self._dumps(self.converter.unstructure(obj))

    def encode_wrapped(self, objects: Iterable[WireObject]) -> bytes:
        return self._dumps([self.converter.unstructure_wrapped(o) for o in objects])

    def encode_commands(self, commands: Iterable[Command]) -> bytes:
        """A wrapped command array ``[{"<FQCN>": {...}}, ...]`` (StartupCommand in and out)."""
        return self.encode_wrapped(commands)

    def encode_answers(self, answers: Iterable[Answer]) -> bytes:
        """The wrapped answer array an agent returns: ``[{"<Answer FQCN>": {...}}]``."""
        return self.encode_wrapped(answers)

    def encode_vm_states(self, states: Mapping[str, Any]) -> bytes:
        """The HostVmStateReport reply: one single-member object per VM, in the given order."""
        return self._dumps([{name: str(state)} for name, state in states.items()])


_DEFAULT: list[Codec] = []


def default_codec() -> Codec:
    """The codec over the built-in registry used by the module-level functions.

    It holds only compiled conversion tables (no sessions or connections); build your own
    :class:`Codec` to add classes or turn validation on.
    """
    if not _DEFAULT:
        _DEFAULT.append(Codec())
    return _DEFAULT[0]


def decode(type_: str | type[W], data: Data | Any) -> Any:
    """Decode a bare JSON object as the class named by ``type_`` (see :meth:`Codec.decode`)."""
    return default_codec().decode(type_, data)


def decode_command(fqcn: str, data: Data | Any) -> Command:
    """Decode a bare command body (see :meth:`Codec.decode_command`)."""
    return default_codec().decode_command(fqcn, data)


def decode_commands(data: Data | Any) -> list[Command]:
    """Decode a wrapped command array (see :meth:`Codec.decode_commands`)."""
    return default_codec().decode_commands(data)


def decode_answers(data: Data | Any) -> list[Answer]:
    """Decode a wrapped answer array (see :meth:`Codec.decode_answers`)."""
    return default_codec().decode_answers(data)


def decode_vm_states(data: Data | Any) -> dict[str, Any]:
    """Decode a HostVmStateReport reply (see :meth:`Codec.decode_vm_states`)."""
    return default_codec().decode_vm_states(data)


def encode(obj: WireObject) -> bytes:
    """Encode ``obj`` as a bare JSON body (see :meth:`Codec.encode`)."""
    return default_codec().encode(obj)


def encode_commands(commands: Iterable[Command]) -> bytes:
    """Encode a wrapped command array (see :meth:`Codec.encode_commands`)."""
    return default_codec().encode_commands(commands)


def encode_answers(answers: Iterable[Answer]) -> bytes:
    """Encode a wrapped answer array (see :meth:`Codec.encode_answers`)."""
    return default_codec().encode_answers(answers)


def encode_vm_states(states: Mapping[str, Any]) -> bytes:
    """Encode a HostVmStateReport reply (see :meth:`Codec.encode_vm_states`)."""
    return default_codec().encode_vm_states(states)
