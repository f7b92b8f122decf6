"""cshyperv: run Apache CloudStack on Microsoft Hyper-V hosts, agentlessly.

The public API is re-exported here; the subpackages hold the rest:
``cshyperv.commands`` (the typed model), ``cshyperv.wire`` (the codec, registry and schemas),
``cshyperv.errors`` (every exception), ``cshyperv.testing`` (test doubles and strategies).

The names below are imported when first used, not with the package: the model alone takes about
0.4 s to import, which a short command (``cshyperv storage cp``, a worker process) should not pay
when it never decodes a command. The wire engine imports :data:`MODEL_PACKAGE` the first time it
builds a registry, so a codec always knows the whole model however it was reached.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

MODEL_PACKAGE = "cshyperv.commands"
"""The package whose import registers CloudStack's model with the wire engine."""

_FROM = {
    "CSHyperVError": "cshyperv.errors",
    "WireError": "cshyperv.errors",
    "Codec": "cshyperv.wire",
    "Registry": "cshyperv.wire",
    "decode_answers": "cshyperv.wire",
    "decode_command": "cshyperv.wire",
    "decode_commands": "cshyperv.wire",
    "encode": "cshyperv.wire",
    "encode_answers": "cshyperv.wire",
    "encode_commands": "cshyperv.wire",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib import metadata

        try:
            value: Any = metadata.version("cshyperv")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
    elif name in _FROM:
        importlib.import_module(MODEL_PACKAGE)
        value = getattr(importlib.import_module(_FROM[name]), name)
    else:
        raise AttributeError(f"module 'cshyperv' has no attribute {name!r}")
    globals()[name] = value
    return value


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
