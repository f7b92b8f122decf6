"""Samba's libsmbclient (C) as the SMB data path: sequential file reads and writes at wire speed.

Bound with :mod:`ctypes` (:mod:`._smbc_core`) rather than a compiled extension, for three
reasons measured or read in pysmbc 1.0.25: ctypes releases the GIL for every call into the
library, so the agent's other threads keep running while megabytes move (pysmbc holds it for each
whole read or write); the context options this adaptor needs (the encryption level, a client
configuration requiring signing) are reachable; and nothing has to be compiled, so installing
cshyperv never fails for want of ``libsmbclient-dev`` — the data path is there whenever the shared
library (Debian/Ubuntu ``libsmbclient``, pulled in by ``smbclient``) is.

Two streams per copy. libsmbclient has one request in flight per call and cannot be entered by
two threads of a process at once, so one stream waits out every round trip (Samba's smbclient
keeps several requests in flight and was about 2-3x faster that way). Once a stream has moved
:data:`PARALLEL_FROM` bytes, a worker process (:mod:`._smbc_worker`) with a connection of its
own moves every other 2 MiB piece through shared memory while this process moves the rest.
If the worker cannot start or fails, this process moves its pieces itself (a write keeps each
piece in shared memory until the worker confirms it), so the worker can only make a copy faster,
never wrong. ``CSHYPERV_SMB_STREAMS=1`` keeps every copy on one stream.

A short-lived process (``cshyperv storage cp``) calls :func:`prestart` first: the library loads
on a thread (the dynamic linker releases the GIL, so the caller's own imports go on) and one
worker process starts, loading its interpreter and the library while it waits for a stream. The
first stream then takes that worker at once instead of starting one after its first megabytes.

What a caller may rely on:

* every connection is signed (``client signing = required``, from a private client
  configuration holding no secret) and encrypted when the share requires it, or always with
  ``encrypt=True`` (``SMBC_ENCRYPTLEVEL_REQUIRE``) — the worker's connection too;
* the port is set on every context; the password reaches the library only through the
  authentication callback, which writes it into the library's buffer and keeps it nowhere a
  ``repr``, log line or traceback shows; the worker gets it on its standard input, never in its
  arguments or environment (which holds only a few named variables, none carrying the password);
* errors are :class:`OSError` with the library's errno and the UNC location (never the password);
  a lost connection is a :class:`StorageConnectionError`;
* libsmbclient keeps process-wide state that is not safe across threads here (the Debian build
  exports no ``smbc_thread_posix``), so every call holds one process-wide lock; the GIL is free
  meanwhile, and concurrent copies take turns a chunk at a time.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import json
import logging
import mmap
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from cshyperv.errors import StorageConnectionError, StorageError
from cshyperv.storage import _smbc_core as core

__all__ = ["SmbcFiles", "SmbcReader", "SmbcWriter", "control_layout", "os_error", "unavailable_reason"]

_log = logging.getLogger("cshyperv.storage")

_CONNECTION_ERRNOS = frozenset(
    {
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ENOTCONN,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.ENETRESET,
        errno.ENETDOWN,
        errno.ESHUTDOWN,
    }
)

IO_SIZE = 2 * 1024 * 1024
"""Bytes per libsmbclient read or write call, and per piece of a two-stream copy. Measured on
loopback against Samba 4.17 (signed and sealed shares): 2-4 MiB calls read about twice as fast as
8 MiB ones (the buffers stay in the CPU caches while they are signed or decrypted and copied); with
two streams, 2 MiB pieces moved as fast as 4 MiB ones or faster, both ways, on both shares."""

PARALLEL_FROM = 8 * 1024 * 1024
"""A stream starts its second stream (the worker process) on the write that takes the file beyond
this many bytes, or on its first read when this many remain: below that, starting a process
(~30 ms) costs more than it saves (with a spare worker from :func:`prestart`, one piece is the
bar). ``CSHYPERV_SMB_PARALLEL_FROM`` (bytes) overrides it; ``0`` starts it at once."""

SLOTS = 2
"""Pieces the worker holds at once (one it moves, one queued): 4 MiB of shared memory a stream."""

WORKER_SHARE = (1, 2)
"""``(k, n)``: the worker moves ``k`` of every ``n`` pieces (those whose index modulo ``n`` is
``n - k`` or more)."""


_SMALLEST_HANDED_OVER = 256 * 1024
# A writer fed small pieces (a source that returns a few KiB a read) writes them itself: the hand
# over costs a pipe round trip a piece, worth it only for pieces that take far longer to send.


def _workers_piece(index: int) -> bool:
    k, n = WORKER_SHARE
    return index % n >= n - k


_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_smbc_worker.py")
# The worker's whole environment: what the dynamic loader and libsmbclient's own configuration
# lookup (~/.smb/smb.conf) read, nothing else — the parent's may carry CSHYPERV_SMB_PASSWORD.
_WORKER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "TMPDIR")


class _Loader:
    """Loads the library once per process; remembers why it could not."""

    def __init__(self) -> None:
        self.library: core.Library | None = None
        self.error: str | None = None
        self.layout: core.Layout | None = None
        self._lock = threading.Lock()

    def get(self) -> core.Library | None:
        with self._lock:
            if self.library is None and self.error is None:
                self.library, self.error = _load()
                if self.library is not None:
                    self.layout = core.layout(self.library.config)
            return self.library


def _load() -> tuple[core.Library | None, str | None]:
    if os.environ.get("CSHYPERV_SMB_NO_LIBSMBCLIENT") == "1":
        return None, "the libsmbclient data path is turned off (CSHYPERV_SMB_NO_LIBSMBCLIENT=1)"
    folder = tempfile.mkdtemp(prefix="cshyperv-smbc-")
    # Every context (and every worker) reads the file when it starts, so it stays until exit.
    atexit.register(shutil.rmtree, folder, True)
    config = os.path.join(folder, "smb.conf")
    with open(config, "w", encoding="ascii") as out:
        out.write(core.CLIENT_CONFIG)
    try:
        return core.load(config), None
    except OSError as exc:
        return None, f"libsmbclient is not installed (apt-get install libsmbclient): {exc.strerror}"


_LOADER = _Loader()


def unavailable_reason() -> str | None:
    """Why the libsmbclient data path cannot be used in this process, or None if it can."""
    _LOADER.get()
    return _LOADER.error


def control_layout() -> core.Layout | None:
    """The ``struct stat`` layout that libsmbclient's control operations need, or None when the
    library is missing or this machine's layout is not one :func:`core.layout` recognises."""
    _LOADER.get()
    return _LOADER.layout


