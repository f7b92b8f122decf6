"""Per-VM locks: operations on one VM run one at a time within this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["VmLocks"]


class VmLocks:
    """One re-entrant lock per VM name (re-entrant: deploy holds it while it starts the VM)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = threading.RLock()
        with lock:
            yield
