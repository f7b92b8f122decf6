"""The plug-in contract: small Protocols and declared capabilities.

A hypervisor plug-in is any object that satisfies :class:`Hypervisor` (lifecycle, bulk state report
and host facts: what CloudStack cannot run without) and, for each optional feature it offers, the
matching ``Supports*`` protocol *and* the :class:`Capability` in its ``capabilities`` set. The
resource layer asks the set, never the exception: an undeclared feature is answered "unsupported"
before the plug-in is called, and the conformance kit checks that declarations are honest.

Every method may be called from several threads at once, must honour the current deadline
(:mod:`cshyperv.deadline`), and raises only :class:`cshyperv.errors.HypervisorError` subclasses for
expected failures. Idempotency rules are part of the contract and are tested by the kit:

* ``create_vm`` of a spec that already exists returns the existing VM (one VM, never two);
* ``stop_vm`` / ``destroy_vm`` / ``detach`` of something absent succeed;
* ``start_vm`` of a running VM succeeds.

Optional attribute: ``quick_reads``, a ``frozenset`` of read method names (``"get_vm"``) that
answer from local state without waiting on a host, a network, a disk or a lock held elsewhere;
the agent may call those on its event loop (:meth:`cshyperv.operations.Operations.without_waiting`).
Absent means none.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from cshyperv.hypervisor._values import (
    Checkpoint,
    ConsoleInfo,
    DiskSpec,
    HostInfo,
    HostStats,
    NicSpec,
    VmInfo,
    VmSpec,
    VmStats,
    VolumeInfo,
)

__all__ = [
    "Capability",
    "Hypervisor",
    "SupportsCheckpoints",
    "SupportsConsole",
    "SupportsDeploy",
    "SupportsDisks",
    "SupportsMigration",
    "SupportsNics",
    "SupportsRestore",
    "SupportsScaling",
    "SupportsStats",
    "SupportsSuspend",
    "SupportsVolumes",
]


class Capability(str, enum.Enum):
    """Optional features a plug-in declares; each names the protocol that provides it."""

    STATS = "stats"  # SupportsStats
    DISKS = "disks"  # SupportsDisks: data disks and ISOs on a VM
    VOLUMES = "volumes"  # SupportsVolumes: disk files (create, clone, resize, delete)
    NICS = "nics"  # SupportsNics: hot-plug, unplug, VLAN change
    CHECKPOINTS = "checkpoints"  # SupportsCheckpoints
    MIGRATION = "migration"  # SupportsMigration (live)
    STORAGE_MIGRATION = "storage-migration"  # SupportsMigration with storage_path
    CONSOLE = "console"  # SupportsConsole
    SCALING = "scaling"  # SupportsScaling
    SUSPEND = "suspend"  # SupportsSuspend
    DEPLOY = "deploy"  # SupportsDeploy: create-and-start in one round trip
    RESTORE = "restore"  # SupportsRestore: revert a checkpoint, keeping a running VM running, in one round trip


@runtime_checkable
class Hypervisor(Protocol):
    """The minimum every plug-in provides: host facts, VM lifecycle, bulk state report."""

    @property
    def name(self) -> str:
        """The plug-in's name, e.g. ``simulator`` or ``hyperv``."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional features this instance offers (see :class:`Capability`)."""

    def host_info(self) -> HostInfo:
        """Facts about the host for CloudStack's StartupRoutingCommand."""

    def list_vms(self) -> Sequence[VmInfo]:
        """Every VM on the host, in one call (CloudStack polls this every ping interval)."""

    def get_vm(self, name: str) -> VmInfo | None:
        """One VM by CloudStack instance name; None if absent."""

    def create_vm(self, spec: VmSpec) -> VmInfo:
        """Define the VM (and its disks and NICs) without starting it. Idempotent.

        If a VM of that name exists and matches ``spec`` it is returned as it is; if it differs,
        :class:`~cshyperv.errors.VmAlreadyExistsError`. A failed create leaves nothing behind and
        raises the original error.
        """

    def start_vm(self, name: str) -> VmInfo:
        """Power the VM on (from Off, Saved or Paused). Succeeds if it is already running."""

    def stop_vm(self, name: str, *, force: bool = False) -> None:
        """Shut the guest down, turning it off hard if ``force`` or at the deadline.

        Succeeds if the VM is already off or does not exist.
        """

    def reboot_vm(self, name: str) -> None:
        """Restart the guest (a reset if it does not respond)."""

    def destroy_vm(self, name: str, *, delete_disks: bool = False) -> None:
        """Remove the VM's definition; also its disk files if ``delete_disks``. Absent is fine."""

    def close(self) -> None:
        """Release connections. The instance is not used afterwards."""