# The library reads straight into a new bytes object: allocated uninitialised and filled before
# anything else sees it (what C extensions do), which saves a zero-fill and a copy of every chunk.
_new_bytes_c = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes_c.restype = ctypes.py_object
_new_bytes_c.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
_bytes_as_string = ctypes.pythonapi.PyBytes_AsString
_bytes_as_string.restype = ctypes.c_void_p
_bytes_as_string.argtypes = [ctypes.py_object]


def _new_bytes(size: int) -> bytes:
    data: bytes = _new_bytes_c(None, size)
    return data


def _bytes_address(data: bytes) -> int:
    return int(_bytes_as_string(data))


def os_error(code: int, shown: str, action: str) -> OSError:
    """The error a caller sees for the library's errno ``code``: a :class:`StorageConnectionError`
    for a lost or unreachable server, else the :class:`OSError` subclass the errno names."""
    code = code or errno.EIO
    if code in _CONNECTION_ERRNOS:
        return StorageConnectionError(f"the SMB connection failed or was closed ({action})", location=shown)
    return OSError(code, os.strerror(code), shown)


def _raise(exc: OSError, shown: str) -> OSError:
    return os_error(exc.errno or errno.EIO, shown, exc.strerror or "call")


def _parallel_from() -> int | None:
    """Bytes after which a stream starts its worker, or None for one stream only (read per
    stream, so a test or an operator can change it in a running process)."""
    if os.environ.get("CSHYPERV_SMB_STREAMS", "").strip() == "1":
        return None
    try:
        return max(0, int(os.environ.get("CSHYPERV_SMB_PARALLEL_FROM", "")))
    except ValueError:
        return PARALLEL_FROM


