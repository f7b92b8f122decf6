"""The ctypes binding to Samba's libsmbclient, standard library only.

Shared by this process's data path (:mod:`cshyperv.storage._libsmbclient`) and by the second
stream's worker process (:mod:`cshyperv.storage._smbc_worker`), which runs as ``python -I -S``
on this file's folder and so must not import anything of cshyperv or outside the standard
library. Errors are plain :class:`OSError` with the library's errno; callers turn them into
cshyperv's typed errors.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
import threading
from typing import Any

__all__ = [
    "CALL_LOCK",
    "CLIENT_CONFIG",
    "SMBC_DIR",
    "SMBC_FILE",
    "Context",
    "Credentials",
    "Layout",
    "Library",
    "layout",
    "load",
]

LIBRARY_NAMES = ("libsmbclient.so.0", "libsmbclient.so")
_ENCRYPT_DEFAULT, _ENCRYPT_REQUIRE = -1, 2

CLIENT_CONFIG = "[global]\n\tclient signing = required\n\tclient min protocol = SMB2_10\n"
"""Every connection signed, whatever the server asks; SMB2.1 and later only. Holds no secret."""

CALL_LOCK = threading.RLock()
"""Serialises every call into libsmbclient within one process: its process-wide state is not
thread-safe in Debian's build (no ``smbc_thread_posix``). ctypes frees the GIL meanwhile."""

_P = ctypes.c_void_p
_AUTH_FN = ctypes.CFUNCTYPE(
    None, _P, ctypes.c_char_p, ctypes.c_char_p, _P, ctypes.c_int, _P, ctypes.c_int, _P, ctypes.c_int
)
_OPEN_FN = ctypes.CFUNCTYPE(_P, _P, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, use_errno=True)
_RW_FN = ctypes.CFUNCTYPE(ctypes.c_ssize_t, _P, _P, _P, ctypes.c_size_t, use_errno=True)
_CLOSE_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, _P, use_errno=True)
_LSEEK_FN = ctypes.CFUNCTYPE(ctypes.c_int64, _P, _P, ctypes.c_int64, ctypes.c_int, use_errno=True)
# The control operations (stat, directories, rename, remove, free space) of :class:`Context`.
_STAT_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.c_char_p, _P, use_errno=True)
_OPENDIR_FN = ctypes.CFUNCTYPE(_P, _P, ctypes.c_char_p, use_errno=True)
_READDIR_FN = ctypes.CFUNCTYPE(_P, _P, _P, use_errno=True)
_CLOSEDIR_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, _P, use_errno=True)
_MKDIR_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_uint, use_errno=True)
_PATH_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.c_char_p, use_errno=True)
_RENAME_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.c_char_p, _P, ctypes.c_char_p, use_errno=True)

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "smbc_new_context": (_P, []),
    "smbc_init_context": (_P, [_P]),
    "smbc_free_context": (ctypes.c_int, [_P, ctypes.c_int]),
    "smbc_setDebug": (None, [_P, ctypes.c_int]),
    "smbc_setPort": (None, [_P, ctypes.c_uint16]),
    "smbc_setTimeout": (None, [_P, ctypes.c_int]),
    "smbc_setOptionNoAutoAnonymousLogin": (None, [_P, ctypes.c_int]),
    "smbc_setOptionUseKerberos": (None, [_P, ctypes.c_int]),
    "smbc_setOptionSmbEncryptionLevel": (None, [_P, ctypes.c_int]),
    "smbc_setFunctionAuthDataWithContext": (None, [_P, _AUTH_FN]),
    "smbc_setConfiguration": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "smbc_getFunctionOpen": (_OPEN_FN, [_P]),
    "smbc_getFunctionRead": (_RW_FN, [_P]),
    "smbc_getFunctionWrite": (_RW_FN, [_P]),
    "smbc_getFunctionClose": (_CLOSE_FN, [_P]),
    "smbc_getFunctionLseek": (_LSEEK_FN, [_P]),
    "smbc_getFunctionStat": (_STAT_FN, [_P]),
    "smbc_getFunctionOpendir": (_OPENDIR_FN, [_P]),
    "smbc_getFunctionReaddir": (_READDIR_FN, [_P]),
    "smbc_getFunctionClosedir": (_CLOSEDIR_FN, [_P]),
    "smbc_getFunctionMkdir": (_MKDIR_FN, [_P]),
    "smbc_getFunctionRmdir": (_PATH_FN, [_P]),
    "smbc_getFunctionUnlink": (_PATH_FN, [_P]),
    "smbc_getFunctionRename": (_RENAME_FN, [_P]),
    "smbc_getFunctionStatVFS": (_STAT_FN, [_P]),
}

