"""CloudStack transfer objects -> the SDK's neutral specs, and host paths for CloudStack stores.

Where a disk lives is computed from its store, the way the legacy agent did it: an SMB pool
(``poolType`` SMB, ``host``, ``path`` "/share/dir") is the UNC path ``\\\\host\\share\\dir``; a
``Filesystem`` pool is a local path on the host; an image store's ``cifs://`` URL is its UNC path.
A volume's file is ``<store>\\<path>``, with ``.<format>`` appended when ``path`` has no extension
(CloudStack keeps the bare UUID for Hyper-V volumes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from cshyperv.commands.enums import PowerState, StoragePoolType, VolumeType
from cshyperv.commands.storage_to import ImageStoreTO, PrimaryDataStoreTO, TemplateObjectTO, VolumeObjectTO
from cshyperv.commands.to import DiskTO, NfsTO, NicTO, StorageFilerTO, VirtualMachineTO
from cshyperv.errors import StorageURLError, TranslationError, UnsupportedOperationError
from cshyperv.hypervisor import DiskKind, DiskSpec, NicSpec, VmSpec, VmState
from cshyperv.storage import StorageURL

__all__ = [
    "TranslationSettings",
    "disk_file",
    "join_path",
    "nic_spec",
    "power_state",
    "store_root",
    "vlan_of",
    "vm_spec",
]


@attrs.frozen(kw_only=True)
class TranslationSettings:
    """Choices CloudStack does not make for us. ``default_switch`` is the vSwitch for NICs whose
    network has no name; ``default_generation`` applies when the VM has no ``bootType``."""

    default_switch: str | None = None
    default_generation: int = 1
    differencing_root_disks: bool = False


# Same mapping as the C# agent's EnabledState table (cloudstack-wire.md §2): transitional states
# towards "on" count as on, "Stopping" as off, paused/saved/suspended as unknown.
_POWER = {
    VmState.RUNNING: PowerState.PowerOn,
    VmState.STARTING: PowerState.PowerOn,
    VmState.SAVING: PowerState.PowerOn,
    VmState.RESUMING: PowerState.PowerOn,
    VmState.OFF: PowerState.PowerOff,
    VmState.STOPPING: PowerState.PowerOff,
    VmState.PAUSED: PowerState.PowerUnknown,
    VmState.SAVED: PowerState.PowerUnknown,
    VmState.UNKNOWN: PowerState.PowerUnknown,
}


def power_state(state: VmState | None) -> PowerState:
    """CloudStack's PowerState for a VM in ``state`` (None: the VM is absent, so PowerOff)."""
    return PowerState.PowerOff if state is None else _POWER[state]


def join_path(root: str, relative: str) -> str:
    """``relative`` below ``root``, with the separator ``root`` uses (backslash for Windows paths)."""
    sep = "\\" if ("\\" in root or root[1:2] == ":") else "/"
    rel = relative.replace("/", sep).replace("\\", sep).lstrip(sep)
    return root.rstrip("\\/") + sep + rel if rel else root


def store_root(store: Any) -> str:
    """The host-side path of a CloudStack store TO (primary pool or image store)."""
    if isinstance(store, PrimaryDataStoreTO):
        return _pool_root(store.pool_type, store.host, store.path, store.url)
    if isinstance(store, StorageFilerTO):
        return _pool_root(store.type, store.host, store.path, None)
    if isinstance(store, NfsTO):
        return _url_root(store.url)
    if isinstance(store, ImageStoreTO):
        return _url_root(store.uri)
    raise TranslationError(f"unsupported data store {type(store).__name__}")


def _pool_root(pool_type: StoragePoolType | None, host: str | None, path: str | None, url: str | None) -> str:
    if pool_type in (StoragePoolType.Filesystem, None) and path and (path[1:2] == ":" or path.startswith("\\\\")):
        return path
    if pool_type in (StoragePoolType.SMB, StoragePoolType.NetworkFilesystem) or (url and url.startswith("cifs:")):
        if not host or not path:
            if url:
                return _url_root(url)
            raise TranslationError("SMB pool without host or path")
        return "\\\\" + host + "\\" + "\\".join(p for p in path.replace("\\", "/").split("/") if p)
    if path:
        return path
    raise TranslationError(f"cannot place a pool of type {pool_type}")


def _url_root(url: str | None) -> str:
    if not url:
        raise TranslationError("image store without URL")
    try:
        parsed = StorageURL.parse(url)
    except StorageURLError as exc:
        raise TranslationError(str(exc)) from None
    if parsed.scheme == "cifs":
        return parsed.unc()
    if parsed.scheme == "nfs":
        # A Windows host cannot open NFS by path; the agent copies from it through the storage
        # adaptors (template -> SMB primary), so the URL itself is the root.
        return parsed.without_credentials().to_url()
    raise UnsupportedOperationError(f"a Hyper-V host cannot open {parsed.scheme} storage by path")