class SmbcFiles:
    """Opens files on one share through libsmbclient, each stream on a context (and so a
    connection) of its own, freed when the stream closes. Thread-safe.

    Contexts are not reused: measured on Samba 4.17, an upload on a context that had already
    carried one ran at about half the speed of one on a fresh context (0.7-0.9 s vs 0.4 s for
    256 MiB), while a fresh session costs a few tens of milliseconds."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        share: str,
        username: str,
        password: str,
        encrypt: bool,
        timeout: float,
    ) -> None:
        lib = _LOADER.get()
        if lib is None:
            raise StorageError(_LOADER.error or "libsmbclient is not available", code=errno.ENOSYS)
        self._lib = lib
        self._host = host
        self._port = port
        self._share = share
        domain, user = core.split_user(username)
        self._secret = core.Credentials(user, password, domain)
        self._encrypt = encrypt
        self._timeout_ms = max(1, int(timeout * 1000))

    def __repr__(self) -> str:
        return f"SmbcFiles(host={self._host!r}, port={self._port}, share={self._share!r})"

    def url(self, parts: list[str]) -> bytes:
        host = f"[{self._host}]" if ":" in self._host else self._host
        quoted = [urllib.parse.quote(p, safe="") for p in (self._share, *parts)]
        return ("smb://" + host + "/" + "/".join(quoted)).encode()

    def new_context(self) -> core.Context:
        """A context (and so, at its first call, a connection and session) of its own."""
        try:
            return core.Context(
                self._lib, port=self._port, timeout_ms=self._timeout_ms, encrypt=self._encrypt, credentials=self._secret
            )
        except OSError as exc:
            raise StorageError(exc.strerror or "libsmbclient failed", code=exc.errno or errno.EIO) from None

    def open(self, parts: list[str], shown: str, *, write: bool) -> SmbcReader | SmbcWriter:
        context = self.new_context()
        flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if write else os.O_RDONLY
        try:
            handle = context.open(self.url(parts), flags)
        except OSError as exc:
            context.free()
            raise os_error(exc.errno or errno.EIO, shown, "open") from None
        threshold = _parallel_from()
        if threshold is not None and _spare_waiting():
            # A worker is already running (prestart): taking it costs a session, not a process,
            # so any stream of more than one piece uses it from its first bytes.
            threshold = min(threshold, IO_SIZE)
        start = None if threshold is None else _Start(lambda: self._worker(parts, write), threshold)
        if write:
            return SmbcWriter(context, handle, shown, start)
        reader = SmbcReader(context, handle, shown, start)
        reader.find_size()
        return reader

    def _worker(self, parts: list[str], write: bool) -> _Worker | None:
        """A second stream on the same file, or None if it could not start (the caller then
        moves every piece itself)."""
        setup = {
            "config": self._lib.config,
            "url": self.url(parts).decode("ascii"),
            "port": self._port,
            "timeout_ms": self._timeout_ms,
            "encrypt": self._encrypt,
            "write": write,
            "slots": SLOTS,
            "slot_size": IO_SIZE,
            "io_size": IO_SIZE,
        }
        return _Worker.start(setup, self._secret, timeout=self._timeout_ms / 1000)

    def close(self) -> None:
        """Nothing is kept between streams; each stream frees its own context."""


class _WorkerFailed(Exception):
    """The worker process answered an error, died, or did not answer in time."""


class _Worker:
    """The parent's side of one worker process: its shared memory and its command pipe."""

    def __init__(self, process: subprocess.Popen[bytes], memory: mmap.mmap, timeout: float) -> None:
        self._process = process
        self.memory = memory
        # Holds the mapping's address for ctypes; the mapping outlives the process (a reader
        # still hands out pieces the worker read before it failed) until release().
        self._anchor: Any = (ctypes.c_char * len(memory)).from_buffer(memory)
        self._base = ctypes.addressof(self._anchor)
        self._timeout = timeout
        self._buffer = b""
        self.ready = False  # it has answered OK: its file is open and it takes pieces
        self._memfd = -1  # the shared memory's descriptor, until the worker has been told it
        assert process.stdout is not None and process.stdin is not None
        self._out = process.stdout.fileno()
        self._in = process.stdin

    def __repr__(self) -> str:
        return f"<libsmbclient worker pid {self._process.pid}>"

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    def spawn(cls, *, timeout: float) -> _Worker | None:
        """A worker process that has not been told its stream yet (see :meth:`configure`); it
        loads the library meanwhile. None when it cannot be started."""
        if getattr(sys, "frozen", False) or not sys.executable:
            return None  # no interpreter to run the worker file with
        fd = -1
        try:
            size = _shared_bytes()
            fd = os.memfd_create("cshyperv-smbc", os.MFD_CLOEXEC)
            os.ftruncate(fd, size)
            memory = mmap.mmap(fd, size)
            environment = {key: os.environ[key] for key in _WORKER_ENVIRONMENT if key in os.environ}
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", _WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(fd,),
                env=environment,
            )
            worker = cls(process, memory, timeout)
            worker._memfd = fd
            fd = -1  # closed by configure(), once the worker has been told its number
            return worker
        except (OSError, ValueError):
            return None
        finally:
            if fd >= 0:
                os.close(fd)

    def configure(self, setup: dict[str, Any], secret: core.Credentials) -> bool:
        """Tell the worker its stream; False (and the worker killed) when it is gone."""
        user, password, domain = secret.reveal()
        line = json.dumps({**setup, "memfd": self._memfd, "user": user, "password": password, "domain": domain})
        try:
            self._send(line)
            return True
        except _WorkerFailed:
            self.release()
            return False
        finally:
            del line, password
            self._close_memfd()

    def _close_memfd(self) -> None:
        # This process maps the memory already; the descriptor only had to reach the worker.
        fd, self._memfd = self._memfd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    @classmethod
    def start(cls, setup: dict[str, Any], secret: core.Credentials, *, timeout: float) -> _Worker | None:
        """A worker moving pieces of ``setup``'s stream: the spare one :func:`prestart` began if
        there is one still alive, or a new one. Not waiting for its OK here: its start (an
        interpreter, the library, a session: ~50 ms, a few for a spare) overlaps this process's
        own pieces; see poll_ready."""
        worker = _take_spare()
        if worker is None:
            worker = cls.spawn(timeout=timeout)
        else:
            worker._timeout = timeout
        if worker is None or not worker.configure(setup, secret):
            return None
        return worker

    def address(self, slot: int) -> int:
        """Where slot ``slot`` of the shared memory is in this process."""
        return self._base + slot * IO_SIZE

    def _send(self, line: str) -> None:
        try:
            self._in.write(line.encode() + b"\n")
            self._in.flush()
        except (OSError, ValueError) as exc:
            raise _WorkerFailed("the worker is gone") from exc

    def _answer(self) -> list[str]:
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._out], [], [], self._timeout + 5)
            if not ready:
                raise _WorkerFailed("the worker did not answer in time")
            data = os.read(self._out, 256)
            if not data:
                raise _WorkerFailed("the worker ended")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii", "replace").split()

    def poll_ready(self, wait: bool = False) -> bool:
        """Whether the worker has opened its file (it said OK), without waiting unless ``wait``;
        raises :class:`_WorkerFailed` when it said anything else or ended."""
        if self.ready:
            return True
        if not wait and b"\n" not in self._buffer:
            try:
                readable, _, _ = select.select([self._out], [], [], 0)
            except (OSError, ValueError) as exc:
                raise _WorkerFailed("the worker is gone") from exc
            if not readable:
                return False
        if self._answer() != ["OK"]:
            raise _WorkerFailed("the worker did not start")
        self.ready = True
        return True

    def submit(self, op: str, slot: int, offset: int, length: int) -> None:
        self._send(f"{op} {slot} {offset} {length}")

    def done(self) -> tuple[int, int]:
        """The next finished piece: ``(slot, byte count)``."""
        answer = self._answer()
        if len(answer) != 3 or answer[0] != "D":
            raise _WorkerFailed("the worker failed")
        return int(answer[1]), int(answer[2])

    def finish(self) -> None:
        """Close the worker's file and wait for it to end (its errors are the caller's to
        ignore: every piece it confirmed is on the server)."""
        try:
            if self.ready:
                self._send("C")
                self._answer()
        except _WorkerFailed:
            pass
        finally:
            self.kill()

    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._in.close()
        if self._process.poll() is None:
            with contextlib.suppress(OSError):
                self._process.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        if self._process.stdout is not None:
            with contextlib.suppress(OSError):
                self._process.stdout.close()

    def release(self) -> None:
        """Unmap the shared memory (after kill(); no slot address may be used afterwards)."""
        self.kill()
        self._close_memfd()
        self._anchor = None
        with contextlib.suppress(BufferError, ValueError):
            self.memory.close()


