"""The wire layer: CloudStack's agent JSON, typed and lossless. No I/O.

Decoding::

    cmd = decode_command("com.cloud.agent.api.StartCommand", body)   # bare body, FQCN from the URL
    cmds = decode_commands(body)                                     # [{"<FQCN>": {...}}, ...]
    answers = decode_answers(body)

Encoding::

    encode(cmd)                  # bare JSON body (bytes)
    encode_answers([answer])     # [{"<Answer FQCN>": {...}}]

Anything CloudStack sends survives ``decode`` -> ``encode``: members this model does not know are
kept (at any depth) and written back; only null members may disappear, as Gson treats null and
absent alike. Bad input raises a :class:`~cshyperv.errors.WireError` whose message names the JSON
path (``$.vm.nics[0].mac``) and never the offending value.

The module-level functions use a codec over the built-in registry; build a :class:`Codec` to
register plug-in classes (:class:`Registry`) or to validate against the JSON Schemas.

Declaring wire classes of your own takes only public names: ``jfield`` and the Java number types
``JByte``/``JInt``/``JLong``/``JDouble`` and ``JsonObject``; ``field_specs`` and ``TypeInfo``
describe a class's members as the codec sees them (for test strategies and tools).
"""

from cshyperv.wire._api import (
    HOST_VM_STATE_REPORT_FQCN,
    STARTUP_FQCN,
    Codec,
    decode,
    decode_answers,
    decode_command,
    decode_commands,
    decode_vm_states,
    default_codec,
    encode,
    encode_answers,
    encode_commands,
    encode_vm_states,
    parse_json,
)
from cshyperv.wire._codec import FieldSpec, TypeInfo, field_specs
from cshyperv.wire._json import HAVE_ORJSON
from cshyperv.wire._limits import DEFAULT_LIMITS, DecodeLimits
from cshyperv.wire._model import (
    Answer,
    Command,
    DataStoreTO,
    DataTO,
    JavaEnum,
    JByte,
    JDouble,
    JInt,
    JLong,
    JsonObject,
    OpaqueTO,
    WireObject,
    jfield,
    wire_key,
)
from cshyperv.wire._redaction import redact_secrets
from cshyperv.wire._registry import Registry, builtin_registry, register_model

__all__ = [
    "Answer",
    "Codec",
    "Command",
    "DEFAULT_LIMITS",
    "DataStoreTO",
    "DataTO",
    "DecodeLimits",
    "FieldSpec",
    "HAVE_ORJSON",
    "HOST_VM_STATE_REPORT_FQCN",
    "JByte",
    "JDouble",
    "JInt",
    "JLong",
    "JavaEnum",
    "JsonObject",
    "OpaqueTO",
    "Registry",
    "STARTUP_FQCN",
    "TypeInfo",
    "WireObject",
    "builtin_registry",
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
    "field_specs",
    "jfield",
    "parse_json",
    "redact_secrets",
    "register_model",
    "wire_key",
]
