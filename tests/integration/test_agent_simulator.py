"""Every action through the real HTTPS agent on the simulator, as a management server sends it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from cshyperv import commands as c
from cshyperv.client import DirectConnectClient
from cshyperv.frontends.direct_connect import AgentServer
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.scenario import Scenario

GiB = 1024**3


@attrs.define
class Agent:
    client: DirectConnectClient
    sim: SimulatorHypervisor
    resource: ServerResource
    scenario: Scenario
    port: int
    root_path: str = ""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    root = tmp_path_factory.mktemp("agent")
    scenario = Scenario()
    sim = SimulatorHypervisor(root / "sim.db")
    sim.files.create_disk(scenario.secondary_template_unc, 8 * GiB)
    resource = ServerResource(sim, sim.storage_access())
    with (
        AgentServer(resource, host="127.0.0.1", port=0, state_dir=root / "tls") as server,
        DirectConnectClient("127.0.0.1", server.port, tls=True, verify=False) as client,
    ):
        agent = Agent(client=client, sim=sim, resource=resource, scenario=scenario, port=server.port)
        assert client.execute(scenario.modify_storage_pool()).result
        copied = client.execute(scenario.copy_template_to_primary())
        volume = client.execute(scenario.copy_template_to_volume(copied.new_data.path))  # type: ignore[attr-defined]
        agent.root_path = volume.new_data.path  # type: ignore[attr-defined]
        assert client.execute(scenario.start(agent.root_path)).result
        yield agent


def _data_volume(agent: Agent, uuid: str) -> c.VolumeObjectTO:
    return c.VolumeObjectTO(
        uuid=uuid, volume_type=c.VolumeType.DATADISK, data_store=agent.scenario.primary_store(), size=GiB
    )


def _created(agent: Agent, uuid: str) -> c.VolumeObjectTO:
    answer = agent.client.execute(c.CreateObjectCommand(data=_data_volume(agent, uuid)))
    assert answer.result, answer.details
    return answer.data  # type: ignore[attr-defined,no-any-return]


VM = "i-2-17-VM"

# (FQCN, command builder, expected answer class name, expected result)
CASES: list[tuple[str, Callable[[Agent], c.Command], str, bool]] = [
    ("SetupCommand", lambda a: c.SetupCommand(need_setup=True), "SetupAnswer", True),
    ("ReadyCommand", lambda a: a.scenario.ready(), "ReadyAnswer", True),
    ("CheckHealthCommand", lambda a: c.CheckHealthCommand(), "CheckHealthAnswer", True),
    ("MaintainCommand", lambda a: c.MaintainCommand(), "MaintainAnswer", True),
    ("PingCommand", lambda a: c.PingCommand(host_type=c.HostType.Routing, host_id=5), "Answer", True),
    ("PingRoutingCommand", lambda a: a.scenario.ping({VM: c.PowerState.PowerOn}), "Answer", True),
    ("CheckNetworkCommand", lambda a: c.CheckNetworkCommand(), "CheckNetworkAnswer", True),
    ("CheckSshCommand", lambda a: c.CheckSshCommand(), "CheckSshAnswer", True),
    ("CleanupNetworkRulesCmd", lambda a: c.CleanupNetworkRulesCmd(), "Answer", False),
    ("CheckOnHostCommand", lambda a: c.CheckOnHostCommand(), "CheckOnHostAnswer", False),
    ("CreateStoragePoolCommand", lambda a: c.CreateStoragePoolCommand(local_path="NULL"), "Answer", True),
    ("DeleteStoragePoolCommand", lambda a: c.DeleteStoragePoolCommand(), "Answer", True),
    ("ModifyStoragePoolCommand", lambda a: a.scenario.modify_storage_pool(), "ModifyStoragePoolAnswer", True),
    (
        "GetStorageStatsCommand",
        lambda a: c.GetStorageStatsCommand(store=a.scenario.primary_store()),
        "GetStorageStatsAnswer",
        True,
    ),
    ("GetHostStatsCommand", lambda a: c.GetHostStatsCommand(host_id=5), "GetHostStatsAnswer", True),
    ("GetVmStatsCommand", lambda a: a.scenario.vm_stats(), "GetVmStatsAnswer", True),
    ("GetVmDiskStatsCommand", lambda a: c.GetVmDiskStatsCommand(vm_names=[VM]), "GetVmDiskStatsAnswer", True),
    ("GetVmNetworkStatsCommand", lambda a: c.GetVmNetworkStatsCommand(vm_names=[VM]), "GetVmNetworkStatsAnswer", True),
    ("CheckVirtualMachineCommand", lambda a: a.scenario.check_vm(), "CheckVirtualMachineAnswer", True),
    ("GetVncPortCommand", lambda a: c.GetVncPortCommand(name=VM), "GetVncPortAnswer", True),
    ("GetVmConfigCommand", lambda a: c.GetVmConfigCommand(vm_name=VM), "GetVmConfigAnswer", True),
    (
        "ModifyVmNicConfigCommand",
        lambda a: c.ModifyVmNicConfigCommand(vm_name=VM, mac_address="02:00:51:2c:00:0e", vlan="262"),
        "ModifyVmNicConfigAnswer",
        True,
    ),
    (
        "PlugNicCommand",
        lambda a: c.PlugNicCommand(nic=c.NicTO(mac="02:00:00:00:aa:01"), instance_name=VM),
        "PlugNicAnswer",
        True,
    ),
    (
        "ReplugNicCommand",
        lambda a: c.ReplugNicCommand(nic=c.NicTO(mac="02:00:00:00:aa:01", broadcast_uri="vlan://5"), instance_name=VM),
        "ReplugNicAnswer",
        True,
    ),
    (
        "UnPlugNicCommand",
        lambda a: c.UnPlugNicCommand(nic=c.NicTO(mac="02:00:00:00:aa:01"), instance_name=VM),
        "UnPlugNicAnswer",
        True,
    ),
    ("RebootCommand", lambda a: c.RebootCommand(vm_name=VM), "RebootAnswer", True),
    ("ScaleVmCommand", lambda a: c.ScaleVmCommand(vm_name=VM, max_ram=3 * GiB), "ScaleVmAnswer", True),
    ("PrepareForMigrationCommand", lambda a: c.PrepareForMigrationCommand(), "PrepareForMigrationAnswer", True),
    ("MigrateCommand", lambda a: c.MigrateCommand(vm_name=VM, destination_ip="10.9.9.9"), "MigrateAnswer", False),
    (
        "MigrateWithStorageCommand",
        lambda a: c.MigrateWithStorageCommand(vm=c.VirtualMachineTO(name=VM), tgt_host="10.9.9.9"),
        "MigrateWithStorageAnswer",
        False,
    ),
    ("CreateVMSnapshotCommand", lambda a: a.scenario.snapshot(a.root_path), "CreateVMSnapshotAnswer", True),
    (
        "RevertToVMSnapshotCommand",
        lambda a: c.RevertToVMSnapshotCommand(vm_name=VM, target=a.scenario.snapshot(a.root_path).target),
        "RevertToVMSnapshotAnswer",
        True,
    ),
    (
        "DeleteVMSnapshotCommand",
        lambda a: c.DeleteVMSnapshotCommand(vm_name=VM, target=a.scenario.snapshot(a.root_path).target),
        "DeleteVMSnapshotAnswer",
        True,
    ),
    (
        "CreateObjectCommand",
        lambda a: c.CreateObjectCommand(data=_data_volume(a, "11111111-0000-0000-0000-000000000001")),
        "CreateObjectAnswer",
        True,
    ),
    (
        "AttachCommand",
        lambda a: c.AttachCommand(
            disk=c.DiskTO(data=_created(a, "11111111-0000-0000-0000-000000000002"), type=c.VolumeType.DATADISK),
            vm_name=VM,
        ),
        "AttachAnswer",
        True,
    ),
    (
        "DettachCommand",
        lambda a: c.DettachCommand(
            disk=c.DiskTO(data=_created(a, "11111111-0000-0000-0000-000000000002"), type=c.VolumeType.DATADISK),
            vm_name=VM,
        ),
        "DettachAnswer",
        True,
    ),
    (
        "ResizeVolumeCommand",
        lambda a: c.ResizeVolumeCommand(
            path=_created(a, "11111111-0000-0000-0000-000000000003").path,
            pool=a.scenario.modify_storage_pool().pool,
            new_size=2 * GiB,
        ),
        "ResizeVolumeAnswer",
        True,
    ),
    (
        "GetVolumeStatsCommand",
        lambda a: c.GetVolumeStatsCommand(volume_uuids=[a.root_path], pool_uuid=a.scenario.pool_uuid),
        "GetVolumeStatsAnswer",
        True,
    ),
    (
        "DeleteCommand",
        lambda a: c.DeleteCommand(data=_created(a, "11111111-0000-0000-0000-000000000004")),
        "Answer",
        True,
    ),
    (
        "DestroyCommand",
        lambda a: c.DestroyCommand(
            volume=c.VolumeTO(
                path=_created(a, "11111111-0000-0000-0000-000000000005").path,
                mount_point="\\\\fileserver.lab\\primary",
            )
        ),
        "Answer",
        True,
    ),
    (
        "CreateCommand",
        lambda a: c.CreateCommand(
            vol_id=10,
            pool=a.scenario.modify_storage_pool().pool,
            disk_characteristics=c.DiskProfile(size=GiB, name="DATA-10", type=c.VolumeType.DATADISK),
        ),
        "CreateAnswer",
        True,
    ),
    (
        "PrimaryStorageDownloadCommand",
        lambda a: c.PrimaryStorageDownloadCommand(
            url=a.scenario.secondary_url() + "/" + a.scenario.template_path,
            local_path="\\\\fileserver.lab\\primary",
            name="tmpl-206",
        ),
        "PrimaryStorageDownloadAnswer",
        True,
    ),
    (
        "MigrateVolumeCommand",
        lambda a: c.MigrateVolumeCommand(
            volume_path=_created(a, "11111111-0000-0000-0000-000000000006").path,
            source_pool=a.scenario.modify_storage_pool().pool,
            pool=c.StorageFilerTO(host="fileserver.lab", path="/primary2", type=c.StoragePoolType.SMB),
        ),
        "MigrateVolumeAnswer",
        True,
    ),
    ("CopyCommand", lambda a: a.scenario.copy_template_to_primary(), "CopyCmdAnswer", True),
    ("StartCommand", lambda a: a.scenario.start(a.root_path), "StartAnswer", True),
    ("StopCommand", lambda a: a.scenario.stop(), "StopAnswer", True),
]


@pytest.mark.parametrize(("name", "build", "answer", "result"), CASES, ids=[case[0] for case in CASES])
def test_action_over_https(agent: Agent, name: str, build: Callable[[Agent], Any], answer: str, result: bool) -> None:
    command = build(agent)
    assert type(command).__name__ == name
    reply = agent.client.execute(command)
    assert type(reply).__name__ == answer, reply
    assert reply.result is result, reply.details


def test_every_handled_command_is_exercised(agent: Agent) -> None:
    tested = {name for name, *_ in CASES}
    handled = {fqcn.rsplit(".", 1)[-1] for fqcn in agent.resource.supported_commands()}
    assert handled <= tested, sorted(handled - tested)


def test_startup_and_state_report_over_https(agent: Agent) -> None:
    routing, storage = agent.client.startup(agent.scenario.startup())
    assert routing.guid == agent.scenario.host_guid and routing.cpus == 16  # type: ignore[attr-defined]
    assert type(storage).__name__ == "StartupStorageCommand"
    states = agent.client.host_vm_states()
    assert VM in states


def test_unknown_command_over_https(agent: Agent) -> None:
    reply = agent.client.execute(c.GetVmIpAddressCommand(vm_name=VM))
    assert type(reply).__name__ == "UnsupportedAnswer" and not reply.result


def test_fifty_concurrent_starts(agent: Agent) -> None:
    """50 concurrent StartCommands for distinct VMs give 50 VMs; for the same VM, one."""
    before = {vm.name for vm in agent.sim.list_vms()}
    results: list[bool] = []
    lock = threading.Lock()

    def start(name: str) -> None:
        command = agent.scenario.start(agent.root_path)
        command = attrs.evolve(command, vm=attrs.evolve(command.vm, name=name, min_ram=GiB // 4, max_ram=GiB // 4))
        with DirectConnectClient("127.0.0.1", agent.port, tls=True, verify=False) as client:
            ok = client.execute(command).result
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=start, args=(f"i-9-{n}-VM",)) for n in range(50)]
    threads += [threading.Thread(target=start, args=("i-9-same-VM",)) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 100
    after = {vm.name for vm in agent.sim.list_vms()} - before
    assert after == {f"i-9-{n}-VM" for n in range(50)} | {"i-9-same-VM"}


def test_raw_bodies_like_java_sends_them(agent: Agent) -> None:
    """The sample StartCommand body, posted as Java would, is answered with the VM echoed back."""
    import http.client
    import ssl

    body = json.loads((Path(__file__).resolve().parents[1] / "samples" / "cmd-StartCommand.json").read_bytes())
    context = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", agent.port, context=context, timeout=30)
    conn.request(
        "POST",
        "/api/HypervResource/com.cloud.agent.api.CheckVirtualMachineCommand",
        body=json.dumps({"vmName": VM, "contextMap": {}, "wait": 20}),
        headers={"content-type": "application/json"},
    )
    reply = json.loads(conn.getresponse().read())
    assert list(reply[0]) == ["com.cloud.agent.api.CheckVirtualMachineAnswer"]
    assert reply[0]["com.cloud.agent.api.CheckVirtualMachineAnswer"]["result"] is True
    conn.close()
    assert body["vm"]["name"] == "i-2-17-VM"
