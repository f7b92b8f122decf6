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
NIC = c.NicTO(mac="02:00:00:00:aa:01")


def _replug(agent: Agent) -> c.ReplugNicCommand:
    # Self-contained (the case runs alone too): the NIC to replug is plugged first; if an earlier
    # case plugged it already, that plug fails harmlessly.
    agent.client.execute(c.PlugNicCommand(nic=NIC, instance_name=VM))
    return c.ReplugNicCommand(nic=attrs.evolve(NIC, broadcast_uri="vlan://5"), instance_name=VM)


def _revert(agent: Agent) -> c.RevertToVMSnapshotCommand:
    # Self-contained: take the snapshot to revert to first.
    taken = agent.client.execute(agent.scenario.snapshot(agent.root_path))
    assert taken.result, taken.details
    return c.RevertToVMSnapshotCommand(vm_name=VM, target=agent.scenario.snapshot(agent.root_path).target)


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
    ("ReplugNicCommand", _replug, "ReplugNicAnswer", True),
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
    ("RevertToVMSnapshotCommand", _revert, "RevertToVMSnapshotAnswer", True),
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


SECRET = "Cn4ry-0f-the-VM"


def _post(agent: Agent, fqcn: str, body: bytes) -> Any:
    """POST ``body`` as CloudStack's HypervDirectConnectResource does: StringEntity bytes
    (ISO-8859-1), ``content-type: application/json`` without a charset."""
    import http.client
    import ssl

    context = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", agent.port, context=context, timeout=30)
    try:
        conn.request("POST", f"/api/HypervResource/{fqcn}", body=body, headers={"content-type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_raw_bodies_like_java_sends_them(agent: Agent) -> None:
    """The sample StartCommand, as ISO-8859-1 bytes, is answered with its VM echoed back: every
    member (unknown ones included) as sent, except the secrets, which are omitted or masked."""
    # The sample's disks are not in the simulator: have its VM running (cases before may have
    # stopped it), so that the sample is the retry CloudStack sends for a VM that runs.
    assert agent.client.execute(agent.scenario.start(agent.root_path)).result
    body = json.loads((Path(__file__).resolve().parents[1] / "samples" / "cmd-StartCommand.json").read_bytes())
    vm = body["vm"]
    assert vm["name"] == VM and vm["vncPassword"] and "rebootOnCrash" in vm
    vm["details"] = {"keyboard": "fr", "password": SECRET}
    vm["bootArgs"] = f"template=domP name={VM} password={SECRET}"
    vm["vmData"] = [["userdata", "user_data", SECRET], ["password", "vm_password", SECRET]]
    vm["displayNameFromTheFuture"] = "Caf\u00e9 d\u00e9mo"  # not in the model; not ASCII either
    raw = json.dumps(body, ensure_ascii=False).encode("iso-8859-1")
    assert b"Caf\xe9" in raw
    # The sample's root volume, as CloudStack would have made it with a CopyCommand first.
    agent.sim.add_disk("C:\\cloudstack\\var\\test\\storagepool\\19ae8e67-cb2c-4ab4-901e-e0b864272b59.vhdx", 2**30)

    reply = _post(agent, "com.cloud.agent.api.StartCommand", raw)
    assert list(reply[0]) == ["com.cloud.agent.api.StartAnswer"]
    answer = reply[0]["com.cloud.agent.api.StartAnswer"]
    assert answer["result"] is True, answer.get("details")
    assert SECRET not in json.dumps(answer) and vm["vncPassword"] not in json.dumps(answer)

    expected = dict(vm)
    del expected["vncPassword"], expected["vmData"]  # omitted: Java stores a returned vncPassword
    expected["details"] = {"keyboard": "fr", "password": "<redacted>"}
    expected["bootArgs"] = f"template=domP name={VM} password=<redacted>"
    assert answer["vm"] == expected


def test_check_vm_over_raw_https(agent: Agent) -> None:
    reply = _post(
        agent,
        "com.cloud.agent.api.CheckVirtualMachineCommand",
        json.dumps({"vmName": VM, "contextMap": {}, "wait": 20}).encode("iso-8859-1"),
    )
    assert list(reply[0]) == ["com.cloud.agent.api.CheckVirtualMachineAnswer"]
    assert reply[0]["com.cloud.agent.api.CheckVirtualMachineAnswer"]["result"] is True


def test_startup_array_without_a_routing_command_is_a_failed_answer_naming_it(agent: Agent) -> None:
    reply = _post(agent, "com.cloud.agent.api.StartupCommand", b'[{"com.cloud.agent.api.StartupStorageCommand": {}}]')
    (answer,) = reply[0].values()
    assert answer["result"] is False
    assert "StartupRoutingCommand" in answer["details"] and "$[0]" in answer["details"]


def test_modify_storage_pool_answer_holds_no_credentials(agent: Agent) -> None:
    """CloudStack sends an SMB pool's credentials in its path's query: the answer's paths are
    plain UNC and URL paths, and the pool still works (the credentials were learned)."""
    command = agent.scenario.modify_storage_pool()
    assert command.pool is not None
    pool = attrs.evolve(command.pool, path=f"{command.pool.path}?user=administrator&password={SECRET}&domain=LAB")
    answer = agent.client.execute(attrs.evolve(command, pool=pool))
    assert isinstance(answer, c.ModifyStoragePoolAnswer) and answer.result, answer.details
    assert answer.pool_info is not None
    assert answer.pool_info.local_path == f"\\\\{agent.scenario.storage_host}\\{agent.scenario.primary_share}"
    assert answer.pool_info.host_path == f"/{agent.scenario.primary_share}"
    assert SECRET not in agent.client.codec.encode(answer).decode()


def test_a_retried_start_leaves_the_running_vm_alone(agent: Agent) -> None:
    """CloudStack retries StartCommand (after a timeout, with the offering changed meanwhile): the
    VM that runs is the one it started, and it is not destroyed and made again."""
    command = agent.scenario.start(agent.root_path)
    assert command.vm is not None
    name = "i-9-retried-VM"
    first = attrs.evolve(command, vm=attrs.evolve(command.vm, name=name, min_ram=GiB // 4, max_ram=GiB // 4))
    assert agent.client.execute(first).result
    before = agent.sim.get_vm(name)
    assert before is not None and before.uuid
    changed = attrs.evolve(first, vm=attrs.evolve(first.vm, min_ram=GiB // 2, max_ram=GiB // 2))
    for retry in (first, changed, first):
        assert agent.client.execute(retry).result
        after = agent.sim.get_vm(name)
        assert after is not None and after.uuid == before.uuid and after.state == before.state
        assert after.memory_bytes == before.memory_bytes


def test_a_body_beyond_the_decode_budget_is_a_failed_answer_naming_the_path(agent: Agent) -> None:
    """D6's reproducer (a million empty NICs) and one just over the per-array budget."""
    many = ('{"vm":{"name":"i-9-big-VM","nics":[' + ",".join(["{}"] * 1_000_000) + "]}}").encode()
    (answer,) = _post(agent, "com.cloud.agent.api.StartCommand", many)[0].values()
    assert answer["result"] is False and "objects and arrays" in answer["details"] and " at $" in answer["details"]
    some = ('{"vm":{"name":"i-9-big-VM","nics":[' + ",".join(["{}"] * 10_001) + "]}}").encode()
    (answer,) = _post(agent, "com.cloud.agent.api.StartCommand", some)[0].values()
    assert answer["result"] is False and answer["details"].endswith("at $.vm.nics")
    assert agent.sim.get_vm("i-9-big-VM") is None