@runtime_checkable
class SupportsStats(Protocol):
    def vm_stats(self, names: Sequence[str]) -> Mapping[str, VmStats]:
        """Counters for the named VMs that exist (absent names are left out)."""

    def host_stats(self) -> HostStats: ...


@runtime_checkable
class SupportsDisks(Protocol):
    def attach_disk(self, vm: str, disk: DiskSpec) -> None:
        """Attach a disk or ISO (``disk.kind``). Attaching what is attached already succeeds."""

    def detach_disk(self, vm: str, path: str) -> None:
        """Detach the disk or ISO at ``path``. Detaching what is not attached succeeds."""


@runtime_checkable
class SupportsVolumes(Protocol):
    def create_volume(self, path: str, size_bytes: int, *, parent: str | None = None) -> VolumeInfo:
        """Create a dynamically sized disk; a differencing child of ``parent`` when given."""

    def clone_volume(self, source: str, path: str, *, size_bytes: int | None = None) -> VolumeInfo:
        """Copy a disk (a template) to ``path``, then grow it to ``size_bytes`` if larger."""

    def resize_volume(self, path: str, size_bytes: int) -> VolumeInfo: ...

    def delete_volume(self, path: str) -> None:
        """Delete the disk file. Absent is fine."""

    def volume_info(self, path: str) -> VolumeInfo | None: ...


@runtime_checkable
class SupportsNics(Protocol):
    def add_nic(self, vm: str, nic: NicSpec) -> None:
        """Hot-plug (or add to a stopped VM) a NIC. Adding an existing MAC succeeds."""

    def remove_nic(self, vm: str, mac: str) -> None:
        """Remove the NIC with this MAC. Absent is fine."""

    def set_nic_vlan(self, vm: str, mac: str, vlan: int | None) -> None:
        """Move the NIC to VLAN ``vlan`` (access mode) or untagged (None)."""


@runtime_checkable
class SupportsCheckpoints(Protocol):
    def create_checkpoint(
        self, vm: str, name: str, *, description: str | None = None, with_memory: bool = False
    ) -> Checkpoint:
        """Take a checkpoint. Creating one that exists under this name returns it."""

    def list_checkpoints(self, vm: str) -> Sequence[Checkpoint]:
        """Oldest first. An empty sequence for a VM without any."""

    def revert_checkpoint(self, vm: str, name: str) -> VmInfo:
        """Apply the checkpoint; returns the VM as it is afterwards."""

    def delete_checkpoint(self, vm: str, name: str) -> None:
        """Delete (merge) the checkpoint. Absent is fine."""


@runtime_checkable
class SupportsMigration(Protocol):
    def migrate_vm(self, vm: str, destination: str, *, storage_path: str | None = None) -> None:
        """Move the VM to host ``destination`` (its name or address); with its storage to
        ``storage_path`` when given (requires :attr:`Capability.STORAGE_MIGRATION`)."""


@runtime_checkable
class SupportsConsole(Protocol):
    def console_info(self, vm: str) -> ConsoleInfo: ...


@runtime_checkable
class SupportsScaling(Protocol):
    def scale_vm(self, vm: str, *, cpus: int | None = None, memory_bytes: int | None = None) -> VmInfo: ...


@runtime_checkable
class SupportsSuspend(Protocol):
    def suspend_vm(self, vm: str) -> VmInfo: ...

    def resume_vm(self, vm: str) -> VmInfo: ...


@runtime_checkable
class SupportsDeploy(Protocol):
    def deploy_vm(self, spec: VmSpec) -> VmInfo:
        """``create_vm`` then ``start_vm`` as one step (one round trip where the host allows).

        Same idempotency as create_vm; if the start fails for a VM this call created, the VM and
        the disks it made are removed and the original error is raised.
        """


@runtime_checkable
class SupportsRestore(Protocol):
    def restore_checkpoint(self, vm: str, name: str) -> VmInfo:
        """``revert_checkpoint``, then ``start_vm`` if the VM was Running before the revert and is
        not afterwards, as one step (one round trip where the host allows); returns the VM as it
        is at the end. A VM that was not Running is left as the checkpoint brought it back.

        Same errors as revert_checkpoint; a failed start raises the start's error, and the VM
        stays reverted.
        """
