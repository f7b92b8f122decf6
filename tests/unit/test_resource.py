"""The resource layer answers every command CloudStack sends a Hyper-V host, on the simulator."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import attrs

from cshyperv.commands import (
    Answer,
    AttachCommand,
    CheckHealthCommand,
    CreateObjectCommand,
    CreateVMSnapshotAnswer,
    DeleteCommand,
    DeleteVMSnapshotCommand,
    DettachCommand,
    DiskTO,
    GetHostStatsCommand,
    GetStorageStatsCommand,
    GetVmConfigCommand,
    GetVncPortCommand,
    HostType,
    ImageFormat,
    MaintainCommand,
    MigrateCommand,
    ModifyVmNicConfigCommand,
    NicTO,
    PingCommand,
    PlugNicCommand,
    PowerState,
    RebootCommand,
    ResizeVolumeCommand,
    RevertToVMSnapshotCommand,
    ScaleVmCommand,
    SetupCommand,
    StartupStorageCommand,
    StopCommand,
    TemplateObjectTO,
    UnPlugNicCommand,
    UnsupportedAnswer,
    VolumeObjectTO,
    VolumeType,
)
from cshyperv.errors import OperationTimeoutError
from cshyperv.hypervisor import Capability, NicSpec, VmSpec
from cshyperv.resource import ServerResource, answer_class_for
from cshyperv.simulator import HostProfile, SimulatorHypervisor
from cshyperv.testing.scenario import Scenario
from cshyperv.wire import builtin_registry, encode_answers

GiB = 1024**3


def deploy(resource: ServerResource, scenario: Scenario) -> str:
    """Template to primary, root volume from it, start: the root volume's path."""
    copied = resource.execute(scenario.copy_template_to_primary())
    assert copied.result, copied.details
    volume = resource.execute(scenario.copy_template_to_volume(copied.new_data.path))  # type: ignore[attr-defined]
    assert volume.result, volume.details
    started = resource.execute(scenario.start(volume.new_data.path))  # type: ignore[attr-defined]
    assert started.result, started.details
    return str(volume.new_data.path)  # type: ignore[attr-defined]


def test_startup_keeps_identity_and_adds_local_storage(resource: ServerResource, scenario: Scenario) -> None:
    """dataCenter/pod/cluster/guid/privateIpAddress/name come back unchanged (Java checks them)."""
    sent = scenario.startup()
    routing, storage = resource.startup(sent)
    original = sent[0]
    for attr in ("data_center", "pod", "cluster", "guid", "private_ip_address", "name"):
        assert getattr(routing, attr) == getattr(original, attr), attr
    assert routing.cpus == 16 and routing.memory == 128 * GiB and routing.caps == "hvm"  # type: ignore[attr-defined]
    assert routing.host_details["rdp.server.port"] == "2179"  # type: ignore[attr-defined]
    assert routing.host_details["com.cloud.network.Networks.RouterPrivateIpStrategy"] == "HostLocal"  # type: ignore[attr-defined]
    assert isinstance(storage, StartupStorageCommand)
    assert storage.pool_info is not None and storage.pool_info.capacity_bytes > 0


def test_full_vm_lifecycle(resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor) -> None:
    assert resource.execute(scenario.ready()).result
    assert resource.execute(scenario.modify_storage_pool()).result
    root = deploy(resource, scenario)
    assert resource.host_vm_states() == {scenario.vm_name: PowerState.PowerOn}
    assert resource.execute(scenario.ping(resource.host_vm_states())).result
    stats = resource.execute(scenario.vm_stats())
    assert stats.vm_stats_map[scenario.vm_name].num_cpus == 2  # type: ignore[attr-defined]
    assert resource.execute(scenario.check_vm()).state is PowerState.PowerOn  # type: ignore[attr-defined]
    snap = resource.execute(scenario.snapshot(root))
    assert isinstance(snap, CreateVMSnapshotAnswer) and snap.result
    assert snap.volume_tos and snap.volume_tos[0].size == scenario.root_size
    assert resource.execute(scenario.stop()).result
    assert resource.host_vm_states() == {scenario.vm_name: PowerState.PowerOff}
    assert resource.execute(scenario.check_vm()).state is PowerState.PowerOff  # type: ignore[attr-defined]
    vm = sim.get_vm(scenario.vm_name)
    assert vm is not None and vm.nics[0].vlan == 261 and vm.nics[0].switch == "vSwitch-Trunk"


