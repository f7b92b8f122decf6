"""A simulated Hyper-V host that answers the plug-in's scripts, and a recording runner.

:class:`SimulatedHyperVHost` is a :class:`~cshyperv.hyperv.plugin.ScriptRunner` (and the handler a
loopback WS-Management endpoint can call): it recognises which of the plug-in's constant scripts it
was sent, performs the operation on a :class:`~cshyperv.simulator.SimulatorHypervisor`, and answers
with the JSON document (or the structured error record) the real script produces. The Hyper-V
plug-in's Python side, parameters to results to errors, is thereby exercised end to end without
Windows; the scripts themselves are checked statically (tests/ps_conformance.py) and by the live suite.

The double behaves like Windows where the review of the scripts found that a friendlier fake hid
defects, and reads what the scripts do from their text (:class:`ScriptTraits`), so that a script
regressing makes the double fail the way a real host would:

* PowerShell's output rules: a script's array result is unrolled (none -> null, one -> the bare
  object) unless the script returns it with the unary comma (``,@(...)``);
* access denied is not "not found": :class:`HostSettings` ``vm_access_denied`` and
  ``denied_paths`` make Get-VM and path checks fail with PermissionDenied, as they do on a host;
* Remove-VM merges a VM's checkpoints in the background, after the VM is gone: deleting the
  disks of a VM whose checkpoints were not merged first fails, file in use;
* live migration is refused when the host has it disabled, is in no domain, or authenticates
  migrations with CredSSP from an NTLM session (no credentials to delegate);
* a KVP value over 1023 characters fails its job with 32773;
* reboot is a guest reboot when the guest offers the shutdown service (a hard reset only
  without it), and stop is a graceful shutdown that the host turns off at the deadline.

:class:`RecordingRunner` wraps any runner and keeps a transcript (operation, parameters, result or
error) per invocation, writable as JSON lines and replayable with :class:`ReplayRunner`.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs

from cshyperv.errors import (
    CheckpointNotFoundError,
    HypervisorError,
    InsufficientResourcesError,
    InvalidVmStateError,
    VmNotFoundError,
    VolumeNotFoundError,
)
from cshyperv.hyperv.plugin import PowerShellError
from cshyperv.hyperv.scripts import OPERATIONS, operation_of, script_text
from cshyperv.hypervisor import DiskKind, DiskSpec, NicSpec, VmInfo, VmSpec, VmState, VolumeInfo
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.host_readiness import HostReadiness, preflight_answer

__all__ = [
    "KVP_VALUE_MAX_CHARS",
    "GuestBehaviour",
    "HostSettings",
    "RecordingRunner",
    "ReplayRunner",
    "ScriptTraits",
    "SimulatedHyperVHost",
    "powershell_output",
]

# A KVP exchange value: 2048 bytes of UTF-16 including the terminator (hyperv.h), 1023 characters.
KVP_VALUE_MAX_CHARS = 1023

_SPEC = cattrs.Converter()


def _record(category: str, fqid: str, message: str, target: object = None) -> dict[str, Any]:
    return {"category": category, "fully_qualified_error_id": fqid, "message": message, "target": target}


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Operations whose script looks VMs up (Find-CsVm / Get-CsVm, or Get-VM itself), and what a
# script that hid Get-VM's errors answered when it could not see a VM.
_VM_OPERATIONS = frozenset(OPERATIONS) - {"volume", "path_capacity", "host_stats", "host_info", "preflight"}
_ABSENT: dict[str, Any] = {
    "get_vm": None,
    "stop_vm": {"state": "Absent", "method": "none"},
    "destroy_vm": {"removed": False, "deleted": []},
    "vm_stats": {},
    "list_vms": [],
}
_NOTHING = object()
_ACCESS_DENIED = _record(
    "PermissionDenied",
    "AccessDenied,Microsoft.HyperV.PowerShell.Commands.GetVM",
    "You do not have the required permission to complete this task.",
)


def _vm(info: VmInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "state": info.state.value,
        "id": info.uuid,
        "cpus": info.cpus,
        "memory": info.memory_bytes,
        "generation": info.generation,
        "notes": info.notes or "",
        "host": info.host or "",
        "disks": list(info.disks),
        "isos": list(info.isos),
        "nics": [{"mac": n.mac, "switch": n.switch or "", "vlan": n.vlan, "connected": n.connected} for n in info.nics],
    }


def _volume(info: VolumeInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "path": info.path,
        "size_bytes": info.size_bytes,
        "physical_bytes": info.physical_bytes,
        "parent": info.parent or "",
        "format": info.format or "",
    }


def powershell_output(value: Any, *, wrapped: bool) -> Any:
    """What the envelope holds for a script whose output is ``value``.

    PowerShell unrolls an array a script outputs into the pipeline, and ``$result = & $block``
    collects it back: no element is ``$null``, one element is the element itself, and only two or
    more make an array. ``,@(...)`` (``wrapped``) outputs the array as one object, kept whole.
    """
    if isinstance(value, list) and not wrapped:
        if not value:
            return None
        return value[0] if len(value) == 1 else value
    return value


def _code(text: str) -> str:
    """``text`` without its comment lines (what a trait is read from)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@attrs.frozen(kw_only=True)
