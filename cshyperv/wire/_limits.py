"""Budgets for one decoded document: what a request may cost in memory and CPU.

A 16 MiB body of ``{},`` is five million objects: parsed, then built into model objects, it would
take gigabytes (a StartCommand of 3.9 MB with a million empty ``nics`` once took 836 MB). The
budgets are checked in two places, both before anything is built from the document:

* on the text, before it is parsed, with counts the C string methods make cheaply: objects and
  arrays (``{`` and ``[``), values (``,``), the longest string and the nesting depth;
* while structuring, per array, map and object, where the error can name its JSON path
  (``$.vm.nics``).

Exceeding one raises :class:`~cshyperv.errors.LimitExceededError` (a ``WireError``), which the
agent turns into a failed Answer like any other bad document.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from cshyperv.errors import LimitExceededError

__all__ = ["DEFAULT_LIMITS", "DecodeLimits", "check_document"]


@attrs.frozen(kw_only=True)
class DecodeLimits:
    """The budget of one document. The defaults hold every real CloudStack command with a wide
    margin (a StartCommand has about 20 objects and arrays; a security group command with 2,000
    rules about 4,000) while bounding a hostile one to tens of megabytes."""

    max_depth: int = 64
    """Nesting of objects and arrays (Gson's own documents stay under 12)."""
    max_containers: int = 20_000
    """Objects and arrays in the whole document."""
    max_values: int = 200_000
    """Values in the whole document (counted as commas: an upper bound)."""
    max_string_chars: int = 8 * 1024 * 1024
    """The longest string (a config drive's base64 ISO is the longest CloudStack sends)."""
    max_array_items: int = 10_000
    """Elements of one array: NICs, disks, rules, VM names..."""
    max_members: int = 10_000
    """Members of one object or entries of one map (``details``), unknown members included."""


DEFAULT_LIMITS: Final = DecodeLimits()

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_document(data: bytes | str, limits: DecodeLimits) -> None:
    """Raise :class:`LimitExceededError` (path ``$``) if ``data`` cannot fit ``limits``.

    Linear in the size of ``data``; the common small document costs a few C-level scans.
    """
    if isinstance(data, bytes):
        containers = data.count(b"{") + data.count(b"[")
        values = data.count(b",")
    else:
        containers = data.count("{") + data.count("[")
        values = data.count(",")
    if containers > limits.max_containers:
        raise LimitExceededError(f"more than {limits.max_containers} objects and arrays in the document")
    if values >= limits.max_values:
        raise LimitExceededError(f"more than {limits.max_values} values in the document")
    if len(data) > limits.max_string_chars:
        # Pieces between quotes bound every string's length (escaped quotes only split more).
        pieces = data.split(b'"') if isinstance(data, bytes) else data.split('"')
        if max(map(len, pieces)) > limits.max_string_chars:
            raise LimitExceededError(f"a string longer than {limits.max_string_chars} characters")
    if containers > limits.max_depth:
        _check_depth(data, limits.max_depth)


def _check_depth(data: bytes | str, max_depth: int) -> None:
    # Read as ISO-8859-1, bytes map one to one to characters: the ASCII quotes, backslashes and
    # brackets are where they were, and no byte of a UTF-8 sequence looks like one of them.
    text = data.decode("iso-8859-1") if isinstance(data, bytes) else data
    depth = 0
    for match in _TOKENS.finditer(text):  # strings are matched whole: their brackets are text
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > max_depth:
                raise LimitExceededError(f"nested too deeply (more than {max_depth} levels)")
        elif char in "]}":
            depth -= 1