def test_start_is_idempotent_and_restarts_a_stopped_vm(resource: ServerResource, scenario: Scenario) -> None:
    root = deploy(resource, scenario)
    assert resource.execute(scenario.start(root)).result
    assert resource.execute(scenario.stop()).result
    assert resource.execute(scenario.start(root)).result
    assert resource.host_vm_states() == {scenario.vm_name: PowerState.PowerOn}


def test_start_with_a_new_offering_redefines_the_stopped_vm(
    resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor
) -> None:
    root = deploy(resource, scenario)
    resource.execute(scenario.stop())
    bigger = scenario.start(root)
    bigger = attrs.evolve(bigger, vm=attrs.evolve(bigger.vm, cpus=4, max_ram=4 * GiB, min_ram=4 * GiB))
    assert resource.execute(bigger).result
    vm = sim.get_vm(scenario.vm_name)
    assert vm is not None and vm.cpus == 4 and vm.memory_bytes == 4 * GiB


def test_concurrent_starts(resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor) -> None:
    """50 concurrent StartCommands for one VM give one VM; for 50 names, 50 VMs."""
    root = deploy(resource, scenario)
    resource.execute(scenario.stop())
    results: list[Answer] = []

    def run(command: object) -> None:
        results.append(resource.execute(command))  # type: ignore[arg-type]

    same = [threading.Thread(target=run, args=(scenario.start(root),)) for _ in range(50)]
    for t in same:
        t.start()
    for t in same:
        t.join()
    assert all(a.result for a in results) and len(sim.list_vms()) == 1

    results.clear()
    commands = []
    for i in range(50):
        start = scenario.start(root)
        commands.append(
            attrs.evolve(start, vm=attrs.evolve(start.vm, name=f"i-2-{100 + i}-VM", min_ram=GiB, max_ram=GiB))
        )
    many = [threading.Thread(target=run, args=(c,)) for c in commands]
    for t in many:
        t.start()
    for t in many:
        t.join()
    assert all(a.result for a in results), [a.details for a in results if not a.result][:3]
    assert len(sim.list_vms()) == 51


def test_failures_use_the_answer_class_cloudstack_casts_to(resource: ServerResource, scenario: Scenario) -> None:
    answer = resource.execute(scenario.snapshot("missing.vhdx"))
    assert isinstance(answer, CreateVMSnapshotAnswer) and not answer.result
    assert "not found" in (answer.details or "")
    registry = builtin_registry()
    assert answer_class_for(type(scenario.copy_template_to_primary()), registry).__name__ == "CopyCmdAnswer"
    assert answer_class_for(DeleteCommand, registry) is Answer  # no DeleteAnswer in Java


def test_unsupported_capability_is_answered_not_raised(tmp_path: Path, scenario: Scenario) -> None:
    class NoCheckpoints(SimulatorHypervisor):
        @property
        def capabilities(self) -> frozenset[Capability]:
            return super().capabilities - {Capability.CHECKPOINTS}

    sim = NoCheckpoints(tmp_path / "s.db")
    resource = ServerResource(sim, sim.storage_access())
    answer = resource.execute(scenario.snapshot("x"))
    assert isinstance(answer, CreateVMSnapshotAnswer) and not answer.result
    assert "does not support checkpoints" in (answer.details or "")


def test_unknown_command_gets_cloudstacks_unsupported_answer(resource: ServerResource) -> None:
    from cshyperv.commands import GetVmIpAddressCommand

    answer = resource.execute(GetVmIpAddressCommand(vm_name="x"))
    assert isinstance(answer, UnsupportedAnswer)
    assert answer.details == (
        "Unsupported command issued: com.cloud.agent.api.GetVmIpAddressCommand."
        "  Are you sure you got the right type of server?"
    )


def test_host_level_nops(resource: ServerResource) -> None:
    for command, answer_name in [
        (SetupCommand(), "SetupAnswer"),
        (CheckHealthCommand(), "CheckHealthAnswer"),
        (MaintainCommand(), "MaintainAnswer"),
        (PingCommand(host_type=HostType.Routing), "Answer"),
    ]:
        answer = resource.execute(command)
        assert answer.result and type(answer).__name__ == answer_name
    setup = json.loads(encode_answers([resource.execute(SetupCommand())]))[0]["com.cloud.agent.api.SetupAnswer"]
    assert setup["_reconnect"] is False and setup["details"] == "success - NOP"
    assert next(iter(setup)) == "_reconnect", "Java declares _reconnect on SetupAnswer: Gson writes it first"
    for command in (MaintainCommand(), PingCommand(host_type=HostType.Routing)):
        ((_, body),) = json.loads(encode_answers([resource.execute(command)]))[0].items()
        assert "_reconnect" not in body, f"{type(command).__name__}'s answer has no _reconnect in Java"
    host = resource.execute(GetHostStatsCommand(host_id=5))
    assert host.result and host.host_stats.total_memory_kbs == 128 * 1024 * 1024  # type: ignore[attr-defined]


