"""A simulated Hyper-V host that answers the plug-in's scripts, and a recording runner.

:class:`SimulatedHyperVHost` is a :class:`~cshyperv.hyperv.plugin.ScriptRunner` (and the handler a
loopback WS-Management endpoint can call): it recognises which of the plug-in's constant scripts it
was sent, performs the operation on a :class:`~cshyperv.simulator.SimulatorHypervisor`, and answers
with the JSON document (or the structured error record) the real script produces. The Hyper-V
plug-in's Python side, parameters to results to errors, is thereby exercised end to end without
Windows; the scripts themselves are checked by parsing and by the live suite.

:class:`RecordingRunner` wraps any runner and keeps a transcript (operation, parameters, result or
error) per invocation, writable as JSON lines and replayable with :class:`ReplayRunner`.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
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
from cshyperv.hyperv.scripts import operation_of
from cshyperv.hypervisor import DiskKind, DiskSpec, NicSpec, VmInfo, VmSpec, VmState, VolumeInfo
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.host_readiness import HostReadiness, preflight_answer

__all__ = ["RecordingRunner", "ReplayRunner", "SimulatedHyperVHost"]

_SPEC = cattrs.Converter()


def _record(category: str, fqid: str, message: str, target: object = None) -> dict[str, Any]:
    return {"category": category, "fully_qualified_error_id": fqid, "message": message, "target": target}


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


class SimulatedHyperVHost:
    """Answers the Hyper-V plug-in's scripts from a simulator. Thread-safe."""

    def __init__(self, simulator: SimulatorHypervisor) -> None:
        self.simulator = simulator
        self.invocations = 0
        self._lock = threading.Lock()
        #: What preflight.ps1 finds here (cshyperv agent check); change it to fail a check.
        self.readiness = HostReadiness()

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
            return getattr(self, "_" + operation)(p)
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
        made = [d.path for d in disks if d.kind is not DiskKind.ISO and self.simulator.files.disk(d.path) is None]
        info = self.simulator.create_vm(full)
        try:
            # As create_vm.ps1: the config drive is attached before the VM first starts.
            if p.get("config_drive"):
                self._sync_config_drive(info, p)
            if p.get("start"):
                self.simulator.start_vm(info.name)
        except BaseException:
            # A failed create leaves nothing behind: the VM, the disks it made, the config drive.
            path, _attached = self._config_drive_path(self.simulator.get_vm(info.name) or info, p)
            self.simulator.destroy_vm(info.name, delete_disks=False)
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
        self.simulator.stop_vm(p["name"], force=bool(p.get("force")))
        info = self.simulator.get_vm(p["name"])
        return {"state": "Absent" if info is None else info.state.value}

    def _reboot_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        self.simulator.reboot_vm(p["name"])
        return {"state": "Running"}

    def _destroy_vm(self, p: dict[str, Any]) -> dict[str, Any]:
        current = self.simulator.get_vm(p["name"])
        self.simulator.destroy_vm(p["name"], delete_disks=bool(p.get("delete_disks")))
        deleted = []
        if current is not None:
            # As destroy_vm.ps1: the config drive (user data) always goes with the VM.
            path, _attached = self._config_drive_path(current, p)
            local = self.simulator.files.local(path)
            if local.exists():
                local.unlink()
                deleted.append(path)
        return {"removed": current is not None, "deleted": deleted}

    def _vm_stats(self, p: dict[str, Any]) -> dict[str, Any]:
        stats = self.simulator.vm_stats(p["names"])
        return {name: cattrs.unstructure(s) for name, s in stats.items()}

    def _host_stats(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(cattrs.unstructure(self.simulator.host_stats()))

    def _attach_disk(self, p: dict[str, Any]) -> dict[str, Any]:
        d = p["disk"]
        disk = DiskSpec(kind=DiskKind(d["kind"]), path=d["path"], position=int(d.get("position") or 0))
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
            return cp(self.simulator.create_checkpoint(vm, name, with_memory=bool(p.get("with_memory"))))
        if action == "revert":
            return _vm(self.simulator.revert_checkpoint(vm, name))
        self.simulator.delete_checkpoint(vm, name)
        return {"deleted": True}

    def _volume(self, p: dict[str, Any]) -> Any:
        action, path = p["action"], str(p.get("path") or "")
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
