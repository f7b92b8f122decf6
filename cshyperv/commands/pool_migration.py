"""Migrating a stopped VM's volumes to other pools, and managed-storage volume copies (A8)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.storage import StorageNfsVersionCommand
from cshyperv.commands.storage_to import VolumeObjectTO
from cshyperv.commands.to import StorageFilerTO, VolumeTO
from cshyperv.wire import Answer, Command, DataTO, JLong, jfield

__all__ = [
    "CopyVolumeAnswer",
    "CopyVolumeCommand",
    "MigrateVmToPoolAnswer",
    "MigrateVmToPoolCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class MigrateVmToPoolCommand(Command):
    """Move a VM's volumes to other pools (VMware only at HEAD). Answer: MigrateVmToPoolAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MigrateVmToPoolCommand"

    vm_name: str | None = None
    execute_in_sequence: bool = False
    volume_to_filer_as_list: list[tuple[VolumeTO | None, StorageFilerTO | None]] | None = None
    host_guid_in_target_cluster: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class MigrateVmToPoolAnswer(Answer):
    """Reply to MigrateVmToPoolCommand: the volumes at their new location."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MigrateVmToPoolAnswer"

    # No no-arg constructor: a missing "result" reads as false.
    result: bool = False
    volume_tos: list[VolumeObjectTO] | None = None


@attrs.frozen(kw_only=True, slots=False)
class CopyVolumeCommand(StorageNfsVersionCommand):
    """Copy a volume between a pool and secondary storage. Answer: CopyVolumeAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.CopyVolumeCommand"

    volume_id: JLong = 0
    volume_path: str | None = None
    pool: StorageFilerTO | None = None
    secondary_storage_url: str | None = jfield("secondaryStorageURL", secret="url")
    to_secondary_storage: bool = False
    vm_name: str | None = None
    src_data: DataTO | None = None
    # Managed-storage details, CHAP initiator and target secrets included.
    src_details: dict[str, str] | None = jfield(secret=True)
    execute_in_sequence: bool = False


@attrs.frozen(kw_only=True, slots=False)
class CopyVolumeAnswer(Answer):
    """Reply to CopyVolumeCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.CopyVolumeAnswer"

    volume_folder: str | None = None
    volume_path: str | None = None