class ScriptTraits:
    """What one operation's script does, where a host's behaviour depends on it.

    Read from the script text with :meth:`of`; the double consults them so that a script that
    regresses (drops the unary comma, stops merging checkpoints first...) fails on the double the
    way it would on a host.
    """

    wraps_array: bool = True  # returns its array as ,@(...)
    vm_lookup_hides_errors: bool = False  # Get-VM -ErrorAction SilentlyContinue (errors read "absent")
    path_check_hides_errors: bool = False  # Test-Path (access denied reads "absent")
    merges_before_remove: bool = True  # destroy: Remove-VMSnapshot before Remove-VM
    migration_preflight: bool = True  # migrate: reads VirtualMachineMigrationEnabled first
    kvp_length_checked: bool = True  # create: boot args over 1023 characters kept out of KVP
    kvp_job_awaited: bool = True  # create: the AddKvpItems job is waited for
    guest_reboot: bool = True  # reboot: Msvm_ShutdownComponent.InitiateReboot
    guest_shutdown: bool = True  # stop: Msvm_ShutdownComponent.InitiateShutdown

    @classmethod
    def of(cls, operation: str, text: str) -> ScriptTraits:
        """The traits of ``operation`` whose full script text (common helpers included) is ``text``."""
        marker = "\n# --- " + operation + "\n"
        common, _, body = text.partition(marker) if marker in text else ("", "", text)
        common, body = _code(common), _code(body)
        remove_vm = re.search(r"\bRemove-VM\s", body)
        merge = re.search(r"\bRemove-VMSnapshot\b", body)
        return cls(
            wraps_array=re.search(r"(?m)(?:^|[{;]|\breturn)\s*,\s*@\(", body) is not None,
            vm_lookup_hides_errors=re.search(r"Get-VM\b[^\n|]*-ErrorAction\s+(SilentlyContinue|Ignore)", common)
            is not None,
            path_check_hides_errors=re.search(r"\bTest-Path\b", body) is not None,
            merges_before_remove=remove_vm is None or (merge is not None and merge.start() < remove_vm.start()),
            migration_preflight=".VirtualMachineMigrationEnabled" in body,
            kvp_length_checked=re.search(r"\.Length\s+-le\s+1023\b", body) is not None,
            kvp_job_awaited="Wait-CsMethodResult" in body,
            guest_reboot="InitiateReboot" in body,
            guest_shutdown="InitiateShutdown" in body,
        )


@attrs.define(kw_only=True)
class HostSettings:
    """How the simulated Windows host and the session on it are set up.

    The defaults are a host set up as docs/hyperv.md asks (migration enabled, Kerberos migration
    authentication, domain member, full access); tests turn them to what a real host may lack.
    """

    migration_enabled: bool = True  # Enable-VMMigration
    migration_authentication: str = "Kerberos"  # VirtualMachineMigrationAuthenticationType: Kerberos|CredSSP
    session_authentication: str = "Kerberos"  # how the WinRM session logged on: NTLM|Kerberos|CredSSP
    kerberos_delegation: bool = True  # constrained delegation set up for Kerberos migration
    domain_joined: bool = True
    vm_access_denied: bool = False  # the session may not read VMs (not in Hyper-V Administrators)
    denied_paths: tuple[str, ...] = ()  # path prefixes the session gets access denied on (double hop)


