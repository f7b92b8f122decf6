"""VM snapshots, disk-only VM snapshots and the legacy volume-snapshot commands (appendix A1, A2).

``com.cloud.storage.CreateSnapshotPayload`` is not modelled: it is a server-side payload carried on
SnapshotInfo inside the management server and is never sent to an agent. Volume snapshots proper
travel as a wrapped ``SnapshotObjectTO`` inside the storage-subsystem commands.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import PowerState, VirtualMachineState, VMSnapshotType
from cshyperv.commands.storage import StorageNfsVersionCommand
from cshyperv.commands.storage_to import SnapshotObjectTO, VolumeObjectTO
from cshyperv.commands.to import S3TO, StorageFilerTO
from cshyperv.wire import Answer, Command, DataTO, JLong, JsonObject, WireObject, jfield

__all__ = [
    "BackupSnapshotAnswer",
    "BackupSnapshotCommand",
    "CreateDiskOnlyVmSnapshotAnswer",
    "CreateDiskOnlyVmSnapshotCommand",
    "CreateVMSnapshotAnswer",
    "CreateVMSnapshotCommand",
    "CreateVolumeFromSnapshotAnswer",
    "CreateVolumeFromSnapshotCommand",
    "DeleteDiskOnlyVmSnapshotCommand",
    "DeleteVMSnapshotAnswer",
    "DeleteVMSnapshotCommand",
    "FreezeThawVMAnswer",
    "FreezeThawVMCommand",
    "ManageSnapshotAnswer",
    "ManageSnapshotCommand",
    "MergeDiskOnlyVmSnapshotCommand",
    "RestoreVMSnapshotAnswer",
    "RestoreVMSnapshotCommand",
    "RevertDiskOnlyVmSnapshotAnswer",
    "RevertDiskOnlyVmSnapshotCommand",
    "RevertSnapshotCommand",
    "RevertToVMSnapshotAnswer",
    "RevertToVMSnapshotCommand",
    "SnapshotCommand",
    "VMSnapshotBaseCommand",
    "VMSnapshotTO",
]


# --------------------------------------------------------------------------------------------
# A1: VM snapshots


@attrs.frozen(kw_only=True, slots=False)
class VMSnapshotTO(WireObject):
    """One VM snapshot and, through ``parent``, the chain of snapshots it was taken on top of."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.VMSnapshotTO"

    id: JLong | None = None
    snapshot_name: str | None = None
    type: VMSnapshotType | None = None
    # Epoch milliseconds; null in CreateVMSnapshotCommand.target, set for delete and revert.
    create_time: JLong | None = None
    current: bool | None = None
    description: str | None = None
    parent: VMSnapshotTO | None = None
    volumes: list[VolumeObjectTO] | None = None
    quiescevm: bool = True


@attrs.frozen(kw_only=True, slots=False)
class VMSnapshotBaseCommand(Command):
    """Fields shared by the VM-snapshot commands; Java never sends this class as itself."""

    volume_tos: list[VolumeObjectTO] | None = jfield("volumeTOs")
    target: VMSnapshotTO | None = None
    vm_name: str | None = None
    guest_os_type: str | None = jfield("guestOSType")
    platform_emulator: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class CreateVMSnapshotCommand(VMSnapshotBaseCommand):
    """Take a VM snapshot described by ``target``. Answer: CreateVMSnapshotAnswer (cast by the MS)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CreateVMSnapshotCommand"

    vm_uuid: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class CreateVMSnapshotAnswer(Answer):
    """Reply to CreateVMSnapshotCommand; on success every volume TO must carry a non-null ``size``."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CreateVMSnapshotAnswer"

    volume_tos: list[VolumeObjectTO] | None = jfield("volumeTOs")
    vm_snapshot_to: VMSnapshotTO | None = None


@attrs.frozen(kw_only=True, slots=False)
class DeleteVMSnapshotCommand(VMSnapshotBaseCommand):
    """Delete the VM snapshot ``target``. Answer: DeleteVMSnapshotAnswer (cast when result is true)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.DeleteVMSnapshotCommand"


@attrs.frozen(kw_only=True, slots=False)
class DeleteVMSnapshotAnswer(Answer):
    """Reply to DeleteVMSnapshotCommand; on success every volume TO must carry a non-null ``size``."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.DeleteVMSnapshotAnswer"

    volume_tos: list[VolumeObjectTO] | None = jfield("volumeTOs")


