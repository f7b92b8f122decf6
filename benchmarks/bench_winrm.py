"""WinRM benchmarks for the Hyper-V plug-in, each next to its baseline in the same run.

Run: ``python benchmarks/bench_winrm.py``

1. HTTP exchanges per CloudStack operation on a warm session, vs pywinrm ``Session.run_ps`` doing
   one PowerShell call (goal: <= 4);
2. bulk state report of 1,000 VMs in one invocation: local processing of the host's answer
   (JSON -> VmInfo objects) vs plain ``json.loads`` of the same bytes (goal: <= 100 ms);
3. 50 hosts polled concurrently with 20 ms injected latency per request: total time vs one host
   (goal: <= 3x one host).

Everything runs against loopback WS-Management endpoints (``cshyperv.testing.wsman``), over NTLM
with sealed messages as a Windows host's defaults require; counts are WS-Management exchanges.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.hyperv import HyperVHypervisor  # noqa: E402
from cshyperv.hyperv.plugin import _info  # noqa: E402
from cshyperv.hyperv.winrm import HostConnection, WinRMRunner  # noqa: E402
from cshyperv.hypervisor import VmSpec  # noqa: E402
from cshyperv.simulator import HostProfile, SimulatorHypervisor  # noqa: E402
from cshyperv.testing.hyperv_host import SimulatedHyperVHost  # noqa: E402
from cshyperv.testing.wsman import LoopbackWSManServer  # noqa: E402

USER, PASSWORD = "admin", "P@ss w0rd"


def plugin(endpoint: LoopbackWSManServer, transport: str = "ntlm") -> HyperVHypervisor:
    connection = HostConnection(url=endpoint.url, username=USER, password=PASSWORD, transport=transport)
    return HyperVHypervisor(WinRMRunner(connection))


def count_exchanges(hv: HyperVHypervisor, endpoint: LoopbackWSManServer) -> list[tuple[str, int]]:
    """HTTP exchanges of each operation of a VM's life cycle, on a warm connection."""
    rows = []
    for label, call in [
        ("create_vm", lambda: hv.create_vm(VmSpec(name="i-2-1-VM"))),
        ("start_vm", lambda: hv.start_vm("i-2-1-VM")),
        ("list_vms (state report)", hv.list_vms),
        ("stop_vm", lambda: hv.stop_vm("i-2-1-VM")),
    ]:
        before = endpoint.total_exchanges()
        call()
        rows.append((label, endpoint.total_exchanges() - before))
    return rows


def exchanges(tmp: Path) -> None:
    import winrm

    sim = SimulatorHypervisor(tmp / "ex.db")
    # any_command: pywinrm's run_ps baseline sends its own command lines, which this endpoint
    # would otherwise refuse (it runs only the plug-in's constant bootstrap).
    host = SimulatedHyperVHost(sim).invoke
    with LoopbackWSManServer(host, username=USER, password=PASSWORD, any_command=True) as endpoint:
        hv = plugin(endpoint)
        hv.host_info()  # warm: the shell is open
        rows = count_exchanges(hv, endpoint)
        session = winrm.Session(endpoint.url, auth=(USER, PASSWORD), transport="ntlm")
        before = endpoint.total_exchanges()
        session.run_ps("Get-VM")
        baseline = endpoint.total_exchanges() - before
    psrp_rows = psrp_exchanges(tmp)
    print("1. HTTP exchanges per operation (warm session)    cshyperv winrm   cshyperv psrp   pywinrm run_ps")
    for (label, count), (_, over_psrp) in zip(rows, psrp_rows, strict=True):
        print(f"   {label:48} {count:8} {over_psrp:15} {baseline:16}")


def psrp_exchanges(tmp: Path) -> list[tuple[str, int]]:
    """The same operations through the PSRP runner (runner=psrp) on a warm runspace pool."""
    from cshyperv.hyperv.psrp import PSRPRunner
    from cshyperv.testing.psrp import LoopbackPSRPServer

    sim = SimulatorHypervisor(tmp / "psrp.db")
    with LoopbackPSRPServer(SimulatedHyperVHost(sim).invoke, username=USER, password=PASSWORD) as endpoint:
        connection = HostConnection(url=endpoint.url, username=USER, password=PASSWORD)
        hv = HyperVHypervisor(PSRPRunner(connection))
        hv.host_info()  # warm: the pool is open
        rows = count_exchanges(hv, endpoint)
        hv.close()
    return rows


def bulk_report(tmp: Path) -> None:
    sim = SimulatorHypervisor(tmp / "bulk.db")
    for n in range(1000):
        sim.create_vm(VmSpec(name=f"i-2-{n}-VM"))
    host = SimulatedHyperVHost(sim)
    from cshyperv.hyperv.scripts import script_text

    document = host.invoke(script_text("list_vms"), {"full": False})
    raw = json.dumps({"ok": document}).encode()
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        parsed = json.loads(raw)["ok"]
        vms = [_info(v) for v in parsed]
    ours = (time.perf_counter() - started) / runs * 1000
    started = time.perf_counter()
    for _ in range(runs):
        json.loads(raw)
    floor = (time.perf_counter() - started) / runs * 1000
    print(f"2. state report of {len(vms)} VMs ({len(raw) // 1024} KiB answer): local processing")
    print(f"   cshyperv JSON -> VmInfo {ours:8.2f} ms        json.loads alone {floor:8.2f} ms   (goal <= 100 ms)")


def many_hosts(tmp: Path, transport: str, hosts: int = 50, latency_s: float = 0.02) -> None:
    """``transport``: ntlm (sealed messages, the default) or basic (plain, the sealing cost left out:
    clients and endpoints share this one Python process, so sealing competes for its CPU)."""
    endpoints = []
    options: dict[str, Any] = {"auth": ("basic",), "allow_unencrypted": True} if transport == "basic" else {}
    try:
        for n in range(hosts):
            sim = SimulatorHypervisor(tmp / f"{transport}{n}.db", host=HostProfile(name=f"hv{n:02d}"))
            sim.create_vm(VmSpec(name=f"i-2-{n}-VM"))
            host = SimulatedHyperVHost(sim).invoke
            endpoint = LoopbackWSManServer(host, username=USER, password=PASSWORD, **options)
            endpoint.__enter__()
            endpoints.append(endpoint)
        plugins = [plugin(e, transport) for e in endpoints]
        for p in plugins:
            p.list_vms()  # open every shell first: polling is what is measured

        def poll(index: int) -> int:
            endpoints[index].inject("*", f"delay:{latency_s}")
            endpoints[index].inject("*", f"delay:{latency_s}")
            endpoints[index].inject("*", f"delay:{latency_s}")
            endpoints[index].inject("*", f"delay:{latency_s}")
            return len(plugins[index].list_vms())

        started = time.perf_counter()
        poll(0)
        one = time.perf_counter() - started
        started = time.perf_counter()
        with ThreadPoolExecutor(hosts) as pool:
            assert sum(pool.map(poll, range(hosts))) == hosts
        total = time.perf_counter() - started
        print(f"3. {hosts} hosts polled concurrently, {latency_s * 1000:.0f} ms per request injected ({transport})")
        ratio = total / one
        print(f"   all {hosts} hosts {total * 1000:8.1f} ms        one host {one * 1000:8.1f} ms", end="")
        print(f"   ratio {ratio:.1f}x (goal <= 3x)")
    finally:
        for endpoint in endpoints:
            endpoint.__exit__(None, None, None)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        exchanges(tmp)
        bulk_report(tmp)
        many_hosts(tmp, "ntlm")
        many_hosts(tmp, "basic")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