SMBC_DIR, SMBC_FILE = 7, 8
"""``smbc_type`` of a directory entry (libsmbclient.h); shares, servers and links are others."""


class _Dirent(ctypes.Structure):
    # struct smbc_dirent; ``name`` is really a NUL-terminated string running past the struct.
    _fields_ = (
        ("smbc_type", ctypes.c_uint),
        ("dirlen", ctypes.c_uint),
        ("commentlen", ctypes.c_uint),
        ("comment", ctypes.c_char_p),
        ("namelen", ctypes.c_uint),
        ("name", ctypes.c_char * 1),
    )


_NAME_OFFSET: int = _Dirent.name.offset
_STRUCT_BYTES = 512  # more than struct stat or struct statvfs take on any Linux ABI


class Layout:
    """Where ``struct stat`` and ``struct statvfs`` keep the fields read here on this machine.

    They differ between ABIs (``st_mode`` is at byte 24 on x86-64, 16 on arm64), and a wrong
    guess would read garbage without any error. So the layout is not assumed: :func:`layout`
    asks the C library to fill both structures for a local file, and takes the candidate whose
    fields agree with :func:`os.stat` and :func:`os.statvfs`; with none, the control operations
    are not offered (the caller uses another client for them)."""

    def __init__(self, mode: int, size: int, mtime: int) -> None:
        self.mode, self.size, self.mtime = mode, size, mtime

    def stat(self, buffer: Any) -> tuple[int, int, float]:
        """``(st_mode, st_size, st_mtime)`` from a filled ``struct stat``."""
        mode, size, seconds, nanos = self.fields(buffer)
        return mode, size, seconds + nanos / 1e9

    def fields(self, buffer: Any) -> tuple[int, int, int, int]:
        """``(st_mode, st_size, mtime seconds, mtime nanoseconds)``, as integers."""
        raw = bytes(buffer)

        def number(offset: int, size: int) -> int:
            return int.from_bytes(raw[offset : offset + size], "little", signed=size == 8)

        return number(self.mode, 4), number(self.size, 8), number(self.mtime, 8), number(self.mtime + 8, 8)

    @staticmethod
    def statvfs(buffer: Any) -> tuple[int, int, int, int]:
        """``(f_bsize, f_frsize, f_blocks, f_bavail)`` from a filled ``struct statvfs`` (LP64)."""
        raw = bytes(buffer)
        bsize, frsize, blocks, avail = (int.from_bytes(raw[o : o + 8], "little") for o in (0, 8, 16, 32))
        return bsize, frsize, blocks, avail


# (st_mode, st_size, st_mtim) offsets: x86-64; then the generic layout of arm64 and riscv64.
_STAT_CANDIDATES = ((24, 48, 88), (16, 48, 88))


def layout(probe: str) -> Layout | None:
    """The structure layout of this machine, checked on the local file ``probe``; None when no
    candidate matches (another ABI, a big-endian machine, a C library without ``stat``)."""
    if sys.byteorder != "little" or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        c_stat, c_statvfs = libc.stat, libc.statvfs
    except (OSError, AttributeError):
        return None
    for function in (c_stat, c_statvfs):
        function.restype = ctypes.c_int
        function.argtypes = [ctypes.c_char_p, _P]
    buffer = ctypes.create_string_buffer(_STRUCT_BYTES)
    if c_stat(probe.encode(), buffer) != 0:
        return None
    st = os.stat(probe)
    found = None
    for mode, size, mtime in _STAT_CANDIDATES:
        candidate = Layout(mode, size, mtime)
        if candidate.fields(buffer) == (st.st_mode, st.st_size, *divmod(st.st_mtime_ns, 10**9)):
            found = candidate
            break
    vfs = ctypes.create_string_buffer(_STRUCT_BYTES)
    if found is None or c_statvfs(probe.encode(), vfs) != 0:
        return None
    bsize, frsize, blocks, _ = Layout.statvfs(vfs)
    expected = os.statvfs(probe)
    if (bsize, frsize, blocks) != (expected.f_bsize, expected.f_frsize, expected.f_blocks):
        return None
    return found


class Library:
    """The loaded shared library with the prototypes used here, and the path of the client
    configuration every context applies."""

    def __init__(self, lib: ctypes.CDLL, config: str) -> None:
        self.lib = lib
        self.config = config
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes


def load(config: str) -> Library:
    """Load libsmbclient; ``config`` is the path of a file holding :data:`CLIENT_CONFIG`.
    Raises :class:`OSError` naming every library tried."""
    errors = []
    for name in LIBRARY_NAMES:
        try:
            return Library(ctypes.CDLL(name, use_errno=True), config)
        except (OSError, AttributeError) as exc:
            errors.append(str(exc))
    raise OSError(errno.ENOSYS, "; ".join(errors))


