"""SMB copy throughput against a real Samba on loopback, side by side with Samba's own client.

Run (as root, with samba and smbclient installed — ``scripts/install-servers``):
``python benchmarks/bench_storage.py [--size-mb 512] [--rounds 3]``

1. upload and download of one file between the local disk and the share: cshyperv's
   CifsStorageAdaptor (smbprotocol, through ``copy_file``) vs ``smbclient -c put/get`` on the same
   share in the same run (goal: >= 0.8x smbclient's throughput);
2. a copy within the share: server-side (FSCTL_SRV_COPYCHUNK, bytes never leave the server) vs
   streamed through this process.

The best of ``--rounds`` runs is reported for each (the page cache is warm for everyone alike).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.storage import CifsStorageAdaptor, LocalStorageAdaptor, copy_file  # noqa: E402
from cshyperv.testing.servers import SambaServer, SambaShare, skip_reason  # noqa: E402


def best(rounds: int, action: Callable[[], None]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reason = skip_reason("samba")
    if reason is not None:
        print(f"cannot run: {reason}")
        return 2
    size = args.size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="cshyperv-bench-"))
    source = work / "source.bin"
    with source.open("wb") as out:
        block = os.urandom(1024 * 1024)
        for i in range(args.size_mb):
            out.write(block[i % 1024 :] + block[: i % 1024])
    with SambaServer(work / "samba", shares=(SambaShare("share"),)) as server:
        auth = work / "smbclient.auth"
        auth.write_text(f"username = {server.username}\npassword = {server.password}\n")
        auth.chmod(0o600)
        smbclient = ["smbclient", "//127.0.0.1/share", "-p", str(server.port), "-A", str(auth), "-m", "SMB3"]
        # cshyperv always signs; smbclient signs only where the server insists. Measure it both
        # ways: signing too (like for like) and its default.
        signing = ["--client-protection=sign"]
        local = LocalStorageAdaptor(work)
        smb = CifsStorageAdaptor(server.url("share"))
        smb.connect()  # the session is set up once, as in the agent; smbclient pays its own per run

        def ours_put() -> None:
            copy_file(local, "source.bin", smb, "ours.bin")

        def ours_get() -> None:
            copy_file(smb, "ours.bin", local, "ours-back.bin")

        def theirs(command: str, extra: tuple[str, ...] = ()) -> Callable[[], None]:
            def run() -> None:
                subprocess.run([*smbclient, *extra, "-c", command], check=True, capture_output=True, cwd=work)

            return run

        def server_side() -> None:
            copy_file(smb, "ours.bin", smb, "server-side.bin")

        def streamed() -> None:
            copy_file(smb, "ours.bin", smb, "streamed.bin", server_side=False)

        put, get = "put source.bin theirs.bin", "get theirs.bin theirs-back.bin"
        ours = {"upload": best(args.rounds, ours_put), "download": best(args.rounds, ours_get)}
        signed = {
            "upload": best(args.rounds, theirs(put, tuple(signing))),
            "download": best(args.rounds, theirs(get, tuple(signing))),
        }
        plain = {"upload": best(args.rounds, theirs(put)), "download": best(args.rounds, theirs(get))}
        assert (work / "ours-back.bin").stat().st_size == size
        assert (work / "theirs-back.bin").stat().st_size == size
        copy_times = (best(args.rounds, server_side), best(args.rounds, streamed))
        smb.close()

    mb = size / 1e6
    print(f"SMB copy of {args.size_mb} MiB over loopback (Samba, SMB3), best of {args.rounds}")
    print(f"{'':10} {'cshyperv':>14} {'smbclient':>14} {'ratio':>6} {'smbclient':>14} {'ratio':>6}  goal >= 0.80")
    print(f"{'':10} {'(signed)':>14} {'(signed)':>14} {'':>6} {'(default)':>14}")
    for name, t_ours in ours.items():
        t_signed, t_plain = signed[name], plain[name]
        print(f"{name:10} {mb / t_ours:>9,.0f} MB/s {mb / t_signed:>9,.0f} MB/s {t_signed / t_ours:>6.2f}"
              f" {mb / t_plain:>9,.0f} MB/s {t_plain / t_ours:>6.2f}")  # fmt: skip
    ssc, streamed_s = copy_times
    print(f"{'copy within the share':26} server-side {mb / ssc:,.0f} MB/s ({ssc:.2f} s)"
          f" vs streamed {mb / streamed_s:,.0f} MB/s ({streamed_s:.2f} s): {streamed_s / ssc:.1f}x")  # fmt: skip
    for name in ("source.bin", "ours-back.bin", "theirs-back.bin"):
        (work / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
