"""Public test doubles and helpers for people who build on cshyperv.

Needs the ``testing`` extra (``pip install cshyperv[testing]``) for hypothesis.

* :mod:`cshyperv.testing.strategies` — hypothesis strategies for wire objects and for documents
  drawn from the published JSON Schemas.
* :func:`strip_nulls` — the comparison Gson allows: null members are the same as absent ones.
"""

from __future__ import annotations

from typing import Any

__all__ = ["strip_nulls"]


def strip_nulls(value: Any) -> Any:
    """``value`` with every null object member removed, recursively (array elements are kept).

    Gson treats a null member and an absent one alike, so two CloudStack documents are the same
    exactly when their ``strip_nulls`` forms are equal.
    """
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value
