"""Legacy storage commands and answers (``com.cloud.agent.api`` and ``com.cloud.agent.api.storage``).

Pools, storage statistics, the pre-4.2 volume commands and volume migration. Field lists follow
reference §3a, defaults the constructors of appendix §E. The 4.2+ object commands are in
:mod:`cshyperv.commands.storage_subsystem`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from cshyperv.commands.enums import ImageFormat, StoragePoolType, VolumeType
from cshyperv.commands.storage_to import VolumeObjectTO
from cshyperv.commands.to import DiskProfile, StorageFilerTO, VirtualMachineTO, VolumeTO
from cshyperv.commands.values import StoragePoolInfo, TemplateProp
from cshyperv.wire import Answer, Command, DataStoreTO, DataTO, JLong, jfield

__all__ = [
    "AbstractDownloadCommand",
    "CreateAnswer",
    "CreateCommand",
    "CreateStoragePoolCommand",
    "DeleteStoragePoolCommand",
    "DestroyCommand",
    "GetStorageStatsAnswer",
    "GetStorageStatsCommand",
    "MigrateVolumeAnswer",
    "MigrateVolumeCommand",
    "MigrateWithStorageAnswer",
    "MigrateWithStorageCommand",
    "ModifyStoragePoolAnswer",
    "ModifyStoragePoolCommand",
    "PrimaryStorageDownloadAnswer",
    "PrimaryStorageDownloadCommand",
    "SsCommand",
    "StorageCommand",
    "StorageNfsVersionCommand",
]


# --------------------------------------------------------------------------------------------
# Storage pools


@attrs.frozen(kw_only=True, slots=False)
class ModifyStoragePoolCommand(Command):
    """Add (``add``) or remove a primary storage pool on the host. Answer: ModifyStoragePoolAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ModifyStoragePoolCommand"

    add: bool = False
    # Not required: CreateStoragePoolCommand inherits it, and the legacy agent was sent {"localPath": "NULL"}.
    pool: StorageFilerTO | None = None
    local_path: str | None = None
    storage_path: str | None = None
    details: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class ModifyStoragePoolAnswer(Answer):
    """The agent's reply to ModifyStoragePoolCommand: pool capacity and the templates found on it."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ModifyStoragePoolAnswer"

    # No no-arg constructor: Gson allocates it bare, so a missing "result" reads as false.
    result: bool = False
    pool_info: StoragePoolInfo | None = None
    template_info: dict[str, TemplateProp] | None = None
    local_datastore_name: str | None = None
    pool_type: str | None = None
    datastore_cluster_children: list[ModifyStoragePoolAnswer] | None = jfield(factory=list)


@attrs.frozen(kw_only=True, slots=False)
class CreateStoragePoolCommand(ModifyStoragePoolCommand):
    """Create (and add) a primary storage pool; the C# agent only acknowledges it. Answer: Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CreateStoragePoolCommand"

    create_datastore: bool = jfield("_createDatastore", default=False)
    # Java's "_details" sits beside the inherited "details" (its getDetails() overrides the
    # parent's); a distinct attribute keeps both members.
    create_details: dict[str, str] | None = jfield("_details")


@attrs.frozen(kw_only=True, slots=False)
class DeleteStoragePoolCommand(Command):
    """Remove a primary storage pool from the host; the C# agent only acknowledges it. Answer: Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.DeleteStoragePoolCommand"

    pool: StorageFilerTO | None = jfield("_pool")
    local_path: str | None = jfield("_localPath")
    remove_datastore: bool = jfield("_removeDatastore", default=False)
    details: dict[str, str] | None = jfield("_details")


# --------------------------------------------------------------------------------------------
# Storage statistics


@attrs.frozen(kw_only=True, slots=False)
class StorageNfsVersionCommand(Command):
    """Abstract base of storage commands that carry the NFS version to mount with."""

    nfs_version: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetStorageStatsCommand(StorageNfsVersionCommand):
    """Periodic capacity request for a pool or an image store. Answer: GetStorageStatsAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetStorageStatsCommand"

    id: str | None = None
    local_path: str | None = None
    pooltype: StoragePoolType | None = jfield("pooltype")
    sec_url: str | None = jfield(secret="url")
    store: DataStoreTO | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetStorageStatsAnswer(Answer):
    """The agent's reply to GetStorageStatsCommand: bytes (and IOPS) used and available."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetStorageStatsAnswer"

    # The C# agent sends "used"/"capacity"; Java reads usedBytes/capacityBytes since PR #10034
    # (Jan 2025), servers before it read used/capacity. Accept both; objects built here write both.
    used_bytes: JLong = jfield(aliases=("used",), compat=("used",), default=0)
    capacity_bytes: JLong = jfield(aliases=("capacity",), compat=("capacity",), default=0)
    capacity_iops: JLong | None = None
    used_iops: JLong | None = None


# --------------------------------------------------------------------------------------------
# Legacy volume commands (before the storage subsystem)


@attrs.frozen(kw_only=True, slots=False)
class StorageCommand(StorageNfsVersionCommand):
    """Abstract base of the legacy storage commands."""


@attrs.frozen(kw_only=True, slots=False)
class DestroyCommand(StorageCommand):
    """Detach and delete a volume file. Answer: Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.DestroyCommand"

    vm_name: str | None = None
    volume: VolumeTO | None = None