def test_vm_operations(resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor) -> None:
    deploy(resource, scenario)
    name = scenario.vm_name
    assert resource.execute(RebootCommand(vm_name=name)).result
    vnc = resource.execute(GetVncPortCommand(name=name))
    assert vnc.result and vnc.address.startswith("instanceId=") and vnc.port == -9  # type: ignore[attr-defined]
    config = resource.execute(GetVmConfigCommand(vm_name=name))
    assert config.nics[0].vlanid == "261"  # type: ignore[attr-defined]
    mac = "02:00:51:2c:00:0e"
    assert resource.execute(ModifyVmNicConfigCommand(vm_name=name, mac_address=mac, vlan="300")).result
    assert sim.get_vm(name).nics[0].vlan == 300  # type: ignore[union-attr]
    nic = NicTO(mac="02:00:51:2c:00:99", broadcast_uri="vlan://untagged", device_id=1)
    assert resource.execute(PlugNicCommand(nic=nic, instance_name=name)).result
    assert len(sim.get_vm(name).nics) == 2  # type: ignore[union-attr]
    assert resource.execute(UnPlugNicCommand(nic=nic, instance_name=name)).result
    assert resource.execute(ScaleVmCommand(vm_name=name, max_ram=3 * GiB)).result
    assert not resource.execute(ScaleVmCommand(vm_name=name, cpus=8)).result  # CPUs only while off


def test_vm_snapshot_revert_and_delete(resource: ServerResource, scenario: Scenario) -> None:
    root = deploy(resource, scenario)
    create = scenario.snapshot(root)
    assert resource.execute(create).result
    revert = RevertToVMSnapshotCommand(vm_name=scenario.vm_name, target=create.target, volume_tos=create.volume_tos)
    answer = resource.execute(revert)
    assert answer.result and answer.vm_state is PowerState.PowerOff  # type: ignore[attr-defined]
    delete = DeleteVMSnapshotCommand(vm_name=scenario.vm_name, target=create.target, volume_tos=create.volume_tos)
    assert resource.execute(delete).result
    assert resource.execute(delete).result  # deleting again is fine


def test_migration_between_simulated_hosts(tmp_path: Path, scenario: Scenario) -> None:
    a = SimulatorHypervisor(tmp_path / "s.db", host=HostProfile(name="hv-a", ip="10.0.0.1"))
    b = SimulatorHypervisor(tmp_path / "s.db", host=HostProfile(name="hv-b", ip="10.0.0.2"))
    a.files.create_disk(scenario.secondary_template_unc, GiB)
    resource = ServerResource(a, a.storage_access())
    deploy(resource, scenario)
    assert resource.execute(MigrateCommand(vm_name=scenario.vm_name, destination_ip="10.0.0.2")).result
    assert a.get_vm(scenario.vm_name) is None and b.get_vm(scenario.vm_name) is not None
    failed = resource.execute(MigrateCommand(vm_name=scenario.vm_name, destination_ip="10.0.0.2"))
    assert not failed.result and "not found" in (failed.details or "")


