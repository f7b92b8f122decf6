"""CIFS/SMB storage from user space: Samba's libsmbclient (C, through :mod:`ctypes`) where it is
installed, and smbprotocol (pure Python, SMB 2/3) for what libsmbclient cannot do, or everything.

Nothing is mounted: every operation opens (or reuses) an SMB session of its own. Messages are
always signed (tampering with a template or volume in transit is detected) and encrypted when
the share requires it; ``encrypt=true`` in the URL (or ``encrypt=True``) insists on encryption
everywhere. Both data paths keep these promises.

The data path (``open_read``/``open_write``, so every streamed copy and template install) is
chosen per adaptor: ``data_path="auto"`` (the default, or ``CSHYPERV_SMB_DATA_PATH``) takes
libsmbclient when the shared library is installed and the adaptor has a password, else
smbprotocol's pipelined reads and writes; ``"libsmbclient"`` insists (``ENOSYS`` without it),
``"smbprotocol"`` never uses it. On the libsmbclient path the control operations (stat, listing,
mkdir, rename to a new name, remove, free space) go through libsmbclient too, on one kept
connection (:mod:`._smbc_control`), so a process that only copies a file never loads smbprotocol;
server-side copies and a rename that replaces an existing file (atomic only in smbprotocol: the
library removes the old file first) go through smbprotocol, imported when first needed.

Two smbprotocol habits shape this module:

* its connection pool is keyed by ``server:port``, and a call that omits ``port`` goes to 445 —
  so every call passes ``port``, and each adaptor keeps a pool of its own (two adaptors with
  different credentials never share a session);
* its errors are ``SMBOSError`` (an ``OSError`` but never ``FileNotFoundError``) and a zoo of
  ``SMBException`` subclasses; :func:`_smb_errors` turns them into the ``OSError`` subclass the
  errno names (``except FileNotFoundError`` works) or into cshyperv's ``StorageError`` branch,
  with the location — never the password — as the file name.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat as statmod
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from cshyperv.errors import StorageAuthenticationError, StorageConnectionError, StorageError
from cshyperv.storage import _libsmbclient
from cshyperv.storage._adaptor import DiskUsage, FileStat, MappedStream, StatExists, clean_parts
from cshyperv.storage._smb_pipeline import PipelinedReader, PipelinedWriter
from cshyperv.storage._smbc_control import SmbcControl
from cshyperv.storage.urls import StorageURL, StorageURLError

__all__ = ["CifsStorageAdaptor"]

_log = logging.getLogger(__name__)

_TRUE = ("1", "true", "yes", "on")
DATA_PATHS = ("auto", "libsmbclient", "smbprotocol")


def _import_smbclient() -> Any:
    try:
        import smbclient
        import smbclient.shutil
    except ImportError:  # smbprotocol comes with the smb extra (and the hyperv extra, which includes it)
        raise StorageError("CIFS storage needs smbprotocol: pip install 'cshyperv[smb]'", code=errno.ENOSYS) from None
    return smbclient


class CifsStorageAdaptor(StatExists):
    """A :class:`~cshyperv.storage.StorageAdaptor` rooted at ``\\\\host\\share[\\dir]``.

    ``url`` is a ``cifs://``/``smb://`` URL or UNC path; credentials come from the URL (CloudStack's
    ``?user=..&password=..&domain=..``) or the keyword arguments. Thread-safe.
    """

    def __init__(
        self,
        url: StorageURL | str,
        *,
        username: str | None = None,
        password: str | None = None,
        domain: str | None = None,
        port: int | None = None,
        encrypt: bool | None = None,
        connection_timeout: float = 30.0,
        data_path: str | None = None,
    ) -> None:
        parsed = StorageURL.parse(url) if isinstance(url, str) else url
        if parsed.scheme != "cifs":
            raise StorageURLError(f"a {parsed.scheme} location is not SMB storage")
        options = {key.lower(): value for key, value in parsed.options}
        self.host = parsed.host
        self.port = port or parsed.port or 445
        self.share = parsed.share
        self._base = [p for p in parsed.path.split("/") if p]
        user = username if username is not None else parsed.user
        dom = domain if domain is not None else parsed.domain
        if user and dom and "\\" not in user and "@" not in user:
            user = f"{dom}\\{user}"
        self._username = user
        self._password = password if password is not None else parsed.password
        if encrypt is None and "encrypt" in options:
            encrypt = options["encrypt"].lower() in _TRUE
        self._encrypt = encrypt
        self._timeout = connection_timeout
        self._cache: dict[str, Any] = {}
        self._established = False  # a session is set up in _cache (see _ready)
        self._lock = threading.Lock()
        self._smbprotocol: Any = None  # the smbclient module, imported when first needed
        # Sets up smbprotocol's session in the background (prepare_replace); joined before use.
        self._warming: threading.Thread | None = None
        self._warming_lock = threading.Lock()  # one set-up thread, whatever the concurrent copies
        # The location as shown in errors and reprs: no credentials, ever.
        self.location = StorageURL(scheme="cifs", host=self.host, port=self.port, share=self.share).unc()
        self._smbc = self._data_path(data_path or os.environ.get("CSHYPERV_SMB_DATA_PATH") or "auto")
        layout = _libsmbclient.control_layout() if self._smbc is not None else None
        self._control = None if self._smbc is None or layout is None else SmbcControl(self._smbc, layout)
        if self._control is None:
            self._smb  # noqa: B018 - fails now, with ENOSYS, when smbprotocol is missing

    @property
    def _smb(self) -> Any:
        self._join_warming()
        if self._smbprotocol is None:
            self._smbprotocol = _import_smbclient()
        return self._smbprotocol

    def _data_path(self, choice: str) -> _libsmbclient.SmbcFiles | None:
        if choice not in DATA_PATHS:
            raise StorageURLError(f"unknown SMB data path {choice!r} (expected one of {', '.join(DATA_PATHS)})")
        if choice == "smbprotocol":
            return None
        reason = _libsmbclient.unavailable_reason()
        if reason is None and (self._username is None or self._password is None):
            reason = "the libsmbclient data path needs a user name and password"
        if reason is not None:
            if choice == "libsmbclient":
                raise StorageError(reason, code=errno.ENOSYS, location=self.location)
            return None
        assert self._username is not None and self._password is not None
        return _libsmbclient.SmbcFiles(
            host=self.host,
            port=self.port,
            share=self.share,
            username=self._username,
            password=self._password,
            encrypt=bool(self._encrypt),
            timeout=self._timeout,
        )

    @property
    def data_path(self) -> str:
        """Which library moves the bytes of ``open_read``/``open_write``: ``"libsmbclient"`` or
        ``"smbprotocol"``."""
        return "smbprotocol" if self._smbc is None else "libsmbclient"

    @property
    def control_path(self) -> str:
        """Which library runs stat, listing, mkdir, rename and remove: ``"libsmbclient"`` (with
        smbprotocol for server-side copies and replacing renames) or ``"smbprotocol"``."""
        return "smbprotocol" if self._control is None else "libsmbclient"

    def __repr__(self) -> str:
        return (
            f"CifsStorageAdaptor({self.location!r}, port={self.port}, user={self._username!r},"
            f" data_path={self.data_path!r})"
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "port": self.port,
            "connection_cache": self._cache,
            "connection_timeout": self._timeout,
        }
        if self._username is not None:
            kwargs["username"] = self._username
            kwargs["password"] = self._password
        if self._encrypt is not None:
            kwargs["encrypt"] = self._encrypt
        return kwargs

    def unc(self, path: str = "") -> str:
        """The UNC path of ``path`` below this adaptor's root."""
        return "\\\\" + "\\".join([self.host, self.share, *self._base, *clean_parts(path)])

    def _shown(self, path: str) -> str:
        return self.unc(path)

    def _parts(self, path: str) -> list[str]:
        return [*self._base, *clean_parts(path)]

    def _explain_refusal(self) -> None:
        """libsmbclient says EACCES for a refused logon and for a refused file alike; smbprotocol
        tells them apart: raises :class:`StorageAuthenticationError` for the first, else returns."""
        with self._lock, self._errors(""):
            pass

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        try:
            yield
        except PermissionError:
            self._explain_refusal()
            raise

    def _mapper(self, path: str) -> Callable[[BaseException], BaseException]:
        shown = self._shown(path)
        return lambda exc: _map_error(exc, shown)

    @contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        try:
            self._ready()
            yield
        except Exception as exc:
            if _is_connection_loss(exc):
                self._established = False
            raise _map_error(exc, self._shown(path)) from None

    def _ready(self) -> None:
        """Set up the connection and session before the first request (and after a lost one).

        A server may drop a connection it has just accepted (a busy Samba parent, a Windows
        server restarting its SMB service); nothing of ours has run on it then, so setting it up
        once more is safe. Later requests are never repeated: a lost connection mid-operation is
        the caller's error to see."""
        if self._established:
            return
        try:
            self._smb.register_session(self.host, **self._kwargs())
        except Exception as exc:
            if not _is_connection_loss(exc):
                raise
            _log.debug("SMB connection to %s:%d dropped while being set up; once more", self.host, self.port)
            self._smb.register_session(self.host, **self._kwargs())
        self._established = True

    def connect(self) -> None:
        """Open the session now: a wrong password or an unreachable server fails here, clearly."""
        if self._control is not None:
            with self._refusals():
                self._control.connect(self.location)
            return
        with self._lock:
            self._established = False
            with self._errors(""):
                pass

    def close(self) -> None:
        """Close this adaptor's SMB connections (others' are untouched)."""
        self._join_warming()
        with self._lock:
            if self._smbc is not None:
                self._smbc.close()
            if self._control is not None:
                self._control.close()
            self._established = False
            if self._smbprotocol is None:
                return
            try:
                self._smbprotocol.reset_connection_cache(connection_cache=self._cache)
            except Exception:
                self._cache.clear()

    # -- the StorageAdaptor protocol ---------------------------------------------------------

    def stat(self, path: str) -> FileStat:
        if self._control is not None:
            with self._refusals():
                size, is_dir, mtime = self._control.stat(self._parts(path), self._shown(path))
            return FileStat(size=size, is_dir=is_dir, mtime=mtime)
        with self._errors(path):
            st = self._smb.stat(self.unc(path), **self._kwargs())
        return FileStat(size=st.st_size, is_dir=statmod.S_ISDIR(st.st_mode), mtime=st.st_mtime)

    def listdir(self, path: str = "") -> list[str]:
        return [name for name, _ in self._entries(path)]

    def open_read(self, path: str) -> BinaryIO:
        """A sequential reader: libsmbclient's, or smbprotocol's with several reads in flight
        (see ``_smb_pipeline``). Its ``transport`` attribute names the library."""
        if self._smbc is not None:
            return self._open_smbc(path, write=False)
        with self._errors(path):
            raw = self._smb.open_file(self.unc(path), mode="rb", share_access="r", buffering=0, **self._kwargs())
        return cast(BinaryIO, MappedStream(PipelinedReader(raw), self._mapper(path)))

    def open_write(self, path: str) -> BinaryIO:
        """A sequential writer (libsmbclient's, or smbprotocol's with several writes in flight);
        complete only after ``close()``."""
        if self._smbc is not None:
            return self._open_smbc(path, write=True)
        with self._errors(path):
            raw = self._smb.open_file(self.unc(path), mode="wb", buffering=0, **self._kwargs())
        return cast(BinaryIO, MappedStream(PipelinedWriter(raw), self._mapper(path)))

    def _open_smbc(self, path: str, *, write: bool) -> BinaryIO:
        assert self._smbc is not None
        with self._refusals():
            stream = self._smbc.open(self._parts(path), self._shown(path), write=write)
        return cast(BinaryIO, MappedStream(stream, self._mapper(path)))

    def mkdir(self, path: str, *, parents: bool = True) -> None:
        if self._control is not None:
            with self._refusals():
                self._smbc_mkdir(self._parts(path), parents=parents)
            return
        with self._errors(path):
            if parents:
                self._smb.makedirs(self.unc(path), exist_ok=True, **self._kwargs())
            else:
                try:
                    self._smb.mkdir(self.unc(path), **self._kwargs())
                except OSError as exc:
                    if exc.errno != errno.EEXIST:
                        raise

    def _smbc_mkdir(self, full: list[str], *, parents: bool) -> None:
        """``mkdir`` of ``full`` (components below the share), with its parents if ``parents``."""
        assert self._control is not None
        shown = "\\\\" + "\\".join([self.host, self.share, *full])
        try:
            self._control.mkdir(full, shown)
        except FileExistsError:
            if parents and not self._control.stat(full, shown)[1]:
                raise  # a file of that name: as os.makedirs(exist_ok=True)
        except FileNotFoundError:
            if not parents or len(full) < 2:
                raise
            self._smbc_mkdir(full[:-1], parents=True)
            self._control.mkdir(full, shown)

    def prepare_replace(self, target: str) -> None:
        """On the libsmbclient path, a copy onto an existing file ends with smbprotocol's atomic
        replace: importing it and setting up its session cost a whole process ~0.15 s (``cshyperv
        storage cp``), so that starts here on a thread of its own while libsmbclient moves the
        bytes (it runs in C, without the GIL). Errors wait for the rename, which sets up again."""
        if self._control is None:
            return  # on the smbprotocol path the session is the copy's own
        with self._warming_lock:
            if self._warming is not None or self._smbprotocol is not None:
                return
            self._warming = threading.Thread(target=self._warm, name="cshyperv-smb-setup", daemon=True)
            self._warming.start()

    def _join_warming(self) -> None:
        # Every use of smbprotocol waits for the set-up thread first, so that thread has the
        # module and its session to itself while it runs (no lock: a caller may hold _lock).
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()
            self._warming = None

    def _warm(self) -> None:
        try:
            self._ready()
        except Exception:
            _log.debug("SMB session set-up ahead of a replace failed for %s; the rename sets up again", self.location)

    def rename(self, source: str, target: str) -> None:
        if self._control is not None and not self.exists(target):
            with self._refusals():
                self._control.rename(self._parts(source), self._parts(target), self._shown(source))
            return
        with self._errors(source):
            # replace, not rename: SMB's plain rename refuses an existing target.
            self._smb.replace(self.unc(source), self.unc(target), **self._kwargs())

    def remove(self, path: str) -> None:
        try:
            st = self.stat(path)
        except FileNotFoundError:
            return
        if self._control is not None:
            with self._refusals():
                self._smbc_remove(clean_parts(path), st.is_dir)
            return
        with self._errors(path):
            if st.is_dir:
                self._smb.shutil.rmtree(self.unc(path), **self._kwargs())
            else:
                self._smb.remove(self.unc(path), **self._kwargs())

    def _smbc_remove(self, parts: list[str], is_dir: bool) -> None:
        assert self._control is not None
        full, shown = [*self._base, *parts], self._shown("/".join(parts))
        if is_dir:
            for name, below_is_dir in self._control.entries(full, shown):
                self._smbc_remove([*parts, name], below_is_dir)
            self._control.rmdir(full, shown)
        else:
            self._control.unlink(full, shown)

    def copy(self, source: str, target: str) -> None:
        """Server-side copy (FSCTL_SRV_COPYCHUNK): the bytes never cross the network."""
        with self._errors(source):
            self._smb.copyfile(self.unc(source), self.unc(target), **self._kwargs())

    def copy_from(self, other: object, source: str, target: str) -> bool:
        """Server-side copy from another CIFS adaptor on the same server and port; False otherwise."""
        if not isinstance(other, CifsStorageAdaptor) or (other.host.lower(), other.port) != (
            self.host.lower(),
            self.port,
        ):
            return False
        if other._username != self._username:
            return False
        with self._errors(target):
            self._smb.copyfile(other.unc(source), self.unc(target), **self._kwargs())
        return True

    def disk_usage(self, path: str = "") -> DiskUsage:
        if self._control is not None:
            with self._refusals():
                total, free = self._control.disk_usage(self._parts(path), self._shown(path))
            return DiskUsage(total_bytes=total, free_bytes=free)
        with self._errors(path):
            result = self._smb.stat_volume(self.unc(path), **self._kwargs())
        return DiskUsage(total_bytes=result.total_size, free_bytes=result.caller_available_size)

    def walk(self, path: str = "") -> Iterator[str]:
        base = clean_parts(path)
        stack = ["/".join(base)]
        while stack:
            current = stack.pop()
            subdirs = []
            for name, is_dir in self._entries(current):
                rel = f"{current}/{name}" if current else name
                if is_dir:
                    subdirs.append(rel)
                else:
                    yield rel
            stack.extend(reversed(subdirs))

    def _entries(self, path: str) -> list[tuple[str, bool]]:
        """``(name, is_dir)`` of a directory's entries, sorted by name."""
        if self._control is not None:
            with self._refusals():
                return self._control.entries(self._parts(path), self._shown(path))
        with self._errors(path):
            # is_dir() comes from the directory listing itself (no extra round trip;
            # entry.stat() would also forget the port).
            return sorted((e.name, e.is_dir()) for e in self._smb.scandir(self.unc(path), **self._kwargs()))


