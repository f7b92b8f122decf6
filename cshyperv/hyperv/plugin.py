"""The Hyper-V plug-in: the hypervisor interface as one PowerShell invocation per operation.

Every method sends one constant script (``cshyperv.hyperv.scripts``) and one JSON parameter
document through a runner (WinRM in production, test doubles in ``cshyperv.testing``), and turns
the one JSON result document back into SDK value objects. Failures come back as structured error
records (category, fully qualified error id, target, message) and are mapped to cshyperv's error
tree by id and category, never by English message text.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import cattrs

from cshyperv import deadline
from cshyperv._redact import redact_text
from cshyperv.errors import (
    CheckpointNotFoundError,
    HypervisorAccessDeniedError,
    HypervisorError,
    InsufficientResourcesError,
    InvalidVmStateError,
    JobFailedError,
    MigrationPrerequisiteError,
    NicNotFoundError,
    OperationTimeoutError,
    PowerShellError,
    UnsupportedOperationError,
    VmAlreadyExistsError,
    VmNotFoundError,
    VolumeNotFoundError,
)
from cshyperv.hyperv.configdrive import build_config_drive
from cshyperv.hyperv.scripts import script_text
from cshyperv.hypervisor import (
    Capability,
    Checkpoint,
    ConsoleInfo,
    DeviceCounters,
    DiskSpec,
    HostInfo,
    HostStats,
    NicInfo,
    NicSpec,
    VmInfo,
    VmSpec,
    VmState,
    VmStats,
    VolumeInfo,
)
from cshyperv.storage import DiskUsage
from cshyperv.storage.access import StorageAccess

__all__ = ["HyperVHypervisor", "PowerShellError", "ScriptRunner", "map_error_record"]

_UNSTRUCTURE = cattrs.Converter()
_STATES = {state.value: state for state in VmState}
# A margin so that a stop's hard turn-off still fits before the caller's deadline.
_DEADLINE_MARGIN_S = 10.0
# How long destroy_vm may wait for Hyper-V to merge a VM's checkpoints before it deletes the disks.
_MERGE_TIMEOUT_S = 600.0
# The VmSpec members create_vm.ps1 reads. Nothing else is sent: the free-form CloudStack
# ``details`` map may hold keys Windows PowerShell 5.1's ConvertFrom-Json refuses (an empty key,
# keys differing only in case), failing the envelope before the script runs (A9); ``user_data``
# reaches the guest in the config drive, built here.
_CREATE_PARAMS = (
    "name",
    "cpus",
    "memory_bytes",
    "min_memory_bytes",
    "generation",
    "secure_boot",
    "secure_boot_template",
    "vm_path",
    "notes",
    "boot_args",
)
# What a live migration needs that the source host lacks (migrate_vm.ps1's preflight), and how
# an operator provides it (docs/hyperv.md, "Live migration").
_MIGRATION_FIXES = {
    "VirtualMachineMigrationEnabled": "live migration is off on the source host: run Enable-VMMigration there "
    "(and Set-VMHost -UseAnyNetworkForMigration or Add-VMMigrationNetwork)",
    "PartOfDomain": "the source host is in no domain: live migration without a cluster needs both hosts "
    "in the same or trusting Active Directory domains",
    "CredentialDelegation": "the host authenticates migrations with CredSSP, and an NTLM session holds no "
    "credentials to delegate: use the credssp transport, or Set-VMHost "
    "-VirtualMachineMigrationAuthenticationType Kerberos with constrained delegation "
    "(cifs and Microsoft Virtual System Migration Service, any authentication protocol)",
}


@runtime_checkable
class ScriptRunner(Protocol):
    """Runs one script text with one JSON parameter document on the host.

    Returns the script's result document (or an object whose ``result`` attribute is), raises
    :class:`PowerShellError` for a structured script error and other HypervisorErrors for
    transport failures.
    """

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any: ...

    def close(self) -> None: ...


def map_error_record(record: Mapping[str, Any], params: Mapping[str, Any]) -> HypervisorError:
    """The cshyperv error for a structured PowerShell error record."""
    fqid = str(record.get("fully_qualified_error_id") or "")
    category = str(record.get("category") or "")
    message = redact_text(str(record.get("message") or "PowerShell error"))
    target = record.get("target")
    named_vm = str(params.get("name") or params.get("vm") or "")
    vm = named_vm or str(target or "")
    kind = fqid.split(",", 1)[0]
    if kind == "cshyperv.VmNotFound":
        return VmNotFoundError(str(target or vm))
    if kind == "cshyperv.NicNotFound":
        return NicNotFoundError(vm, str(params.get("mac") or target or ""))
    if kind == "cshyperv.MigrationPrerequisite":
        missing = str(target or "")
        return MigrationPrerequisiteError(missing, _MIGRATION_FIXES.get(missing, message))
    if kind == "cshyperv.AccessDenied":
        return HypervisorAccessDeniedError(f"access denied: {redact_text(str(target or ''))}")
    if kind == "cshyperv.KvpValueTooLong":
        return JobFailedError(
            "the boot arguments are longer than the 1023 characters a KVP value holds: enable the config drive",
            code=32773,
        )
    if kind == "cshyperv.UnsupportedDiskFormat":
        return UnsupportedOperationError("a Generation 2 VM cannot boot from a .vhd disk: convert it to .vhdx")
    if kind == "cshyperv.CheckpointNotFound":
        return CheckpointNotFoundError(vm, str(target or params.get("checkpoint") or ""))
    if kind == "cshyperv.VolumeNotFound":
        return VolumeNotFoundError(str(target or params.get("path") or ""))
    if kind == "cshyperv.PathNotFound":
        return VolumeNotFoundError(str(target or params.get("path") or ""), what="path")
    if kind == "cshyperv.InvalidVmState":
        return InvalidVmStateError(message)
    if kind == "cshyperv.DuplicateVm":
        return VmAlreadyExistsError(vm, "more than one VM on the host has this name")
    if kind.startswith("cshyperv.JobFailed."):
        code = kind.rsplit(".", 1)[-1]
        return JobFailedError(message, code=int(code) if code.isdigit() else None)
    if category == "ObjectNotFound":
        # Only an operation on a VM reads "not found" as the VM; a disk operation, as the disk.
        if named_vm:
            return VmNotFoundError(named_vm)
        if params.get("path"):
            return VolumeNotFoundError(str(params["path"]))
        return VmNotFoundError(vm) if vm else HypervisorError(message)
    if category in ("PermissionDenied", "SecurityError"):
        return HypervisorAccessDeniedError(message)
    if category in ("ResourceUnavailable", "LimitsExceeded", "QuotaExceeded"):
        return InsufficientResourcesError(message)
    if category == "OperationTimeout":
        return OperationTimeoutError(message)
    if category == "ResourceExists":
        return VmAlreadyExistsError(vm, message)
    if category in ("InvalidOperation", "InvalidResult") and record.get("hresult"):
        return JobFailedError(message, code=int(record["hresult"]))
    return HypervisorError(message)


def _info(data: Mapping[str, Any]) -> VmInfo:
    nics = tuple(
        NicInfo(
            mac=str(n["mac"]),
            switch=n.get("switch") or None,
            vlan=n.get("vlan"),
            connected=bool(n.get("connected", True)),
        )
        for n in data.get("nics") or ()
    )
    return VmInfo(
        name=str(data["name"]),
        # Hyper-V has more states (RunningCritical, ...) than CloudStack needs: unknown to us = Unknown.
        state=_STATES.get(str(data.get("state")), VmState.UNKNOWN),
        uuid=data.get("id"),
        cpus=int(data.get("cpus") or 0),
        memory_bytes=int(data.get("memory") or 0),
        generation=data.get("generation"),
        disks=tuple(str(d) for d in data.get("disks") or ()),
        isos=tuple(str(d) for d in data.get("isos") or ()),
        nics=nics,
        notes=data.get("notes") or None,
        host=data.get("host") or None,
    )


def _matches(info: VmInfo, spec: VmSpec) -> bool:
    """Whether an existing VM is what ``spec`` asks for (so a retried create may reuse it)."""
    wanted_disks = {d.path.lower() for d in spec.disks if d.kind.value != "iso"}
    have_disks = {d.lower() for d in info.disks}
    wanted_nics = {(n.mac.lower(), n.vlan) for n in spec.nics}
    have_nics = {(n.mac.lower(), n.vlan) for n in info.nics}
    return (
        info.cpus == spec.cpus
        and info.generation in (None, spec.generation)
        and wanted_disks <= have_disks
        and wanted_nics == have_nics
    )


class HyperVHypervisor:
    """A Hyper-V host reached through ``runner``. Thread-safe as far as the runner is."""

    name = "hyperv"
    capabilities = frozenset(Capability)

    def __init__(
        self,
        runner: ScriptRunner,
        *,
        stop_timeout_s: float = 120.0,
        storage: StorageAccess | None = None,
        config_drive: bool = True,
    ) -> None:
        self.runner = runner
        self.stop_timeout_s = stop_timeout_s
        self._storage = storage
        # A config-drive ISO besides KVP for VMs with boot args or user data (issue #4072).
        self.config_drive = config_drive

    def storage_access(self) -> StorageAccess:
        """How the agent reaches this host's shares from Linux (see ``cshyperv.hyperv.storage``)."""
        if self._storage is None:
            from cshyperv.storage import RemoteStorageAccess

            self._storage = RemoteStorageAccess()
        return self._storage

    def _call(self, operation: str, params: Mapping[str, Any]) -> Any:
        deadline.check(operation)
        try:
            outcome = self.runner.invoke(script_text(operation), params)
        except PowerShellError as exc:
            raise map_error_record(exc.record, params) from None
        return getattr(outcome, "result", outcome)

    def close(self) -> None:
        self.runner.close()
        close = getattr(self._storage, "close", None)
        if close is not None:
            close()

    # -- Hypervisor --------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        d = self._call("host_info", {})
        prefix = d.get("prefix_length")
        netmask = None
        if isinstance(prefix, int) and 0 <= prefix <= 32:
            bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
            netmask = ".".join(str((bits >> s) & 255) for s in (24, 16, 8, 0))
        return HostInfo(
            name=str(d["name"]),
            cpus=int(d["cpus"]),
            cpu_sockets=max(1, int(d.get("sockets") or 1)),
            cpu_mhz=int(d.get("mhz") or 0),
            memory_bytes=int(d["memory_bytes"]),
            hypervisor_version=str(d.get("hypervisor_version") or ""),
            os_version=str(d.get("os_version") or ""),
            private_ip=d.get("private_ip"),
            private_netmask=netmask,
            private_mac=d.get("private_mac"),
            gateway=d.get("gateway"),
            default_vhd_path=d.get("vhd_path"),
            default_vm_path=d.get("vm_path"),
            local_storage_path=d.get("vhd_path"),
            local_storage_capacity_bytes=int(d.get("storage_capacity") or 0),
            local_storage_available_bytes=int(d.get("storage_free") or 0),
        )

    def list_vms(self) -> Sequence[VmInfo]:
        data = self._call("list_vms", {"full": False})
        # list_vms.ps1 returns ,@(...), so the envelope holds a list; a bare object (one VM from a
        # script that lets PowerShell unroll its array, A1) is still read as a list of one.
        if isinstance(data, Mapping):
            data = [data]
        return [_info(v) for v in data or ()]

    def get_vm(self, name: str) -> VmInfo | None:
        data = self._call("get_vm", {"name": name})
        return None if data is None else _info(data)

    def _create(self, spec: VmSpec, *, start: bool) -> VmInfo:
        everything = _UNSTRUCTURE.unstructure(spec)
        params: dict[str, Any] = {key: everything[key] for key in _CREATE_PARAMS}
        params["nics"] = everything["nics"]
        params["disks"] = [{**_UNSTRUCTURE.unstructure(d), "kind": d.kind.value} for d in spec.disks]
        if spec.generation == 2:
            for index, disk in enumerate(spec.disks):
                if disk.kind.value == "root" and disk.path.lower().endswith(".vhd"):
                    # Generation 2 boots from VHDX only (B12): refused before anything is made.
                    raise UnsupportedOperationError(
                        f"disks[{index}].path: a Generation 2 VM cannot boot from a .vhd disk (use .vhdx)"
                    )
            if spec.secure_boot is None:
                # Hyper-V's Generation 2 default is Secure Boot with the Microsoft Windows template,
                # which no Linux guest boots under (B12). Unasked, secure boot is off: every guest
                # boots. Ask for it (secure_boot, and for Linux the MicrosoftUEFICertificateAuthority
                # template) to have it.
                params["secure_boot"] = False
        params["start"] = start
        iso = build_config_drive(spec) if self.config_drive else None
        if iso is not None:
            # Tens of KB: it travels with the create, as data like everything else.
            params["config_drive"] = {"iso_base64": base64.b64encode(iso).decode("ascii")}
        data = self._call("create_vm", params)
        info = _info(data)
        if data.get("existed") and not _matches(info, spec):
            raise VmAlreadyExistsError(spec.name, "a VM with this name exists with a different configuration")
        return info

    def create_vm(self, spec: VmSpec) -> VmInfo:
        return self._create(spec, start=False)

    def deploy_vm(self, spec: VmSpec) -> VmInfo:
        """create_vm and start_vm in ONE invocation (the create script starts the VM)."""
        return self._create(spec, start=True)

    def start_vm(self, name: str) -> VmInfo:
        return _info(self._call("start_vm", {"name": name}))

    def stop_vm(self, name: str, *, force: bool = False) -> None:
        budget = self.stop_timeout_s
        left = deadline.remaining()
        if left is not None:
            budget = max(0.0, min(budget, left - _DEADLINE_MARGIN_S))
        self._call("stop_vm", {"name": name, "force": force or budget <= 0, "timeout_s": budget})

    def reboot_vm(self, name: str) -> None:
        self._call("reboot_vm", {"name": name})

    def destroy_vm(self, name: str, *, delete_disks: bool = False) -> None:
        # The checkpoint merge before Remove-VM (A5) is waited for, within the caller's deadline.
        budget = _MERGE_TIMEOUT_S
        left = deadline.remaining()
        if left is not None:
            budget = max(1.0, min(budget, left - _DEADLINE_MARGIN_S))
        self._call("destroy_vm", {"name": name, "delete_disks": delete_disks, "timeout_s": budget})

    # -- optional features -----------------------------------------------------------------

    def vm_stats(self, names: Sequence[str]) -> Mapping[str, VmStats]:
        data = self._call("vm_stats", {"names": list(names)}) or {}
        out = {}
        for name, values in data.items():
            scalars = {k: v for k, v in values.items() if k in _VMSTATS and k not in ("disks", "nics")}
            out[name] = VmStats(
                **scalars,
                disks=tuple(DeviceCounters(**d) for d in values.get("disks") or ()),
                nics=tuple(DeviceCounters(**d) for d in values.get("nics") or ()),
            )
        return out

    def host_stats(self) -> HostStats:
        return HostStats(**self._call("host_stats", {}))

    def attach_disk(self, vm: str, disk: DiskSpec) -> None:
        self._call("attach_disk", {"vm": vm, "disk": {**_UNSTRUCTURE.unstructure(disk), "kind": disk.kind.value}})

    def detach_disk(self, vm: str, path: str) -> None:
        self._call("detach_disk", {"vm": vm, "path": path})

    def _volume(self, data: Mapping[str, Any] | None) -> VolumeInfo | None:
        if data is None:
            return None
        return VolumeInfo(
            path=str(data["path"]),
            size_bytes=int(data["size_bytes"]),
            physical_bytes=int(data.get("physical_bytes") or 0),
            parent=data.get("parent") or None,
            format=data.get("format") or None,
        )

    def create_volume(self, path: str, size_bytes: int, *, parent: str | None = None) -> VolumeInfo:
        info = self._volume(
            self._call("volume", {"action": "create", "path": path, "size_bytes": size_bytes, "parent": parent})
        )
        assert info is not None
        return info

    def clone_volume(self, source: str, path: str, *, size_bytes: int | None = None) -> VolumeInfo:
        info = self._volume(
            self._call("volume", {"action": "clone", "source": source, "path": path, "size_bytes": size_bytes})
        )
        assert info is not None
        return info

    def resize_volume(self, path: str, size_bytes: int) -> VolumeInfo:
        info = self._volume(self._call("volume", {"action": "resize", "path": path, "size_bytes": size_bytes}))
        assert info is not None
        return info

    def delete_volume(self, path: str) -> None:
        self._call("volume", {"action": "delete", "path": path})

    def volume_info(self, path: str) -> VolumeInfo | None:
        return self._volume(self._call("volume", {"action": "info", "path": path}))

    def path_capacity(self, path: str) -> DiskUsage:
        """Total and free bytes where ``path`` lives, as the host sees it (UNC or local path)."""
        data = self._call("path_capacity", {"path": path})
        return DiskUsage(total_bytes=int(data["total_bytes"]), free_bytes=int(data["free_bytes"]))

    def add_nic(self, vm: str, nic: NicSpec) -> None:
        self._call("nic", {"action": "add", "vm": vm, "mac": nic.mac, "switch": nic.switch, "vlan": nic.vlan})

    def remove_nic(self, vm: str, mac: str) -> None:
        self._call("nic", {"action": "remove", "vm": vm, "mac": mac})

    def set_nic_vlan(self, vm: str, mac: str, vlan: int | None) -> None:
        self._call("nic", {"action": "vlan", "vm": vm, "mac": mac, "vlan": vlan})

    @staticmethod
    def _checkpoint(data: Mapping[str, Any]) -> Checkpoint:
        return Checkpoint(
            name=str(data["name"]),
            vm=str(data["vm"]),
            created=data.get("created"),
            parent=data.get("parent") or None,
            with_memory=bool(data.get("with_memory")),
        )

    def create_checkpoint(
        self, vm: str, name: str, *, description: str | None = None, with_memory: bool = False
    ) -> Checkpoint:
        params = {"action": "create", "vm": vm, "checkpoint": name, "with_memory": with_memory}
        return self._checkpoint(self._call("checkpoint", params))

    def list_checkpoints(self, vm: str) -> Sequence[Checkpoint]:
        data = self._call("checkpoint", {"action": "list", "vm": vm, "checkpoint": ""})
        if isinstance(data, Mapping):
            data = [data]  # as list_vms: one checkpoint from a script that let PowerShell unroll it
        return [self._checkpoint(c) for c in data or ()]

    def revert_checkpoint(self, vm: str, name: str) -> VmInfo:
        return _info(self._call("checkpoint", {"action": "revert", "vm": vm, "checkpoint": name, "restart": False}))

    def restore_checkpoint(self, vm: str, name: str) -> VmInfo:
        """The revert and, if the VM was Running before it, the start: one invocation."""
        return _info(self._call("checkpoint", {"action": "revert", "vm": vm, "checkpoint": name, "restart": True}))

    def delete_checkpoint(self, vm: str, name: str) -> None:
        self._call("checkpoint", {"action": "delete", "vm": vm, "checkpoint": name})

    def migrate_vm(self, vm: str, destination: str, *, storage_path: str | None = None) -> None:
        self._call("migrate_vm", {"vm": vm, "destination": destination, "storage_path": storage_path})

    def console_info(self, vm: str) -> ConsoleInfo:
        data = self._call("vm_control", {"action": "console", "vm": vm})
        return ConsoleInfo(
            protocol="rdp-vmconnect", host=str(data["host"]), port=int(data["port"]), vm_id=data.get("vm_id")
        )

    def scale_vm(self, vm: str, *, cpus: int | None = None, memory_bytes: int | None = None) -> VmInfo:
        return _info(
            self._call("vm_control", {"action": "scale", "vm": vm, "cpus": cpus, "memory_bytes": memory_bytes})
        )

    def suspend_vm(self, vm: str) -> VmInfo:
        return _info(self._call("vm_control", {"action": "suspend", "vm": vm}))

    def resume_vm(self, vm: str) -> VmInfo:
        return _info(self._call("vm_control", {"action": "resume", "vm": vm}))


_VMSTATS = frozenset(f.name for f in attrs.fields(VmStats))