def test_volumes_data_disks_and_storage_stats(
    resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor
) -> None:
    deploy(resource, scenario)
    data = VolumeObjectTO(
        uuid="aaaaaaaa-0000-0000-0000-000000000001",
        volume_type=VolumeType.DATADISK,
        data_store=scenario.primary_store(),
        size=5 * GiB,
        format=ImageFormat.VHDX,
    )
    created = resource.execute(CreateObjectCommand(data=data))
    assert created.result and created.data.path == "aaaaaaaa-0000-0000-0000-000000000001.vhdx"  # type: ignore[attr-defined]
    volume = created.data  # type: ignore[attr-defined]
    disk = DiskTO(data=volume, disk_seq=1, type=VolumeType.DATADISK)
    assert resource.execute(AttachCommand(disk=disk, vm_name=scenario.vm_name)).result
    assert len(sim.get_vm(scenario.vm_name).disks) == 2  # type: ignore[union-attr]
    iso = DiskTO(
        data=TemplateObjectTO(path="iso/tools.iso", image_data_store=scenario.image_store(), format=ImageFormat.ISO),
        type=VolumeType.ISO,
    )
    assert resource.execute(AttachCommand(disk=iso, vm_name=scenario.vm_name)).result
    assert sim.get_vm(scenario.vm_name).isos  # type: ignore[union-attr]
    assert resource.execute(DettachCommand(disk=iso, vm_name=scenario.vm_name)).result
    assert resource.execute(DettachCommand(disk=disk, vm_name=scenario.vm_name)).result
    resize = ResizeVolumeCommand(path=volume.path, pool=scenario.modify_storage_pool().pool, new_size=10 * GiB)
    assert resource.execute(resize).new_size == 10 * GiB  # type: ignore[attr-defined]
    assert resource.execute(DeleteCommand(data=volume)).result
    assert sim.volume_info("\\\\fileserver.lab\\primary\\" + volume.path) is None
    stats = resource.execute(GetStorageStatsCommand(store=scenario.primary_store()))
    assert stats.result and stats.capacity_bytes > 0  # type: ignore[attr-defined]


def test_deadline_turns_into_a_failed_answer(tmp_path: Path, scenario: Scenario) -> None:
    sim = SimulatorHypervisor(tmp_path / "s.db", latency_s=0.3)
    resource = ServerResource(sim, sim.storage_access())
    answer = resource.execute(attrs.evolve(StopCommand(vm_name="x"), wait=0))
    assert answer.result
    # wait is in seconds and must be positive to count; emulate a tight one through the scope.
    from cshyperv import deadline

    with deadline.deadline_scope(0.05):
        answer = resource.execute(StopCommand(vm_name="x"))
    assert not answer.result and "deadline" in (answer.details or "")
    assert issubclass(OperationTimeoutError, TimeoutError)


def test_volume_stats_on_a_known_pool(resource: ServerResource, scenario: Scenario) -> None:
    from cshyperv.commands import GetVolumeStatsCommand, StoragePoolType

    assert resource.execute(scenario.modify_storage_pool()).result
    root = deploy(resource, scenario)
    key = root.rsplit(".", 1)[0]
    command = GetVolumeStatsCommand(
        volume_uuids=[key, "gone"], pool_uuid=scenario.pool_uuid, pool_type=StoragePoolType.SMB
    )
    answer = resource.execute(command)
    assert answer.result and set(answer.volume_stats) == {key}  # type: ignore[attr-defined]
    assert answer.volume_stats[key].virtual_size == scenario.root_size  # type: ignore[attr-defined]
    unknown = resource.execute(GetVolumeStatsCommand(volume_uuids=[key], pool_uuid="nope"))
    assert not unknown.result and type(unknown).__name__ == "GetVolumeStatsAnswer"


def test_replug_changes_the_vlan(resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor) -> None:
    from cshyperv.commands import ReplugNicCommand

    deploy(resource, scenario)
    nic = NicTO(mac="02:00:51:2c:00:0e", broadcast_uri="vlan://777")
    assert resource.execute(ReplugNicCommand(nic=nic, instance_name=scenario.vm_name)).result
    assert sim.get_vm(scenario.vm_name).nics[0].vlan == 777  # type: ignore[union-attr]


def test_disk_and_network_stats_are_per_device_never_apportioned(
    resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor
) -> None:
    from cshyperv.commands import GetVmDiskStatsCommand, GetVmNetworkStatsCommand

    root = deploy(resource, scenario)
    disks = resource.execute(GetVmDiskStatsCommand(vm_names=[scenario.vm_name], host_name="hv"))
    entries = disks.vm_disk_stats_map[scenario.vm_name]  # type: ignore[attr-defined]
    assert [e.path for e in entries] == [root.rsplit(".", 1)[0]]
    nets = resource.execute(GetVmNetworkStatsCommand(vm_names=[scenario.vm_name]))
    assert [e.mac_address for e in nets.vm_network_stats_map[scenario.vm_name]] == ["02:00:51:2c:00:0e"]  # type: ignore[attr-defined]