def _is_connection_loss(exc: BaseException) -> bool:
    """The server closed or reset the connection (not: refused it, timed out, or said no)."""
    from smbprotocol.exceptions import SMBConnectionClosed, SMBOSError

    lost = (SMBConnectionClosed, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, EOFError)
    if isinstance(exc, lost):
        return True
    # smbprotocol's receive thread closes the socket when the server does; a request racing it
    # then fails on the closed socket with EBADF (or ENOTCONN). An SMBOSError is the server's
    # answer, not the socket's.
    return isinstance(exc, OSError) and not isinstance(exc, SMBOSError) and exc.errno in _CLOSED_SOCKET


_CLOSED_SOCKET = frozenset({errno.EBADF, errno.ENOTCONN})


def _map_error(exc: BaseException, shown: str) -> BaseException:
    from smbprotocol.exceptions import (
        SMBAuthenticationError,
        SMBOSError,
        SMBResponseException,
    )

    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, SMBOSError):
        code = exc.errno or errno.EIO
        if _is_logon_failure(exc):
            return StorageAuthenticationError("the SMB server refused the credentials", location=shown)
        # OSError(errno, ...) picks the subclass: ENOENT -> FileNotFoundError, and so on.
        return OSError(code, str(exc.strerror or "SMB error").split(":")[0], shown)
    name = type(exc).__name__
    if (
        isinstance(exc, SMBAuthenticationError)
        or name in ("SpnegoError", "BadMechanismError")
        or _is_logon_failure(exc)
    ):
        return StorageAuthenticationError("the SMB server refused the credentials", location=shown)
    if isinstance(exc, SMBResponseException):
        status = getattr(exc, "status", None)
        return StorageError(f"SMB request failed with status 0x{int(status or 0):08x}", location=shown)
    if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)) or _is_connection_loss(exc):
        return StorageConnectionError("the SMB connection failed or was closed", location=shown)
    if isinstance(exc, ValueError) and "connect" in str(exc).lower():
        # smbprotocol reports a refused or unreachable server as ValueError("Failed to connect ...").
        return StorageConnectionError("the SMB server could not be reached", location=shown)
    if isinstance(exc, OSError):
        return OSError(exc.errno or errno.EIO, exc.strerror or type(exc).__name__, shown)
    return StorageError(f"SMB operation failed ({name})", location=shown)


_LOGON_FAILURES = (0xC000006D, 0xC000006A, 0xC0000064, 0xC0000072, 0xC000006F, 0xC0000070, 0xC0000071)


def _is_logon_failure(exc: BaseException) -> bool:
    status = getattr(exc, "ntstatus", None) or getattr(exc, "status", None)
    return status is not None and int(status) in _LOGON_FAILURES
