"""VM handlers: start, stop, reboot, state, stats, console, migration, NICs, scaling, VM snapshots.

Each is Command -> translate -> :class:`~cshyperv.operations.Operations` -> Answer.
"""

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
    VMSnapshotType,
    VmStatsEntry,
)
from cshyperv.errors import MissingMemberError, VmNotFoundError
from cshyperv.hypervisor import DeviceCounters
from cshyperv.resource._context import ResourceContext
from cshyperv.resource._translate import nic_spec, power_state, store_root, vlan_of, vm_spec

__all__ = ["HANDLERS"]


def _name(value: str | None, member: str) -> str:
    if not value:
        raise MissingMemberError("required member is missing").at(member)
    return value


def start(ctx: ResourceContext, cmd: StartCommand) -> Answer:
    """Define (or reuse) and power on the VM. Safe to retry: one VM, whatever the retries
    (the rules are :meth:`Operations.deploy`'s)."""
    assert cmd.vm is not None  # required by the model
    ctx.ops.learn(*(cmd.secondary_storages or ()))
    ctx.ops.deploy(vm_spec(cmd.vm, ctx.translation))
    return StartAnswer(result=True, vm=cmd.vm, host_guid=ctx.host_guid)


def stop(ctx: ResourceContext, cmd: StopCommand) -> Answer:
    """Shut down (hard when ``forceStop``); with ``expungeVM`` also remove the VM's definition."""
    name = cmd.vm_name or (cmd.vm.name if cmd.vm is not None else None)
    ctx.ops.stop(_name(name, "vmName"), force=cmd.force_stop, remove=cmd.expunge_vm)
    return StopAnswer(result=True, details="Stopped")


def reboot(ctx: ResourceContext, cmd: RebootCommand) -> Answer:
    name = _name(cmd.vm_name or (cmd.vm.name if cmd.vm is not None else None), "vmName")
    ctx.ops.reboot(name)
    return RebootAnswer(result=True)


