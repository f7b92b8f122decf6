"""HTTP exchanges per Extensions action: cshyperv-extension vs hyperv.py's call pattern.

Run: ``python benchmarks/bench_extension.py``

Both sides talk to the same loopback WS-Management endpoint (``cshyperv.testing.wsman``), which
counts every HTTP request. cshyperv-extension runs each action as CloudStack does (a fresh
process state, a payload file, one JSON answer). hyperv.py's pattern is reproduced by issuing
pywinrm ``Session.run_ps`` calls in the number it makes per action (reference: a fresh shell per
PowerShell statement; create = 6 + 3 per NIC; statuses never works, so CloudStack falls back to
one ``status`` process per VM). The host has 1,000 VMs for the statuses case.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.frontends.extension import main as extension  # noqa: E402
from cshyperv.hypervisor import VmSpec  # noqa: E402
from cshyperv.simulator import SimulatorHypervisor  # noqa: E402
from cshyperv.testing.hyperv_host import SimulatedHyperVHost  # noqa: E402
from cshyperv.testing.wsman import LoopbackWSManServer  # noqa: E402

USER, PASSWORD = "LAB\\svc-cloudstack", "S3cr3t-Pa55"
VMS = 1000
# run_ps calls hyperv.py makes per action (extensions-protocol.md §5, one NIC).
HYPERV_PY_CALLS = {"create": 6 + 3 * 1, "start": 1, "stop": 1, "reboot": 1, "status": 1, "delete": 1, "statuses": VMS}


def main() -> int:
    import winrm

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        sim = SimulatorHypervisor(tmp / "host.db")
        sim.files.create_disk("D:\\Templates\\ubuntu-22.04-gen2.vhdx", 2**34)
        for n in range(VMS - 1):
            sim.create_vm(VmSpec(name=f"i-9-{n}-VM"))
        with LoopbackWSManServer(SimulatedHyperVHost(sim).invoke, username=USER, password=PASSWORD) as endpoint:
            session = winrm.Session(endpoint.url, auth=(USER, PASSWORD), transport="basic")
            before = endpoint.total_exchanges()
            session.run_ps("Get-VM")
            per_run_ps = endpoint.total_exchanges() - before

            print(
                f"{'action':10} {'cshyperv exchanges':>19} {'hyperv.py exchanges':>20} {'ratio':>7} {'cshyperv ms':>12}"
            )
            for action in ("create", "status", "statuses", "reboot", "stop", "start", "delete"):
                payload = json.loads((ROOT / "tests" / "samples" / "extension-create-payload.json").read_text())
                payload["externaldetails"]["host"].update(url=endpoint.url, transport="basic")
                path = tmp / "payload.json"
                path.write_text(json.dumps(payload))
                before = endpoint.total_exchanges()
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    code = extension([action, str(path), "600"])
                elapsed = (time.perf_counter() - started) * 1000
                if code != 0:
                    print(f"{action}: failed: {out.getvalue()}")
                    return 1
                ours = endpoint.total_exchanges() - before
                theirs = HYPERV_PY_CALLS[action] * per_run_ps
                print(f"{action:10} {ours:19} {theirs:20} {theirs / ours:6.0f}x {elapsed:12.1f}")
            print(f"(pywinrm Session.run_ps measured at {per_run_ps} exchanges per call; host with {VMS} VMs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
