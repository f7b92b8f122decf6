"""VM handlers: start, stop, reboot, state, stats, console, migration, NICs, scaling, VM snapshots."""

from __future__ import annotations

from typing import Any

from cshyperv.commands import (
    Answer,
    CheckVirtualMachineAnswer,
    CheckVirtualMachineCommand,
    CreateVMSnapshotAnswer,
    CreateVMSnapshotCommand,
    DeleteVMSnapshotAnswer,
    DeleteVMSnapshotCommand,
    GetVmConfigAnswer,
    GetVmConfigCommand,
    GetVmDiskStatsAnswer,
    GetVmDiskStatsCommand,
    GetVmNetworkStatsAnswer,
    GetVmNetworkStatsCommand,
    GetVmStatsAnswer,
    GetVmStatsCommand,
    GetVncPortAnswer,
    GetVncPortCommand,
    MigrateAnswer,
    MigrateCommand,
    MigrateWithStorageAnswer,
    MigrateWithStorageCommand,
    ModifyVmNicConfigAnswer,
    ModifyVmNicConfigCommand,
    NicDetails,
    PlugNicAnswer,
    PlugNicCommand,
    PowerState,
    RebootAnswer,
    RebootCommand,
    ReplugNicAnswer,
    ReplugNicCommand,
    RevertToVMSnapshotAnswer,
    RevertToVMSnapshotCommand,
    ScaleVmAnswer,
    ScaleVmCommand,
    StartAnswer,
    StartCommand,
    StopAnswer,
    StopCommand,
    UnPlugNicAnswer,
    UnPlugNicCommand,
    VmDiskStatsEntry,
    VmNetworkStatsEntry,
    VmStatsEntry,
)
from cshyperv.errors import MissingMemberError, VmAlreadyExistsError, VmNotFoundError
from cshyperv.hypervisor import (
    Capability,
    DeviceCounters,
    SupportsCheckpoints,
    SupportsConsole,
    SupportsDeploy,
    SupportsMigration,
    SupportsNics,
    SupportsScaling,
    SupportsStats,
    VmState,
)
from cshyperv.resource._context import ResourceContext
from cshyperv.resource._translate import nic_spec, power_state, store_root, vlan_of, vm_spec

__all__ = ["HANDLERS"]


def _name(value: str | None, member: str) -> str:
    if not value:
        raise MissingMemberError("required member is missing").at(member)
    return value


def start(ctx: ResourceContext, cmd: StartCommand) -> Answer:
    """Define (or reuse) and power on the VM. Safe to retry: one VM, whatever the retries.

    With :attr:`Capability.DEPLOY` this is one hypervisor call (one PowerShell invocation on
    Hyper-V); otherwise get, create and start.
    """
    assert cmd.vm is not None  # required by the model
    ctx.learn(*(cmd.secondary_storages or ()))
    spec = vm_spec(cmd.vm, ctx.settings.translation)
    hv = ctx.hypervisor
    deployer: Any = hv
    can_deploy = Capability.DEPLOY in hv.capabilities and isinstance(deployer, SupportsDeploy)
    with ctx.vm_lock(spec.name):
        try:
            if can_deploy:
                deployer.deploy_vm(spec)
            else:
                current = hv.get_vm(spec.name)
                if current is None or current.state is not VmState.RUNNING:
                    hv.create_vm(spec)
                    hv.start_vm(spec.name)
        except VmAlreadyExistsError:
            # The VM exists with another configuration. Running: it is the VM CloudStack is
            # retrying, leave it be. Off: CloudStack changed the offering meanwhile; redefine it,
            # keeping its disks.
            current = hv.get_vm(spec.name)
            if current is None:
                raise
            if current.state is not VmState.RUNNING:
                hv.destroy_vm(spec.name, delete_disks=False)
                hv.create_vm(spec)
                hv.start_vm(spec.name)
    return StartAnswer(result=True, vm=cmd.vm, host_guid=ctx.host_guid)