def _shared_bytes() -> int:  # read when used: tests and experiments change the constants
    return SLOTS * IO_SIZE


_SPARE: list[_Worker] = []  # at most one: the worker prestart() began, until a stream takes it
_SPARE_LOCK = threading.Lock()


def prestart(*, worker: bool = True) -> None:
    """Begin what the first libsmbclient stream of this process will need, in the background:
    loading the library (on a thread) and, with ``worker``, starting one worker process.

    For a short-lived process about to stream one SMB file (``cshyperv storage cp``): call it
    before the rest of the imports. Harmless when the library is missing or turned off, or when
    no stream follows (an unused worker ends with this process). A long-running process has no
    use for it: its workers' start-up overlaps its copies anyway."""
    if worker and _parallel_from() is not None and os.environ.get("CSHYPERV_SMB_NO_LIBSMBCLIENT") != "1":
        with _SPARE_LOCK:
            if not _SPARE:
                spare = _Worker.spawn(timeout=60.0)
                if spare is not None:
                    _SPARE.append(spare)
    # After the spawn: the new process is not forked while this thread is in the dynamic linker.
    threading.Thread(target=_LOADER.get, name="cshyperv-libsmbclient-load", daemon=True).start()


def _spare_waiting() -> bool:
    with _SPARE_LOCK:
        return bool(_SPARE)


