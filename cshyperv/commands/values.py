"""Value types carried inside commands and answers: pool facts, template listings, stats entries."""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import PowerState, StoragePoolType
from cshyperv.wire import JDouble, JInt, JLong, JsonObject, WireObject, jfield

__all__ = [
    "HostStatsEntry",
    "HostVmStateReportEntry",
    "NicDetails",
    "StoragePoolInfo",
    "TemplateProp",
    "VmDiskStatsEntry",
    "VmNetworkStatsEntry",
    "VmStatsEntry",
    "VmStatsEntryBase",
    "VolumeStatsEntry",
]


@attrs.frozen(kw_only=True, slots=False)
class StoragePoolInfo(WireObject):
    """A storage pool's identity and capacity (StartupStorageCommand, ModifyStoragePoolAnswer)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StoragePoolInfo"
    CLOSED: ClassVar[bool] = True

    uuid: str | None = None
    host: str | None = None
    local_path: str | None = None
    host_path: str | None = None
    pool_type: StoragePoolType | None = None
    capacity_bytes: JLong = 0
    available_bytes: JLong = 0
    name: str | None = None
    details: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class TemplateProp(WireObject):
    """One template found on a store (templateInfo maps in startup and pool answers)."""

    FQCN: ClassVar[str] = "com.cloud.storage.template.TemplateProp"
    CLOSED: ClassVar[bool] = True

    template_name: str | None = None
    install_path: str | None = None
    size: JLong = 0
    physical_size: JLong = 0
    id: JLong = 0
    # The Java fields carry the "is" prefix, so the JSON keys do too.
    is_public: bool = jfield("isPublic", default=False)
    is_corrupted: bool = jfield("isCorrupted", default=False)


@attrs.frozen(kw_only=True, slots=False)
class HostVmStateReportEntry(WireObject):
    """A VM's power state as one host reports it (PingRoutingCommand._hostVmStateReport values)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.HostVmStateReportEntry"

    state: PowerState | None = None
    host: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class VmStatsEntryBase(WireObject):
    """Counters of one VM (GetVmStatsAnswer values); rates in KB, CPU in percent."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.VmStatsEntryBase"
    CLOSED: ClassVar[bool] = True

    vm_id: JLong = 0
    cpu_utilization: JDouble = 0.0
    network_read_kbs: JDouble = jfield("networkReadKBs", default=0.0)
    network_write_kbs: JDouble = jfield("networkWriteKBs", default=0.0)
    disk_read_ios: JDouble = jfield("diskReadIOs", default=0.0)
    disk_write_ios: JDouble = jfield("diskWriteIOs", default=0.0)
    disk_read_kbs: JDouble = jfield("diskReadKBs", default=0.0)
    disk_write_kbs: JDouble = jfield("diskWriteKBs", default=0.0)
    memory_kbs: JDouble = jfield("memoryKBs", default=0.0)
    int_free_memory_kbs: JDouble = jfield("intFreeMemoryKBs", default=0.0)
    target_memory_kbs: JDouble = jfield("targetMemoryKBs", default=0.0)
    num_cpus: JInt = jfield("numCPUs", default=0)
    entity_type: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class VmStatsEntry(VmStatsEntryBase):
    """VmStatsEntryBase plus the VM's uuid."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.VmStatsEntry"

    vm_uuid: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class HostStatsEntry(WireObject):
    """Host counters (GetHostStatsAnswer.hostStats); memory in KB, CPU in percent."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.HostStatsEntry"
    CLOSED: ClassVar[bool] = True

    host_id: JLong = 0
    host_vo: JsonObject | None = None  # a server-side entity; always null from an agent
    entity_type: str | None = None
    cpu_utilization: JDouble = 0.0
    average_load: JDouble = 0.0
    network_read_kbs: JDouble = jfield("networkReadKBs", default=0.0)
    network_write_kbs: JDouble = jfield("networkWriteKBs", default=0.0)
    total_memory_kbs: JDouble = jfield("totalMemoryKBs", default=0.0)
    free_memory_kbs: JDouble = jfield("freeMemoryKBs", default=0.0)


@attrs.frozen(kw_only=True, slots=False)
class NicDetails(WireObject):
    """One NIC of GetVmConfigAnswer (a non-static inner class: no no-arg constructor for Gson)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmConfigAnswer$NicDetails"
    CLOSED: ClassVar[bool] = True

    mac_address: str | None = None
    vlanid: str | None = None
    state: bool = False


@attrs.frozen(kw_only=True, slots=False)
class VolumeStatsEntry(WireObject):
    """Sizes of one volume (GetVolumeStatsAnswer values), in bytes."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.VolumeStatsEntry"
    CLOSED: ClassVar[bool] = True

    volume_uuid: str | None = None
    physical_size: JLong = jfield("physicalsize", default=0)  # lower-case "s" in Java
    virtual_size: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class VmDiskStatsEntry(WireObject):
    """Cumulative I/O counters of one VM disk; ``delta*`` are since the agent's previous poll."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.VmDiskStatsEntry"
    CLOSED: ClassVar[bool] = True

    vm_name: str | None = None
    path: str | None = None
    io_read: JLong = 0
    io_write: JLong = 0
    bytes_write: JLong = 0
    bytes_read: JLong = 0
    delta_io_read: JLong = 0
    delta_io_write: JLong = 0
    delta_bytes_write: JLong = 0
    delta_bytes_read: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class VmNetworkStatsEntry(WireObject):
    """Cumulative byte counters of one VM NIC, matched to CloudStack's NIC by MAC."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.VmNetworkStatsEntry"
    CLOSED: ClassVar[bool] = True

    vm_name: str | None = None
    mac_address: str | None = None
    bytes_sent: JLong = 0
    bytes_received: JLong = 0
