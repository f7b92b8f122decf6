"""Deadlines that travel with the call, not with the arguments.

CloudStack gives many commands a ``wait`` (seconds). The dispatcher opens a :func:`deadline_scope`
for it; anything below (a plug-in, a WinRM receive loop, a storage copy) asks :func:`remaining`
and stops in time with :class:`~cshyperv.errors.OperationTimeoutError`. Scopes nest: an inner
scope never extends an outer one. Based on :mod:`contextvars`, so each thread and task has its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

from cshyperv.errors import OperationTimeoutError

__all__ = ["check", "current_deadline", "deadline_scope", "remaining"]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("cshyperv_deadline", default=None)


def current_deadline() -> float | None:
    """The active deadline as a :func:`time.monotonic` value, or None."""
    return _DEADLINE.get()


def remaining(default: float | None = None) -> float | None:
    """Seconds left before the deadline (never negative); ``default`` when there is none."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return default
    return max(0.0, deadline - time.monotonic())


def check(what: str = "operation") -> None:
    """Raise :class:`OperationTimeoutError` if the deadline has passed."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() >= deadline:
        raise OperationTimeoutError(f"{what} did not finish before its deadline")


@contextlib.contextmanager
def deadline_scope(seconds: float | None) -> Iterator[float | None]:
    """Run the block under a deadline ``seconds`` from now (None or <= 0: no new limit)."""
    outer = _DEADLINE.get()
    if seconds is None or seconds <= 0:
        yield outer
        return
    deadline = time.monotonic() + seconds
    if outer is not None:
        deadline = min(deadline, outer)
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)