class Credentials:
    """Workgroup, user and password for the authentication callback; redacted in every repr."""

    __slots__ = ("_domain", "_password", "_user")

    def __init__(self, user: str, password: str, domain: str) -> None:
        self._user = user.encode()
        self._password = password.encode()
        self._domain = domain.encode()

    def __repr__(self) -> str:
        return "<credentials redacted>"

    def reveal(self) -> tuple[str, str, str]:
        """``(user, password, domain)``, for handing to the worker process on its stdin only."""
        return self._user.decode(), self._password.decode(), self._domain.decode()

    def fill(self, buffers: tuple[int, ...]) -> None:
        """Write workgroup, user and password into the library's ``(address, size)`` buffers."""
        wg, wg_len, un, un_len, pw, pw_len = buffers
        values = ((wg, wg_len, self._domain), (un, un_len, self._user), (pw, pw_len, self._password))
        for address, size, value in values:
            if address and size > 0:
                data = value[: size - 1] + b"\0"
                ctypes.memmove(address, data, len(data))


def split_user(username: str) -> tuple[str, str]:
    """``DOMAIN\\user`` -> ``("DOMAIN", "user")``; a bare name has an empty domain."""
    if "\\" in username:
        domain, _, user = username.partition("\\")
        return domain, user
    return "", username


