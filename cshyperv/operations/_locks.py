"""Per-VM locks: operations on one VM run one at a time within this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cshyperv.operations import _quick

__all__ = ["VmLocks"]


class VmLocks:
    """One re-entrant lock per VM name (re-entrant: deploy holds it while it starts the VM)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """Hold ``name``'s lock; in a context that must not wait (Operations.without_waiting),
        a lock another thread holds gives up instead of waiting for it."""
        lock = self._locks.get(name)  # locks are never removed: a hit needs no guard
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(name, threading.RLock())
        if _quick.allowed_reads() is None:
            with lock:
                yield
            return
        if not lock.acquire(blocking=False):
            _quick.check_may_wait()
        try:
            yield
        finally:
            lock.release()
