"""Stat, listing, directories, rename, remove and free space on one share through libsmbclient.

So that a process which only streams a file (``cshyperv storage cp``) needs no second SMB
client: without this, every copy imported smbprotocol (about 0.2 s) and set up a session of its
own in pure Python for a stat, a listing and a rename. One context (one connection and session)
is kept per adaptor for these calls; the data streams keep taking fresh contexts of their own
(see :class:`cshyperv.storage._libsmbclient.SmbcFiles`).

Like the adaptor's smbprotocol path, the session is set up before the first request and, when
the server drops the connection during that set-up, set up once more; a request itself is never
sent twice. Errors are the :class:`OSError` subclass the errno names, or
:class:`~cshyperv.errors.StorageConnectionError`, with the UNC location and never a password.
"""

from __future__ import annotations

import errno
import logging
import stat as statmod
import threading
from collections.abc import Callable
from typing import TypeVar

from cshyperv.storage import _smbc_core as core
from cshyperv.storage._libsmbclient import SmbcFiles, os_error

__all__ = ["SmbcControl"]

_log = logging.getLogger("cshyperv.storage")

T = TypeVar("T")

# The server closed or reset the connection (not: refused it or timed out). libsmbclient says
# ENETRESET (NT_STATUS_CONNECTION_RESET) for a connection closed under it, at times ECONNABORTED.
_LOST = frozenset({errno.ENETRESET, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ENOTCONN})


class SmbcControl:
    """The control operations of one adaptor, over one kept libsmbclient context. Thread-safe:
    one call at a time (libsmbclient takes one at a time per process anyway)."""

    def __init__(self, files: SmbcFiles, layout: core.Layout) -> None:
        self._files = files
        self._layout = layout
        self._context: core.Context | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SmbcControl({self._files!r})"

    def _call(self, parts: list[str], shown: str, action: str, call: Callable[[core.Context, bytes], T]) -> T:
        with self._lock:
            context = self._ready(shown)
            try:
                return call(context, self._files.url(parts))
            except OSError as exc:
                code = exc.errno or errno.EIO
                if code in _LOST:
                    self._drop()
                raise os_error(code, shown, action) from None

    def _ready(self, shown: str) -> core.Context:
        if self._context is not None:
            return self._context
        for attempt in (1, 2):
            context = self._files.new_context()
            try:
                # A stat of the share's root: connection and session, nothing changed.
                context.stat(self._files.url([]), self._layout)
            except OSError as exc:
                context.free()
                code = exc.errno or errno.EIO
                if code in _LOST and attempt == 1:
                    _log.debug("SMB connection to %s dropped while being set up; once more", shown)
                    continue
                raise os_error(code, shown, "connect") from None
            self._context = context
            return context
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _drop(self) -> None:
        if self._context is not None:
            self._context.free()
            self._context = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- operations; ``parts`` are the path's components below the share ---------------------

    def connect(self, shown: str) -> None:
        with self._lock:
            self._ready(shown)

    def stat(self, parts: list[str], shown: str) -> tuple[int, bool, float]:
        """``(size, is_dir, mtime)``."""
        mode, size, mtime = self._call(parts, shown, "stat", lambda c, url: c.stat(url, self._layout))
        return size, statmod.S_ISDIR(mode), mtime

    def entries(self, parts: list[str], shown: str) -> list[tuple[str, bool]]:
        """``(name, is_dir)`` of the directory's files and directories, sorted by name."""
        found = self._call(parts, shown, "list", lambda c, url: c.entries(url))
        kinds = (core.SMBC_DIR, core.SMBC_FILE)
        return sorted((name, kind == core.SMBC_DIR) for name, kind in found if kind in kinds)

    def mkdir(self, parts: list[str], shown: str) -> None:
        self._call(parts, shown, "mkdir", lambda c, url: c.mkdir(url))

    def rmdir(self, parts: list[str], shown: str) -> None:
        self._call(parts, shown, "rmdir", lambda c, url: c.rmdir(url))

    def unlink(self, parts: list[str], shown: str) -> None:
        self._call(parts, shown, "remove", lambda c, url: c.unlink(url))

    def rename(self, source: list[str], target: list[str], shown: str) -> None:
        """Rename to a ``target`` that does not exist (see :meth:`core.Context.rename`)."""
        target_url = self._files.url(target)
        self._call(source, shown, "rename", lambda c, url: c.rename(url, target_url))

    def disk_usage(self, parts: list[str], shown: str) -> tuple[int, int]:
        """``(total bytes, bytes available to this user)``."""
        sector, sectors, blocks, available = self._call(parts, shown, "statvfs", lambda c, url: c.statvfs(url))
        unit = sector * sectors
        return blocks * unit, available * unit
