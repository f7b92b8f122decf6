"""Bytes <-> parsed JSON, with the failures mapped into cshyperv's error tree.

orjson is used when it is installed (``pip install cshyperv[fast]``); the standard library
otherwise. Both paths accept the same documents and produce the same values: UTF-8 only (a BOM is
tolerated), no NaN/Infinity literals, nesting limited by the parser (about 1,000 levels).
Output is compact UTF-8 JSON; Gson's ``\\u003d``-style escapes are read like any other escape and
never written.
"""

from __future__ import annotations

import json
from typing import Any

from cshyperv.errors import EncodeError, MalformedJSONError

try:  # pragma: no cover - exercised in whichever environment has it
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

__all__ = ["HAVE_ORJSON", "dumps", "loads"]

HAVE_ORJSON = _orjson is not None
_BOM = b"\xef\xbb\xbf"


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def loads(data: bytes | bytearray | memoryview | str, *, use_orjson: bool = HAVE_ORJSON) -> Any:
    """Parse one JSON document. Raises :class:`MalformedJSONError`, never quoting the input."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if isinstance(data, bytes):
        if data.startswith(_BOM):
            data = data[3:]
        if not use_orjson:
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedJSONError(f"not valid UTF-8 (byte offset {exc.start})") from None
    elif isinstance(data, str):
        if data.startswith("\ufeff"):
            data = data[1:]
    else:
        raise MalformedJSONError(f"expected bytes or str, got {type(data).__name__}")
    if use_orjson and _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError as exc:
            raise _orjson_error(exc) from None
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedJSONError("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise MalformedJSONError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError:
        raise MalformedJSONError("invalid JSON: NaN and Infinity are not allowed") from None


def _orjson_error(exc: Exception) -> MalformedJSONError:
    text = str(exc)
    if "recursion" in text.lower() or "depth limit" in text.lower():
        return MalformedJSONError("nested too deeply")
    if "utf-8" in text.lower() or "unicode" in text.lower() or "surrogate" in text.lower():
        return MalformedJSONError("not valid UTF-8")
    pos = getattr(exc, "pos", None)
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    where = f" (line {lineno}, column {colno})" if lineno is not None else (f" (offset {pos})" if pos else "")
    # orjson's message names the problem, not the data; keep only its first clause.
    reason = text.split(":", 1)[0].strip() or "syntax error"
    return MalformedJSONError(f"invalid JSON: {reason}{where}")


def dumps(value: Any, *, use_orjson: bool = HAVE_ORJSON) -> bytes:
    """Serialise compactly as UTF-8. Raises :class:`EncodeError` for values JSON cannot hold."""
    if use_orjson and _orjson is not None:
        try:
            return _orjson.dumps(value)
        except (TypeError, _orjson.JSONEncodeError) as exc:
            raise EncodeError(_encode_reason(exc)) from None
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except RecursionError:
        raise EncodeError("nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise EncodeError(_encode_reason(exc)) from None
    except UnicodeEncodeError:
        raise EncodeError("string holds a lone surrogate, which UTF-8 cannot carry") from None


def _encode_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "surrogate" in text or "utf-8" in text or "str is not valid" in text:
        return "string holds a lone surrogate, which UTF-8 cannot carry"
    if "recursion" in text:
        return "nested too deeply"
    if "nan" in text or "infinity" in text or "out of range float" in text:
        return "NaN and infinities cannot be written"
    if "integer exceeds" in text or ("int" in text and "64" in text):
        return "integer does not fit in 64 bits"
    return "value cannot be written as JSON"