def test_a_plug_in_without_per_device_counters_reports_only_single_devices(tmp_path: Path) -> None:
    from cshyperv.commands import GetVmNetworkStatsCommand
    from cshyperv.hypervisor import VmStats

    class TotalsOnly(SimulatorHypervisor):
        def vm_stats(self, names: object) -> dict[str, VmStats]:
            return {n: attrs.evolve(s, disks=(), nics=()) for n, s in super().vm_stats(names).items()}  # type: ignore[arg-type]

    sim = TotalsOnly(tmp_path / "s.db")
    resource = ServerResource(sim, sim.storage_access())
    sim.create_vm(VmSpec(name="one", nics=(NicSpec(mac="02:00:00:00:00:01"),)))
    sim.create_vm(VmSpec(name="two", nics=(NicSpec(mac="02:00:00:00:00:02"), NicSpec(mac="02:00:00:00:00:03"))))
    answer = resource.execute(GetVmNetworkStatsCommand(vm_names=["one", "two"]))
    stats = answer.vm_network_stats_map  # type: ignore[attr-defined]
    assert [e.mac_address for e in stats["one"]] == ["02:00:00:00:00:01"] and stats["two"] == []


def test_start_on_hyperv_is_one_powershell_invocation(
    resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor
) -> None:
    """One CloudStack command = one PowerShell invocation (the design rule), for StartCommand too."""
    from cshyperv.hyperv import HyperVHypervisor
    from cshyperv.testing.hyperv_host import RecordingRunner, SimulatedHyperVHost

    copied = resource.execute(scenario.copy_template_to_primary())
    volume = resource.execute(scenario.copy_template_to_volume(copied.new_data.path))  # type: ignore[attr-defined]
    recorder = RecordingRunner(SimulatedHyperVHost(sim))
    hyperv = ServerResource(HyperVHypervisor(recorder), sim.storage_access())
    assert hyperv.execute(scenario.start(volume.new_data.path)).result  # type: ignore[attr-defined]
    assert [entry["operation"] for entry in recorder.transcript] == ["create_vm"]
    assert recorder.transcript[0]["params"]["start"] is True
    assert sim.get_vm(scenario.vm_name).state.value == "Running"  # type: ignore[union-attr]
    assert hyperv.execute(scenario.stop()).result
    assert [entry["operation"] for entry in recorder.transcript][1:] == ["stop_vm"]


def test_handle_request_holds_every_routing_rule(resource: ServerResource, scenario: Scenario) -> None:
    """The transport-neutral entry: FQCN shape, the two pseudo-FQCNs, unknown classes, bad input."""
    from cshyperv.resource import handle_request
    from cshyperv.wire import HOST_VM_STATE_REPORT_FQCN, STARTUP_FQCN, encode, encode_commands

    def answer(fqcn: str, body: bytes, content_type: str | None = "application/json") -> tuple[dict, bool]:  # type: ignore[type-arg]
        reply = handle_request(resource, fqcn, body, content_type)
        return json.loads(reply.body), reply.ok

    for bad in ("../../etc/passwd", "", "a/b", "x" * 301):
        (doc, ok) = answer(bad, b"{}")
        assert (
            not ok and doc[0]["com.cloud.agent.api.Answer"]["details"] == "the request path does not name a Java class"
        )
    doc, ok = answer("com.cloud.agent.api.NoSuchCommand", b"not even json")
    assert not ok and doc[0]["com.cloud.agent.api.UnsupportedAnswer"]["result"] is False
    doc, ok = answer("com.cloud.agent.api.ReadyCommand", b"{}", "text/plain")
    assert not ok and "content type" in doc[0]["com.cloud.agent.api.Answer"]["details"]
    doc, ok = answer("com.cloud.agent.api.ReadyCommand", b'{"hostId": "five"}')
    ((_, failed),) = doc[0].items()
    assert not ok and "$.hostId" in failed["details"]
    doc, ok = answer("com.cloud.agent.api.ReadyCommand", encode(scenario.ready()), None)
    assert ok and doc[0]["com.cloud.agent.api.ReadyAnswer"]["result"] is True
    doc, ok = answer(STARTUP_FQCN, encode_commands(scenario.startup()))
    assert ok and "com.cloud.agent.api.StartupRoutingCommand" in doc[0]
    doc, ok = answer(HOST_VM_STATE_REPORT_FQCN, b"{}")
    assert ok and doc == []
    doc, ok = answer(STARTUP_FQCN, b"[]")
    assert not ok and doc[0]["com.cloud.agent.api.Answer"]["result"] is False
