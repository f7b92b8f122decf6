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
  hyperv.py has no resize, ISO, console or prepare actions: ``-`` in its column.

Every action CloudStack may send is run once, in an order that works on one VM (the snapshot
restored while the VM runs, the resize while it is off). The exchange counts are what
``tests/integration/test_extension_hyperv_mode.py`` asserts; the milliseconds are for reading only.
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
SNAPSHOT = {"parameters": {"snapshot_name": "before-upgrade"}}
ISO = {"parameters": {"iso_path": "D:\\ISO\\tools.iso"}}
# (action, payload additions), in an order that works on one VM.
ACTIONS: tuple[tuple[str, dict[str, object]], ...] = (
    ("prepare", {}),
    ("create", {}),
    ("status", {}),
    ("statuses", {}),
    ("reboot", {}),
    ("CreateSnapshot", SNAPSHOT),
    ("ListSnapshots", {}),
    ("RestoreSnapshot", SNAPSHOT),
    ("DeleteSnapshot", SNAPSHOT),
    ("Suspend", {}),
    ("Resume", {}),
    ("AttachIso", ISO),
    ("DetachIso", ISO),
    ("getconsole", {"console_url": "https://gateway.example/vm/{vm_id}"}),
    ("stop", {}),
    ("Resize", {"parameters": {"cpus": "4", "memory": "4096"}}),
    ("start", {}),
    ("delete", {}),
)
# run_ps calls hyperv.py makes per action (extensions-protocol.md §5, one NIC); None: no such action.
HYPERV_PY_CALLS: dict[str, int | None] = {
    "prepare": None,
    "create": 6 + 3 * 1,
    "start": 1,
    "stop": 1,
    "reboot": 1,
    "status": 1,
    "delete": 1,
    "statuses": VMS,
    "CreateSnapshot": 1,
    "ListSnapshots": 1,
    "RestoreSnapshot": 1,
    "DeleteSnapshot": 1,
    "Suspend": 1,
    "Resume": 1,
    "AttachIso": None,
    "DetachIso": None,
    "getconsole": None,
    "Resize": None,
}


def run_actions(endpoint: LoopbackWSManServer, tmp: Path) -> dict[str, tuple[int, int, float]]:
    """Each action once: (WS-Management exchanges, HTTP requests, milliseconds)."""
    rows = {}
    for action, extra in ACTIONS:
        payload = json.loads((ROOT / "tests" / "samples" / "extension-create-payload.json").read_text())
        payload["externaldetails"]["host"].update(url=endpoint.url)
        if "console_url" in extra:
            payload["externaldetails"]["host"]["console_url"] = extra["console_url"]
        if "parameters" in extra:
            payload["parameters"] = extra["parameters"]
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
        f"{'action':15} {'cshyperv':>14} {'envelope on stdin':>18} {'hyperv.py':>16} {'ratio':>6} {'cshyperv ms':>12}"
    )
    for action, _extra in ACTIONS:
        (count, http, elapsed), (old, old_http, _) = ours[action], stdin[action]
        calls = HYPERV_PY_CALLS[action]
        if calls is None:
            theirs_text, ratio = f"{'-':>6} [{'-':>6}]", "-"
        else:
            theirs_text = f"{calls * per_run_ps:6} [{calls * http_per_run_ps:6}]"
            ratio = f"{calls * per_run_ps / count:.0f}x" if count else "-"
        print(f"{action:15} {count:5} [{http:5}] {old:9} [{old_http:5}] {theirs_text} {ratio:>6} {elapsed:12.1f}")
    print(f"most exchanges for one action: {max(row[0] for row in ours.values())} (goal: at most 4)")
    print(
        f"(pywinrm Session.run_ps measured at {per_run_ps} exchanges, {http_per_run_ps} HTTP requests per call;"
        f" host with {VMS} VMs; no action left a shell open)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
