"""Transfer objects of ``com.cloud.agent.api.to`` (and ``com.cloud.vm.DiskProfile``)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import (
    BootloaderType,
    BroadcastDomainType,
    DataStoreRole,
    HypervisorType,
    NetworkElementLocation,
    ProvisioningType,
    StoragePoolType,
    TrafficType,
    VirtualMachineState,
    VirtualMachineType,
    VolumeType,
)
from cshyperv.wire import DataStoreTO, DataTO, JDouble, JInt, JLong, JsonObject, WireObject, jfield

__all__ = [
    "S3TO",
    "DiskProfile",
    "DiskTO",
    "HostTO",
    "NetworkTO",
    "NfsTO",
    "NicTO",
    "StorageFilerTO",
    "VirtualMachineTO",
    "VolumeTO",
]


@attrs.frozen(kw_only=True, slots=False)
class NetworkTO(WireObject):
    """A network as seen by one endpoint (base of NicTO; also HostTO's networks)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.NetworkTO"

    uuid: str | None = None
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    mac: str | None = None
    dns1: str | None = None
    dns2: str | None = None
    broadcast_type: BroadcastDomainType | None = None
    type: TrafficType | None = None
    broadcast_uri: str | None = None  # "vlan://261", "vlan://untagged", or absent (untagged)
    isolation_uri: str | None = None
    security_group_enabled: bool = False
    name: str | None = None  # the network label: on Hyper-V, the vSwitch name
    ip6address: str | None = None
    ip6gateway: str | None = None
    ip6cidr: str | None = None
    ip6_dns1: str | None = jfield("ip6Dns1")
    ip6_dns2: str | None = jfield("ip6Dns2")


@attrs.frozen(kw_only=True, slots=False)
class NicTO(NetworkTO):
    """A VM's network adapter. ``uuid`` (from NetworkTO) is the network's uuid, ``nic_uuid`` the NIC's."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.NicTO"

    device_id: JInt = 0
    network_rate_mbps: JInt | None = None
    network_rate_multicast_mbps: JInt | None = None
    default_nic: bool = False
    pxe_disable: bool = False
    nic_uuid: str | None = None
    nic_sec_ips: list[str] | None = None
    details: dict[str, str] | None = None
    dpdk_enabled: bool = False
    mtu: JInt | None = None
    network_id: JLong | None = None
    enabled: bool = False
    network_segment_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class DiskTO(WireObject):
    """One disk of a VM: its ``data`` (a wrapped VolumeObjectTO or TemplateObjectTO) and position."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.DiskTO"

    data: DataTO | None = None  # an ISO drive may come without data (empty drive)
    disk_seq: JLong | None = None
    path: str | None = None
    type: VolumeType | None = None
    details: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class VirtualMachineTO(WireObject):
    """A VM's full description, as StartCommand carries it (and StartAnswer echoes it)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.VirtualMachineTO"

    id: JLong = 0
    name: str | None = None  # the instance name, i-<account>-<id>-VM
    bootloader: BootloaderType | None = None
    state: VirtualMachineState | None = None
    type: VirtualMachineType | None = None
    cpus: JInt = 0
    speed: JInt | None = None  # MHz
    min_speed: JInt | None = None
    max_speed: JInt | None = None
    min_ram: JLong = 0  # bytes; RAM divided by the overcommit ratio
    max_ram: JLong = 0  # bytes; the RAM the VM is given
    requested_ram: JLong = 0
    host_name: str | None = None
    arch: str | None = None
    os: str | None = None
    platform_emulator: str | None = None
    boot_args: str | None = None
    bootup_scripts: list[str] | None = None
    enable_ha: bool = jfield("enableHA", default=False)
    limit_cpu_use: bool = False
    enable_dynamically_scale_vm: bool = False
    vnc_password: str | None = jfield(secret=True)
    vnc_addr: str | None = None
    details: dict[str, str] | None = None
    params: dict[str, str] | None = None
    uuid: str | None = None
    boot_type: str | None = None  # "UEFI" or "BIOS"
    boot_mode: str | None = None  # "SECURE" or "LEGACY"
    enter_hardware_setup: bool = False
    disks: list[DiskTO] | None = None
    nics: list[NicTO] | None = None
    gpu_device: JsonObject | None = None
    vcpu_max_limit: JInt | None = None
    vm_data: list[list[str]] | None = jfield(secret=True)  # user data, passwords, keys
    config_drive_label: str | None = None
    config_drive_iso_root_folder: str | None = None
    config_drive_iso_file: str | None = None
    config_drive_location: NetworkElementLocation | None = NetworkElementLocation.SECONDARY
    cpu_quota_percentage: JDouble | None = None
    guest_os_details: dict[str, str] | None = jfield(factory=dict)
    extra_config: dict[str, str] | None = jfield(factory=dict)
    network_id_to_network_name_map: dict[str, str] | None = jfield(factory=dict)
    deploy_as_is_info: JsonObject | None = None
    metadata_manufacturer: str | None = None
    metadata_product_name: str | None = None
    metadata: JsonObject | None = None


@attrs.frozen(kw_only=True, slots=False)
class StorageFilerTO(WireObject):
    """A primary storage pool as the legacy storage commands describe it."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.StorageFilerTO"

    id: JLong = 0
    uuid: str | None = None
    host: str | None = None
    path: str | None = None  # for SMB pools "/share[/dir]", credentials stripped by CloudStack
    user_info: str | None = jfield(secret=True)
    port: JInt = 0
    type: StoragePoolType | None = None


@attrs.frozen(kw_only=True, slots=False)
class HostTO(WireObject):
    """A host and its networks (CheckOnHostCommand)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.HostTO"

    guid: str | None = None
    private_network: NetworkTO | None = None
    public_network: NetworkTO | None = None
    storage_network1: NetworkTO | None = None
    storage_network2: NetworkTO | None = None
    parent: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class VolumeTO(WireObject):
    """A volume as the legacy storage commands describe it."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.VolumeTO"

    id: JLong = 0
    name: str | None = None
    mount_point: str | None = None
    path: str | None = None
    size: JLong = 0
    type: VolumeType | None = None
    storage_pool_type: StoragePoolType | None = None
    storage_pool_uuid: str | None = None
    device_id: JLong = 0
    chain_info: str | None = None
    guest_os_type: str | None = None
    bytes_read_rate: JLong | None = None
    bytes_write_rate: JLong | None = None
    iops_read_rate: JLong | None = None
    iops_write_rate: JLong | None = None
    cache_mode: str | None = None
    chain_size: JLong | None = None


@attrs.frozen(kw_only=True, slots=False)
class NfsTO(WireObject, DataStoreTO):
    """An image store by URL. For Hyper-V the URL is usually ``cifs://`` despite the name."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.NfsTO"

    url: str | None = jfield("_url", secret="url")
    role: DataStoreRole | None = jfield("_role")
    uuid: str | None = None
    nfs_version: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class S3TO(WireObject, DataStoreTO):
    """An S3 image store (no no-arg constructor: Java zero values)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.to.S3TO"

    id: JLong | None = None
    uuid: str | None = None
    access_key: str | None = jfield(secret=True)
    secret_key: str | None = jfield(secret=True)
    end_point: str | None = None
    bucket_name: str | None = None
    signer: str | None = None
    https_flag: bool | None = None
    use_tcp_keep_alive: bool | None = jfield("useTCPKeepAlive")
    connection_timeout: JInt | None = None
    max_error_retry: JInt | None = None
    socket_timeout: JInt | None = None
    connection_ttl: JInt | None = None
    created: str | None = None  # java.util.Date in Gson's default text form
    enable_rrs: bool = jfield("enableRRS", default=False)
    max_single_upload_size_in_bytes: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class DiskProfile(WireObject):
    """A disk to create (legacy CreateCommand.diskCharacteristics)."""

    FQCN: ClassVar[str] = "com.cloud.vm.DiskProfile"

    size: JLong = 0
    tags: list[str] | None = None
    type: VolumeType | None = None
    name: str | None = None
    use_local_storage: bool = False
    recreatable: bool = False
    disk_offering_id: JLong = 0
    template_id: JLong | None = None
    volume_id: JLong = 0
    path: str | None = None
    provisioning_type: ProvisioningType | None = None
    bytes_read_rate: JLong | None = None
    bytes_write_rate: JLong | None = None
    iops_read_rate: JLong | None = None
    iops_write_rate: JLong | None = None
    cache_mode: str | None = None
    min_iops: JLong | None = None
    max_iops: JLong | None = None
    requires_encryption: bool = False
    hyper_type: HypervisorType | None = None