def _take_spare() -> _Worker | None:
    with _SPARE_LOCK:
        while _SPARE:
            worker = _SPARE.pop()
            if worker.alive() and len(worker.memory) == _shared_bytes():
                return worker
            worker.release()
    return None


def _discard_spare() -> None:
    with _SPARE_LOCK:
        while _SPARE:
            _SPARE.pop().release()


atexit.register(_discard_spare)  # once, however many spares prestart() begins


class _Start:
    """How a stream starts its worker, and after how many bytes."""

    def __init__(self, start: Callable[[], _Worker | None], after: int) -> None:
        self.start = start
        self.after = after


class _Stream:
    transport = "libsmbclient"

    def __init__(self, context: core.Context, handle: int, shown: str, start: _Start | None) -> None:
        self._context = context
        self._handle: int | None = handle
        self._shown = shown
        self._start = start
        self._worker: _Worker | None = None  # the live worker
        self._shared: _Worker | None = None  # whose shared memory this stream uses, live or not
        self._position = 0  # this process's handle's file offset
        self.closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._shown!r} via libsmbclient>"

    @property
    def streams(self) -> int:
        """How many connections move this stream's bytes now (1, or 2 with the worker); waits
        for a worker still starting to say whether it could."""
        if self._worker is not None:
            self._worker_ready(wait=True)
        return 1 if self._worker is None else 2

    @property
    def worker_pid(self) -> int | None:
        """The process id of the second stream's worker while it runs."""
        return None if self._worker is None else self._worker.pid

    def _start_worker(self) -> None:
        start, self._start = self._start, None
        if start is not None:
            self._worker = self._shared = start.start()
            if self._worker is None:
                _log.debug("libsmbclient second stream did not start for %s; one stream", self._shown)

    def _worker_ready(self, wait: bool = False) -> bool:
        """Whether the worker takes pieces now. Until it has started, this process moves every
        piece itself; a worker that failed to start is dropped."""
        worker = self._worker
        if worker is None:
            return False
        try:
            return worker.poll_ready(wait)
        except _WorkerFailed:
            self._drop_worker()
            return False

    def _drop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()
            _log.debug("libsmbclient second stream failed for %s; going on with one", self._shown)

    def _next_done(self, on_failure: Callable[[], None]) -> tuple[int, int] | None:
        """The worker's next finished piece ``(slot, count)``; None when there is no worker or it
        just failed (then ``on_failure`` has moved its pieces back to this process)."""
        worker = self._worker
        if worker is None:
            return None
        try:
            return worker.done()
        except _WorkerFailed:
            on_failure()
            return None

    def _seek(self, offset: int) -> None:
        assert self._handle is not None
        if offset != self._position:
            try:
                self._context.seek(self._handle, offset)
            except OSError as exc:
                self.abort()
                raise _raise(exc, self._shown) from None
            self._position = offset

    def _finish(self, healthy: bool) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        self.closed = True
        failure: OSError | None = None
        try:
            self._context.close(handle)
        except OSError as exc:
            failure = exc
        finally:
            self._context.free()
            shared, self._shared = self._shared, None
            if shared is not None:
                shared.release()
        if failure is not None and healthy:
            raise os_error(failure.errno or errno.EIO, self._shown, "close")

    def close(self) -> None:
        self._finish(True)

    def abort(self) -> None:
        """Close without trusting the connection (the copy already failed)."""
        self._drop_worker()
        with contextlib.suppress(OSError):
            self._finish(False)

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.close()
        else:
            self.abort()


