"""Copying between storage adaptors: streamed, atomic under the final name, with progress.

Every copy writes ``<target>.<random>.partial`` first and renames it at the end, so a reader
never sees a partial file under the final name — not after an error, not after the process or
the server was killed. Leftover ``.partial`` files of an interrupted copy are removed by the next
copy to the same target (:func:`remove_stale_partials`).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from cshyperv import deadline
from cshyperv.storage._adaptor import LocalStorageAdaptor, PreparesReplace, StorageAdaptor, SupportsServerSideCopy

__all__ = [
    "CHUNK_SIZE",
    "Progress",
    "Reader",
    "Route",
    "copy_file",
    "copy_stream",
    "partial_name",
    "remove_stale_partials",
]

CHUNK_SIZE = 8 * 1024 * 1024
"""Bytes per read/write: SMB3 servers negotiate 8 MiB writes; NFS clients split further."""

Progress = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes_or_None)``, called after every chunk and once at the end."""

Route = Callable[[str], None]
"""``on_route(text)``, called once per copy with how the bytes move: ``"server-side"``, or
``"streamed: read via <library>, written via <library>"`` (``libsmbclient``, ``smbprotocol``,
``local file``, ...)."""

STALE_AFTER_S = 600.0
"""A ``.partial`` file untouched this long belongs to a copy that died."""


class Reader(Protocol):
    """Anything with ``read(size) -> bytes`` (files, HTTP responses, decompressors)."""

    def read(self, size: int = -1, /) -> bytes: ...


_PARTIAL = re.compile(r"\.[0-9a-f]{8}\.partial$")


def partial_name(target: str) -> str:
    """The temporary name a copy to ``target`` writes first."""
    return f"{target}.{uuid.uuid4().hex[:8]}.partial"


def remove_stale_partials(adaptor: StorageAdaptor, target: str, *, older_than: float = STALE_AFTER_S) -> int:
    """Remove ``<target>.<hex>.partial`` files not written to for ``older_than`` seconds (left by
    interrupted copies; a copy in progress keeps its file fresh). Returns how many went."""
    return _clear_partials(adaptor, target, older_than)[0]


def _clear_partials(adaptor: StorageAdaptor, target: str, older_than: float) -> tuple[int, bool]:
    """:func:`remove_stale_partials`, and whether ``target`` itself was in the listing it read."""
    folder, name = posixpath.split(target)
    try:
        names = adaptor.listdir(folder)
    except FileNotFoundError:
        return 0, False
    removed = 0
    now = time.time()
    for entry in names:
        if not (entry.startswith(name + ".") and _PARTIAL.search(entry) and len(entry) == len(name) + 17):
            continue
        path = posixpath.join(folder, entry) if folder else entry
        try:
            if now - adaptor.stat(path).mtime < older_than:
                continue
            adaptor.remove(path)
        except FileNotFoundError:
            continue
        removed += 1
    return removed, name in names


def copy_stream(
    reader: Reader,
    dst: StorageAdaptor,
    dst_path: str,
    *,
    total: int | None = None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_route: Route | None = None,
) -> int:
    """Write everything ``reader`` yields to ``dst_path`` atomically; returns the byte count.
    ``on_route`` hears ``"streamed: read via <reader's library>, written via <writer's>"``."""
    parent = posixpath.dirname(dst_path)
    if parent:
        dst.mkdir(parent)
    _, replacing = _clear_partials(dst, dst_path, STALE_AFTER_S)
    partial = partial_name(dst_path)
    if replacing and isinstance(dst, PreparesReplace):
        dst.prepare_replace(dst_path)  # while the bytes flow, not after them
    done = 0
    try:
        with dst.open_write(partial) as writer:
            if on_route is not None:
                on_route(f"streamed: read via {transport(reader)}, written via {transport(writer, dst)}")
            while chunk := reader.read(chunk_size):
                deadline.check("copy")
                writer.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        dst.rename(partial, dst_path)
    except BaseException:
        _discard(dst, partial)
        raise
    if progress is not None:
        progress(done, total if total is not None else done)
    return done


def copy_file(
    src: StorageAdaptor,
    src_path: str,
    dst: StorageAdaptor,
    dst_path: str,
    *,
    progress: Progress | None = None,
    server_side: bool = True,
    chunk_size: int = CHUNK_SIZE,
    on_route: Route | None = None,
) -> int:
    """Copy ``src_path`` of ``src`` to ``dst_path`` of ``dst``; returns the size copied.

    Within one server (same adaptor, or :class:`SupportsServerSideCopy` adaptors that agree) the
    server copies the bytes itself; otherwise they stream through this process in ``chunk_size``
    pieces. Honours the caller's deadline between chunks. ``on_route`` (see :data:`Route`) hears
    which way the bytes went.
    """
    total = src.stat(src_path).size
    if server_side:
        parent = posixpath.dirname(dst_path)
        if parent:
            dst.mkdir(parent)
        remove_stale_partials(dst, dst_path)
        partial = partial_name(dst_path)
        copied = False
        try:
            if src is dst:
                dst.copy(src_path, partial)
                copied = True
            elif isinstance(dst, SupportsServerSideCopy):
                copied = dst.copy_from(src, src_path, partial)
            if copied:
                dst.rename(partial, dst_path)
        except BaseException:
            _discard(dst, partial)
            raise
        if copied:
            if on_route is not None:
                on_route("server-side (the bytes never left the server)")
            if progress is not None:
                progress(total, total)
            return total
    with src.open_read(src_path) as reader:
        named = _Named(reader, transport(reader, src))
        return copy_stream(
            named, dst, dst_path, total=total, progress=progress, chunk_size=chunk_size, on_route=on_route
        )


def transport(stream: object, adaptor: object = None) -> str:
    """The library a stream's bytes go through, for ``on_route`` and ``cshyperv storage cp -v``."""
    named = getattr(stream, "transport", None)
    if isinstance(named, str):
        return named
    if isinstance(adaptor, LocalStorageAdaptor) or hasattr(stream, "fileno"):
        return "local file"
    return type(adaptor if adaptor is not None else stream).__name__


class _Named:
    """A reader that says which library it reads through (``transport``)."""

    def __init__(self, reader: Reader, name: str) -> None:
        self._reader = reader
        self.transport = name

    def read(self, size: int = -1, /) -> bytes:
        return self._reader.read(size)


def _discard(adaptor: StorageAdaptor, path: str) -> None:
    # Best effort: when the server died mid-copy the partial file stays (under its temporary
    # name, never the final one) and the next copy to the same target removes it.
    with contextlib.suppress(Exception):
        adaptor.remove(path)
