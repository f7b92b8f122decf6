"""NFS storage from user space, on nfs-rs (a Rust NFSv3/v4.0/v4.1 client; AUTH_SYS only).

Nothing is mounted. One nfs-rs client per adaptor, connected on first use and reconnected after
it was closed. URL options understood: ``version=4.1`` (or a list ``4.1,4.0,3``; default tries
4.1, then 4.0, then 3), ``uid``/``gid`` (AUTH_SYS identity), ``noresvport`` (``true`` when not
running as root, because only root can bind the privileged source port many exports require),
``mountport`` (NFSv3).

Limits of nfs-rs worth knowing: no NFSv4.2 (so no server-side COPY: copies stream through this
process), no Kerberos, Linux x86_64 only; on NFSv4 the pseudo-root of an export cannot be listed,
so keep data in a directory below it (CloudStack's secondary storage always does: ``template/``,
``volumes/``, ``snapshots/``).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO, TypeVar, cast

from cshyperv.errors import StorageConnectionError, StorageError
from cshyperv.storage._adaptor import DiskUsage, FileStat, MappedStream, StatExists, clean_parts
from cshyperv.storage.urls import StorageURL, StorageURLError

__all__ = ["NfsStorageAdaptor"]

_TRUE = ("1", "true", "yes", "on")
_RETRIES = 3
T = TypeVar("T")
_VERSIONS = ("3", "4.0", "4.1")


def _import_nfs() -> Any:
    try:
        import nfs_rs
    except ImportError:
        raise StorageError(
            "NFS storage needs the nfs-rs package (pip install 'cshyperv[nfs]'; Linux x86_64 only)",
            code=errno.ENOSYS,
        ) from None
    return nfs_rs


class NfsStorageAdaptor(StatExists):
    """A :class:`~cshyperv.storage.StorageAdaptor` rooted at ``nfs://host[:port]/export[/dir]``.

    ``/dir`` is taken from the URL path below the export: with an ``nfs://`` URL the export and the
    directory cannot be told apart, so pass ``export=`` when the export is deeper than one segment
    (``nfs://srv/srv/nfs/secondary`` with ``export="/srv/nfs"``). Thread-safe.
    """

    def __init__(
        self,
        url: StorageURL | str,
        *,
        export: str | None = None,
        versions: tuple[str, ...] | None = None,
        uid: int | None = None,
        gid: int | None = None,
        noresvport: bool | None = None,
        connect_timeout: float = 15.0,
        operation_timeout: float = 120.0,
    ) -> None:
        parsed = StorageURL.parse(url) if isinstance(url, str) else url
        if parsed.scheme != "nfs":
            raise StorageURLError(f"a {parsed.scheme} location is not NFS storage")
        options = {key.lower(): value for key, value in parsed.options}
        self.host = parsed.host
        self.port = parsed.port
        full = [p for p in f"{parsed.share}/{parsed.path}".split("/") if p]
        if export is not None:
            export_parts = [p for p in export.split("/") if p]
            if full[: len(export_parts)] != export_parts:
                raise StorageURLError("the export is not a prefix of the NFS URL's path")
        else:
            export_parts = full[:1]
        self.export = "/" + "/".join(export_parts)
        self._base = full[len(export_parts) :]
        if versions is None and "version" in options:
            versions = tuple(v.strip() for v in options["version"].split(",") if v.strip())
        self._versions = versions or ("4.1", "4.0", "3")
        if any(v not in _VERSIONS for v in self._versions):
            raise StorageURLError("NFS version must be 3, 4.0 or 4.1")
        self._uid = uid if uid is not None else _int_option(options, "uid")
        self._gid = gid if gid is not None else _int_option(options, "gid")
        self._mount_port = _int_option(options, "mountport")
        if noresvport is None:
            noresvport = options["noresvport"].lower() in _TRUE if "noresvport" in options else os.geteuid() != 0
        self._noresvport = noresvport
        self._connect_timeout = connect_timeout
        self._operation_timeout = operation_timeout
        self._client: Any = None
        self._lock = threading.Lock()
        self._nfs = _import_nfs()
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        self.location = f"nfs://{netloc}{self.export}"

    def __repr__(self) -> str:
        return f"NfsStorageAdaptor({self.location!r}, versions={list(self._versions)})"

    # -- plumbing ---------------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return "/".join([*self._base, *clean_parts(path)])

    def _shown(self, path: str) -> str:
        rel = self._path(path)
        return f"{self.location}/{rel}" if rel else self.location

    def connect(self) -> Any:
        """The connected nfs-rs client (connecting now if needed)."""
        with self._lock:
            if self._client is None or self._client.closed:
                with self._errors(""):
                    self._client = self._nfs.Client.connect(
                        f"nfs://{self.host}{self.export}",
                        versions=list(self._versions),
                        uid=self._uid,
                        gid=self._gid,
                        nfs_port=self.port,
                        mount_port=self._mount_port,
                        noresvport=self._noresvport,
                        connect_timeout=self._connect_timeout,
                        operation_timeout=self._operation_timeout,
                    )
            return self._client

    @contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise self._map(exc, self._shown(path)) from None

    def _map(self, exc: BaseException, shown: str) -> BaseException:
        nfs = self._nfs
        if isinstance(exc, StorageError):
            return exc
        message = str(getattr(exc, "message", None) or type(exc).__name__)
        lowered = message.lower()
        if isinstance(exc, (nfs.NfsRpcError, nfs.NfsMountError)) and "no such file" in lowered:
            self._client = None
            return OSError(errno.ENOENT, "NFS export not found on the server", shown)
        connection_lost = isinstance(exc, nfs.NfsRpcError) and any(
            word in lowered for word in ("connection", "broken pipe", "timed out", "unreachable")
        )
        if connection_lost or isinstance(
            exc, (nfs.NfsConnectionError, nfs.NfsMountError, nfs.NfsClientClosedError, ConnectionError)
        ):
            # The client is unusable; the next call reconnects.
            self._client = None
            # nfs-rs lists every version it tried; the first reason is the useful one.
            return StorageConnectionError(
                f"NFS connection failed ({message.split(' - ', maxsplit=1)[0]})", location=shown
            )
        if isinstance(exc, TimeoutError):
            return OSError(errno.ETIMEDOUT, f"NFS operation timed out ({message})", shown)
        if isinstance(exc, nfs.NfsProtocolError) and "bad name" in message and not self._base:
            return StorageError(
                "nfs-rs cannot use the root of an NFSv4 export; name a directory below it",
                code=errno.EINVAL,
                location=shown,
            )
        code = getattr(exc, "errno", None)
        if isinstance(exc, OSError) and code:
            return OSError(code, message, shown)
        code = getattr(exc, "code_name", None)
        return StorageError(f"NFS operation failed ({message}{f'; {code}' if code else ''})", location=shown)

    def _mapper(self, path: str) -> Callable[[BaseException], BaseException]:
        shown = self._shown(path)
        return lambda exc: self._map(exc, shown)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with suppress(Exception):
                client.close()

    # -- the StorageAdaptor protocol ---------------------------------------------------------

    def _do(self, path: str, operation: Callable[[Any], T], *, idempotent: bool = True) -> T:
        """Run ``operation(client)``, retried when nfs-rs says the failure is safe to retry (a
        transient condition, e.g. a server in grace or a session being re-established), and —
        for operations that may safely run twice (open for writing truncates, mkdir and remove
        tolerate what exists or not) — when the outcome is uncertain, after a new session: an
        uncertain reply (e.g. NFS4ERR_RETRY_UNCACHED_REP) leaves the old session's slots in doubt."""
        for attempt in range(_RETRIES + 1):
            client = self.connect()
            try:
                return operation(client)
            except Exception as exc:
                outcome = _outcome(exc)
                retry = outcome == "safe_to_retry" or (outcome == "uncertain" and idempotent)
                if attempt < _RETRIES and retry:
                    if outcome == "uncertain":
                        self.close()
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise self._map(exc, self._shown(path)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def stat(self, path: str) -> FileStat:
        info = self._do(path, lambda c: c.stat(self._path(path) or "."))
        is_dir = str(getattr(info.type, "value", info.type)) == "directory"
        return FileStat(size=int(info.size), is_dir=is_dir, mtime=info.mtime / 1e9)

    def listdir(self, path: str = "") -> list[str]:
        names = self._do(path, lambda c: c.listdir(self._path(path) or "."))
        return sorted(n for n in names if n not in (".", ".."))

    def open_read(self, path: str) -> BinaryIO:
        handle = self._do(path, lambda c: c.open(self._path(path), "rb"))
        return cast(BinaryIO, MappedStream(handle, self._mapper(path)))

    def open_write(self, path: str) -> BinaryIO:
        handle = self._do(path, lambda c: c.open(self._path(path), "wb"))
        return cast(BinaryIO, MappedStream(handle, self._mapper(path)))

    def mkdir(self, path: str, *, parents: bool = True) -> None:
        self._do(path, lambda c: c.mkdir(self._path(path), parents=parents, exist_ok=True))

    def rename(self, source: str, target: str) -> None:
        # NFS RENAME replaces an existing target atomically. A rename whose reply was lost may
        # have happened: then the source is gone and the target is there, and that is success.
        try:
            self._do(source, lambda c: c.rename(self._path(source), self._path(target)), idempotent=False)
        except StorageError:
            if self.exists(source) or not self.exists(target):
                raise

    def remove(self, path: str) -> None:
        try:
            st = self.stat(path)
        except FileNotFoundError:
            return
        if st.is_dir:
            for name in self.listdir(path):
                self.remove(f"{path}/{name}")
            self._do(path, lambda c: c.rmdir(self._path(path)))
        else:
            self._do(path, lambda c: c.remove(self._path(path), missing_ok=True))

    def copy(self, source: str, target: str) -> None:
        # nfs-rs has no NFSv4.2 COPY: the bytes stream through this process.
        with self.open_read(source) as reader, self.open_write(target) as writer:
            while chunk := reader.read(4 * 1024 * 1024):
                writer.write(chunk)

    def disk_usage(self, path: str = "") -> DiskUsage:
        fs = self._do(path, lambda c: c.fs_stat())
        return DiskUsage(total_bytes=int(fs.total_bytes), free_bytes=int(fs.available_bytes))

    def walk(self, path: str = "") -> Iterator[str]:
        stack = ["/".join(clean_parts(path))]
        while stack:
            current = stack.pop()
            # READDIRPLUS: names and attributes in one round trip per directory, no stat per entry.
            folder = self._path(current) or "."
            entries: list[Any] = self._do(current, lambda c: list(c.scandir(folder)))  # noqa: B023 - called at once
            subdirs = []
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name in (".", ".."):
                    continue
                rel = f"{current}/{entry.name}" if current else entry.name
                if str(getattr(entry.info.type, "value", entry.info.type)) == "directory":
                    subdirs.append(rel)
                else:
                    yield rel
            stack.extend(reversed(subdirs))


def _outcome(exc: BaseException) -> str | None:
    """nfs-rs's verdict on a failure: ``definite_failure``, ``safe_to_retry`` or ``uncertain``."""
    value = getattr(getattr(exc, "outcome", None), "value", None)
    return str(value) if value is not None else None


def _int_option(options: dict[str, str], key: str) -> int | None:
    if key not in options:
        return None
    try:
        return int(options[key])
    except ValueError:
        raise StorageURLError(f"NFS URL option {key} must be an integer") from None
