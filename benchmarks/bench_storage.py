"""SMB copy throughput against a real Samba on loopback, side by side with Samba's own client.

Run (as root, with samba and smbclient installed — ``scripts/install-servers``):
``python benchmarks/bench_storage.py [--size-mb 512] [--rounds 5]``

1. upload (put) and download (get) of one file between the local disk and a share, on a share of
   a server that requires signing and on a share that requires encryption: cshyperv's
   ``copy_file`` through each SMB data path (libsmbclient, smbprotocol) vs ``smbclient -c
   put/get`` (signing resp. encryption asked for explicitly, like for like), same file, same
   share. The rounds alternate (each round runs every client once, in a rotated order) and the
   median is reported (goal: cshyperv >= 0.8x smbclient's throughput). ``copy_file`` runs on an
   adaptor whose sessions are already set up, as in the agent; ``cp (CLI)`` is a whole
   ``cshyperv storage cp`` process (interpreter start-up, imports, both sessions), as smbclient
   is a whole process. Session set-up times are shown apart. Before each timed copy the harness
   touches and frees as much memory as the copy will newly use (``back_memory``): on this virtual
   machine a page the guest freed is handed back to the host, and its next first touch, a host
   page fault, otherwise decided the figures (the same copy took 0.6 s or 1.9 s). Every put makes
   a new file (the client's previous one is removed first, untimed), as a template install or a
   new volume does; a last line times a put onto an existing file, which smbclient overwrites in
   place and cshyperv replaces atomically (``.partial`` then rename);
2. apart from those rounds, a Python thread counting beside a cshyperv upload: how much of its
   idle speed it keeps shows whether the data path lets other threads run (libsmbclient releases
   the GIL while in C; the machine's other core matters too, so compare the two paths);
3. a copy within one share: server-side (FSCTL_SRV_COPYCHUNK, bytes never leave the server) vs
   streamed through this process.
"""

from __future__ import annotations

import argparse
import atexit
import filecmp
import functools
import mmap
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.storage import CifsStorageAdaptor, LocalStorageAdaptor, copy_file  # noqa: E402
from cshyperv.storage import libsmbclient_unavailable_reason as unavailable_reason  # noqa: E402
from cshyperv.testing.servers import SambaServer, SambaShare, skip_reason  # noqa: E402

SHARES = {"signed": "sign", "sealed": "encrypt"}  # share -> smbclient --client-protection
# Each client's file on the share (removed before each timed put: a copy makes a new file).
TARGETS = {
    "libsmbclient": "libsmbclient.bin",
    "smbprotocol": "smbprotocol.bin",
    "cp (CLI)": "cli-source.bin",
    "smbclient": "theirs.bin",
}
COMMANDS = {"put": f"put source.bin {TARGETS['smbclient']}", "get": f"get {TARGETS['smbclient']} theirs-back.bin"}


class Counter:
    """A Python thread that counts while a copy runs (its rate vs idle: how free the GIL was)."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            for _ in range(1000):
                n += 1
            self.count = n

    def __enter__(self) -> Counter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def in_memory(size: int) -> str | None:
    """/dev/shm if it holds the run's files (the source and nine copies of it) with room to spare."""
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:
        return None
    return "/dev/shm" if free > 12 * size else None


