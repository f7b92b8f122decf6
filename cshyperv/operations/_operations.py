"""Operations: the only code that calls a plug-in, in the SDK's terms (no CloudStack types).

Frontends translate their requests (CloudStack commands, Extensions payloads, anything else) into
calls of :class:`Operations`, and its results back into their answers. It owns the rules that
are the same whatever the frontend:

* **capability gates** -- an operation needing an undeclared :class:`Capability` raises
  :class:`UnsupportedOperationError` before the plug-in is called;
* **per-VM locks** -- operations that change one VM run one at a time in this process
  (CloudStack may retry a command while the first attempt still runs);
* **deploy** -- one ``deploy_vm`` where the plug-in declares DEPLOY, else get / create / start;
  an Off VM whose configuration changed is redefined (its disks kept); a failed start of a VM
  this call defined is rolled back (definition removed, and the disks its create made from
  templates), and the start's error is raised;
* **restore** -- a revert that keeps a running VM running is one ``restore_checkpoint`` where
  the plug-in declares RESTORE, else state / revert / start;
* **retries** -- reads (``list_vms``, ``get_vm``, ``host_info``, stats, ``volume_info``) are
  retried once after a :class:`HypervisorConnectionError` while the deadline allows; changes
  never are (they are idempotent, so CloudStack's own retries are safe);
* **the exception boundary** -- a plug-in's foreign exception is logged once with its traceback
  and raised as :class:`PluginFailedError` (:mod:`cshyperv.operations._boundary`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeGuard, TypeVar

from cshyperv import deadline
from cshyperv.errors import (
    HypervisorConnectionError,
    UnsupportedOperationError,
    VmAlreadyExistsError,
    VolumeNotFoundError,
)
from cshyperv.hypervisor import (
    Capability,
    Checkpoint,
    ConsoleInfo,
    DiskKind,
    DiskSpec,
    HostInfo,
    HostStats,
    Hypervisor,
    LearnsLocations,
    NicSpec,
    Plugin,
    StorageAccess,
    VmInfo,
    VmSpec,
    VmState,
    VmStats,
    VolumeInfo,
    as_plugin,
    supports,
)
from cshyperv.operations import _quick
from cshyperv.operations._boundary import call
from cshyperv.operations._locks import VmLocks
from cshyperv.storage import DiskUsage, StorageAdaptor, transfer
from cshyperv.storage.vhd import probe_virtual_size

if TYPE_CHECKING:
    from cshyperv.storage import InstalledTemplate

__all__ = ["Operations"]

log = logging.getLogger("cshyperv.operations")

T = TypeVar("T")
_RETRY_MIN_S = 1.0  # a read is retried only when at least this much of the deadline is left


class Operations:
    """Everything a frontend may ask of one plug-in instance. Thread-safe.

    Methods raise only :class:`~cshyperv.errors.CSHyperVError` subclasses: the plug-in's own
    typed errors, :class:`UnsupportedOperationError` for undeclared capabilities, and
    :class:`~cshyperv.errors.PluginFailedError` for anything else it raised.
    """

    def __init__(self, plugin: Plugin | Hypervisor) -> None:
        self.plugin = as_plugin(plugin)
        self._hv = self.plugin.hypervisor
        self._name = self._hv.name
        self._locks = VmLocks()
        #: Storage copies running now, and bytes copied so far (for metrics).
        self.copies_in_flight = 0
        self.copied_bytes = 0
        self._copy_counts = threading.Lock()
        self._learns_known: tuple[object, bool] = (None, False)

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The plug-in's name."""
        return self._name

    def supports(self, capability: Capability) -> bool:
        """Whether the plug-in declares (and implements) ``capability``."""
        return supports(self._hv, capability)

    def _unsupported(self, capability: Capability) -> UnsupportedOperationError:
        return UnsupportedOperationError(f"the {self._name} hypervisor plug-in does not support {capability.value}")

    def _call(self, operation: str, function: Callable[[], T]) -> T:
        _quick.check_may_wait()  # a change is never made without_waiting()
        return call(self._name, operation, function)

    def _read(self, operation: str, function: Callable[[], T]) -> T:
        allowed = _quick.allowed_reads()
        if allowed is not None and operation not in allowed:
            _quick.check_may_wait()
        try:
            return call(self._name, operation, function)
        except HypervisorConnectionError:
            left = deadline.remaining()
            if left is not None and left < _RETRY_MIN_S:
                raise
            log.info("%s: %s lost the host connection; retrying once", self._name, operation)
            return call(self._name, operation, function)

    def quick_reads(self) -> frozenset[str]:
        """The plug-in's reads that answer from local state without waiting (its optional
        ``quick_reads``; none by default): what :meth:`without_waiting` may call."""
        reads: frozenset[str] = getattr(self._hv, "quick_reads", frozenset())
        return reads

    def without_waiting(self, function: Callable[[], T]) -> T | None:
        """``function()``, run so that no call of this object in it waits, or None when one
        would have (see :mod:`cshyperv.operations._quick`): only the plug-in's
        :meth:`quick_reads` are made, and a VM lock another thread holds is not waited for. On
        None nothing was changed: run ``function`` again where waiting is allowed (a worker
        thread). For event loops answering short commands themselves."""
        token = _quick._ALLOWED.set(self.quick_reads())
        try:
            return function()
        except _quick._WouldWait:
            return None
        finally:
            _quick._ALLOWED.reset(token)

    def close(self) -> None:
        """Close the plug-in (once, however often this is called)."""
        self._call("close", self.plugin.close)

    # -- host --------------------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        return self._read("host_info", self._hv.host_info)

    def host_stats(self) -> HostStats:
        hv = self._hv
        if not supports(hv, Capability.STATS):
            raise self._unsupported(Capability.STATS)
        return self._read("host_stats", hv.host_stats)

    # -- VM state ----------------------------------------------------------------------------------

    def vms(self) -> list[VmInfo]:
        """Every VM on the host, in one plug-in call."""
        return list(self._read("list_vms", self._hv.list_vms))

    def states(self) -> dict[str, VmState]:
        """Every VM's state, in one plug-in call."""
        return {vm.name: vm.state for vm in self.vms()}

    def vm(self, name: str) -> VmInfo | None:
        return self._read("get_vm", lambda: self._hv.get_vm(name))

    def state(self, name: str) -> VmState | None:
        """The VM's state; None when it does not exist."""
        vm = self.vm(name)
        return None if vm is None else vm.state

    def vm_stats(self, names: Sequence[str]) -> Mapping[str, VmStats]:
        """Counters of the named VMs that exist (empty names are dropped)."""
        hv = self._hv
        if not supports(hv, Capability.STATS):
            raise self._unsupported(Capability.STATS)
        wanted = [n for n in names if n]
        return self._read("vm_stats", lambda: hv.vm_stats(wanted))

    # -- lifecycle ---------------------------------------------------------------------------------

    def deploy(self, spec: VmSpec) -> VmInfo:
        """Define (or reuse) and power on the VM; safe to retry (one VM whatever the retries).

        A running VM of that name is left as it is (it is the one a retry is about). An Off VM
        whose configuration differs is redefined, keeping its disks. If the start fails for a
        VM this call defined, it is removed again with the disks its create made from
        templates, and the start's error is raised.
        """
        hv = self._hv
        with self._locks.hold(spec.name):
            if supports(hv, Capability.DEPLOY):
                try:
                    return self._call("deploy_vm", lambda: hv.deploy_vm(spec))
                except VmAlreadyExistsError as exc:
                    return self._redefine(spec, exc)
            current = self.vm(spec.name)
            if current is not None and current.state is VmState.RUNNING:
                return current
            try:
                self._call("create_vm", lambda: hv.create_vm(spec))
            except VmAlreadyExistsError as exc:
                return self._redefine(spec, exc)
            return self._start_defined(spec, created=current is None)

    def _redefine(self, spec: VmSpec, conflict: VmAlreadyExistsError) -> VmInfo:
        current = self.vm(spec.name)
        if current is None:
            raise conflict  # held elsewhere (another host): nothing here to redefine
        if current.state is VmState.RUNNING:
            return current
        log.info("%s: VM %s changed while off; redefining it (disks kept)", self._name, spec.name)
        self._call("destroy_vm", lambda: self._hv.destroy_vm(spec.name, delete_disks=False))
        self._call("create_vm", lambda: self._hv.create_vm(spec))
        return self._start_defined(spec, created=False)

    def _start_defined(self, spec: VmSpec, *, created: bool) -> VmInfo:
        try:
            return self._call("start_vm", lambda: self._hv.start_vm(spec.name))
        except BaseException:
            if created:
                self._roll_back(spec)
            raise

    def _roll_back(self, spec: VmSpec) -> None:
        """Remove a VM whose first start failed, and the disks its create made from templates
        (disks that were there before, CloudStack's volumes, are kept)."""
        disks = [d for d in spec.disks if d.kind is not DiskKind.ISO]
        made = [d for d in disks if d.template_path is not None]
        every_disk_made = bool(disks) and len(made) == len(disks)
        try:
            self._call("destroy_vm", lambda: self._hv.destroy_vm(spec.name, delete_disks=every_disk_made))
            hv = self._hv
            if made and not every_disk_made and supports(hv, Capability.VOLUMES):
                for disk in made:
                    self._call("delete_volume", lambda disk=disk: hv.delete_volume(disk.path))  # type: ignore[misc]
        except Exception as exc:
            log.warning("%s: removing VM %s after its failed start also failed: %s", self._name, spec.name, exc)

    def create(self, spec: VmSpec) -> VmInfo:
        """Define the VM without starting it (idempotent, as ``create_vm``)."""
        with self._locks.hold(spec.name):
            return self._call("create_vm", lambda: self._hv.create_vm(spec))

    def start(self, name: str) -> VmInfo:
        with self._locks.hold(name):
            return self._call("start_vm", lambda: self._hv.start_vm(name))

    def stop(self, name: str, *, force: bool = False, remove: bool = False) -> None:
        """Shut the VM down (hard with ``force``); with ``remove`` also remove its definition,
        keeping its disks. Absent VMs are fine. A stop alone keeps the definition."""
        with self._locks.hold(name):
            self._call("stop_vm", lambda: self._hv.stop_vm(name, force=force))
            if remove:
                self._call("destroy_vm", lambda: self._hv.destroy_vm(name, delete_disks=False))

    def reboot(self, name: str) -> None:
        with self._locks.hold(name):
            self._call("reboot_vm", lambda: self._hv.reboot_vm(name))

    def destroy(self, name: str, *, delete_disks: bool = False) -> None:
        with self._locks.hold(name):
            self._call("destroy_vm", lambda: self._hv.destroy_vm(name, delete_disks=delete_disks))

    # -- optional VM features ------------------------------------------------------------------------

    def console(self, name: str) -> ConsoleInfo:
        hv = self._hv
        if not supports(hv, Capability.CONSOLE):
            raise self._unsupported(Capability.CONSOLE)
        return self._call("console_info", lambda: hv.console_info(name))

    def scale(self, name: str, *, cpus: int | None = None, memory_bytes: int | None = None) -> VmInfo:
        hv = self._hv
        if not supports(hv, Capability.SCALING):
            raise self._unsupported(Capability.SCALING)
        with self._locks.hold(name):
            return self._call("scale_vm", lambda: hv.scale_vm(name, cpus=cpus, memory_bytes=memory_bytes))

    def suspend(self, name: str) -> VmInfo:
        hv = self._hv
        if not supports(hv, Capability.SUSPEND):
            raise self._unsupported(Capability.SUSPEND)
        with self._locks.hold(name):
            return self._call("suspend_vm", lambda: hv.suspend_vm(name))

    def resume(self, name: str) -> VmInfo:
        hv = self._hv
        if not supports(hv, Capability.SUSPEND):
            raise self._unsupported(Capability.SUSPEND)
        with self._locks.hold(name):
            return self._call("resume_vm", lambda: hv.resume_vm(name))

    def migrate(self, name: str, destination: str, *, storage_path: str | None = None) -> None:
        """Live-migrate to ``destination``; with ``storage_path`` its storage too
        (:attr:`Capability.STORAGE_MIGRATION`)."""
        hv = self._hv
        capability = Capability.MIGRATION if storage_path is None else Capability.STORAGE_MIGRATION
        if not self.supports(capability):
            raise self._unsupported(capability)
        if not supports(hv, Capability.MIGRATION):
            raise self._unsupported(Capability.MIGRATION)
        with self._locks.hold(name):
            self._call("migrate_vm", lambda: hv.migrate_vm(name, destination, storage_path=storage_path))

    # -- checkpoints ---------------------------------------------------------------------------------

    def create_checkpoint(
        self, vm: str, name: str, *, description: str | None = None, with_memory: bool = False
    ) -> Checkpoint:
        hv = self._hv
        if not supports(hv, Capability.CHECKPOINTS):
            raise self._unsupported(Capability.CHECKPOINTS)
        with self._locks.hold(vm):
            return self._call(
                "create_checkpoint",
                lambda: hv.create_checkpoint(vm, name, description=description, with_memory=with_memory),
            )

    def checkpoints(self, vm: str) -> list[Checkpoint]:
        """Oldest first."""
        hv = self._hv
        if not supports(hv, Capability.CHECKPOINTS):
            raise self._unsupported(Capability.CHECKPOINTS)
        return list(self._call("list_checkpoints", lambda: hv.list_checkpoints(vm)))

    def revert_checkpoint(self, vm: str, name: str, *, keep_running: bool = False) -> VmInfo:
        """Apply the checkpoint. With ``keep_running``, a VM that was running before is started
        again if the checkpoint brought it back off (Hyper-V's standard checkpoints do): one
        ``restore_checkpoint`` where the plug-in declares RESTORE, else state, revert and start."""
        hv = self._hv
        if not supports(hv, Capability.CHECKPOINTS):
            raise self._unsupported(Capability.CHECKPOINTS)
        with self._locks.hold(vm):
            if keep_running and supports(hv, Capability.RESTORE):
                # One round trip: an Extensions process pays 4 WinRM exchanges, not 10.
                return self._call("restore_checkpoint", lambda: hv.restore_checkpoint(vm, name))
            before = self.state(vm) if keep_running else None
            after = self._call("revert_checkpoint", lambda: hv.revert_checkpoint(vm, name))
            if before is VmState.RUNNING and after.state is not VmState.RUNNING:
                after = self._call("start_vm", lambda: self._hv.start_vm(vm))
            return after

    def delete_checkpoint(self, vm: str, name: str) -> None:
        hv = self._hv
        if not supports(hv, Capability.CHECKPOINTS):
            raise self._unsupported(Capability.CHECKPOINTS)
        with self._locks.hold(vm):
            self._call("delete_checkpoint", lambda: hv.delete_checkpoint(vm, name))

    # -- NICs ----------------------------------------------------------------------------------------

    def add_nic(self, vm: str, nic: NicSpec) -> None:
        hv = self._hv
        if not supports(hv, Capability.NICS):
            raise self._unsupported(Capability.NICS)
        with self._locks.hold(vm):
            self._call("add_nic", lambda: hv.add_nic(vm, nic))

    def remove_nic(self, vm: str, mac: str) -> None:
        hv = self._hv
        if not supports(hv, Capability.NICS):
            raise self._unsupported(Capability.NICS)
        with self._locks.hold(vm):
            self._call("remove_nic", lambda: hv.remove_nic(vm, mac))

    def set_nic_vlan(self, vm: str, mac: str, vlan: int | None) -> None:
        hv = self._hv
        if not supports(hv, Capability.NICS):
            raise self._unsupported(Capability.NICS)
        with self._locks.hold(vm):
            self._call("set_nic_vlan", lambda: hv.set_nic_vlan(vm, mac, vlan))

    # -- disks and volumes ---------------------------------------------------------------------------

    def attach_disk(self, vm: str, disk: DiskSpec) -> None:
        hv = self._hv
        if not supports(hv, Capability.DISKS):
            raise self._unsupported(Capability.DISKS)
        with self._locks.hold(vm):
            self._call("attach_disk", lambda: hv.attach_disk(vm, disk))

    def detach_disk(self, vm: str, path: str) -> None:
        hv = self._hv
        if not supports(hv, Capability.DISKS):
            raise self._unsupported(Capability.DISKS)
        with self._locks.hold(vm):
            self._call("detach_disk", lambda: hv.detach_disk(vm, path))

    def create_volume(self, path: str, size_bytes: int, *, parent: str | None = None) -> VolumeInfo:
        hv = self._hv
        if not supports(hv, Capability.VOLUMES):
            raise self._unsupported(Capability.VOLUMES)
        return self._call("create_volume", lambda: hv.create_volume(path, size_bytes, parent=parent))

    def clone_volume(self, source: str, path: str, *, size_bytes: int | None = None) -> VolumeInfo:
        hv = self._hv
        if not supports(hv, Capability.VOLUMES):
            raise self._unsupported(Capability.VOLUMES)
        return self._call("clone_volume", lambda: hv.clone_volume(source, path, size_bytes=size_bytes))

    def resize_volume(self, path: str, size_bytes: int, *, allow_shrink: bool = False) -> VolumeInfo:
        """Grow (or, with ``allow_shrink``, shrink) the disk to ``size_bytes``."""
        hv = self._hv
        if not supports(hv, Capability.VOLUMES):
            raise self._unsupported(Capability.VOLUMES)
        if not allow_shrink:
            info = self._read("volume_info", lambda: hv.volume_info(path))
            if info is not None and size_bytes < info.size_bytes:
                raise UnsupportedOperationError("shrinking a volume needs shrinkOk")
        return self._call("resize_volume", lambda: hv.resize_volume(path, size_bytes))

    def delete_volume(self, path: str) -> None:
        hv = self._hv
        if not supports(hv, Capability.VOLUMES):
            raise self._unsupported(Capability.VOLUMES)
        self._call("delete_volume", lambda: hv.delete_volume(path))

    def volume_info(self, path: str) -> VolumeInfo | None:
        hv = self._hv
        if not supports(hv, Capability.VOLUMES):
            raise self._unsupported(Capability.VOLUMES)
        return self._read("volume_info", lambda: hv.volume_info(path))

    def remove_volume(self, path: str, *, detach_from: str | None = None) -> None:
        """Delete a disk file, detaching it first from VM ``detach_from`` when the plug-in can."""
        if detach_from and self.supports(Capability.DISKS):
            self.detach_disk(detach_from, path)
        self.delete_volume(path)

    # -- files (through the plug-in's storage access) ------------------------------------------------

    def _storage(self) -> StorageAccess:
        storage = self.plugin.storage
        if storage is None:
            raise UnsupportedOperationError(f"the {self._name} plug-in offers no storage access")
        return storage

    def _files(self, operation: str, function: Callable[[], T]) -> T:
        _quick.check_may_wait()  # storage is a file server or a disk: it may always wait
        return call(self._name, operation, function, storage=True)

    def learn(self, *locations: str | None) -> None:
        """Let the storage access remember credentials or export roots that store URLs carry
        (CloudStack strips them from most commands; a few keep them)."""
        storage = self.plugin.storage
        if storage is None or not self._learns(storage):
            return
        for location in locations:
            if location:
                self._files("learn", functools.partial(storage.learn, location))

    def _learns(self, storage: StorageAccess) -> TypeGuard[LearnsLocations]:
        # A structural isinstance() walks the protocol on every call; learn() runs on most
        # requests, so the answer is kept for the storage object it was computed for.
        # One tuple, swapped whole, so a thread never pairs one storage object with another's answer.
        known_for, answer = self._learns_known
        if known_for is not storage:
            answer = isinstance(storage, LearnsLocations)
            self._learns_known = (storage, answer)
        return answer

    def locate(self, location: str) -> tuple[StorageAdaptor, str]:
        """The storage adaptor and the path below its root for ``location``."""
        storage = self._storage()
        return self._files("locate", lambda: storage.locate(location))

    def copy_file(self, source: str, target: str) -> int:
        """Copy ``source`` to ``target`` (any two locations); the bytes copied.

        Server-side where both are on one SMB server, streamed otherwise; written under a
        temporary name and renamed, so a failed copy leaves nothing under the target name.
        """
        src_adaptor, src_path = self.locate(source)
        dst_adaptor, dst_path = self.locate(target)

        def copy() -> int:
            try:
                return transfer.copy_file(src_adaptor, src_path, dst_adaptor, dst_path)
            except FileNotFoundError:
                if not src_adaptor.exists(src_path):
                    raise VolumeNotFoundError(source) from None
                raise

        with self._copy_counts:
            self.copies_in_flight += 1
        copied = 0
        try:
            copied = self._files("copy_file", copy)
            return copied
        finally:
            with self._copy_counts:
                self.copies_in_flight -= 1
                self.copied_bytes += copied

    def move_file(self, source: str, target: str) -> None:
        """Copy, then delete the source."""
        self.copy_file(source, target)
        self.delete_file(source)

    def delete_file(self, location: str) -> None:
        adaptor, path = self.locate(location)
        self._files("remove", lambda: adaptor.remove(path))

    def write_file(self, location: str, data: bytes) -> None:
        adaptor, path = self.locate(location)

        def write() -> None:
            with adaptor.open_write(path) as out:
                out.write(data)

        self._files("write", write)

    def install_template(self, url: str, target: str) -> InstalledTemplate:
        """Download ``url`` (verified, decompressed) to the location ``target``."""
        from cshyperv.storage import install_template

        adaptor, rel = self.locate(target)
        folder, _, base = rel.rpartition("/")
        return self._files(
            "install_template", lambda: install_template(url, adaptor, folder, name=base, write_properties=False)
        )

    def capacity(self, root: str) -> DiskUsage:
        """Capacity of a pool or store. Drive paths on the host (local pools, cluster shared
        volumes) are asked of the host when the plug-in offers host capacity; everything else of
        the file server, through the storage access."""
        host = self.plugin.host_capacity
        if root[1:2] == ":" and host is not None:
            return self._call("path_capacity", lambda: host.path_capacity(root))
        adaptor, path = self.locate(root)
        self._files("mkdir", lambda: adaptor.mkdir(path))
        return self._files("disk_usage", lambda: adaptor.disk_usage(path))

    def virtual_size(self, location: str) -> int:
        """A disk's virtual size: the hypervisor's word if it has one, else the image's own
        headers (VHD/VHDX), else the file size."""
        if self.supports(Capability.VOLUMES):
            info = self.volume_info(location)
            if info is not None:
                return info.size_bytes
        adaptor, rel = self.locate(location)
        return self._files("probe", lambda: probe_virtual_size(adaptor, rel) or adaptor.stat(rel).size)
