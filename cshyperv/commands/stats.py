"""Volume, VM disk, VM network and router network-usage statistics (appendix A5).

The entry types (VolumeStatsEntry, VmDiskStatsEntry, VmNetworkStatsEntry) live in
``cshyperv.commands.values``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import StoragePoolType
from cshyperv.commands.values import VmDiskStatsEntry, VmNetworkStatsEntry, VolumeStatsEntry
from cshyperv.wire import Answer, Command, JLong, jfield

__all__ = [
    "GetVmDiskStatsAnswer",
    "GetVmDiskStatsCommand",
    "GetVmNetworkStatsAnswer",
    "GetVmNetworkStatsCommand",
    "GetVolumeStatAnswer",
    "GetVolumeStatCommand",
    "GetVolumeStatsAnswer",
    "GetVolumeStatsCommand",
    "NetworkUsageAnswer",
    "NetworkUsageCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class GetVolumeStatsCommand(Command):
    """Ask for the sizes of the volumes of one pool on this host. Answer: GetVolumeStatsAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVolumeStatsCommand"

    # Despite the name these are volume paths (volume.path, or chainInfo for OVA), and the
    # answer's volumeStats must be keyed by exactly these strings.
    volume_uuids: list[str] | None = None
    pool_type: StoragePoolType | None = None
    pool_uuid: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVolumeStatsAnswer(Answer):
    """Reply to GetVolumeStatsCommand: one entry per requested volume path."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVolumeStatsAnswer"

    pool_uuid: str | None = None
    pool_type: StoragePoolType | None = None
    volume_stats: dict[str, VolumeStatsEntry] | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVolumeStatCommand(Command):
    """Ask for the size of one volume (sent only by the ScaleIO driver). Answer: GetVolumeStatAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVolumeStatCommand"

    volume_path: str | None = None
    pool_type: StoragePoolType | None = None
    pool_uuid: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVolumeStatAnswer(Answer):
    """Reply to GetVolumeStatCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVolumeStatAnswer"

    pool_uuid: str | None = None
    pool_type: StoragePoolType | None = None
    volume_path: str | None = None
    size: JLong = 0
    virtual_size: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class GetVmDiskStatsCommand(Command):
    """Ask for per-disk I/O counters of the named VMs. Answer: GetVmDiskStatsAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmDiskStatsCommand"

    vm_names: list[str] | None = None
    host_guid: str | None = None
    host_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVmDiskStatsAnswer(Answer):
    """Reply to GetVmDiskStatsCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmDiskStatsAnswer"

    host_name: str | None = None
    # Keyed by VM instance name.
    vm_disk_stats_map: dict[str, list[VmDiskStatsEntry]] | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVmNetworkStatsCommand(Command):
    """Ask for per-NIC byte counters of the named VMs. Answer: GetVmNetworkStatsAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmNetworkStatsCommand"

    vm_names: list[str] | None = None
    host_guid: str | None = None
    host_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVmNetworkStatsAnswer(Answer):
    """Reply to GetVmNetworkStatsCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmNetworkStatsAnswer"

    host_name: str | None = None
    # Keyed by VM instance name.
    vm_network_stats_map: dict[str, list[VmNetworkStatsEntry]] | None = None


@attrs.frozen(kw_only=True, slots=False)
class NetworkUsageCommand(Command):
    """Get (or set up) a virtual router's traffic counters. Answer: NetworkUsageAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.NetworkUsageCommand"

    private_ip: str | None = jfield("privateIP")
    dom_r_name: str | None = jfield("domRName")
    option: str | None = None
    for_vpc: bool = False
    gateway_ip: str | None = jfield("gatewayIP")
    vpc_cidr: str | None = jfield("vpcCIDR")


@attrs.frozen(kw_only=True, slots=False)
class NetworkUsageAnswer(Answer):
    """Reply to NetworkUsageCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.NetworkUsageAnswer"

    router_name: str | None = None
    bytes_sent: JLong | None = None
    bytes_received: JLong | None = None
