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
from cshyperv.wire._limits import DEFAULT_LIMITS, DecodeLimits
from cshyperv.wire._model import (
    Answer,
    Command,
    DataStoreTO,
    DataTO,
    JavaEnum,
    OpaqueTO,
    WireObject,
    jfield,
    wire_key,
)
from cshyperv.wire._redaction import redact_secrets
from cshyperv.wire._registry import Registry, builtin_registry

__all__ = [
    "Answer",
    "Codec",
    "Command",
    "DEFAULT_LIMITS",
    "DataStoreTO",
    "DataTO",
    "DecodeLimits",
    "HOST_VM_STATE_REPORT_FQCN",
    "JavaEnum",
    "OpaqueTO",
    "Registry",
    "STARTUP_FQCN",
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
    "jfield",
    "parse_json",
    "redact_secrets",
    "wire_key",
]