@attrs.frozen(kw_only=True, slots=False)
class RevertToVMSnapshotCommand(VMSnapshotBaseCommand):
    """Revert a VM to the snapshot ``target``. Answer: RevertToVMSnapshotAnswer (cast by the MS)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.RevertToVMSnapshotCommand"

    reload_vm: bool = False
    vm_uuid: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class RevertToVMSnapshotAnswer(Answer):
    """Reply to RevertToVMSnapshotCommand: the volumes as they are after the revert."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.RevertToVMSnapshotAnswer"

    volume_tos: list[VolumeObjectTO] | None = jfield("volumeTOs")
    vm_state: PowerState | None = None


@attrs.frozen(kw_only=True, slots=False)
class RestoreVMSnapshotCommand(VMSnapshotBaseCommand):
    """Re-register a VM's snapshot tree after it was redefined (KVM only at HEAD)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.RestoreVMSnapshotCommand"

    snapshots: list[VMSnapshotTO] | None = None
    # Java Map<Long, VMSnapshotTO>: Gson writes the snapshot ids as JSON object keys (strings).
    snapshot_and_parents: dict[str, VMSnapshotTO] | None = None


@attrs.frozen(kw_only=True, slots=False)
class RestoreVMSnapshotAnswer(Answer):
    """Reply to RestoreVMSnapshotCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.RestoreVMSnapshotAnswer"

    volume_tos: list[VolumeObjectTO] | None = jfield("volumeTOs")
    vm_state: PowerState | None = None


@attrs.frozen(kw_only=True, slots=False)
class FreezeThawVMCommand(Command):
    """Freeze, thaw or query the guest file systems around a storage snapshot.

    ``option`` is "frozen", "thawed" or "status". Answer: FreezeThawVMAnswer.
    """

    FQCN: ClassVar[str] = "com.cloud.agent.api.FreezeThawVMCommand"

    vm_name: str | None = None
    option: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class FreezeThawVMAnswer(Answer):
    """Reply to FreezeThawVMCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.FreezeThawVMAnswer"


@attrs.frozen(kw_only=True, slots=False)
class CreateDiskOnlyVmSnapshotCommand(VMSnapshotBaseCommand):
    """Take a disk-only VM snapshot (file-based strategy). Answer: CreateDiskOnlyVmSnapshotAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.CreateDiskOnlyVmSnapshotCommand"

    vm_state: VirtualMachineState | None = None
    volume_tos_and_new_paths: list[tuple[VolumeObjectTO | None, str | None]] | None = None


@attrs.frozen(kw_only=True, slots=False)
class CreateDiskOnlyVmSnapshotAnswer(Answer):
    """Reply to CreateDiskOnlyVmSnapshotCommand: snapshot size per volume."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.CreateDiskOnlyVmSnapshotAnswer"

    # No no-arg constructor: a missing "result" reads as false.
    result: bool = False
    map_volume_to_snapshot_size: dict[str, JLong] | None = None


@attrs.frozen(kw_only=True, slots=False)
class DeleteDiskOnlyVmSnapshotCommand(Command):
    """Delete disk-only VM snapshot files. Answer: a plain Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.DeleteDiskOnlyVmSnapshotCommand"

    snapshots: list[DataTO] | None = None


@attrs.frozen(kw_only=True, slots=False)
class RevertDiskOnlyVmSnapshotCommand(Command):
    """Revert a VM's disks to a disk-only VM snapshot. Answer: RevertDiskOnlyVmSnapshotAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.RevertDiskOnlyVmSnapshotCommand"

    snapshot_object_tos: list[SnapshotObjectTO] | None = None
    vm_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class RevertDiskOnlyVmSnapshotAnswer(Answer):
    """Reply to RevertDiskOnlyVmSnapshotCommand: the volumes after the revert."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.RevertDiskOnlyVmSnapshotAnswer"

    # No no-arg constructor: a missing "result" reads as false.
    result: bool = False
    volume_object_tos: list[VolumeObjectTO] | None = None