class SmbcReader(_Stream):
    """Reads a file from start to end (its size when opened); ``read(n)`` returns ``n`` bytes
    except at the end. With the worker, its pieces (every other one) are read ahead by it."""

    _size = 0
    _offset = 0

    def __init__(self, context: core.Context, handle: int, shown: str, start: _Start | None) -> None:
        super().__init__(context, handle, shown, start)
        self._pieces: dict[int, int] = {}  # piece index -> slot, for pieces the worker reads
        self._done: dict[int, int] = {}  # slot -> bytes the worker read into it
        self._free = list(range(SLOTS))
        self._next_piece = 0  # the next piece the worker may be given

    def find_size(self) -> None:
        # libsmbclient refuses (EINVAL) a read of more than one SMB read's worth at the very end
        # of a file, so the reader knows where the end is and never asks beyond it.
        assert self._handle is not None
        try:
            size = self._context.seek(self._handle, 0, os.SEEK_END)
            self._context.seek(self._handle, 0, os.SEEK_SET)
        except OSError as exc:
            self.abort()
            raise _raise(exc, self._shown) from None
        self._size = size

    def _schedule(self, current: int) -> None:
        """Give the worker its next pieces after piece ``current`` (see :data:`WORKER_SHARE`)
        while it has room, once it has started."""
        if not self._worker_ready():
            return
        worker = self._worker
        self._next_piece = max(self._next_piece, current + 1)
        while worker is not None and self._free:
            index = self._next_piece
            while not _workers_piece(index):
                index += 1
            offset = index * IO_SIZE
            if offset >= self._size:
                return
            slot = self._free.pop()
            try:
                worker.submit("R", slot, offset, min(IO_SIZE, self._size - offset))
            except _WorkerFailed:
                self._free.append(slot)
                self._lost_worker()
                return
            self._pieces[index] = slot
            self._next_piece = index + 1

    def _lost_worker(self) -> None:
        # Pieces already read into shared memory stay good; the rest this process reads itself.
        for index, slot in list(self._pieces.items()):
            if slot not in self._done:
                del self._pieces[index]
                self._free.append(slot)
        self._drop_worker()

    def _wait_for(self, slot: int) -> None:
        while slot not in self._done:
            finished = self._next_done(self._lost_worker)
            if finished is None:
                return
            self._done[finished[0]] = finished[1]

    def read(self, size: int = -1) -> bytes:
        if self._handle is None:
            raise ValueError("read from a closed SMB file")
        remaining = self._size - self._offset
        want = remaining if size is None or size < 0 else min(size, remaining)
        if want <= 0:
            return b""
        if self._start is not None and remaining >= self._start.after:
            self._start_worker()
        buffer = _new_bytes(want)
        address = _bytes_address(buffer)
        got = 0
        while got < want:
            position = self._offset + got
            index, within = divmod(position, IO_SIZE)
            count = min(IO_SIZE - within, want - got)
            self._schedule(index)
            slot = self._pieces.get(index)
            if slot is not None:
                self._wait_for(slot)
            if slot is not None and slot in self._done:
                available = self._done[slot] - within
                count = min(count, max(available, 0))
                ctypes.memmove(address + got, self._worker_address(slot) + within, count)
                if within + count >= self._done[slot]:
                    del self._pieces[index], self._done[slot]
                    self._free.append(slot)
            else:
                count = self._read_here(position, address + got, count)
            if count <= 0:
                break
            got += count
        self._offset += got
        if got < want:
            # The file was cut short under us: its end is here now.
            self._size = self._offset
        return buffer if got == want else buffer[:got]

    def _worker_address(self, slot: int) -> int:
        # The worker may have failed since it read this piece: its memory stays mapped.
        assert self._shared is not None
        return self._shared.address(slot)

    def _read_here(self, position: int, address: int, count: int) -> int:
        assert self._handle is not None
        self._seek(position)
        try:
            got = self._context.read_into(self._handle, address, count, IO_SIZE)
        except OSError as exc:
            self.abort()
            raise _raise(exc, self._shown) from None
        self._position = position + got
        return got

    def _finish(self, healthy: bool) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.finish()
        super()._finish(healthy)


