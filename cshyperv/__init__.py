"""cshyperv: run Apache CloudStack on Microsoft Hyper-V hosts, agentlessly.

The public API is re-exported here; the subpackages hold the rest:
``cshyperv.commands`` (the typed model), ``cshyperv.wire`` (the codec, registry and schemas),
``cshyperv.errors`` (every exception), ``cshyperv.testing`` (test doubles and strategies).
"""

from importlib import metadata as _metadata

import cshyperv.commands  # noqa: F401 - the model registers itself with the wire engine
from cshyperv.errors import CSHyperVError, WireError
from cshyperv.wire import (
    Codec,
    Registry,
    decode_answers,
    decode_command,
    decode_commands,
    encode,
    encode_answers,
    encode_commands,
)

try:
    __version__ = _metadata.version("cshyperv")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "CSHyperVError",
    "Codec",
    "Registry",
    "WireError",
    "__version__",
    "decode_answers",
    "decode_command",
    "decode_commands",
    "encode",
    "encode_answers",
    "encode_commands",
]
