"""Storage-subsystem commands and answers (``org.apache.cloudstack.storage.command``).

Since CloudStack 4.2 volumes, templates and snapshots travel as FQCN-wrapped DataTOs inside these
commands; which operation is meant follows from the object types and store roles (appendix §C).
Field lists follow reference §3a, defaults the constructors of appendix §E.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.to import DiskTO
from cshyperv.wire import Answer, Command, DataTO, JInt, JLong, jfield

__all__ = [
    "AttachAnswer",
    "AttachCommand",
    "CopyCmdAnswer",
    "CopyCommand",
    "CreateObjectAnswer",
    "CreateObjectCommand",
    "DeleteCommand",
    "DettachAnswer",
    "DettachCommand",
    "StorageSubSystemCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class StorageSubSystemCommand(Command):
    """Abstract base of the storage-subsystem commands."""


@attrs.frozen(kw_only=True, slots=False)
class CopyCommand(StorageSubSystemCommand):
    """Copy a template, volume or snapshot between stores (download, clone, backup...). Answer: CopyCmdAnswer."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.CopyCommand"

    src_to: DataTO | None = jfield("srcTO", required=True)
    dest_to: DataTO | None = jfield("destTO", required=True)
    cache_to: DataTO | None = jfield("cacheTO")
    execute_in_sequence: bool = False
    options: dict[str, str] | None = jfield(factory=dict)
    options2: dict[str, str] | None = jfield(factory=dict)


@attrs.frozen(kw_only=True, slots=False)
class CopyCmdAnswer(Answer):
    """The agent's reply to CopyCommand, describing the object created at the destination."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.CopyCmdAnswer"

    # No no-arg constructor: Gson allocates it bare, so a missing "result" reads as false.
    result: bool = False
    new_data: DataTO | None = None


@attrs.frozen(kw_only=True, slots=False)
class CreateObjectCommand(StorageSubSystemCommand):
    """Create a volume (or take a snapshot) on primary storage. Answer: CreateObjectAnswer."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.CreateObjectCommand"

    data: DataTO | None = jfield(required=True)


@attrs.frozen(kw_only=True, slots=False)
class CreateObjectAnswer(Answer):
    """The agent's reply to CreateObjectCommand, describing the created object."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.CreateObjectAnswer"

    data: DataTO | None = None


@attrs.frozen(kw_only=True, slots=False)
class DeleteCommand(StorageSubSystemCommand):
    """Delete a volume, snapshot or backup. Answer: Answer."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.DeleteCommand"

    data: DataTO | None = jfield(required=True)
    delete_chain: bool = False


@attrs.frozen(kw_only=True, slots=False)
class AttachCommand(StorageSubSystemCommand):
    """Attach a data disk or an ISO (``disk.type``) to a VM. Answer: AttachAnswer."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.AttachCommand"

    disk: DiskTO | None = jfield(required=True)
    vm_name: str | None = None
    in_seq: bool = False
    forced: bool = False
    controller_info: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class AttachAnswer(Answer):
    """The agent's reply to AttachCommand, echoing the disk."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.AttachAnswer"

    disk: DiskTO | None = None


@attrs.frozen(kw_only=True, slots=False)
class DettachCommand(StorageSubSystemCommand):
    """Detach a data disk or an ISO from a VM (Java's spelling). Answer: DettachAnswer."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.DettachCommand"

    disk: DiskTO | None = jfield(required=True)
    vm_name: str | None = None
    managed: bool = jfield("_managed", default=False)
    i_scsi_name: str | None = jfield("_iScsiName")
    storage_host: str | None = jfield("_storageHost")
    storage_port: JInt = jfield("_storagePort", default=0)
    params: dict[str, str] | None = None
    forced: bool = False
    wait_detach_device: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class DettachAnswer(Answer):
    """The agent's reply to DettachCommand."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.command.DettachAnswer"

    disk: DiskTO | None = None