class SmbcWriter(_Stream):
    """Writes sequentially; the file is complete only after ``close()``. With the worker, every
    other piece is copied to shared memory and written by it; this process writes the rest."""

    def __init__(self, context: core.Context, handle: int, shown: str, start: _Start | None) -> None:
        super().__init__(context, handle, shown, start)
        self._offset = 0
        self._pending: dict[int, tuple[int, int]] = {}  # slot -> (offset, length) the worker writes
        self._free = list(range(SLOTS))
        self._piece = 0  # index of the next piece written

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._handle is None:
            raise ValueError("write to a closed SMB file")
        view = memoryview(data).cast("B")
        size = len(view)
        if not size:
            return 0
        if view.readonly:
            keep: Any = bytes(view) if not isinstance(data, bytes) else data
            address = ctypes.cast(ctypes.c_char_p(keep), ctypes.c_void_p).value or 0
        else:
            keep = (ctypes.c_char * size).from_buffer(view)
            address = ctypes.addressof(keep)
        if self._start is not None and self._offset + size > self._start.after:
            self._start_worker()  # once the file grows beyond ``after`` bytes
        # The worker's pieces go out first, so that it writes while this process writes its own.
        mine: list[tuple[int, int, int]] = []
        done = 0
        while done < size:
            count = min(IO_SIZE, size - done)
            if (
                self._worker is not None
                and count >= _SMALLEST_HANDED_OVER
                and _workers_piece(self._piece)
                and self._worker_ready()
                and self._hand_over(view[done : done + count], self._offset)
            ):
                pass
            else:
                mine.append((self._offset, address + done, count))
            self._piece += 1
            self._offset += count
            done += count
        for offset, source, count in mine:
            self._write_here(offset, source, count)
        del keep
        return size

    def _hand_over(self, piece: memoryview, offset: int) -> bool:
        """Queue ``piece`` for the worker; False if the worker is gone (the caller writes it)."""
        while not self._free:
            self._collect()
            if self._worker is None:
                return False
        worker = self._worker
        if worker is None:
            return False
        slot = self._free.pop()
        start = slot * IO_SIZE
        worker.memory[start : start + len(piece)] = piece
        try:
            worker.submit("W", slot, offset, len(piece))
        except _WorkerFailed:
            self._pending[slot] = (offset, len(piece))
            self._take_back()
            return True
        self._pending[slot] = (offset, len(piece))
        return True

    def _collect(self) -> None:
        """Wait for the worker to confirm one piece (or take its pieces back if it failed)."""
        finished = self._next_done(self._take_back)
        if finished is None:
            return
        slot = finished[0]
        if self._pending.pop(slot, None) is not None:
            self._free.append(slot)

    def _take_back(self) -> None:
        # The worker failed: every piece it had not confirmed is still in shared memory, and this
        # process writes it. A dead server fails these writes too, with the connection's error.
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.kill()
        try:
            for slot, (offset, count) in sorted(self._pending.items(), key=lambda item: item[1]):
                self._write_here(offset, worker.address(slot), count)
        finally:
            self._pending.clear()
            self._free = list(range(SLOTS))
            _log.debug("libsmbclient second stream failed for %s; going on with one", self._shown)

    def _write_here(self, offset: int, source: int, count: int) -> None:
        assert self._handle is not None
        self._seek(offset)
        try:
            self._context.write_from(self._handle, source, count, IO_SIZE)
        except OSError as exc:
            self.abort()
            raise _raise(exc, self._shown) from None
        self._position = offset + count

    def close(self) -> None:
        while self._pending and self._worker is not None:
            self._collect()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.finish()
        self._finish(True)

    def flush(self) -> None:
        """Every ``write`` has reached the server when it returns, except pieces the worker still
        writes; ``close()`` waits for those."""
