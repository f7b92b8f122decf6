"""``cshyperv demo``: the agent on the simulator, driven over real HTTPS like a management server.

Starts the direct-connect agent on 127.0.0.1 (TLS with a self-signed certificate made on the spot),
then sends, as HypervDirectConnectResource would: ReadyCommand, StartupCommand,
ModifyStoragePoolCommand, CopyCommand (template to primary, then template to root volume),
StartCommand, HostVmStateReport and PingRoutingCommand, GetVmStatsCommand,
CheckVirtualMachineCommand, a VM snapshot and StopCommand. Prints one row per exchange and exits
0 only if every answer is what CloudStack expects.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cshyperv.commands import PowerState
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.scenario import Scenario

__all__ = ["run_agent_demo"]

GiB = 1024**3


def run_agent_demo(echo: Callable[[str], object], *, workdir: str | Path | None = None) -> int:
    from cshyperv.client import DirectConnectClient
    from cshyperv.frontends.direct_connect import AgentServer

    with tempfile.TemporaryDirectory(prefix="cshyperv-demo-") as scratch:
        root = Path(workdir) if workdir is not None else Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        scenario = Scenario()
        simulator = SimulatorHypervisor(root / "simulator.db")
        simulator.files.create_disk(scenario.secondary_template_unc, 8 * GiB)
        backend = ServerResource(simulator, simulator.storage_access())

        rows: list[tuple[str, bool, float, str]] = []
        failures = 0

        def step(label: str, call: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
            nonlocal failures
            started = time.perf_counter()
            try:
                value = call()
                ok = bool(check(value))
                kind = type(value).__name__
                detail = getattr(value, "details", None) or (kind if kind.endswith(("Answer", "list", "dict")) else "")
            except Exception as exc:  # the demo reports, it does not crash
                value, ok, detail = None, False, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            failures += 0 if ok else 1
            rows.append((label, ok, elapsed, str(detail)[:60]))
            echo(f"  {label:44} {'ok' if ok else 'FAIL':4} {elapsed:8.1f} ms  {str(detail)[:60]}")
            return value

        with AgentServer(backend, host="127.0.0.1", port=0, state_dir=root / "agent") as server:
            echo(f"cshyperv agent on https://127.0.0.1:{server.port}/api/HypervResource (simulator)")
            echo(f"  {'command':44} {'':4} {'time':>11}  details")
            with DirectConnectClient("127.0.0.1", server.port, tls=True, verify=False) as ms:
                step("GET liveness", ms.alive, lambda ok: ok)
                step("ReadyCommand", lambda: ms.execute(scenario.ready()), lambda a: a.result)
                step(
                    "StartupCommand",
                    lambda: ms.startup(scenario.startup()),
                    lambda cmds: len(cmds) == 2 and cmds[0].guid == scenario.host_guid and cmds[0].cpus > 0,
                )
                step("ModifyStoragePoolCommand", lambda: ms.execute(scenario.modify_storage_pool()), lambda a: a.result)
                copied = step(
                    "CopyCommand (template -> primary)",
                    lambda: ms.execute(scenario.copy_template_to_primary()),
                    lambda a: a.result and a.new_data is not None,
                )
                template_path = copied.new_data.path if copied is not None and copied.result else "missing.vhdx"
                volume = step(
                    "CopyCommand (template -> root volume)",
                    lambda: ms.execute(scenario.copy_template_to_volume(template_path)),
                    lambda a: a.result and a.new_data.size == scenario.root_size,
                )
                root_path = volume.new_data.path if volume is not None and volume.result else "missing.vhdx"
                step("StartCommand", lambda: ms.execute(scenario.start(root_path)), lambda a: a.result and a.vm)
                states = step(
                    "HostVmStateReportCommand",
                    ms.host_vm_states,
                    lambda s: s.get(scenario.vm_name) == PowerState.PowerOn,
                )
                step(
                    "PingRoutingCommand",
                    lambda: ms.execute(scenario.ping(states or {})),
                    lambda a: a.result,
                )
                step(
                    "GetVmStatsCommand",
                    lambda: ms.execute(scenario.vm_stats()),
                    lambda a: a.result and scenario.vm_name in (a.vm_stats_map or {}),
                )
                step(
                    "CheckVirtualMachineCommand",
                    lambda: ms.execute(scenario.check_vm()),
                    lambda a: a.result and a.state == PowerState.PowerOn,
                )
                step(
                    "CreateVMSnapshotCommand (checkpoint)",
                    lambda: ms.execute(scenario.snapshot(root_path)),
                    lambda a: a.result and type(a).__name__ == "CreateVMSnapshotAnswer",
                )
                step("StopCommand", lambda: ms.execute(scenario.stop()), lambda a: a.result)
                step(
                    "CheckVirtualMachineCommand (after stop)",
                    lambda: ms.execute(scenario.check_vm()),
                    lambda a: a.result and a.state == PowerState.PowerOff,
                )
        total = sum(r[2] for r in rows)
        echo(f"{len(rows) - failures}/{len(rows)} exchanges as expected, {total:.0f} ms in all")
        if failures:
            echo("some answers were not what CloudStack expects (see FAIL above)")
        return 0 if failures == 0 else 1
