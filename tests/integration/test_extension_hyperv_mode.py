"""The Extensions executable in Hyper-V mode: real WinRM (NTLM, sealed) over HTTP to a loopback endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cshyperv.frontends.extension import main
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.wsman import LoopbackWSManServer
from tests.conftest import SAMPLES

TEMPLATE = "D:\\Templates\\ubuntu-22.04-gen2.vhdx"
HOSTILE = "snap\"; Remove-VM *; $(x) '\u2018`"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[LoopbackWSManServer, SimulatorHypervisor]]:
    sim = SimulatorHypervisor(tmp_path / "hyperv.db")
    sim.files.create_disk(TEMPLATE, 20 * 1024**3)
    with LoopbackWSManServer(
        SimulatedHyperVHost(sim).invoke, username="LAB\\svc-cloudstack", password="S3cr3t-Pa55"
    ) as ep:
        yield ep, sim


def run(
    tmp: Path,
    endpoint: LoopbackWSManServer,
    action: str,
    capsys: pytest.CaptureFixture[str],
    wait: str = "60",
    **extra: Any,
) -> Any:
    document = json.loads((SAMPLES / "extension-create-payload.json").read_text())
    document["externaldetails"]["host"].update(url=endpoint.url)  # the default transport: NTLM
    document.update(extra)
    path = tmp / "payload.json"
    path.write_text(json.dumps(document))
    code = main([action, str(path), wait])
    captured = capsys.readouterr()
    assert captured.err == "" and not path.exists()
    out = json.loads(captured.out)
    assert "S3cr3t-Pa55" not in captured.out
    return code, out


def test_actions_over_winrm(
    tmp_path: Path, host: tuple[LoopbackWSManServer, SimulatorHypervisor], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, sim = host
    exchanges: dict[str, int] = {}

    def act(action: str, **extra: Any) -> Any:
        before = endpoint.total_exchanges()
        code, out = run(tmp_path, endpoint, action, capsys, **extra)
        exchanges[action] = endpoint.total_exchanges() - before
        assert code == 0, out
        return out

    assert act("prepare") == {} and exchanges.pop("prepare") == 0  # answered without the host
    act("create")
    vm = sim.get_vm("i-2-34-VM")
    assert vm is not None and vm.state.value == "Running" and vm.nics[0].vlan == 1234
    assert act("status")["power_state"] == "poweron"
    assert act("statuses")["power_state"] == {"i-2-34-VM": "poweron"}
    act("reboot")
    act("CreateSnapshot", parameters={"snapshot_name": HOSTILE})
    assert [r["name"] for r in act("ListSnapshots")["message"]] == [HOSTILE]
    act("RestoreSnapshot", parameters={"snapshot_name": HOSTILE})
    assert sim.get_vm("i-2-34-VM").state.value == "Running"  # type: ignore[union-attr]
    act("DeleteSnapshot", parameters={"snapshot_name": HOSTILE})
    assert act("ListSnapshots")["message"] == []
    act("Suspend")
    assert act("status")["power_state"] == "unknown"
    act("Resume")
    act("AttachIso", parameters={"iso_path": "D:\\ISO\\tools.iso"})
    act("DetachIso", parameters={"iso_path": "D:\\ISO\\tools.iso"})
    act("stop")
    act("Resize", parameters={"cpus": "4", "memory": "4096"})
    assert sim.get_vm("i-2-34-VM").cpus == 4  # type: ignore[union-attr]
    act("start")
    before = endpoint.total_exchanges()
    code, out = run(tmp_path, endpoint, "getconsole", capsys)
    assert code == 1 and "console_url" in out["error"]
    assert endpoint.total_exchanges() == before, "without console_url the host is not asked"
    document = json.loads((SAMPLES / "extension-create-payload.json").read_text())
    details = {**document["externaldetails"]["host"], "url": endpoint.url, "console_url": "https://gw.example/{vm_id}"}
    url = act("getconsole", externaldetails={**document["externaldetails"], "host": details})["console"]["url"]
    assert url == f"https://gw.example/{sim.get_vm('i-2-34-VM').uuid}"  # type: ignore[union-attr]
    act("stop")
    act("delete")
    assert sim.get_vm("i-2-34-VM") is None
    assert len(set(endpoint.scripts)) <= 17, "only the plug-in's constant scripts were ever sent"
    assert set(endpoint.command_lines) <= {endpoint.bootstrap, endpoint.stdin_bootstrap}, "never a value"
    # Every action is one invocation (statuses too, whatever the number of VMs; RestoreSnapshot
    # too: the revert starts a VM that ran before in the same script), in a shell of its own
    # whose environment carries the envelope: Create, Command, Receive, Delete.
    assert exchanges["create"] == 4 and exchanges["statuses"] == 4 and exchanges["RestoreSnapshot"] == 4
    assert set(exchanges.values()) == {4}, exchanges
    assert len(exchanges) == 17, sorted(exchanges)  # every action but prepare (no host: 0)
    assert endpoint.open_shells == 0


def test_no_shell_left_open_when_the_deadline_kills_the_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = SimulatorHypervisor(tmp_path / "slow.db")
    sim.files.create_disk(TEMPLATE, 20 * 1024**3)
    release = threading.Event()
    host = SimulatedHyperVHost(sim)

    def hung(script: str, params: Any) -> Any:
        release.wait(60)  # the host never answers within the action's wait
        return host.invoke(script, params)

    with LoopbackWSManServer(hung, username="LAB\\svc-cloudstack", password="S3cr3t-Pa55") as endpoint:
        try:
            # wait=17: the executable keeps 15 s for its answer, so the action has 2 s.
            code, out = run(tmp_path, endpoint, "create", capsys, wait="17")
            assert code == 1 and "deadline" in out["error"]
            assert endpoint.exchanges["Create"] == 1 and endpoint.exchanges["Delete"] == 1
            assert endpoint.open_shells == 0, "the shell and its process were deleted at the deadline"
        finally:
            release.set()


def test_psrp_runner_from_host_details(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`runner=psrp` in the host details: the same actions over PowerShell remoting."""
    pytest.importorskip("pypsrp", reason="the psrp runner needs pypsrp (the psrp extra)")
    pytest.importorskip("psrpcore", reason="the loopback PSRP endpoint needs psrpcore (the dev extra)")
    from cshyperv.testing.psrp import LoopbackPSRPServer

    sim = SimulatorHypervisor(tmp_path / "psrp.db")
    sim.files.create_disk(TEMPLATE, 20 * 1024**3)
    with LoopbackPSRPServer(
        SimulatedHyperVHost(sim).invoke, username="LAB\\svc-cloudstack", password="S3cr3t-Pa55"
    ) as endpoint:
        document = json.loads((SAMPLES / "extension-create-payload.json").read_text())
        for action in ("create", "statuses", "stop", "delete"):
            document["externaldetails"]["host"].update(url=endpoint.url, runner="psrp")
            path = tmp_path / "payload.json"
            path.write_text(json.dumps(document))
            code = main([action, str(path), "60"])
            captured = capsys.readouterr()
            assert code == 0 and captured.err == "", captured.out
            assert "S3cr3t-Pa55" not in captured.out
        assert endpoint.pipelines_run == 4 and endpoint.exchanges["Create"] == 4  # a pool per process
    assert sim.get_vm("i-2-34-VM") is None