@attrs.define(kw_only=True)
class GuestBehaviour:
    """How a simulated guest answers the shutdown integration service."""

    shutdown_service: bool = True  # offers Msvm_ShutdownComponent (a booting or bare guest does not)
    shutdown_s: float = 0.0  # how long its graceful shutdown takes


class SimulatedHyperVHost:
    """Answers the Hyper-V plug-in's scripts from a simulator, as a Windows host would. Thread-safe.

    ``settings`` and ``guests`` (per VM name, :class:`GuestBehaviour`) set the host up;
    ``script_source`` gives each operation's script text the traits are read from (the plug-in's
    own by default; a test may give a regressed one). ``stops``, ``reboots`` and ``kvp`` record
    how VMs were stopped (``shutdown`` or ``turn-off``, with the seconds waited) and rebooted
    (``reboot`` or ``reset``), and the KVP boot arguments each VM was given.
    """

    def __init__(
        self,
        simulator: SimulatorHypervisor,
        *,
        settings: HostSettings | None = None,
        script_source: Callable[[str], str] = script_text,
    ) -> None:
        self.simulator = simulator
        self.settings = settings or HostSettings()
        self.guests: dict[str, GuestBehaviour] = {}
        self.stops: dict[str, tuple[str, float]] = {}
        self.reboots: dict[str, list[str]] = {}
        self.kvp: dict[str, str] = {}
        self.invocations = 0
        self._lock = threading.Lock()
        self._traits = {op: ScriptTraits.of(op, script_source(op)) for op in OPERATIONS}
        # Checkpoint differencing disks (.avhdx) per VM, as Hyper-V makes them: merged on removal.
        self._avhdx: dict[str, dict[str, list[str]]] = {}
        #: What preflight.ps1 finds here (cshyperv agent check); change it to fail a check.
        self.readiness = HostReadiness()

    def traits(self, operation: str) -> ScriptTraits:
        return self._traits[operation]

    def close(self) -> None:
        pass

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        operation = operation_of(script)
        if operation is None:
            raise PowerShellError(_record("ParserError", "cshyperv.UnknownScript", "unknown script"))
        with self._lock:
            self.invocations += 1
        # Parameters arrive as the JSON the host would parse: round-trip them to be sure.
        p = json.loads(json.dumps(params))
        try:
            result = self._vm_access(operation)
            if result is _NOTHING:
                result = getattr(self, "_" + operation)(p)
            # The envelope: ConvertTo-Json of what PowerShell's pipeline made of the output.
            return json.loads(json.dumps(powershell_output(result, wrapped=self.traits(operation).wraps_array)))
        except PowerShellError:
            raise  # already the record the real script writes
        except VmNotFoundError as exc:
            raise PowerShellError(_record("ObjectNotFound", "cshyperv.VmNotFound", "VM not found", exc.name)) from None
        except CheckpointNotFoundError as exc:
            record = _record("ObjectNotFound", "cshyperv.CheckpointNotFound", "checkpoint not found", exc.checkpoint)
            raise PowerShellError(record) from None
        except VolumeNotFoundError as exc:
            raise PowerShellError(
                _record("ObjectNotFound", "cshyperv.VolumeNotFound", "disk not found", exc.path)
            ) from None
        except InvalidVmStateError as exc:
            raise PowerShellError(_record("InvalidOperation", "cshyperv.InvalidVmState", str(exc))) from None
        except InsufficientResourcesError as exc:
            fqid = "OutOfMemory,Microsoft.HyperV.PowerShell.Commands.StartVM"
            raise PowerShellError(_record("ResourceUnavailable", fqid, str(exc))) from None
        except HypervisorError as exc:
            raise PowerShellError(_record("InvalidOperation", "cshyperv.Failed", str(exc))) from None

    # -- what Windows does where the scripts' defects hid -------------------------------------

    def _vm_access(self, operation: str) -> Any:
        """Get-VM in a session that may not read VMs: an error, or "absent" to a script hiding it."""
        if not self.settings.vm_access_denied or operation not in _VM_OPERATIONS:
            return _NOTHING
        if self.traits(operation).vm_lookup_hides_errors and operation in _ABSENT:
            return _ABSENT[operation]
        raise PowerShellError(_ACCESS_DENIED)

    def _denied(self, path: str) -> bool:
        lowered = path.lower()
        return any(lowered.startswith(prefix.lower()) for prefix in self.settings.denied_paths)

    def _exists(self, operation: str, path: str) -> bool:
        """Whether ``path`` exists, as the operation's script finds out: Test-CsPath fails on
        access denied, where Test-Path (a regressed script) answers "absent"."""
        if self._denied(path):
            if self.traits(operation).path_check_hides_errors:
                return False
            raise PowerShellError(
                _record("PermissionDenied", "cshyperv.AccessDenied", "access to the path is denied", path)
            )
        try:
            return self.simulator.files.local(path).exists()
        except HypervisorError:
            return False

    def add_kvp_item(self, vm: str, value: str) -> None:
        """Msvm_VirtualSystemManagementService.AddKvpItems: its job fails with 32773 (invalid
        parameter) for a value over 1023 characters."""
        if _utf16_length(value) > KVP_VALUE_MAX_CHARS:
            raise PowerShellError(_record("InvalidResult", "cshyperv.JobFailed.32773", "the host job failed", vm))
        self.kvp[vm] = value

    def _kvp_boot_args(self, name: str, p: dict[str, Any]) -> None:
        """create_vm.ps1's KVP step, as the script in use does it."""
        boot = p.get("boot_args")
        if not boot:
            return
        traits = self.traits("create_vm")
        if traits.kvp_length_checked and _utf16_length(str(boot)) > KVP_VALUE_MAX_CHARS:
            if not p.get("config_drive"):
                raise PowerShellError(
                    _record("InvalidArgument", "cshyperv.KvpValueTooLong", "boot arguments too long for KVP", name)
                )
            return  # the config drive carries them
        try:
            self.add_kvp_item(name, str(boot))
        except PowerShellError:
            if traits.kvp_job_awaited:
                raise
            # A job never waited for fails unseen: the VM boots without its arguments.

    def _checkpoint_disks(self, vm: str, checkpoint: str) -> None:
        """Checkpoint-VM: a differencing disk (.avhdx) beside each of the VM's disks."""
        info = self.simulator.get_vm(vm)
        files = self._avhdx.setdefault(vm, {})
        if info is None or checkpoint in files:
            return
        made = []
        for disk in info.disks:
            stem = disk.rsplit(".", 1)[0]
            path = f"{stem}_{str(uuid.uuid4()).upper()}.avhdx"
            if self.simulator.files.disk(disk) is not None:
                self.simulator.files.create_disk(path, 0, parent=disk)
                made.append(path)
        files[checkpoint] = made

    def _merge(self, vm: str, checkpoints: list[str] | None = None) -> list[str]:
        """Merge checkpoints into the disks: their .avhdx files go. Returns those files."""
        files = self._avhdx.get(vm, {})
        merged = []
        for name in list(files) if checkpoints is None else checkpoints:
            for path in files.pop(name, []):
                self.simulator.files.delete(path)
                merged.append(path)
        return merged

    # -- one method per script, answering what the script answers -----------------------------

    def _host_info(self, p: dict[str, Any]) -> dict[str, Any]:
        info = self.simulator.host_info()
        return {
            "name": info.name,
            "cpus": info.cpus,
            "sockets": info.cpu_sockets,
            "mhz": info.cpu_mhz,
            "memory_bytes": info.memory_bytes,
            "os_version": info.os_version,
            "hypervisor_version": info.hypervisor_version,
            "private_ip": info.private_ip,
            "prefix_length": 24,
            "private_mac": info.private_mac,
            "gateway": info.gateway,
            "vhd_path": info.default_vhd_path,
            "vm_path": info.default_vm_path,
            "storage_capacity": info.local_storage_capacity_bytes,
            "storage_free": info.local_storage_available_bytes,
        }

    def _list_vms(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return [_vm(v) for v in self.simulator.list_vms()]

    def _get_vm(self, p: dict[str, Any]) -> dict[str, Any] | None:
        info = self.simulator.get_vm(p["name"])
        return None if info is None else _vm(info)

    def _config_drive_path(self, info: VmInfo, p: dict[str, Any]) -> tuple[str, bool]:
        """Where create_vm.ps1 keeps ``info``'s config drive, and whether it is attached."""
        own = f"config-drive-{info.uuid}.iso"
        for iso in info.isos:
            if iso.rsplit("\\", 1)[-1] == own:
                return iso, True
        # The VM's own folder: New-VM -Path makes one named after the VM under the path given;
        # without it the VM lives in the host's default folder.
        if p.get("vm_path"):
            folder = str(p["vm_path"]).rstrip("\\") + "\\" + info.name
        else:
            folder = (self.simulator.host_info().default_vm_path or "C:\\VMs").rstrip("\\")
        return folder + "\\" + own, False

    def _sync_config_drive(self, info: VmInfo, p: dict[str, Any]) -> None:
        """As ``Sync-CsConfigDrive`` in create_vm.ps1 (only ever called while the VM is off)."""
        path, attached = self._config_drive_path(info, p)
        local = self.simulator.files.local(path)
        drive = p.get("config_drive")
        if not drive:
            if attached:
                self.simulator.detach_disk(info.name, path)
            local.unlink(missing_ok=True)
            return
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(base64.b64decode(drive["iso_base64"], validate=True))
        if not attached:
            self.simulator.attach_disk(info.name, DiskSpec(kind=DiskKind.ISO, path=path))

    def _create_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        existing = self.simulator.get_vm(p["name"])
        if existing is not None:
            # As the script: refresh the config drive of a VM that is off, then start it if asked.
            if existing.state is VmState.OFF:
                self._sync_config_drive(existing, p)
            if p.get("start") and existing.state is not VmState.RUNNING:
                self.simulator.start_vm(p["name"])
            existing = self.simulator.get_vm(p["name"]) or existing
            return {**_vm(existing), "existed": True}
        disks = tuple(
            DiskSpec(
                kind=DiskKind(d["kind"]),
                path=d["path"],
                template_path=d.get("template_path"),
                size_bytes=d.get("size_bytes"),
                differencing=bool(d.get("differencing")),
                position=int(d.get("position") or 0),
            )
            for d in p.get("disks") or ()
        )
        p = {**p, "disks": [], "nics": p.get("nics") or [], "details": p.get("details") or {}}
        spec = _SPEC.structure(p, VmSpec)
        nics = tuple(
            NicSpec(mac=n["mac"], switch=n.get("switch"), vlan=n.get("vlan"), device_id=int(n.get("device_id") or 0))
            for n in p["nics"]
        )
        full = attrs.evolve(spec, disks=disks, nics=nics)
        # The disk files this create makes (from templates): a failed create removes these only.
        made = [d.path for d in disks if d.kind is not DiskKind.ISO and not self._exists("create_vm", d.path)]
        for path in made:
            if self._denied(path):
                # Test-Path said "absent" (a regressed script): the copy onto the share is refused.
                raise PowerShellError(_record("PermissionDenied", "UnauthorizedAccess", "access denied", path))
        info = self.simulator.create_vm(full)
        try:
            # As create_vm.ps1: the config drive is attached before the VM first starts.
            if p.get("config_drive"):
                self._sync_config_drive(info, p)
            self._kvp_boot_args(info.name, p)
            if p.get("start"):
                self.simulator.start_vm(info.name)
        except BaseException:
            # A failed create leaves nothing behind: the VM, the disks it made, the config drive.
            path, _attached = self._config_drive_path(self.simulator.get_vm(info.name) or info, p)
            self.simulator.destroy_vm(info.name, delete_disks=False)
            self.kvp.pop(info.name, None)
            for made_path in made:
                self.simulator.files.delete(made_path)
            self.simulator.files.local(path).unlink(missing_ok=True)
            raise
        info = self.simulator.get_vm(info.name) or info
        return {**_vm(info), "existed": False}

    def _start_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        info = self.simulator.get_vm(p["name"])
        if info is not None and info.state.value == "Paused":
            return _vm(self.simulator.resume_vm(p["name"]))
        return _vm(self.simulator.start_vm(p["name"]))

    def _stop_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p["name"])
        info = self.simulator.get_vm(name)
        if info is None:
            return {"state": "Absent", "method": "none"}
        if info.state is VmState.OFF:
            return {"state": "Off", "method": "none"}
        guest = self.guests.get(name, GuestBehaviour())
        timeout = float(p.get("timeout_s") or 0)
        method, waited = "turn-off", 0.0
        if not p.get("force") and info.state is VmState.RUNNING:
            if self.traits("stop_vm").guest_shutdown:
                # InitiateShutdown, then polling: off in time, or turned off at the deadline.
                if guest.shutdown_service and guest.shutdown_s <= timeout:
                    method, waited = "shutdown", guest.shutdown_s
                else:
                    waited = timeout
            elif guest.shutdown_service:
                # Stop-VM -Force (a regressed script): a shutdown, however long the guest takes.
                method, waited = "shutdown", guest.shutdown_s
            # ... and without the service Stop-VM -Force turns the VM off at once.
        self.simulator.stop_vm(name, force=method != "shutdown")
        self.stops[name] = (method, waited)
        return {"state": VmState.OFF.value, "method": method}

    def _reboot_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p["name"])
        self.simulator.reboot_vm(name)
        guest = self.guests.get(name, GuestBehaviour())
        # InitiateReboot restarts the guest OS; Restart-VM (no service, or a regressed script) resets.
        method = "reboot" if self.traits("reboot_vm").guest_reboot and guest.shutdown_service else "reset"
        self.reboots.setdefault(name, []).append(method)
        return {"state": VmState.RUNNING.value, "method": method}

    def _destroy_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p["name"])
        current = self.simulator.get_vm(name)
        if current is None:
            return {"removed": False, "deleted": []}
        delete_disks = bool(p.get("delete_disks"))
        disks = [d for d in current.disks if self.simulator.files.disk(d) is not None]
        pending = [path for files in self._avhdx.get(name, {}).values() for path in files]
        if self.traits("destroy_vm").merges_before_remove:
            # The checkpoints are removed and their merge waited for while the VM exists.
            self._merge(name)
            pending = []
        self.simulator.destroy_vm(name, delete_disks=delete_disks and not pending)
        deleted = []
        # As destroy_vm.ps1: the config drive (user data) always goes with the VM.
        path, _attached = self._config_drive_path(current, p)
        local = self.simulator.files.local(path)
        if local.exists():
            local.unlink()
            deleted.append(path)
        if pending:
            # Remove-VM merges the checkpoints in the background, after the VM is gone; deleting
            # the disks meanwhile fails, file in use. The merge then finishes (its .avhdx files
            # go), and the base disks stay: a retry finds no VM, and they are leaked.
            self._merge(name)
            self._avhdx.pop(name, None)
            if delete_disks:
                raise PowerShellError(
                    _record(
                        "WriteError",
                        "RemoveFileSystemItemIOError,Microsoft.PowerShell.Commands.RemoveItemCommand",
                        "The process cannot access the file because it is being used by another process.",
                        pending[0],
                    )
                )
        if delete_disks:
            deleted += disks
        return {"removed": True, "deleted": deleted}

    def _vm_stats(self, p: dict[str, Any]) -> dict[str, Any]:
        stats = self.simulator.vm_stats(p["names"])
        return {name: cattrs.unstructure(s) for name, s in stats.items()}

    def _host_stats(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(cattrs.unstructure(self.simulator.host_stats()))

    def _attach_disk(self, p: dict[str, Any]) -> dict[str, Any]:
        d = p["disk"]
        disk = DiskSpec(kind=DiskKind(d["kind"]), path=d["path"], position=int(d.get("position") or 0))
        vm_known = self.simulator.get_vm(p["vm"]) is not None
        if disk.kind is not DiskKind.ISO and vm_known and not self._exists("attach_disk", disk.path):
            raise VolumeNotFoundError(disk.path)
        self.simulator.attach_disk(p["vm"], disk)
        return {"attached": True}

    def _detach_disk(self, p: dict[str, Any]) -> dict[str, Any]:
        self.simulator.detach_disk(p["vm"], p["path"])
        return {"detached": True}

    def _nic(self, p: dict[str, Any]) -> dict[str, Any]:
        action = p["action"]
        if action == "add":
            self.simulator.add_nic(p["vm"], NicSpec(mac=p["mac"], switch=p.get("switch"), vlan=p.get("vlan")))
        elif action == "remove":
            self.simulator.remove_nic(p["vm"], p["mac"])
        else:
            self.simulator.set_nic_vlan(p["vm"], p["mac"], p.get("vlan"))
        return {"changed": True}

    def _checkpoint(self, p: dict[str, Any]) -> Any:
        action, vm, name = p["action"], p["vm"], p.get("checkpoint") or ""

        def cp(c: Any) -> dict[str, Any]:
            return {
                "name": c.name,
                "vm": c.vm,
                "created": c.created,
                "parent": c.parent or "",
                "with_memory": c.with_memory,
            }

        if action == "list":
            return [cp(c) for c in self.simulator.list_checkpoints(vm)]
        if action == "create":
            made = cp(self.simulator.create_checkpoint(vm, name, with_memory=bool(p.get("with_memory"))))
            self._checkpoint_disks(vm, name)
            return made
        if action == "revert":
            # As checkpoint.ps1: the state before the revert decides whether restart starts it again.
            before = self.simulator.get_vm(vm)
            after = self.simulator.revert_checkpoint(vm, name)
            ran = before is not None and before.state is VmState.RUNNING
            if p.get("restart") and ran and after.state is not VmState.RUNNING:
                after = self.simulator.start_vm(vm)
            return _vm(after)
        self.simulator.delete_checkpoint(vm, name)
        self._merge(vm, [name])
        return {"deleted": True}

    def _volume(self, p: dict[str, Any]) -> Any:
        action, path = p["action"], str(p.get("path") or "")
        checked = str(p.get("source") or "") if action == "clone" else path
        if action in ("info", "create", "clone", "delete") and self._denied(checked):
            self._exists("volume", checked)  # an error, unless the script hides it
            if action in ("info", "delete"):
                return None if action == "info" else {"deleted": True}
            raise VolumeNotFoundError(checked)
        if action == "info":
            return _volume(self.simulator.volume_info(path))
        if action == "create":
            return _volume(self.simulator.create_volume(path, int(p.get("size_bytes") or 0), parent=p.get("parent")))
        if action == "clone":
            return _volume(self.simulator.clone_volume(p["source"], path, size_bytes=p.get("size_bytes")))
        if action == "resize":
            return _volume(self.simulator.resize_volume(path, int(p["size_bytes"])))
        self.simulator.delete_volume(path)
        return {"deleted": True}

    def _path_capacity(self, p: dict[str, Any]) -> dict[str, Any]:
        if self._denied(str(p["path"])):
            # GetDiskFreeSpaceEx fails with ERROR_ACCESS_DENIED (5).
            record = _record("PermissionDenied", "cshyperv.Win32Error.5", "GetDiskFreeSpaceEx failed", p["path"])
            raise PowerShellError(record)
        missing = PowerShellError(_record("ObjectNotFound", "cshyperv.PathNotFound", "path not found", p["path"]))
        try:
            local = self.simulator.files.local(str(p["path"]))
        except HypervisorError:
            # Neither UNC nor drive path: nowhere in the simulated tree; the real API answers
            # "path not found" (3) for such a path as well.
            raise missing from None
        if not local.exists():
            raise missing
        usage = shutil.disk_usage(local if local.is_dir() else local.parent)
        return {"total_bytes": usage.total, "free_bytes": usage.free}

    def _preflight(self, p: dict[str, Any]) -> dict[str, Any]:
        return preflight_answer(self.readiness, p)

    def _migrate_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.simulator.get_vm(p["vm"]) is None:
            raise VmNotFoundError(p["vm"])
        s = self.settings
        missing = None
        if not s.migration_enabled:
            missing = "VirtualMachineMigrationEnabled"
        elif not s.domain_joined:
            missing = "PartOfDomain"
        elif s.migration_authentication == "CredSSP" and s.session_authentication == "NTLM":
            missing = "CredentialDelegation"
        if missing and self.traits("migrate_vm").migration_preflight:
            record = _record("InvalidOperation", "cshyperv.MigrationPrerequisite", "cannot live-migrate", missing)
            raise PowerShellError(record)
        # What Move-VM itself meets: CredSSP needs the user's credentials in the session (only a
        # CredSSP logon has them), Kerberos needs constrained delegation set up in the domain.
        credssp_fails = s.migration_authentication == "CredSSP" and s.session_authentication != "CredSSP"
        kerberos_fails = s.migration_authentication == "Kerberos" and not s.kerberos_delegation
        if missing or credssp_fails or kerberos_fails:
            raise PowerShellError(
                _record(
                    "NotSpecified",
                    "OperationFailed,Microsoft.HyperV.PowerShell.Commands.MoveVM",
                    "Virtual machine migration operation failed at migration source.",
                    p["vm"],
                )
            )
        self.simulator.migrate_vm(p["vm"], p["destination"], storage_path=p.get("storage_path"))
        return {"moved": True}

    def _vm_control(self, p: dict[str, Any]) -> dict[str, Any]:
        action, vm = p["action"], p["vm"]
        if action == "console":
            info = self.simulator.console_info(vm)
            return {"vm_id": info.vm_id, "host": info.host, "port": info.port}
        if action == "scale":
            return _vm(self.simulator.scale_vm(vm, cpus=p.get("cpus"), memory_bytes=p.get("memory_bytes")))
        if action == "suspend":
            return _vm(self.simulator.suspend_vm(vm))
        return _vm(self.simulator.resume_vm(vm))


class RecordingRunner:
    """Wraps a runner and keeps a transcript of every invocation (operation, params, outcome)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.transcript: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        entry: dict[str, Any] = {"operation": operation_of(script), "params": json.loads(json.dumps(params))}
        try:
            result = self.inner.invoke(script, params)
        except PowerShellError as exc:
            entry["error"] = exc.record
            with self._lock:
                self.transcript.append(entry)
            raise
        entry["result"] = json.loads(json.dumps(getattr(result, "result", result)))
        with self._lock:
            self.transcript.append(entry)
        return result

    def close(self) -> None:
        self.inner.close()

    def save(self, path: str | Path) -> None:
        """Write the transcript as JSON lines (one invocation per line)."""
        with Path(path).open("w", encoding="utf-8") as out:
            for entry in self.transcript:
                out.write(json.dumps(entry, sort_keys=True) + "\n")


class ReplayRunner:
    """Answers invocations from a transcript, in order, checking each matches what was recorded.

    A mismatch (another operation or other parameters) raises ``AssertionError``: the plug-in no
    longer sends what it sent when the transcript was recorded. ``normalise`` may rewrite
    parameters before comparing (e.g. to drop generated names).
    """

    def __init__(
        self, transcript: list[dict[str, Any]], *, normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> None:
        self.transcript = list(transcript)
        self.position = 0
        self.normalise = normalise or (lambda p: p)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> ReplayRunner:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls([json.loads(line) for line in lines if line.strip()])

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        with self._lock:
            if self.position >= len(self.transcript):
                raise AssertionError("the plug-in made more invocations than the transcript holds")
            entry = self.transcript[self.position]
            self.position += 1
        operation = operation_of(script)
        assert operation == entry["operation"], f"expected {entry['operation']}, got {operation}"
        sent = self.normalise(json.loads(json.dumps(params)))
        assert sent == self.normalise(entry["params"]), f"{operation}: parameters differ from the transcript"
        if "error" in entry:
            raise PowerShellError(entry["error"])
        return entry["result"]

    def close(self) -> None:
        pass