class Context:
    """One libsmbclient context, holding its own connection; used by one stream at a time.
    Every method raises :class:`OSError` with the library's errno (never naming a secret)."""

    def __init__(self, lib: Library, *, port: int, timeout_ms: int, encrypt: bool, credentials: Credentials) -> None:
        self._lib = lib
        raw = lib.lib
        # Kept referenced: the library calls back into it for as long as the context lives.
        self._callback = _AUTH_FN(self._auth)
        self._credentials = credentials
        with CALL_LOCK:
            ctx = raw.smbc_new_context()
            if not ctx:
                raise OSError(errno.ENOMEM, "libsmbclient could not create a context")
            raw.smbc_setDebug(ctx, 0)
            raw.smbc_setFunctionAuthDataWithContext(ctx, self._callback)
            raw.smbc_setPort(ctx, port)
            raw.smbc_setTimeout(ctx, timeout_ms)
            raw.smbc_setOptionNoAutoAnonymousLogin(ctx, 1)
            raw.smbc_setOptionUseKerberos(ctx, 0)
            raw.smbc_setOptionSmbEncryptionLevel(ctx, _ENCRYPT_REQUIRE if encrypt else _ENCRYPT_DEFAULT)
            if not raw.smbc_init_context(ctx):
                code = ctypes.get_errno() or errno.EIO
                raw.smbc_free_context(ctx, 1)
                raise OSError(code, f"libsmbclient could not initialise ({os.strerror(code)})")
            # Loads on top of the system's smb.conf. The settings are process-wide and a new
            # context reloads the system's, so every context applies them again (under the lock,
            # so no connection is made in between).
            if raw.smbc_setConfiguration(ctx, lib.config.encode()) != 0:
                raw.smbc_free_context(ctx, 1)
                raise OSError(errno.EINVAL, "libsmbclient refused its client configuration")
            self.ctx: int = ctx
            self._open = raw.smbc_getFunctionOpen(ctx)
            self._read = raw.smbc_getFunctionRead(ctx)
            self._write = raw.smbc_getFunctionWrite(ctx)
            self._close = raw.smbc_getFunctionClose(ctx)
            self._lseek = raw.smbc_getFunctionLseek(ctx)
            self._stat = raw.smbc_getFunctionStat(ctx)
            self._opendir = raw.smbc_getFunctionOpendir(ctx)
            self._readdir = raw.smbc_getFunctionReaddir(ctx)
            self._closedir = raw.smbc_getFunctionClosedir(ctx)
            self._mkdir = raw.smbc_getFunctionMkdir(ctx)
            self._rmdir = raw.smbc_getFunctionRmdir(ctx)
            self._unlink = raw.smbc_getFunctionUnlink(ctx)
            self._rename = raw.smbc_getFunctionRename(ctx)
            self._statvfs = raw.smbc_getFunctionStatVFS(ctx)

    def __repr__(self) -> str:
        return "<libsmbclient context>"

    def _auth(self, *args: Any) -> None:
        # (ctx, server, share, workgroup, wglen, user, userlen, password, pwlen). An exception
        # here would be printed by ctypes; there is none to raise, and no message names the secret.
        try:
            self._credentials.fill(tuple(args[3:9]))
        except Exception:  # pragma: no cover - memmove into the library's own buffers
            return

    def open(self, url: bytes, flags: int) -> int:
        """A handle on ``smb://`` ``url`` opened with ``os.O_*`` ``flags``."""
        with CALL_LOCK:
            handle = self._open(self.ctx, url, flags, 0o644)
            code = ctypes.get_errno()
        if not handle:
            raise OSError(code or errno.EIO, "open")
        return int(handle)

    def seek(self, handle: int, offset: int, whence: int = os.SEEK_SET) -> int:
        with CALL_LOCK:
            result = self._lseek(self.ctx, handle, offset, whence)
            code = ctypes.get_errno()
        if result < 0:
            raise OSError(code or errno.EIO, "seek")
        return int(result)

    def read_into(self, handle: int, address: int, size: int, io_size: int) -> int:
        """Read up to ``size`` bytes from the handle's offset to ``address`` in calls of at most
        ``io_size``; fewer only at the end of the file. Returns the count."""
        got = 0
        while got < size:
            with CALL_LOCK:
                n = self._read(self.ctx, handle, address + got, min(io_size, size - got))
                code = ctypes.get_errno()
            if n < 0:
                raise OSError(code or errno.EIO, "read")
            if n == 0:
                break
            got += n
        return got

    def write_from(self, handle: int, address: int, size: int, io_size: int) -> None:
        """Write ``size`` bytes at ``address`` from the handle's offset, ``io_size`` at a time."""
        done = 0
        while done < size:
            with CALL_LOCK:
                n = self._write(self.ctx, handle, address + done, min(io_size, size - done))
                code = ctypes.get_errno()
            if n <= 0:
                raise OSError(code or errno.EIO, "write")
            done += n

    def close(self, handle: int) -> None:
        self._checked(self._close, "close", handle)

    # -- control operations (used by one thread at a time, like the data calls) ----------------

    def stat(self, url: bytes, layout: Layout) -> tuple[int, int, float]:
        """``(st_mode, st_size, st_mtime)`` of ``url``."""
        buffer = ctypes.create_string_buffer(_STRUCT_BYTES)
        self._checked(self._stat, "stat", url, buffer)
        return layout.stat(buffer)

    def statvfs(self, url: bytes) -> tuple[int, int, int, int]:
        """``(f_bsize, f_frsize, f_blocks, f_bavail)`` of the share holding ``url``. For a share,
        libsmbclient puts the sector size in ``f_bsize`` and the sectors per allocation unit in
        ``f_frsize``: the bytes of a block are their product."""
        buffer = ctypes.create_string_buffer(_STRUCT_BYTES)
        self._checked(self._statvfs, "statvfs", url, buffer)
        return Layout.statvfs(buffer)

    def entries(self, url: bytes) -> list[tuple[str, int]]:
        """``(name, smbc_type)`` of every entry of the directory ``url`` but ``.`` and ``..``."""
        with CALL_LOCK:
            handle = self._opendir(self.ctx, url)
            code = ctypes.get_errno()
            if not handle:
                raise OSError(code or errno.EIO, "opendir")
            found: list[tuple[str, int]] = []
            try:
                while True:
                    ctypes.set_errno(0)
                    entry = self._readdir(self.ctx, handle)
                    code = ctypes.get_errno()
                    if not entry:
                        if code:
                            raise OSError(code, "readdir")
                        break
                    kind = _Dirent.from_address(entry).smbc_type
                    name = ctypes.string_at(entry + _NAME_OFFSET).decode("utf-8", "surrogateescape")
                    if name not in (".", ".."):
                        found.append((name, kind))
            finally:
                self._closedir(self.ctx, handle)
        return found

    def mkdir(self, url: bytes) -> None:
        self._checked(self._mkdir, "mkdir", url, 0o755)

    def rmdir(self, url: bytes) -> None:
        self._checked(self._rmdir, "rmdir", url)

    def unlink(self, url: bytes) -> None:
        self._checked(self._unlink, "unlink", url)

    def rename(self, source: bytes, target: bytes) -> None:
        """Rename within this context's share. libsmbclient replaces an existing ``target`` by
        removing it first (not atomic): callers that must keep the old file until the new one
        is in place check first."""
        self._checked(self._rename, "rename", source, self.ctx, target)

    def _checked(self, function: Any, action: str, *args: Any) -> None:
        """``function(ctx, *args)``, which returns 0 on success; else OSError with its errno."""
        with CALL_LOCK:
            result = function(self.ctx, *args)
            code = ctypes.get_errno()
        if result != 0:
            raise OSError(code or errno.EIO, action)

    def free(self) -> None:
        with CALL_LOCK:
            if self.ctx:
                self._lib.lib.smbc_free_context(self.ctx, 1)
                self.ctx = 0