def back_memory(size: int) -> None:
    """Touch ``size`` bytes of fresh memory and free it again, just before a timed copy.

    This machine is a virtual machine that hands memory the guest frees back to its host within
    seconds (free page reporting) and whose host backs a page again only when it is next touched.
    A 512 MiB copy makes 512 MiB of new file pages (the target, in /dev/shm or the page cache), so
    without this its time depended mostly on how many of those pages the host had to fault in:
    the same copy took 0.6 s or 1.9 s by luck. Pages freed here are reused by the copy before they
    can be reported, so every client, smbclient included, starts on memory the host has backed.
    """
    chunk = bytes(64 * 1024 * 1024)
    with mmap.mmap(-1, size) as memory:
        for _ in range(size // len(chunk)):
            memory.write(chunk)


def idle_rate(seconds: float = 0.5) -> float:
    with Counter() as counter:
        time.sleep(seconds)
    return counter.count / seconds


def timed(action: Callable[[], None], counting: bool = False) -> tuple[float, float]:
    """(seconds, counter rate per second or 0)."""
    if not counting:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started, 0.0
    with Counter() as counter:
        started = time.perf_counter()
        action()
        elapsed = time.perf_counter() - started
    return elapsed, counter.count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--dir",
        help="where the files and the shares live (default: /dev/shm when it has room for them, so"
        " that the disk's writeback of gigabytes of test files does not decide the figures)",
    )
    args = parser.parse_args()
    reason = skip_reason("samba")
    if reason is not None:
        print(f"cannot run: {reason}")
        return 2
    paths = ["libsmbclient", "smbprotocol"]
    missing = unavailable_reason()
    if missing is not None:
        print(f"note: {missing}; measuring smbprotocol only")
        paths = ["smbprotocol"]
    size = args.size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="cshyperv-bench-", dir=args.dir or in_memory(size)))
    # Gigabytes in memory: gone at exit even when a round fails.
    atexit.register(shutil.rmtree, work, True)
    print(f"files and shares in {work}")
    source = work / "source.bin"
    with source.open("wb") as out:
        block = os.urandom(1024 * 1024)
        for i in range(args.size_mb):
            out.write(block[i % 1024 :] + block[: i % 1024])
    shares = (SambaShare("signed", signing="mandatory"), SambaShare("sealed", encrypt="required"))
    results: dict[tuple[str, str, str], list[float]] = {}
    overwrites: dict[str, list[float]] = {}
    gil: dict[str, list[float]] = {}
    with SambaServer(work / "samba", shares=shares) as server:
        auth = work / "smbclient.auth"
        auth.write_text(f"username = {server.username}\npassword = {server.password}\n")
        auth.chmod(0o600)
        local = LocalStorageAdaptor(work)

        def smbclient(share: str, command: str) -> list[str]:
            protection = f"--client-protection={SHARES[share]}"
            base = ["smbclient", f"//127.0.0.1/{share}", "-p", str(server.port), "-A", str(auth), "-m", "SMB3"]
            return [*base, protection, "-c", command]

        def theirs(share: str, command: str) -> Callable[[], None]:
            return lambda: subprocess.run(smbclient(share, command), check=True, capture_output=True, cwd=work)

        adaptors = {
            (share, path): CifsStorageAdaptor(server.url(share), data_path=path) for share in SHARES for path in paths
        }

        def ours(share: str, path: str, direction: str) -> Callable[[], None]:
            def run() -> None:
                smb = adaptors[(share, path)]
                if direction == "put":
                    copy_file(local, "source.bin", smb, TARGETS[path])
                else:
                    copy_file(smb, TARGETS[path], local, f"{path}-back.bin")

            return run

        env = {**os.environ, "CSHYPERV_SMB_USERNAME": server.username, "CSHYPERV_SMB_PASSWORD": server.password}
        # An installed cshyperv has its bytecode compiled (pip does it); with PYTHONDONTWRITEBYTECODE
        # a source tree would compile every module again in every CLI process.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        (work / "tiny.bin").write_bytes(b"t")

        def cli(share: str, direction: str, name: str = "source.bin") -> Callable[[], None]:
            on_share = TARGETS["cp (CLI)"] if name == "source.bin" else f"cli-{name}"
            remote = f"cifs://127.0.0.1:{server.port}/{share}/{on_share}"
            pair = [str(work / name), remote] if direction == "put" else [remote, str(work / "cli-back.bin")]
            command = [sys.executable, "-m", "cshyperv.cli", "storage", "cp", "-q", *pair]
            return lambda: subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)

        def setup(path: str) -> None:
            CifsStorageAdaptor(server.url("signed"), data_path=path).open_read(TARGETS[path]).close()

        startup = statistics.median(timed(theirs("signed", "exit"))[0] for _ in range(3))
        # The CLI's fixed cost: interpreter, imports, both sessions, for a one-byte file.
        cli_fixed = statistics.median(timed(cli("signed", "put", "tiny.bin"))[0] for _ in range(3))
        idle = idle_rate()
        for adaptor in adaptors.values():
            adaptor.connect()
        clients = [*paths, "cp (CLI)", "smbclient"]
        # The copy's new pages (its target) plus the buffers and processes around it.
        warm = (3 * size // 2 + 256 * 1024 * 1024) // (64 * 1024 * 1024) * (64 * 1024 * 1024)
        for share in SHARES:
            for direction in ("put", "get"):
                for r in range(args.rounds):
                    order = clients[r % len(clients) :] + clients[: r % len(clients)]
                    for client in order:
                        if direction == "put":  # a new file, as a template install or a new volume
                            (server.share_path(share) / TARGETS[client]).unlink(missing_ok=True)
                        back_memory(warm)
                        if client == "smbclient":
                            seconds, _ = timed(theirs(share, COMMANDS[direction]))
                        elif client == "cp (CLI)":
                            seconds, _ = timed(cli(share, direction))
                        else:
                            seconds, _ = timed(ours(share, client, direction))
                        results.setdefault((share, direction, client), []).append(seconds)
            for name in [f"{p}-back.bin" for p in paths] + ["cli-back.bin", "theirs-back.bin"]:
                assert filecmp.cmp(source, work / name, shallow=False), name
                (work / name).unlink()
        # A put onto an existing file: smbclient overwrites in place, cshyperv replaces atomically.
        for r in range(args.rounds):
            for client in ("cp (CLI)", "smbclient")[:: 1 if r % 2 == 0 else -1]:
                back_memory(warm)
                run = theirs("signed", COMMANDS["put"]) if client == "smbclient" else cli("signed", "put")
                overwrites.setdefault(client, []).append(timed(run)[0])
        # Apart from the throughput rounds: the counting thread takes a core of its own.
        for _ in range(max(1, args.rounds // 2)):
            for path in paths:
                _, rate = timed(ours("signed", path, "put"), counting=True)
                gil.setdefault(path, []).append(rate / idle)
        # Session set-up alone: smbprotocol's (stat), then libsmbclient's (its first open).
        setups = {}
        for path in paths:
            setups[path] = statistics.median(timed(functools.partial(setup, path))[0] for _ in range(3))
        for adaptor in adaptors.values():
            adaptor.close()
        smb = CifsStorageAdaptor(server.url("signed"))
        copy_times = []
        for kind in ("server-side", "streamed"):

            def within(kind: str = kind) -> None:
                copy_file(smb, TARGETS[paths[0]], smb, f"{kind}.bin", server_side=kind == "server-side")

            copy_times.append(statistics.median(timed(within)[0] for _ in range(max(1, args.rounds // 2))))
        smb.close()

    mb = size / 1e6
    print(f"SMB copy of {args.size_mb} MiB over loopback (Samba 4, SMB3), median of {args.rounds} alternating rounds")
    shown = ", ".join(f"cshyperv's sessions ({p}) {setups[p]:.2f} s" for p in paths)
    print(f"set-up: smbclient's process and session (in its figures) {startup:.2f} s; {shown}")
    print(f"cp (CLI): a whole process (interpreter, imports, both sessions) copying one byte {cli_fixed:.2f} s")
    header = f"{'share':13} " + " ".join(f"{c:>14}" for c in clients) + "   ratio to smbclient (goal >= 0.80)"
    print(header)
    for share in SHARES:
        for direction in ("put", "get"):
            med = {c: statistics.median(results[(share, direction, c)]) for c in clients}
            cells = " ".join(f"{mb / med[c]:>9,.0f} MB/s" for c in clients)
            ratios = "  ".join(f"{p} {med['smbclient'] / med[p]:.2f}" for p in clients[:-1])
            print(f"{share:8} {direction:4} {cells}   {ratios}")
            runs = {c: results[(share, direction, c)] for c in clients}
            spread = "  ".join(f"{c} {min(runs[c]):.2f}-{max(runs[c]):.2f} s" for c in clients)
            print(f"{'':13}(range: {spread})")
    over = {c: statistics.median(t) for c, t in overwrites.items()}
    print(f"signed   put onto an existing file: cp (CLI) {mb / over['cp (CLI)']:,.0f} MB/s, smbclient"
          f" {mb / over['smbclient']:,.0f} MB/s: {over['smbclient'] / over['cp (CLI)']:.2f}")  # fmt: skip
    for path in paths:
        print(f"a Python thread beside a {path} copy kept {statistics.median(gil[path]):.0%} of its idle speed")
    ssc, streamed_s = copy_times
    print(f"{'copy within the share':26} server-side {mb / ssc:,.0f} MB/s ({ssc:.2f} s)"
          f" vs streamed {mb / streamed_s:,.0f} MB/s ({streamed_s:.2f} s): {streamed_s / ssc:.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
