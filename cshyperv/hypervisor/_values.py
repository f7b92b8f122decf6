"""Neutral value objects of the hypervisor SDK.

These are what a plug-in sees: plain, hypervisor-neutral descriptions, not CloudStack transfer
objects. The resource layer translates CloudStack's TOs into them (``cshyperv.resource``), the
Extensions frontend builds them from its payload, and every plug-in (simulator, Hyper-V, yours)
works only with them. All are frozen attrs classes; sizes are bytes, speeds MHz, rates Mbit/s.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from cshyperv._redact import redact_url_credentials

__all__ = [
    "Checkpoint",
    "ConsoleInfo",
    "DeviceCounters",
    "DiskKind",
    "DiskSpec",
    "HostInfo",
    "HostStats",
    "NicInfo",
    "NicSpec",
    "VmInfo",
    "VmSpec",
    "VmState",
    "VmStats",
    "VolumeInfo",
]


class VmState(str, enum.Enum):
    """A VM's state as Hyper-V names it (other plug-ins map theirs onto these).

    The SDK's only state enum: CloudStack's power states (PowerOn/PowerOff/PowerUnknown) are
    derived from it by the resource layer, as the legacy agent mapped Hyper-V's states.
    """

    RUNNING = "Running"
    OFF = "Off"
    PAUSED = "Paused"
    SAVED = "Saved"
    STARTING = "Starting"
    STOPPING = "Stopping"
    SAVING = "Saving"
    RESUMING = "Resuming"
    UNKNOWN = "Unknown"


class DiskKind(str, enum.Enum):
    ROOT = "root"
    DATA = "data"
    ISO = "iso"


def _redacted(value: object) -> str:
    return "None" if value is None else "'<redacted>'"


def _url(value: object) -> str:
    return repr(redact_url_credentials(value)) if isinstance(value, str) else repr(value)


@attrs.frozen(kw_only=True)
class DiskSpec:
    """A disk to attach.

    ``path`` is where the disk (or ISO) lives, as the host sees it (a local path or a UNC path).
    For a root disk built from a template, ``template_path`` is the source: a full copy unless
    ``differencing`` is true (then ``path`` becomes a child of the template). ``size_bytes`` asks for
    a resize after copy (never shrinks). ``position`` orders disks (CloudStack's diskSeq).
    """

    kind: DiskKind = DiskKind.DATA
    path: str = attrs.field(repr=_url)
    template_path: str | None = attrs.field(default=None, repr=_url)
    size_bytes: int | None = None
    differencing: bool = False
    position: int = 0
    controller: str | None = None  # "ide" or "scsi"; None lets the plug-in choose for the generation
    volume_id: str | None = None  # CloudStack's volume uuid, for bookkeeping


@attrs.frozen(kw_only=True)
class NicSpec:
    """A network adapter: static MAC on a named switch, VLAN access mode or untagged (vlan None)."""

    mac: str
    switch: str | None = None  # None: the plug-in's default switch
    vlan: int | None = None
    device_id: int = 0
    rate_mbps: int | None = None
    network_name: str | None = None


@attrs.frozen(kw_only=True)
class VmSpec:
    """Everything a plug-in needs to define a VM. ``name`` is CloudStack's instance name.

    ``memory_bytes`` is the assigned (maximum) memory; ``min_memory_bytes`` below it turns dynamic
    memory on. ``boot_args`` and ``user_data`` reach the guest by KVP or a config drive, as the
    plug-in can. Creating the same spec twice yields one VM (idempotent).
    """

    name: str
    uuid: str | None = None
    cpus: int = 1
    cpu_speed_mhz: int | None = None
    memory_bytes: int = 512 * 1024 * 1024
    min_memory_bytes: int | None = None
    generation: int = 2
    secure_boot: bool | None = None  # None: the plug-in's default for the generation
    secure_boot_template: str | None = None
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    boot_args: str | None = attrs.field(default=None, repr=_redacted)
    user_data: str | None = attrs.field(default=None, repr=_redacted)
    vm_path: str | None = None  # where the VM's configuration lives, when not the host default
    notes: str | None = None
    details: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @property
    def memory_mb(self) -> int:
        return self.memory_bytes // (1024 * 1024)


@attrs.frozen(kw_only=True)
class NicInfo:
    mac: str
    switch: str | None = None
    vlan: int | None = None
    connected: bool = True


@attrs.frozen(kw_only=True)
class VmInfo:
    """What a plug-in reports about one VM."""

    name: str
    state: VmState
    uuid: str | None = None  # the hypervisor's own VM id
    cpus: int = 0
    memory_bytes: int = 0
    generation: int | None = None
    disks: tuple[str, ...] = ()
    isos: tuple[str, ...] = ()
    nics: tuple[NicInfo, ...] = ()
    notes: str | None = None
    host: str | None = None


@attrs.frozen(kw_only=True)
class DeviceCounters:
    """Cumulative counters of one disk (``device`` = its path) or NIC (``device`` = its MAC;
    read = received, write = sent)."""

    device: str
    read_ios: int = 0
    write_ios: int = 0
    read_bytes: int = 0
    write_bytes: int = 0


@attrs.frozen(kw_only=True)
class VmStats:
    """Cumulative counters and current usage of one VM.

    ``disks``/``nics`` hold per-device counters when the plug-in can measure them; they are empty
    otherwise (the VM totals are then all there is: nothing is apportioned between devices).
    """

    cpu_percent: float = 0.0
    cpus: int = 0
    memory_bytes: int = 0
    memory_free_bytes: int = 0
    memory_target_bytes: int = 0
    disk_read_ios: int = 0
    disk_write_ios: int = 0
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    network_read_bytes: int = 0
    network_write_bytes: int = 0
    disks: tuple[DeviceCounters, ...] = ()
    nics: tuple[DeviceCounters, ...] = ()


@attrs.frozen(kw_only=True)
class HostInfo:
    """Facts CloudStack's StartupRoutingCommand carries about the host."""

    name: str
    cpus: int
    cpu_sockets: int
    cpu_mhz: int
    memory_bytes: int
    hypervisor_version: str
    os_version: str = ""
    arch: str = "x86_64"
    private_ip: str | None = None
    private_netmask: str | None = None
    private_mac: str | None = None
    gateway: str | None = None
    default_vhd_path: str | None = None
    default_vm_path: str | None = None
    console_port: int = 2179  # VMConnect over RDP, what the legacy agent reported
    local_storage_path: str | None = None
    local_storage_capacity_bytes: int = 0
    local_storage_available_bytes: int = 0
    dom0_min_memory_bytes: int = 0


@attrs.frozen(kw_only=True)
class HostStats:
    cpu_percent: float
    memory_total_bytes: int
    memory_free_bytes: int
    network_read_bytes: int = 0
    network_write_bytes: int = 0


@attrs.frozen(kw_only=True)
class Checkpoint:
    """A VM checkpoint (CloudStack VM snapshot)."""

    name: str
    vm: str
    created: str | None = None  # ISO 8601
    parent: str | None = None
    description: str | None = None
    with_memory: bool = False


@attrs.frozen(kw_only=True)
class ConsoleInfo:
    """How to reach a VM's console. ``protocol`` is e.g. "rdp-vmconnect" (Hyper-V) or "vnc"."""

    protocol: str
    host: str
    port: int
    vm_id: str | None = None
    password: str | None = attrs.field(default=None, repr=_redacted)


@attrs.frozen(kw_only=True)
class VolumeInfo:
    """A disk file as the hypervisor sees it."""

    path: str
    size_bytes: int  # virtual size
    physical_bytes: int = 0
    parent: str | None = None
    format: str | None = None  # "VHDX", "VHD", ...