def stop(ctx: ResourceContext, cmd: StopCommand) -> Answer:
    """Shut down (hard when ``forceStop``); with ``expungeVM`` also remove the VM's definition."""
    name = cmd.vm_name or (cmd.vm.name if cmd.vm is not None else None)
    name = _name(name, "vmName")
    with ctx.vm_lock(name):
        ctx.hypervisor.stop_vm(name, force=cmd.force_stop)
        if cmd.expunge_vm:
            ctx.hypervisor.destroy_vm(name, delete_disks=False)
    return StopAnswer(result=True, details="Stopped")


def reboot(ctx: ResourceContext, cmd: RebootCommand) -> Answer:
    name = _name(cmd.vm_name or (cmd.vm.name if cmd.vm is not None else None), "vmName")
    ctx.hypervisor.reboot_vm(name)
    return RebootAnswer(result=True)


def check_vm(ctx: ResourceContext, cmd: CheckVirtualMachineCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")
    vm = ctx.hypervisor.get_vm(name)
    state = PowerState.PowerOff if vm is None else power_state(vm.state.power_state)
    return CheckVirtualMachineAnswer(result=True, state=state)


def vm_stats(ctx: ResourceContext, cmd: GetVmStatsCommand) -> Answer:
    hv = ctx.require(Capability.STATS, SupportsStats)
    names = [n for n in cmd.vm_names or () if n]
    entries = {}
    for name, stats in hv.vm_stats(names).items():
        entries[name] = VmStatsEntry(
            cpu_utilization=stats.cpu_percent,
            num_cpus=stats.cpus,
            network_read_kbs=stats.network_read_bytes / 1024,
            network_write_kbs=stats.network_write_bytes / 1024,
            disk_read_ios=float(stats.disk_read_ios),
            disk_write_ios=float(stats.disk_write_ios),
            disk_read_kbs=stats.disk_read_bytes / 1024,
            disk_write_kbs=stats.disk_write_bytes / 1024,
            memory_kbs=stats.memory_bytes / 1024,
            int_free_memory_kbs=stats.memory_free_bytes / 1024,
            target_memory_kbs=stats.memory_target_bytes / 1024,
            entity_type="vm",
        )
    return GetVmStatsAnswer(result=True, vm_stats_map=entries)


def _devices(ctx: ResourceContext, name: str, measured: tuple[DeviceCounters, ...], kind: str) -> list[DeviceCounters]:
    """Per-device counters as measured; without them, a VM's totals count only when it has
    exactly one such device (never apportioned between several)."""
    if measured:
        return list(measured)
    vm = ctx.hypervisor.get_vm(name)
    devices = [] if vm is None else list(vm.disks) if kind == "disk" else [n.mac for n in vm.nics]
    return [DeviceCounters(device=devices[0])] if len(devices) == 1 else []


def vm_disk_stats(ctx: ResourceContext, cmd: GetVmDiskStatsCommand) -> Answer:
    hv = ctx.require(Capability.STATS, SupportsStats)
    out: dict[str, list[Any]] = {}
    for name, stats in hv.vm_stats([n for n in cmd.vm_names or () if n]).items():
        entries = []
        for disk in _devices(ctx, name, stats.disks, "disk"):
            whole = not stats.disks  # the only disk: the VM totals are its counters
            entries.append(
                VmDiskStatsEntry(
                    vm_name=name,
                    # CloudStack matches volumes.path LIKE '<path>%': the file name without extension.
                    path=disk.device.replace("/", "\\").rsplit("\\", 1)[-1].rsplit(".", 1)[0],
                    io_read=stats.disk_read_ios if whole else disk.read_ios,
                    io_write=stats.disk_write_ios if whole else disk.write_ios,
                    bytes_read=stats.disk_read_bytes if whole else disk.read_bytes,
                    bytes_write=stats.disk_write_bytes if whole else disk.write_bytes,
                )
            )
        out[name] = entries
    return GetVmDiskStatsAnswer(result=True, host_name=cmd.host_name, vm_disk_stats_map=out)


def vm_network_stats(ctx: ResourceContext, cmd: GetVmNetworkStatsCommand) -> Answer:
    hv = ctx.require(Capability.STATS, SupportsStats)
    out: dict[str, list[Any]] = {}
    for name, stats in hv.vm_stats([n for n in cmd.vm_names or () if n]).items():
        entries = []
        for nic in _devices(ctx, name, stats.nics, "nic"):
            whole = not stats.nics
            entries.append(
                VmNetworkStatsEntry(
                    vm_name=name,
                    mac_address=nic.device,
                    bytes_sent=stats.network_write_bytes if whole else nic.write_bytes,
                    bytes_received=stats.network_read_bytes if whole else nic.read_bytes,
                )
            )
        out[name] = entries
    return GetVmNetworkStatsAnswer(result=True, host_name=cmd.host_name, vm_network_stats_map=out)


def vnc_port(ctx: ResourceContext, cmd: GetVncPortCommand) -> Answer:
    hv = ctx.require(Capability.CONSOLE, SupportsConsole)
    info = hv.console_info(_name(cmd.name, "name"))
    # The legacy agent's answer: the console goes over VMConnect/RDP to the VM id, port -9.
    return GetVncPortAnswer(result=True, address=f"instanceId={info.vm_id}", port=-9)


def migrate(ctx: ResourceContext, cmd: MigrateCommand) -> Answer:
    hv = ctx.require(Capability.MIGRATION, SupportsMigration)
    name = _name(cmd.vm_name, "vmName")
    destination = _name(cmd.destination_ip, "destinationIp")
    hv.migrate_vm(name, destination)
    return MigrateAnswer(result=True)


def migrate_with_storage(ctx: ResourceContext, cmd: MigrateWithStorageCommand) -> Answer:
    hv = ctx.require(Capability.STORAGE_MIGRATION, SupportsMigration)
    if cmd.vm is None or not cmd.vm.name:
        raise MissingMemberError("required member is missing").at("vm")
    destination = _name(cmd.tgt_host, "tgtHost")
    filers = [pair[1] for pair in cmd.volume_to_filer_as_list or () if pair and pair[1] is not None]
    target = store_root(filers[0]) if filers else None
    hv.migrate_vm(cmd.vm.name, destination, storage_path=target)
    return MigrateWithStorageAnswer(result=True, volume_tos=[])


def get_vm_config(ctx: ResourceContext, cmd: GetVmConfigCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")
    vm = ctx.hypervisor.get_vm(name)
    if vm is None:
        raise VmNotFoundError(name)
    nics = [
        NicDetails(mac_address=nic.mac, vlanid=str(nic.vlan) if nic.vlan is not None else "-1", state=nic.connected)
        for nic in vm.nics
    ]
    return GetVmConfigAnswer(result=True, vm_name=name, nics=nics)


def modify_vm_nic(ctx: ResourceContext, cmd: ModifyVmNicConfigCommand) -> Answer:
    hv = ctx.require(Capability.NICS, SupportsNics)
    name = _name(cmd.vm_name, "vmName")
    mac = _name(cmd.mac_address, "macAddress")
    vlan = None
    if cmd.vlan and cmd.vlan.lower() not in ("untagged", "-1"):
        vlan = int(cmd.vlan.rsplit("://", 1)[-1]) if cmd.vlan.rsplit("://", 1)[-1].isdigit() else None
    hv.set_nic_vlan(name, mac, vlan)
    return ModifyVmNicConfigAnswer(result=True, vm_name=name)


def plug_nic(ctx: ResourceContext, cmd: PlugNicCommand) -> Answer:
    hv = ctx.require(Capability.NICS, SupportsNics)
    if cmd.nic is None:
        raise MissingMemberError("required member is missing").at("nic")
    hv.add_nic(_name(cmd.instance_name, "instanceName"), nic_spec(cmd.nic, ctx.settings.translation))
    return PlugNicAnswer(result=True)


def unplug_nic(ctx: ResourceContext, cmd: UnPlugNicCommand) -> Answer:
    hv = ctx.require(Capability.NICS, SupportsNics)
    if cmd.nic is None or not cmd.nic.mac:
        raise MissingMemberError("required member is missing").at("nic")
    vlan_of(cmd.nic)  # validates the isolation even though removal does not need it
    hv.remove_nic(_name(cmd.instance_name, "instanceName"), cmd.nic.mac)
    return UnPlugNicAnswer(result=True)


def replug_nic(ctx: ResourceContext, cmd: ReplugNicCommand) -> Answer:
    """Reconnect a NIC with new settings (its VLAN): on Hyper-V a VLAN change, not a re-plug."""
    hv = ctx.require(Capability.NICS, SupportsNics)
    if cmd.nic is None or not cmd.nic.mac:
        raise MissingMemberError("required member is missing").at("nic")
    hv.set_nic_vlan(_name(cmd.instance_name, "instanceName"), cmd.nic.mac, vlan_of(cmd.nic))
    return ReplugNicAnswer(result=True)


def scale(ctx: ResourceContext, cmd: ScaleVmCommand) -> Answer:
    hv = ctx.require(Capability.SCALING, SupportsScaling)
    name = _name(cmd.vm_name or (cmd.vm.name if cmd.vm is not None else None), "vmName")
    hv.scale_vm(name, cpus=cmd.cpus or None, memory_bytes=cmd.max_ram or None)
    return ScaleVmAnswer(result=True)


def _snapshot_name(cmd: CreateVMSnapshotCommand | DeleteVMSnapshotCommand | RevertToVMSnapshotCommand) -> str:
    if cmd.target is None or not cmd.target.snapshot_name:
        raise MissingMemberError("required member is missing").at("target")
    return cmd.target.snapshot_name


def create_vm_snapshot(ctx: ResourceContext, cmd: CreateVMSnapshotCommand) -> Answer:
    hv = ctx.require(Capability.CHECKPOINTS, SupportsCheckpoints)
    name = _name(cmd.vm_name, "vmName")
    from cshyperv.commands import VMSnapshotType

    with_memory = cmd.target is not None and cmd.target.type == VMSnapshotType.DiskAndMemory
    desc = cmd.target.description if cmd.target is not None else None
    hv.create_checkpoint(name, _snapshot_name(cmd), description=desc, with_memory=with_memory)
    # The management server adds up volumeTOs[i].size: echo what it sent.
    return CreateVMSnapshotAnswer(result=True, volume_tos=list(cmd.volume_tos or []), vm_snapshot_to=cmd.target)


def delete_vm_snapshot(ctx: ResourceContext, cmd: DeleteVMSnapshotCommand) -> Answer:
    hv = ctx.require(Capability.CHECKPOINTS, SupportsCheckpoints)
    hv.delete_checkpoint(_name(cmd.vm_name, "vmName"), _snapshot_name(cmd))
    return DeleteVMSnapshotAnswer(result=True, volume_tos=list(cmd.volume_tos or []))


def revert_vm_snapshot(ctx: ResourceContext, cmd: RevertToVMSnapshotCommand) -> Answer:
    hv = ctx.require(Capability.CHECKPOINTS, SupportsCheckpoints)
    vm = hv.revert_checkpoint(_name(cmd.vm_name, "vmName"), _snapshot_name(cmd))
    return RevertToVMSnapshotAnswer(
        result=True, volume_tos=list(cmd.volume_tos or []), vm_state=power_state(vm.state.power_state)
    )


HANDLERS = {
    StartCommand: start,
    StopCommand: stop,
    RebootCommand: reboot,
    CheckVirtualMachineCommand: check_vm,
    GetVmStatsCommand: vm_stats,
    GetVmDiskStatsCommand: vm_disk_stats,
    GetVmNetworkStatsCommand: vm_network_stats,
    GetVncPortCommand: vnc_port,
    MigrateCommand: migrate,
    MigrateWithStorageCommand: migrate_with_storage,
    GetVmConfigCommand: get_vm_config,
    ModifyVmNicConfigCommand: modify_vm_nic,
    PlugNicCommand: plug_nic,
    UnPlugNicCommand: unplug_nic,
    ReplugNicCommand: replug_nic,
    ScaleVmCommand: scale,
    CreateVMSnapshotCommand: create_vm_snapshot,
    DeleteVMSnapshotCommand: delete_vm_snapshot,
    RevertToVMSnapshotCommand: revert_vm_snapshot,
}
