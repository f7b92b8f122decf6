"""The example plug-in in examples/ passes the conformance kit (and so shows a correct plug-in)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import attrs

from cshyperv.commands import PowerState
from cshyperv.hypervisor import Hypervisor
from cshyperv.testing.conformance import HypervisorConformance
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))

import plugin_minimal


class TestExamplePlugin(HypervisorConformance):
    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        return plugin_minimal.create({"host": "test"})


def test_example_runs_the_kit_itself() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "plugin_minimal.py")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "conformant" in proc.stdout


def test_the_agent_serves_the_example_as_its_docstring_says(tmp_path: Path) -> None:
    """#10 item 6: `cshyperv agent serve --hypervisor memory` with the example registered under an
    entry point, as a process on 127.0.0.1, answering a management server's commands."""
    from cshyperv.client import DirectConnectClient
    from cshyperv.commands import ModifyStoragePoolAnswer, ReadyCommand
    from cshyperv.testing.scenario import Scenario
    from cshyperv.testing.servers import free_port

    # What `pip install` of a package declaring the entry point leaves on sys.path.
    site = tmp_path / "site"
    dist = site / "memory_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: memory-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[cshyperv.hypervisors]\nmemory = plugin_minimal:create\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "examples"), str(ROOT)])}
    port = free_port()
    log = (tmp_path / "agent.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cshyperv.cli", "agent", "serve", "--hypervisor", "memory",
         "--listen", f"127.0.0.1:{port}", "--no-tls", "--state-dir", str(tmp_path / "state"),
         "--set", f"storage_root={tmp_path / 'files'}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = DirectConnectClient("127.0.0.1", port, tls=False, timeout=30)
    try:
        for _ in range(400):
            if process.poll() is not None or client.alive():
                break
            time.sleep(0.05)
        assert process.poll() is None, (tmp_path / "agent.log").read_text()
        scenario = Scenario()
        assert client.execute(ReadyCommand(host_id=5)).result
        pool = client.execute(scenario.modify_storage_pool())
        assert isinstance(pool, ModifyStoragePoolAnswer) and pool.result, pool.details
        start = scenario.start("root.vhdx")
        assert start.vm is not None
        start = attrs.evolve(start, vm=attrs.evolve(start.vm, disks=[]))
        started = client.execute(start)
        assert started.result, started.details
        assert client.host_vm_states() == {scenario.vm_name: PowerState.PowerOn}
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=20)
        log.close()
