"""HTTP exchanges per Extensions action: cshyperv-extension vs hyperv.py's call pattern.

Run: ``python benchmarks/bench_extension.py``

All sides talk to the same kind of loopback WS-Management endpoint (``cshyperv.testing.wsman``,
NTLM with sealed messages, as a Windows host's defaults require), which counts WS-Management
exchanges (SOAP requests) and, separately, every HTTP request including NTLM's logon legs.

* **cshyperv** runs each action as CloudStack does (a fresh process state, a payload file, one JSON
  answer): the envelope rides in the new shell's environment, so Create, Command, Receive, Delete.
* **cshyperv, envelope on stdin** is the same executable with the environment path turned off
  (``ENVIRONMENT_BUDGET = 0``): the previous pattern, Create, Command, Send, Receive, Delete.
* **hyperv.py** is reproduced by issuing pywinrm ``Session.run_ps`` calls in the number it makes
  per action (reference: a fresh shell per PowerShell statement; create = 6 + 3 per NIC; statuses
  never works, so CloudStack falls back to one ``status`` process per VM), against an endpoint
  that lets any command line run (``any_command``). The host has 1,000 VMs for the statuses case.
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
from cshyperv.hyperv import winrm as winrm_runner  # noqa: E402
from cshyperv.hypervisor import VmSpec  # noqa: E402
from cshyperv.simulator import SimulatorHypervisor  # noqa: E402
from cshyperv.testing.hyperv_host import SimulatedHyperVHost  # noqa: E402
from cshyperv.testing.wsman import LoopbackWSManServer  # noqa: E402

USER, PASSWORD = "LAB\\svc-cloudstack", "S3cr3t-Pa55"
VMS = 1000
ACTIONS = ("create", "status", "statuses", "reboot", "stop", "start", "delete")
# run_ps calls hyperv.py makes per action (extensions-protocol.md §5, one NIC).
HYPERV_PY_CALLS = {"create": 6 + 3 * 1, "start": 1, "stop": 1, "reboot": 1, "status": 1, "delete": 1, "statuses": VMS}


def run_actions(endpoint: LoopbackWSManServer, tmp: Path) -> dict[str, tuple[int, int, float]]:
    """Each action once: (WS-Management exchanges, HTTP requests, milliseconds)."""
    rows = {}
    for action in ACTIONS:
        payload = json.loads((ROOT / "tests" / "samples" / "extension-create-payload.json").read_text())
        payload["externaldetails"]["host"].update(url=endpoint.url)
        path = tmp / "payload.json"
        path.write_text(json.dumps(payload))
        before, http_before = endpoint.total_exchanges(), endpoint.http_requests
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = extension([action, str(path), "600"])
        elapsed = (time.perf_counter() - started) * 1000
        if code != 0:
            raise SystemExit(f"{action}: failed: {out.getvalue()}")
        if endpoint.open_shells:
            raise SystemExit(f"{action}: left {endpoint.open_shells} shell(s) open on the host")
        rows[action] = (endpoint.total_exchanges() - before, endpoint.http_requests - http_before, elapsed)
    return rows


def host(tmp: Path, name: str) -> SimulatedHyperVHost:
    sim = SimulatorHypervisor(tmp / f"{name}.db")
    sim.files.create_disk("D:\\Templates\\ubuntu-22.04-gen2.vhdx", 2**34)
    for n in range(VMS - 1):
        sim.create_vm(VmSpec(name=f"i-9-{n}-VM"))
    return SimulatedHyperVHost(sim)


def main() -> int:
    import winrm

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        with LoopbackWSManServer(host(tmp, "env").invoke, username=USER, password=PASSWORD) as endpoint:
            ours = run_actions(endpoint, tmp)
        budget = winrm_runner.ENVIRONMENT_BUDGET
        winrm_runner.ENVIRONMENT_BUDGET = 0  # the previous pattern: the envelope on stdin
        try:
            with LoopbackWSManServer(host(tmp, "stdin").invoke, username=USER, password=PASSWORD) as endpoint:
                stdin = run_actions(endpoint, tmp)
        finally:
            winrm_runner.ENVIRONMENT_BUDGET = budget
        any_host = host(tmp, "run_ps").invoke
        with LoopbackWSManServer(any_host, username=USER, password=PASSWORD, any_command=True) as endpoint:
            session = winrm.Session(endpoint.url, auth=(USER, PASSWORD), transport="ntlm")
            session.run_ps("Get-VM")  # warm pywinrm's imports
            before, http_before = endpoint.total_exchanges(), endpoint.http_requests
            session.run_ps("Get-VM")
            per_run_ps = endpoint.total_exchanges() - before
            http_per_run_ps = endpoint.http_requests - http_before

    print("WS-Management exchanges per action (HTTP requests with NTLM logon legs in brackets)")
    print(
        f"{'action':10} {'cshyperv':>14} {'envelope on stdin':>18} {'hyperv.py':>16} {'ratio':>6} {'cshyperv ms':>12}"
    )
    for action in ACTIONS:
        (count, http, elapsed), (old, old_http, _) = ours[action], stdin[action]
        theirs, their_http = HYPERV_PY_CALLS[action] * per_run_ps, HYPERV_PY_CALLS[action] * http_per_run_ps
        print(
            f"{action:10} {count:5} [{http:5}] {old:9} [{old_http:5}] {theirs:6} [{their_http:6}]"
            f" {theirs / count:5.0f}x {elapsed:12.1f}"
        )
    print(
        f"(pywinrm Session.run_ps measured at {per_run_ps} exchanges, {http_per_run_ps} HTTP requests per call;"
        f" host with {VMS} VMs; no action left a shell open)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