def disk_file(data: Any) -> str:
    """The host-side file of a VolumeObjectTO or TemplateObjectTO."""
    if isinstance(data, VolumeObjectTO):
        if data.data_store is None:
            raise TranslationError("volume without data store")
        name = data.path or data.uuid or data.name
        if not name:
            raise TranslationError("volume without path or uuid")
        fmt = str(data.format.value).lower() if data.format is not None else "vhdx"
        if "." not in name.replace("\\", "/").rsplit("/", 1)[-1]:
            name = f"{name}.{fmt}"
        return join_path(store_root(data.data_store), name)
    if isinstance(data, TemplateObjectTO):
        if data.image_data_store is None or not data.path:
            raise TranslationError("template without store or path")
        return join_path(store_root(data.image_data_store), data.path)
    raise TranslationError(f"unsupported disk object {type(data).__name__}")


def vlan_of(nic: NicTO) -> int | None:
    """The access VLAN of a NIC, from broadcastUri (or isolationUri): ``vlan://N`` -> N,
    ``vlan://untagged``, absent or ``Native`` -> None (untagged)."""
    for uri in (nic.broadcast_uri, nic.isolation_uri):
        if not uri:
            continue
        scheme, _, value = uri.partition("://")
        if not value:
            scheme, value = "vlan", uri
        scheme = scheme.lower()
        if value.lower() == "untagged":
            return None
        if scheme in ("vlan", "storage") and value.isdigit():
            vlan = int(value)
            if not 1 <= vlan <= 4094:
                raise TranslationError("VLAN id out of range 1..4094")
            return vlan
        raise TranslationError(f"unsupported network isolation {scheme}:// (Hyper-V supports VLANs)")
    return None


def nic_spec(nic: NicTO, settings: TranslationSettings) -> NicSpec:
    if not nic.mac:
        raise TranslationError(f"NIC {nic.device_id} has no MAC address")
    return NicSpec(
        mac=nic.mac.lower(),
        switch=nic.name or settings.default_switch,
        vlan=vlan_of(nic),
        device_id=nic.device_id,
        rate_mbps=nic.network_rate_mbps,
        network_name=nic.name,
    )


_DISK_KINDS = {VolumeType.ROOT: DiskKind.ROOT, VolumeType.ISO: DiskKind.ISO}


def _disk_spec(disk: DiskTO) -> DiskSpec | None:
    kind = _DISK_KINDS.get(disk.type, DiskKind.DATA)  # type: ignore[arg-type]
    if disk.data is None:
        return None  # an empty DVD drive: nothing to attach
    path = disk_file(disk.data)
    volume_id = getattr(disk.data, "uuid", None)
    return DiskSpec(kind=kind, path=path, position=int(disk.disk_seq or 0), volume_id=volume_id)


def vm_spec(vm: VirtualMachineTO, settings: TranslationSettings) -> VmSpec:
    """A VmSpec for ``vm``. Memory is ``maxRam`` (``minRam`` below it enables dynamic memory)."""
    if not vm.name:
        raise TranslationError("VM without a name")
    boot_type = (vm.boot_type or "").upper()
    generation = 2 if boot_type == "UEFI" else 1 if boot_type == "BIOS" else settings.default_generation
    details: Mapping[str, str] = vm.details or {}
    if details.get("hyperv.generation", "") in ("1", "2"):
        generation = int(details["hyperv.generation"])
    secure_boot = None
    if generation == 2 and vm.boot_mode:
        secure_boot = vm.boot_mode.upper() == "SECURE"
    max_ram = vm.max_ram or vm.min_ram
    if max_ram <= 0:
        raise TranslationError("VM without memory size")
    min_ram = vm.min_ram if 0 < vm.min_ram < max_ram else None
    disks = tuple(d for d in (_disk_spec(disk) for disk in (vm.disks or ()) if disk is not None) if d is not None)
    return VmSpec(
        name=vm.name,
        uuid=vm.uuid,
        cpus=max(1, vm.cpus),
        cpu_speed_mhz=vm.speed or vm.max_speed,
        memory_bytes=max_ram,
        min_memory_bytes=min_ram,
        generation=generation,
        secure_boot=secure_boot,
        disks=disks,
        nics=tuple(nic_spec(n, settings) for n in sorted(vm.nics or (), key=lambda n: n.device_id) if n is not None),
        boot_args=vm.boot_args or None,
        notes=f"CloudStack VM {vm.uuid}" if vm.uuid else "CloudStack VM",
        details=dict(details),
    )