def check_vm(ctx: ResourceContext, cmd: CheckVirtualMachineCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")
    return CheckVirtualMachineAnswer(result=True, state=power_state(ctx.ops.state(name)))


def vm_stats(ctx: ResourceContext, cmd: GetVmStatsCommand) -> Answer:
    entries = {}
    for name, stats in ctx.ops.vm_stats(cmd.vm_names or ()).items():
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
    vm = ctx.ops.vm(name)
    devices = [] if vm is None else list(vm.disks) if kind == "disk" else [n.mac for n in vm.nics]
    return [DeviceCounters(device=devices[0])] if len(devices) == 1 else []


def vm_disk_stats(ctx: ResourceContext, cmd: GetVmDiskStatsCommand) -> Answer:
    out: dict[str, list[Any]] = {}
    for name, stats in ctx.ops.vm_stats(cmd.vm_names or ()).items():
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
    out: dict[str, list[Any]] = {}
    for name, stats in ctx.ops.vm_stats(cmd.vm_names or ()).items():
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
    info = ctx.ops.console(_name(cmd.name, "name"))
    # The legacy agent's answer: the console goes over VMConnect/RDP to the VM id, port -9.
    return GetVncPortAnswer(result=True, address=f"instanceId={info.vm_id}", port=-9)


def migrate(ctx: ResourceContext, cmd: MigrateCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")
    destination = _name(cmd.destination_ip, "destinationIp")
    ctx.ops.migrate(name, destination)
    return MigrateAnswer(result=True)


def migrate_with_storage(ctx: ResourceContext, cmd: MigrateWithStorageCommand) -> Answer:
    if cmd.vm is None or not cmd.vm.name:
        raise MissingMemberError("required member is missing").at("vm")
    destination = _name(cmd.tgt_host, "tgtHost")
    filers = [pair[1] for pair in cmd.volume_to_filer_as_list or () if pair and pair[1] is not None]
    target = store_root(filers[0]) if filers else None
    ctx.ops.migrate(cmd.vm.name, destination, storage_path=target)
    return MigrateWithStorageAnswer(result=True, volume_tos=[])


def get_vm_config(ctx: ResourceContext, cmd: GetVmConfigCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")
    vm = ctx.ops.vm(name)
    if vm is None:
        raise VmNotFoundError(name)
    nics = [
        NicDetails(mac_address=nic.mac, vlanid=str(nic.vlan) if nic.vlan is not None else "-1", state=nic.connected)
        for nic in vm.nics
    ]
    return GetVmConfigAnswer(result=True, vm_name=name, nics=nics)


def modify_vm_nic(ctx: ResourceContext, cmd: ModifyVmNicConfigCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")
    mac = _name(cmd.mac_address, "macAddress")
    vlan = None
    if cmd.vlan and cmd.vlan.lower() not in ("untagged", "-1"):
        vlan = int(cmd.vlan.rsplit("://", 1)[-1]) if cmd.vlan.rsplit("://", 1)[-1].isdigit() else None
    ctx.ops.set_nic_vlan(name, mac, vlan)
    return ModifyVmNicConfigAnswer(result=True, vm_name=name)


def plug_nic(ctx: ResourceContext, cmd: PlugNicCommand) -> Answer:
    if cmd.nic is None:
        raise MissingMemberError("required member is missing").at("nic")
    ctx.ops.add_nic(_name(cmd.instance_name, "instanceName"), nic_spec(cmd.nic, ctx.translation))
    return PlugNicAnswer(result=True)


def unplug_nic(ctx: ResourceContext, cmd: UnPlugNicCommand) -> Answer:
    if cmd.nic is None or not cmd.nic.mac:
        raise MissingMemberError("required member is missing").at("nic")
    vlan_of(cmd.nic)  # validates the isolation even though removal does not need it
    ctx.ops.remove_nic(_name(cmd.instance_name, "instanceName"), cmd.nic.mac)
    return UnPlugNicAnswer(result=True)


def replug_nic(ctx: ResourceContext, cmd: ReplugNicCommand) -> Answer:
    """Reconnect a NIC with new settings (its VLAN): on Hyper-V a VLAN change, not a re-plug."""
    if cmd.nic is None or not cmd.nic.mac:
        raise MissingMemberError("required member is missing").at("nic")
    ctx.ops.set_nic_vlan(_name(cmd.instance_name, "instanceName"), cmd.nic.mac, vlan_of(cmd.nic))
    return ReplugNicAnswer(result=True)


def scale(ctx: ResourceContext, cmd: ScaleVmCommand) -> Answer:
    name = _name(cmd.vm_name or (cmd.vm.name if cmd.vm is not None else None), "vmName")
    ctx.ops.scale(name, cpus=cmd.cpus or None, memory_bytes=cmd.max_ram or None)
    return ScaleVmAnswer(result=True)


def _snapshot_name(cmd: CreateVMSnapshotCommand | DeleteVMSnapshotCommand | RevertToVMSnapshotCommand) -> str:
    if cmd.target is None or not cmd.target.snapshot_name:
        raise MissingMemberError("required member is missing").at("target")
    return cmd.target.snapshot_name


def create_vm_snapshot(ctx: ResourceContext, cmd: CreateVMSnapshotCommand) -> Answer:
    name = _name(cmd.vm_name, "vmName")

    with_memory = cmd.target is not None and cmd.target.type == VMSnapshotType.DiskAndMemory
    desc = cmd.target.description if cmd.target is not None else None
    ctx.ops.create_checkpoint(name, _snapshot_name(cmd), description=desc, with_memory=with_memory)
    # The management server adds up volumeTOs[i].size: echo what it sent.
    return CreateVMSnapshotAnswer(result=True, volume_tos=list(cmd.volume_tos or []), vm_snapshot_to=cmd.target)


def delete_vm_snapshot(ctx: ResourceContext, cmd: DeleteVMSnapshotCommand) -> Answer:
    ctx.ops.delete_checkpoint(_name(cmd.vm_name, "vmName"), _snapshot_name(cmd))
    return DeleteVMSnapshotAnswer(result=True, volume_tos=list(cmd.volume_tos or []))


def revert_vm_snapshot(ctx: ResourceContext, cmd: RevertToVMSnapshotCommand) -> Answer:
    vm = ctx.ops.revert_checkpoint(_name(cmd.vm_name, "vmName"), _snapshot_name(cmd))
    return RevertToVMSnapshotAnswer(result=True, volume_tos=list(cmd.volume_tos or []), vm_state=power_state(vm.state))


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
