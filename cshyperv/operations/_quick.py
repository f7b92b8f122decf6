"""Operations that must not wait: how an event loop may run a short command itself.

A frontend on an event loop (the direct-connect agent) hands each command to a worker thread,
so that a slow one never holds up the others. For the commands a plug-in can answer from local
state (a StartCommand retry for a VM that already runs, on the simulator) that hand-off costs
more than the command. :meth:`Operations.without_waiting` runs a call in a mode where nothing may
wait: a read the plug-in does not declare quick (``quick_reads``), any change, any storage call
and a VM lock held by another thread raise :class:`_WouldWait` *before* anything is done, and the
caller runs the whole call again where waiting is allowed. Since everything before the first
such point is a read or pure translation, running it twice changes nothing.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["allowed_reads", "check_may_wait"]


class _WouldWait(BaseException):
    """The call would have waited; nothing was changed. A BaseException, so that the
    ``except Exception`` of handlers, the dispatcher and the plug-in boundary let it through."""


# The reads allowed in the current context, or None when waiting is allowed (the default).
_ALLOWED: ContextVar[frozenset[str] | None] = ContextVar("cshyperv.operations.quick", default=None)


def allowed_reads() -> frozenset[str] | None:
    """The plug-in reads allowed now, or None when this context may wait."""
    return _ALLOWED.get()


def check_may_wait() -> None:
    """Raise :class:`_WouldWait` when the current context must not wait."""
    if _ALLOWED.get() is not None:
        raise _WouldWait