@attrs.frozen(kw_only=True, slots=False)
class MergeDiskOnlyVmSnapshotCommand(Command):
    """Merge disk-only snapshot deltas into their parents. Answer: a plain Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.MergeDiskOnlyVmSnapshotCommand"

    # Java List<DeltaMergeTreeTO>, not modelled.
    snapshot_merge_tree_to_list: list[JsonObject] | None = None
    is_vm_running: bool = jfield("isVmRunning", default=False)
    vm_name: str | None = None


# --------------------------------------------------------------------------------------------
# A2: volume snapshots and the legacy snapshot commands


@attrs.frozen(kw_only=True, slots=False)
class RevertSnapshotCommand(Command):
    """Revert a volume to a volume snapshot (storage subsystem). Answer: a plain Answer."""

    # Java parent is the abstract StorageSubSystemCommand, which adds no fields.
    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.RevertSnapshotCommand"

    # Declared as the concrete SnapshotObjectTO, so not FQCN-wrapped.
    data: SnapshotObjectTO | None = None
    data_on_primary_storage: SnapshotObjectTO | None = None
    execute_in_sequence: bool = jfield("_executeInSequence", default=False)
    delete_chain: bool = False


@attrs.frozen(kw_only=True, slots=False)
class SnapshotCommand(StorageNfsVersionCommand):
    """Fields shared by the legacy snapshot commands; Java never sends this class as itself."""

    primary_storage_pool_name_label: str | None = None
    primary_pool: StorageFilerTO | None = None
    snapshot_uuid: str | None = None
    snapshot_name: str | None = None
    secondary_storage_url: str | None = jfield(secret="url")
    dc_id: JLong | None = None
    account_id: JLong | None = None
    volume_id: JLong | None = None
    volume_path: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class BackupSnapshotCommand(SnapshotCommand):
    """Legacy: copy a volume snapshot to secondary storage. Answer: BackupSnapshotAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.BackupSnapshotCommand"

    prev_snapshot_uuid: str | None = None
    prev_backup_uuid: str | None = None
    is_volume_inactive: bool = jfield("isVolumeInactive", default=False)
    vm_name: str | None = None
    snapshot_id: JLong | None = None
    # Java SwiftTO, not modelled; it carries the Swift account key.
    swift: JsonObject | None = jfield(secret=True)
    s3: S3TO | None = None
    pool: StorageFilerTO | None = None
    sec_host_id: JLong | None = None


@attrs.frozen(kw_only=True, slots=False)
class BackupSnapshotAnswer(Answer):
    """Reply to BackupSnapshotCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.BackupSnapshotAnswer"

    backup_snapshot_name: str | None = None
    full: bool = False


@attrs.frozen(kw_only=True, slots=False)
class ManageSnapshotCommand(Command):
    """Legacy: create ("-c") or destroy ("-d") a volume snapshot. Answer: ManageSnapshotAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ManageSnapshotCommand"

    command_switch: str | None = jfield("_commandSwitch")
    volume_path: str | None = jfield("_volumePath")
    pool: StorageFilerTO | None = jfield("_pool")
    snapshot_path: str | None = jfield("_snapshotPath")
    snapshot_name: str | None = jfield("_snapshotName")
    snapshot_id: JLong = jfield("_snapshotId", default=0)
    vm_name: str | None = jfield("_vmName")


@attrs.frozen(kw_only=True, slots=False)
class ManageSnapshotAnswer(Answer):
    """Reply to ManageSnapshotCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ManageSnapshotAnswer"

    snapshot_path: str | None = jfield("_snapshotPath")


@attrs.frozen(kw_only=True, slots=False)
class CreateVolumeFromSnapshotCommand(SnapshotCommand):
    """Legacy: create a volume from a backed-up snapshot. Answer: CreateVolumeFromSnapshotAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CreateVolumeFromSnapshotCommand"


@attrs.frozen(kw_only=True, slots=False)
class CreateVolumeFromSnapshotAnswer(Answer):
    """Reply to CreateVolumeFromSnapshotCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CreateVolumeFromSnapshotAnswer"

    vdi_uuid: str | None = jfield("vdiUUID")