@attrs.frozen(kw_only=True, slots=False)
class CreateCommand(Command):
    """Create a volume on a pool, from a template or blank. Answer: CreateAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.CreateCommand"

    vol_id: JLong = 0
    pool: StorageFilerTO | None = None
    disk_characteristics: DiskProfile | None = None
    template_url: str | None = None
    execute_in_sequence: bool = False


@attrs.frozen(kw_only=True, slots=False)
class CreateAnswer(Answer):
    """The agent's reply to CreateCommand, describing the new volume."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.CreateAnswer"

    volume: VolumeTO | None = None
    request_template_reload: bool = False


@attrs.frozen(kw_only=True, slots=False)
class SsCommand(StorageNfsVersionCommand):
    """Abstract base of commands that address secondary storage by URL."""

    sec_url: str | None = jfield(secret="url")


@attrs.frozen(kw_only=True, slots=False)
class AbstractDownloadCommand(SsCommand):
    """Abstract base of template download commands."""

    url: str | None = jfield(secret="url")
    format: ImageFormat | None = None
    account_id: JLong = 0
    name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class PrimaryStorageDownloadCommand(AbstractDownloadCommand):
    """Copy a template from secondary to primary storage. Answer: PrimaryStorageDownloadAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.PrimaryStorageDownloadCommand"

    local_path: str | None = None
    pool_uuid: str | None = None
    pool_id: JLong = 0
    primary_pool: StorageFilerTO | None = None
    secondary_storage_url: str | None = jfield(secret="url")
    primary_storage_url: str | None = jfield(secret="url")


@attrs.frozen(kw_only=True, slots=False)
class PrimaryStorageDownloadAnswer(Answer):
    """The agent's reply to PrimaryStorageDownloadCommand: where the template landed and its size."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.PrimaryStorageDownloadAnswer"

    install_path: str | None = None
    template_size: JLong = 0


# --------------------------------------------------------------------------------------------
# Volume migration


@attrs.frozen(kw_only=True, slots=False)
class MigrateVolumeCommand(Command):
    """Move a volume to another pool. Answer: MigrateVolumeAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.MigrateVolumeCommand"

    volume_id: JLong = 0
    volume_path: str | None = None
    chain_info: str | None = None
    pool: StorageFilerTO | None = None
    source_pool: StorageFilerTO | None = None
    attached_vm_name: str | None = None
    volume_type: VolumeType | None = None
    host_guid_in_target_cluster: str | None = None
    src_data: DataTO | None = None
    dest_data: DataTO | None = None
    src_details: dict[str, str] | None = None
    dest_details: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class MigrateVolumeAnswer(Answer):
    """The agent's reply to MigrateVolumeCommand: the volume's new path."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.MigrateVolumeAnswer"

    # No no-arg constructor: Gson allocates it bare, so a missing "result" reads as false.
    result: bool = False
    volume_path: str | None = None
    volume_chain: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class MigrateWithStorageCommand(Command):
    """Live-migrate a VM together with its volumes. Answer: MigrateWithStorageAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MigrateWithStorageCommand"

    vm: VirtualMachineTO | None = None
    # Map<VolumeTO, StorageFilerTO>: Gson writes each key as VolumeTO.toString(), so the keys are
    # opaque strings; volumeToFilerAsList carries the same pairs usably.
    volume_to_filer: dict[str, Any] | None = None
    volume_to_filer_as_list: list[tuple[VolumeTO | None, StorageFilerTO | None]] | None = None
    tgt_host: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class MigrateWithStorageAnswer(Answer):
    """The agent's reply to MigrateWithStorageCommand: the volumes as they are after the move."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MigrateWithStorageAnswer"

    # No no-arg constructor: Gson allocates it bare, so a missing "result" reads as false.
    result: bool = False
    volume_tos: list[VolumeObjectTO] | None = None
