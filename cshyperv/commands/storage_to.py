"""Transfer objects of ``org.apache.cloudstack.storage.to``: volumes, templates, snapshots, stores.

VolumeObjectTO, TemplateObjectTO and SnapshotObjectTO are ``DataTO`` s; PrimaryDataStoreTO and
ImageStoreTO are ``DataStoreTO`` s. Wherever Java declares a field by those interfaces, the JSON
wraps the value as ``{"<FQCN>": {...}}``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import (
    DataStoreRole,
    DiskCacheMode,
    HypervisorType,
    ImageFormat,
    ProvisioningType,
    StoragePoolType,
    VolumeType,
)
from cshyperv.wire import DataStoreTO, DataTO, JByte, JInt, JLong, JsonObject, WireObject, jfield

__all__ = [
    "DownloadableObjectTO",
    "ImageStoreTO",
    "PrimaryDataStoreTO",
    "SnapshotObjectTO",
    "TemplateObjectTO",
    "VolumeObjectTO",
]


@attrs.frozen(kw_only=True, slots=False)
class DownloadableObjectTO(WireObject):
    """Abstract base of volumes, templates and snapshots (never on the wire by itself)."""

    follow_redirects: bool = False


@attrs.frozen(kw_only=True, slots=False)
class VolumeObjectTO(DownloadableObjectTO, DataTO):
    """A volume. For Hyper-V, ``path`` is the file name on its pool, often the bare uuid."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.to.VolumeObjectTO"

    uuid: str | None = None
    volume_type: VolumeType | None = None
    data_store: DataStoreTO | None = None
    name: str | None = None
    size: JLong | None = None  # bytes
    usable_size: JLong | None = None
    path: str | None = None
    volume_id: JLong | None = None
    vm_name: str | None = None
    account_id: JLong = 0
    chain_info: str | None = None
    format: ImageFormat | None = None
    provisioning_type: ProvisioningType | None = None
    pool_id: JLong | None = None
    id: JLong = 0
    device_id: JLong | None = None
    bytes_read_rate: JLong | None = None
    bytes_read_rate_max: JLong | None = None
    bytes_read_rate_max_length: JLong | None = None
    bytes_write_rate: JLong | None = None
    bytes_write_rate_max: JLong | None = None
    bytes_write_rate_max_length: JLong | None = None
    iops_read_rate: JLong | None = None
    iops_read_rate_max: JLong | None = None
    iops_read_rate_max_length: JLong | None = None
    iops_write_rate: JLong | None = None
    iops_write_rate_max: JLong | None = None
    iops_write_rate_max_length: JLong | None = None
    cache_mode: DiskCacheMode | None = None
    hypervisor_type: HypervisorType | None = None
    migration_options: JsonObject | None = None
    direct_download: bool = False
    data_store_uuid: str | None = None
    deploy_as_is: bool = False
    updated_data_store_uuid: str | None = jfield("updatedDataStoreUUID")
    vsphere_storage_policy_id: str | None = jfield("vSphereStoragePolicyId")
    passphrase: list[JByte] | None = jfield(secret=True)
    encrypt_format: str | None = None
    checkpoint_paths: list[str] | None = None
    checkpoint_image_store_urls: list[str] | None = jfield(secret="url")


@attrs.frozen(kw_only=True, slots=False)
class TemplateObjectTO(DownloadableObjectTO, DataTO):
    """A template (or ISO) on an image store or a primary pool."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.to.TemplateObjectTO"

    path: str | None = None
    orig_url: str | None = jfield(secret="url")
    uuid: str | None = None
    id: JLong = 0
    format: ImageFormat | None = None
    account_id: JLong = 0
    checksum: str | None = None
    hvm: bool = False
    display_text: str | None = None
    image_data_store: DataStoreTO | None = None
    name: str | None = None
    guest_os_type: str | None = None
    size: JLong | None = None
    physical_size: JLong | None = None
    hypervisor_type: HypervisorType | None = None
    bootable: bool = False
    unique_name: str | None = None
    direct_download: bool = False
    deploy_as_is: bool = False
    deploy_as_is_configuration: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class SnapshotObjectTO(DownloadableObjectTO, DataTO):
    """A volume snapshot. ``volume`` is a plain VolumeObjectTO; the three stores are wrapped."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.to.SnapshotObjectTO"

    path: str | None = None
    volume: VolumeObjectTO | None = None
    parent_snapshot_path: str | None = None
    data_store: DataStoreTO | None = None
    image_store: DataStoreTO | None = None
    kvm_incremental_snapshot: bool = False
    vm_name: str | None = None
    name: str | None = None
    hypervisor_type: HypervisorType | None = None
    id: JLong = 0
    quiescevm: bool = False
    parents: list[str] | None = None  # ancestor paths, oldest first
    parent_store: DataStoreTO | None = None
    checkpoint_path: str | None = None
    physical_size: JLong | None = 0  # the public no-arg constructor sets it to 0
    account_id: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class PrimaryDataStoreTO(WireObject, DataStoreTO):
    """A primary storage pool (no no-arg constructor: Java zero values)."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.to.PrimaryDataStoreTO"

    uuid: str | None = None
    name: str | None = None
    type: str | None = None
    id: JLong = 0
    pool_type: StoragePoolType | None = None
    host: str | None = None
    path: str | None = None
    port: JInt = 0
    url: str | None = jfield(secret="url")
    details: dict[str, str] | None = None
    full_clone_flag: bool | None = None
    disk_provisioning_strictness_flag: bool | None = None
    is_managed: bool = False
    parent_pool_type: StoragePoolType | None = None


@attrs.frozen(kw_only=True, slots=False)
class ImageStoreTO(WireObject, DataStoreTO):
    """An image (secondary) store by URI."""

    FQCN: ClassVar[str] = "org.apache.cloudstack.storage.to.ImageStoreTO"

    type: str | None = None
    uri: str | None = jfield(secret="url")
    provider_name: str | None = None
    role: DataStoreRole | None = None
    uuid: str | None = None
