"""The second stream of a libsmbclient copy: a worker process with a connection of its own.

libsmbclient keeps one request in flight per call and cannot be called from two threads of one
process at once, so a single stream waits for every round trip. This worker reads or writes
pieces of the same file over a second connection while the parent moves its own pieces, which
keeps two requests in flight (smbclient's ``cli_push``/``cli_pull`` keep several on one).

Run as ``python -I -S _smbc_worker.py`` by :mod:`cshyperv.storage._libsmbclient`: standard
library only, nothing read from the environment or the command line. Everything arrives on
standard input — first one JSON line with the location, the credentials and the shared-memory
file descriptor (so the password is never in an argument list or an environment), then one
command per line:

* ``R <slot> <offset> <length>`` / ``W <slot> <offset> <length>``: read the file's bytes at
  ``offset`` into slot ``slot`` of the shared memory, or write them from it;
* ``C``: close the file and exit.

Each answer is one line on standard output: ``OK`` after opening, ``D <slot> <count>`` when a
piece is done, ``E <slot> <errno>`` when something failed (then the worker exits). The worker
ends when its standard input closes, and the kernel kills it when its parent dies.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import mmap
import os
import signal
import sys
from types import ModuleType

_PR_SET_PDEATHSIG = 1


def _core() -> ModuleType:
    # Loaded by path: under -I the package is not importable, and importing cshyperv would cost
    # start-up time and read the environment.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_smbc_core.py")
    spec = importlib.util.spec_from_file_location("_cshyperv_smbc_core", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the closed stdin ends it
        pass
    if os.getppid() == 1:  # the parent died before the line above ran
        sys.exit(1)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    _die_with_parent()
    core = _core()
    # The library loads before the setup line is read: a spare worker (prestart) has it ready
    # by the time its parent has a stream for it.
    library = failure = None
    try:
        library = core.load("")
    except OSError as exc:
        failure = exc
    setup = json.loads(sys.stdin.readline() or "null")
    if not isinstance(setup, dict):
        return 2
    try:
        if library is None:
            raise failure or OSError(5, "libsmbclient did not load")
        library.config = setup["config"]
        credentials = core.Credentials(setup["user"], setup.pop("password"), setup["domain"])
        context = core.Context(
            library,
            port=setup["port"],
            timeout_ms=setup["timeout_ms"],
            encrypt=setup["encrypt"],
            credentials=credentials,
        )
        handle = context.open(setup["url"].encode("ascii"), os.O_WRONLY if setup["write"] else os.O_RDONLY)
    except OSError as exc:
        _say(f"E - {exc.errno or 5}")
        return 1
    slot_size = int(setup["slot_size"])
    memory = mmap.mmap(setup["memfd"], slot_size * int(setup["slots"]))
    base = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    io_size = int(setup["io_size"])
    _say("OK")
    for line in sys.stdin:
        op, *args = line.split()
        if op == "C":
            try:
                context.close(handle)
            except OSError as exc:
                _say(f"E - {exc.errno or 5}")
                return 1
            _say("D - 0")
            return 0
        slot, offset, length = (int(a) for a in args)
        if not (0 <= slot < int(setup["slots"]) and 0 < length <= slot_size):
            _say(f"E {slot} 22")
            return 1
        address = base + slot * slot_size
        try:
            context.seek(handle, offset)
            if op == "W":
                context.write_from(handle, address, length, io_size)
                count = length
            else:
                count = context.read_into(handle, address, length, io_size)
        except OSError as exc:
            _say(f"E {slot} {exc.errno or 5}")
            return 1
        _say(f"D {slot} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
