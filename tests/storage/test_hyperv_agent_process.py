"""`cshyperv agent serve --hypervisor hyperv` as an operator runs it: a real process, real HTTPS,
the Hyper-V plug-in over WinRM to a loopback endpoint (simulated host), and the host's shares on a
real Samba — configured from the environment, no password on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.client import DirectConnectClient
from cshyperv.commands import CopyCmdAnswer, ModifyStoragePoolAnswer, ReadyCommand
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.scenario import Scenario
from cshyperv.testing.servers import SambaServer, free_port
from cshyperv.testing.wsman import LoopbackWSManServer

WINRM_PASSWORD = "W1nRM-agent pass"


@pytest.fixture
def agent(tmp_path: Path, samba: SambaServer) -> Iterator[tuple[DirectConnectClient, SimulatorHypervisor]]:
    sim = SimulatorHypervisor(tmp_path / "host.db")
    with LoopbackWSManServer(SimulatedHyperVHost(sim).invoke, username="svc", password=WINRM_PASSWORD) as endpoint:
        port = free_port()
        env = {
            **os.environ,
            "CSHYPERV_WINRM_URL": endpoint.url,
            "CSHYPERV_WINRM_USERNAME": "svc",
            "CSHYPERV_WINRM_PASSWORD": WINRM_PASSWORD,
            "CSHYPERV_WINRM_TRANSPORT": "ntlm",
            "CSHYPERV_SMB_USERNAME": samba.username,
            "CSHYPERV_SMB_PASSWORD": samba.password,
            "CSHYPERV_SMB_PORT": str(samba.port),
        }
        log = (tmp_path / "agent.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "cshyperv.cli", "agent", "serve", "--hypervisor", "hyperv",
             "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "state")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = DirectConnectClient("127.0.0.1", port)
        try:
            for _ in range(200):
                if process.poll() is not None or client.alive():
                    break
                time.sleep(0.05)
            assert process.poll() is None, (tmp_path / "agent.log").read_text()
            yield client, sim
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=20)
            log.close()
            output = (tmp_path / "agent.log").read_text()
            assert WINRM_PASSWORD not in output and samba.password not in output


def test_agent_process_on_hyperv_with_smb_storage(
    agent: tuple[DirectConnectClient, SimulatorHypervisor], samba: SambaServer
) -> None:
    client, sim = agent
    scenario = Scenario(storage_host="127.0.0.1", primary_share="share", secondary_share="signed")
    assert client.execute(ReadyCommand(host_id=5)).result
    pool = client.execute(scenario.modify_storage_pool())
    assert isinstance(pool, ModifyStoragePoolAnswer) and pool.result, pool.details
    # The template on the secondary share, copied by the agent (server-side) to the primary share.
    seeded = samba.share_path("signed") / scenario.template_path
    seeded.parent.mkdir(parents=True, exist_ok=True)
    seeded.write_bytes(os.urandom(2 * 1024 * 1024))
    copied = client.execute(scenario.copy_template_to_primary())
    assert isinstance(copied, CopyCmdAnswer) and copied.result, copied.details
    on_primary = samba.share_path("share") / f"{scenario.template_uuid}.vhdx"
    assert on_primary.read_bytes() == seeded.read_bytes()
    # The host then builds the VM from disks it opens by UNC path (the simulated host's tree).
    sim.files.create_disk(f"\\\\127.0.0.1\\share\\{scenario.volume_uuid}.vhdx", scenario.root_size)
    started = client.execute(scenario.start(f"{scenario.volume_uuid}.vhdx"))
    assert started.result, started.details
    info = sim.get_vm(scenario.vm_name)
    assert info is not None and info.state.value == "Running"
