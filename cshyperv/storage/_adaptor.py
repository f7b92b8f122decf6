"""The StorageAdaptor protocol and the local-directory implementation.

A storage adaptor is rooted at one place (an SMB share, an NFS export, a local directory) and takes
``/``-separated paths relative to it. Errors are :class:`OSError` subclasses carrying an errno, so
``except FileNotFoundError`` works whatever the backend.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat as statmod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import attrs

__all__ = [
    "DiskUsage",
    "FileStat",
    "LocalStorageAdaptor",
    "MappedStream",
    "PreparesReplace",
    "StatExists",
    "StorageAdaptor",
    "SupportsServerSideCopy",
    "clean_parts",
]


@attrs.frozen
class FileStat:
    size: int
    is_dir: bool
    mtime: float


@attrs.frozen
class DiskUsage:
    total_bytes: int
    free_bytes: int

    @property
    def used_bytes(self) -> int:
        return self.total_bytes - self.free_bytes


@runtime_checkable
class StorageAdaptor(Protocol):
    """File operations relative to one storage root. Thread-safe; no mount needed."""

    def stat(self, path: str) -> FileStat: ...

    def exists(self, path: str) -> bool: ...

    def listdir(self, path: str = "") -> list[str]: ...

    def open_read(self, path: str) -> BinaryIO: ...

    def open_write(self, path: str) -> BinaryIO:
        """Create or truncate; the parent directory must exist."""

    def mkdir(self, path: str, *, parents: bool = True) -> None:
        """Create a directory (and its parents); existing is fine."""

    def rename(self, source: str, target: str) -> None:
        """Rename, replacing ``target`` if it exists (atomic where the backend allows)."""

    def remove(self, path: str) -> None:
        """Remove a file, or a directory tree. Absent is fine."""

    def copy(self, source: str, target: str) -> None:
        """Copy a file within this store (server-side where the backend can)."""

    def disk_usage(self, path: str = "") -> DiskUsage: ...

    def walk(self, path: str = "") -> Iterator[str]:
        """Every file below ``path`` (relative paths), depth first."""

    def close(self) -> None:
        """Release connections; the adaptor reconnects if used again."""


@runtime_checkable
class SupportsServerSideCopy(Protocol):
    def copy_from(self, other: object, source: str, target: str) -> bool:
        """Copy ``source`` of adaptor ``other`` to ``target`` here without moving the bytes
        through this process; False when it cannot (another server, other credentials)."""


@runtime_checkable
class PreparesReplace(Protocol):
    def prepare_replace(self, target: str) -> None:
        """Told, before a streamed copy's bytes flow, that ``target`` exists (the copy's listing
        of its folder showed it) and will be replaced by a rename once they are written: an
        adaptor whose replacing rename needs set-up of its own may start it now, in the
        background, so that it is ready when the copy ends. Never raises: a failure of that
        set-up is the rename's to report."""


class StatExists:
    """``exists`` for adaptors whose backend only answers "not found" to a stat."""

    def stat(self, path: str) -> FileStat:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except FileNotFoundError:
            return False
        return True


class MappedStream:
    """A backend's file object whose errors pass through ``mapper``, the adaptor's one translation
    of foreign errors (a connection can die in the middle of a read or write)."""

    def __init__(self, handle: Any, mapper: Callable[[BaseException], BaseException]) -> None:
        self._handle = handle
        self._mapper = mapper

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._handle.read(size)
        except Exception as exc:
            raise self._mapper(exc) from None
        return data

    def write(self, data: bytes) -> int:
        try:
            written: int = self._handle.write(data)
        except Exception as exc:
            raise self._mapper(exc) from None
        return written

    def close(self) -> None:
        try:
            self._handle.close()
        except Exception as exc:
            raise self._mapper(exc) from None

    def __enter__(self) -> MappedStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.close()
            return
        # The body already failed (often: the connection is gone); closing must not mask that.
        with contextlib.suppress(Exception):
            getattr(self._handle, "abort", self._handle.close)()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def clean_parts(path: str) -> list[str]:
    """The segments of a ``/``- or ``\\``-separated relative path; ``..`` is refused."""
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    if any(p == ".." for p in parts):
        raise PermissionError(errno.EACCES, "'..' is not allowed in a storage path")
    return parts


class LocalStorageAdaptor:
    """A :class:`StorageAdaptor` over a local directory (the simulator's shares, tests, caches)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStorageAdaptor({str(self.root)!r})"

    def close(self) -> None:
        """Nothing to release."""

    def local_path(self, path: str) -> Path:
        return self.root.joinpath(*clean_parts(path))

    def stat(self, path: str) -> FileStat:
        st = self.local_path(path).stat()
        return FileStat(size=st.st_size, is_dir=statmod.S_ISDIR(st.st_mode), mtime=st.st_mtime)

    def exists(self, path: str) -> bool:
        return self.local_path(path).exists()

    def listdir(self, path: str = "") -> list[str]:
        return sorted(os.listdir(self.local_path(path)))

    def open_read(self, path: str) -> BinaryIO:
        return self.local_path(path).open("rb")

    def open_write(self, path: str) -> BinaryIO:
        return self.local_path(path).open("wb")

    def mkdir(self, path: str, *, parents: bool = True) -> None:
        self.local_path(path).mkdir(parents=parents, exist_ok=True)

    def rename(self, source: str, target: str) -> None:
        os.replace(self.local_path(source), self.local_path(target))

    def remove(self, path: str) -> None:
        target = self.local_path(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=False)
        else:
            target.unlink(missing_ok=True)

    def copy(self, source: str, target: str) -> None:
        shutil.copyfile(self.local_path(source), self.local_path(target))

    def disk_usage(self, path: str = "") -> DiskUsage:
        usage = shutil.disk_usage(self.local_path(path) if self.local_path(path).exists() else self.root)
        return DiskUsage(total_bytes=usage.total, free_bytes=usage.free)

    def walk(self, path: str = "") -> Iterator[str]:
        base = self.local_path(path)
        for dirpath, _dirnames, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(self.root)
            for name in sorted(filenames):
                yield (rel / name).as_posix()
