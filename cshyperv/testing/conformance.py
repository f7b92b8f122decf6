"""The plug-in conformance kit: what every hypervisor plug-in must do, as runnable checks.

Two ways to use it:

* pytest (recommended): subclass :class:`HypervisorConformance` in a test module of your own and
  implement :meth:`~HypervisorConformance.make_hypervisor`; every ``test_*`` method then runs
  against your plug-in::

      class TestMyPlugin(HypervisorConformance):
          def make_hypervisor(self, tmp_path):
              return MyHypervisor(...)

* plain calls: each ``check_*`` function takes a plug-in instance and raises ``AssertionError``
  (or the plug-in's own exception) when the plug-in breaks the contract.

The contract is the one documented in :mod:`cshyperv.hypervisor` (idempotency, errors, deadlines,
capability honesty); docs/plugins.md explains it. Checks create VMs named ``cs-conformance-*``
and remove them again.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from cshyperv import deadline
from cshyperv.errors import HypervisorError, OperationTimeoutError, VmAlreadyExistsError, VmNotFoundError
from cshyperv.hypervisor import (
    Capability,
    DiskKind,
    DiskSpec,
    Hypervisor,
    NicSpec,
    SupportsCheckpoints,
    SupportsConsole,
    SupportsDeploy,
    SupportsDisks,
    SupportsMigration,
    SupportsNics,
    SupportsScaling,
    SupportsStats,
    SupportsSuspend,
    SupportsVolumes,
    VmSpec,
    VmState,
)

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "HypervisorConformance",
    "check_capability_declarations",
    "check_checkpoints",
    "check_concurrent_creates",
    "check_deadline",
    "check_disks",
    "check_errors",
    "check_host_info",
    "check_idempotency",
    "check_lifecycle",
    "check_migration",
    "check_nics",
    "check_scaling",
    "check_state_report",
    "check_stats",
    "check_suspend",
    "check_volumes",
    "spec",
]

MiB = 1024 * 1024

CAPABILITY_PROTOCOLS: dict[Capability, type] = {
    Capability.STATS: SupportsStats,
    Capability.DISKS: SupportsDisks,
    Capability.VOLUMES: SupportsVolumes,
    Capability.NICS: SupportsNics,
    Capability.CHECKPOINTS: SupportsCheckpoints,
    Capability.MIGRATION: SupportsMigration,
    Capability.STORAGE_MIGRATION: SupportsMigration,
    Capability.CONSOLE: SupportsConsole,
    Capability.SCALING: SupportsScaling,
    Capability.SUSPEND: SupportsSuspend,
    Capability.DEPLOY: SupportsDeploy,
}


def spec(name: str | None = None, **changes: Any) -> VmSpec:
    """A small VM spec with a unique ``cs-conformance-*`` name (no disks, one NIC)."""
    base = VmSpec(
        name=name or f"cs-conformance-{uuidlib.uuid4().hex[:10]}",
        cpus=1,
        memory_bytes=256 * MiB,
        generation=2,
        nics=(NicSpec(mac="02:00:00:00:00:01", vlan=None),),
    )
    return attrs.evolve(base, **changes)


def _state(hv: Hypervisor, name: str) -> VmState | None:
    vm = hv.get_vm(name)
    return None if vm is None else vm.state


# -- the core contract ---------------------------------------------------------------------------


def check_host_info(hv: Hypervisor) -> None:
    """host_info: positive CPUs, sockets, speed and memory; a version string; a name."""
    info = hv.host_info()
    assert info.name, "host_info().name is empty"
    assert info.cpus > 0 and info.cpu_sockets > 0 and info.cpu_mhz > 0, "CPU facts must be positive"
    assert info.memory_bytes > 0, "memory_bytes must be positive"
    assert info.hypervisor_version, "hypervisor_version is empty"
    assert isinstance(hv.capabilities, frozenset), "capabilities must be a frozenset of Capability"
    assert all(isinstance(c, Capability) for c in hv.capabilities)


def check_lifecycle(hv: Hypervisor) -> None:
    """create -> Off; start -> Running; reboot keeps it Running; stop -> Off; destroy -> gone."""
    vm = spec()
    created = hv.create_vm(vm)
    try:
        assert created.name == vm.name and created.state is VmState.OFF, f"a new VM must be Off, is {created.state}"
        assert hv.start_vm(vm.name).state is VmState.RUNNING
        assert _state(hv, vm.name) is VmState.RUNNING
        hv.reboot_vm(vm.name)
        assert _state(hv, vm.name) is VmState.RUNNING, "a rebooted VM must come back Running"
        hv.stop_vm(vm.name)
        assert _state(hv, vm.name) is VmState.OFF
    finally:
        hv.destroy_vm(vm.name)
    assert hv.get_vm(vm.name) is None, "a destroyed VM must be gone"


def check_idempotency(hv: Hypervisor) -> None:
    """Retries are harmless: same create -> same VM; stop/destroy of absent or off VMs succeed."""
    vm = spec()
    first = hv.create_vm(vm)
    try:
        second = hv.create_vm(vm)
        assert second.uuid == first.uuid, "creating the same spec twice must return the same VM"
        assert [v.name for v in hv.list_vms()].count(vm.name) == 1, "a repeated create made a second VM"
        try:
            hv.create_vm(attrs.evolve(vm, cpus=vm.cpus + 1))
        except VmAlreadyExistsError:
            pass
        else:
            raise AssertionError(
                "create_vm with a different spec under an existing name must raise VmAlreadyExistsError"
            )
        hv.stop_vm(vm.name)  # already off
        hv.start_vm(vm.name)
        hv.start_vm(vm.name)  # already running
        assert _state(hv, vm.name) is VmState.RUNNING
        hv.stop_vm(vm.name, force=True)
        hv.stop_vm(vm.name)
    finally:
        hv.destroy_vm(vm.name)
    hv.destroy_vm(vm.name)  # absent
    hv.stop_vm(vm.name)  # absent


def check_state_report(hv: Hypervisor) -> None:
    """list_vms reports every VM with its state in one call; get_vm of an absent name is None."""
    specs = [spec() for _ in range(3)]
    for s in specs:
        hv.create_vm(s)
    try:
        hv.start_vm(specs[0].name)
        states = {v.name: v.state for v in hv.list_vms()}
        assert states.get(specs[0].name) is VmState.RUNNING
        assert states.get(specs[1].name) is VmState.OFF and states.get(specs[2].name) is VmState.OFF
        assert hv.get_vm(f"cs-conformance-absent-{uuidlib.uuid4().hex[:8]}") is None
    finally:
        for s in specs:
            hv.destroy_vm(s.name)


def check_concurrent_creates(hv: Hypervisor, threads: int = 20) -> None:
    """Concurrent creates: of one name -> one VM; of distinct names -> one VM each."""
    same = spec()
    distinct = [spec() for _ in range(threads)]
    errors: list[BaseException] = []

    def run(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(lambda: hv.create_vm(same),)) for _ in range(threads)]
    workers += [threading.Thread(target=run, args=((lambda s=s: hv.create_vm(s)),)) for s in distinct]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    try:
        assert not errors, f"concurrent creates failed: {errors[:3]!r}"
        names = [v.name for v in hv.list_vms()]
        assert names.count(same.name) == 1, f"{names.count(same.name)} VMs named {same.name}"
        assert all(names.count(s.name) == 1 for s in distinct)
    finally:
        for s in [same, *distinct]:
            hv.destroy_vm(s.name)


def check_errors(hv: Hypervisor) -> None:
    """Operations on an absent VM raise VmNotFoundError (a HypervisorError and a LookupError)."""
    absent = f"cs-conformance-absent-{uuidlib.uuid4().hex[:8]}"
    for operation in (hv.start_vm, hv.reboot_vm):
        try:
            operation(absent)
        except VmNotFoundError as exc:
            assert isinstance(exc, HypervisorError) and isinstance(exc, LookupError)
        else:
            raise AssertionError(f"{operation.__name__} of an absent VM must raise VmNotFoundError")


def check_deadline(hv: Hypervisor, slack_s: float = 2.0) -> None:
    """Under a deadline that has passed, an operation returns or raises OperationTimeoutError,
    nothing else. (``slack_s`` is no longer used: the kit asserts no durations, which depend on
    the machine's load; the parameter stays for callers that pass it.)"""
    with deadline.deadline_scope(0.001), contextlib.suppress(OperationTimeoutError):
        time.sleep(0.005)
        hv.list_vms()


# -- optional features -----------------------------------------------------------------------------


def check_capability_declarations(hv: Hypervisor) -> None:
    """Every declared capability comes with the protocol that provides it."""
    for capability in hv.capabilities:
        protocol = CAPABILITY_PROTOCOLS[capability]
        assert isinstance(hv, protocol), f"{capability.value} is declared but {protocol.__name__} is not implemented"


def check_stats(hv: Any) -> None:
    """vm_stats covers existing VMs only; host_stats is sane."""
    vm = spec()
    hv.create_vm(vm)
    try:
        hv.start_vm(vm.name)
        stats = hv.vm_stats([vm.name, f"cs-conformance-absent-{uuidlib.uuid4().hex[:8]}"])
        assert set(stats) == {vm.name}, "vm_stats must leave absent VMs out"
        assert stats[vm.name].cpu_percent >= 0 and stats[vm.name].cpus >= 1
        host = hv.host_stats()
        assert host.memory_total_bytes >= host.memory_free_bytes >= 0 and host.cpu_percent >= 0
    finally:
        hv.destroy_vm(vm.name)


def check_checkpoints(hv: Any) -> None:
    """create (idempotent) / list (empty for none) / revert / delete (absent is fine)."""
    vm = spec()
    hv.create_vm(vm)
    try:
        assert list(hv.list_checkpoints(vm.name)) == [], "a VM without checkpoints must list none"
        first = hv.create_checkpoint(vm.name, "cp1", description="conformance")
        again = hv.create_checkpoint(vm.name, "cp1")
        assert again.name == first.name == "cp1"
        hv.create_checkpoint(vm.name, "cp2")
        assert [c.name for c in hv.list_checkpoints(vm.name)] == ["cp1", "cp2"], "checkpoints list oldest first"
        reverted = hv.revert_checkpoint(vm.name, "cp1")
        assert reverted.name == vm.name
        hv.delete_checkpoint(vm.name, "cp2")
        hv.delete_checkpoint(vm.name, "cp2")
        assert [c.name for c in hv.list_checkpoints(vm.name)] == ["cp1"]
    finally:
        hv.destroy_vm(vm.name)


def check_nics(hv: Any) -> None:
    """add (idempotent), VLAN change, remove (absent is fine)."""
    vm = spec(nics=())
    hv.create_vm(vm)
    try:
        nic = NicSpec(mac="02:00:00:00:ee:01", vlan=100)
        hv.add_nic(vm.name, nic)
        hv.add_nic(vm.name, nic)
        info = hv.get_vm(vm.name)
        assert [n.vlan for n in info.nics if n.mac == nic.mac] == [100]
        hv.set_nic_vlan(vm.name, nic.mac, None)
        assert [n.vlan for n in hv.get_vm(vm.name).nics] == [None]
        hv.remove_nic(vm.name, nic.mac)
        hv.remove_nic(vm.name, nic.mac)
        assert hv.get_vm(vm.name).nics == ()
    finally:
        hv.destroy_vm(vm.name)


def check_volumes(hv: Any, template: str) -> None:
    """create (idempotent), clone (grows), resize, info, delete (absent is fine)."""
    folder = template.replace("/", "\\").rsplit("\\", 1)[0]
    path = f"{folder}\\cs-conformance-{uuidlib.uuid4().hex[:8]}.vhdx"
    clone = path.replace(".vhdx", "-clone.vhdx")
    try:
        made = hv.create_volume(path, 64 * MiB)
        assert made.size_bytes == 64 * MiB and hv.create_volume(path, 64 * MiB).size_bytes == 64 * MiB
        copied = hv.clone_volume(template, clone, size_bytes=None)
        assert copied.size_bytes >= 1
        grown = hv.resize_volume(path, 128 * MiB)
        assert grown.size_bytes == 128 * MiB and hv.volume_info(path).size_bytes == 128 * MiB
    finally:
        hv.delete_volume(path)
        hv.delete_volume(clone)
    hv.delete_volume(path)
    assert hv.volume_info(path) is None


def check_disks(hv: Any, template: str) -> None:
    """A VM built from a template; data disk attach/detach, both idempotent."""
    folder = template.replace("/", "\\").rsplit("\\", 1)[0]
    name = f"cs-conformance-{uuidlib.uuid4().hex[:8]}"
    root = DiskSpec(kind=DiskKind.ROOT, path=f"{folder}\\{name}-root.vhdx", template_path=template)
    data_path = f"{folder}\\{name}-data.vhdx"
    hv.create_vm(spec(name, disks=(root,)))
    try:
        assert root.path in hv.get_vm(name).disks
        if Capability.VOLUMES in hv.capabilities:
            hv.create_volume(data_path, 32 * MiB)
            data = DiskSpec(kind=DiskKind.DATA, path=data_path, position=1)
            hv.attach_disk(name, data)
            hv.attach_disk(name, data)
            assert list(hv.get_vm(name).disks).count(data_path) == 1
            hv.detach_disk(name, data_path)
            hv.detach_disk(name, data_path)
            assert data_path not in hv.get_vm(name).disks
    finally:
        hv.destroy_vm(name, delete_disks=True)
        if Capability.VOLUMES in hv.capabilities:
            hv.delete_volume(data_path)


def check_scaling(hv: Any) -> None:
    vm = spec()
    hv.create_vm(vm)
    try:
        scaled = hv.scale_vm(vm.name, cpus=2, memory_bytes=512 * MiB)
        assert scaled.cpus == 2 and scaled.memory_bytes == 512 * MiB
    finally:
        hv.destroy_vm(vm.name)


def check_suspend(hv: Any) -> None:
    vm = spec()
    hv.create_vm(vm)
    try:
        hv.start_vm(vm.name)
        assert hv.suspend_vm(vm.name).state is VmState.PAUSED
        assert hv.suspend_vm(vm.name).state is VmState.PAUSED
        assert hv.resume_vm(vm.name).state is VmState.RUNNING
    finally:
        hv.destroy_vm(vm.name)


def check_migration(hv: Any, destination: str | None) -> None:
    """Migration to an unknown host fails with a HypervisorError; to ``destination`` it moves."""
    vm = spec()
    hv.create_vm(vm)
    try:
        try:
            hv.migrate_vm(vm.name, f"cs-conformance-nowhere-{uuidlib.uuid4().hex[:6]}.invalid")
        except HypervisorError:
            pass
        else:
            raise AssertionError("migrating to an unknown host must raise a HypervisorError")
        if destination is not None:
            hv.migrate_vm(vm.name, destination)
            assert hv.get_vm(vm.name) is None, "a migrated VM must no longer be on the source host"
    finally:
        hv.destroy_vm(vm.name)


# -- pytest mixin -------------------------------------------------------------------------------------


class HypervisorConformance:
    """Subclass this in a test module and implement :meth:`make_hypervisor`."""

    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        raise NotImplementedError("return the plug-in instance to test")

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str | None:
        """A template disk path usable as DiskSpec.template_path, or None to skip disk checks."""
        return None

    def migration_destination(self, hypervisor: Hypervisor, tmp_path: Path) -> str | None:
        """A host this plug-in can migrate to, or None to check only the failure case."""
        return None

    @pytest.fixture
    def hypervisor(self, tmp_path: Path) -> Iterator[Hypervisor]:
        hv = self.make_hypervisor(tmp_path)
        try:
            yield hv
        finally:
            hv.close()

    def _require(self, hv: Hypervisor, capability: Capability) -> None:
        if capability not in hv.capabilities:
            pytest.skip(f"the plug-in does not declare {capability.value}")

    def test_host_info(self, hypervisor: Hypervisor) -> None:
        check_host_info(hypervisor)

    def test_lifecycle(self, hypervisor: Hypervisor) -> None:
        check_lifecycle(hypervisor)

    def test_idempotency(self, hypervisor: Hypervisor) -> None:
        check_idempotency(hypervisor)

    def test_state_report(self, hypervisor: Hypervisor) -> None:
        check_state_report(hypervisor)

    def test_concurrent_creates(self, hypervisor: Hypervisor) -> None:
        check_concurrent_creates(hypervisor)

    def test_errors(self, hypervisor: Hypervisor) -> None:
        check_errors(hypervisor)

    def test_deadline(self, hypervisor: Hypervisor) -> None:
        check_deadline(hypervisor)

    def test_capability_declarations(self, hypervisor: Hypervisor) -> None:
        check_capability_declarations(hypervisor)

    def test_stats(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.STATS)
        check_stats(hypervisor)

    def test_checkpoints(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.CHECKPOINTS)
        check_checkpoints(hypervisor)

    def test_nics(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.NICS)
        check_nics(hypervisor)

    def test_volumes(self, hypervisor: Hypervisor, tmp_path: Path) -> None:
        self._require(hypervisor, Capability.VOLUMES)
        template = self.make_template(hypervisor, tmp_path)
        if template is None:
            pytest.skip("no template disk for this plug-in (make_template returned None)")
        check_volumes(hypervisor, template)

    def test_disks(self, hypervisor: Hypervisor, tmp_path: Path) -> None:
        self._require(hypervisor, Capability.DISKS)
        template = self.make_template(hypervisor, tmp_path)
        if template is None:
            pytest.skip("no template disk for this plug-in (make_template returned None)")
        check_disks(hypervisor, template)

    def test_scaling(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.SCALING)
        check_scaling(hypervisor)

    def test_suspend(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.SUSPEND)
        check_suspend(hypervisor)

    def test_deploy(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.DEPLOY)
        hv: Any = hypervisor
        vm = spec()
        try:
            assert hv.deploy_vm(vm).state is VmState.RUNNING
            assert hv.deploy_vm(vm).state is VmState.RUNNING, "deploying again is harmless"
            assert [v.name for v in hv.list_vms()].count(vm.name) == 1
        finally:
            hv.destroy_vm(vm.name)

    def test_console(self, hypervisor: Hypervisor) -> None:
        self._require(hypervisor, Capability.CONSOLE)
        vm = spec()
        hv: Any = hypervisor
        hv.create_vm(vm)
        try:
            info = hv.console_info(vm.name)
            assert info.host and info.port > 0 and info.protocol
        finally:
            hv.destroy_vm(vm.name)

    def test_migration(self, hypervisor: Hypervisor, tmp_path: Path) -> None:
        self._require(hypervisor, Capability.MIGRATION)
        check_migration(hypervisor, self.migration_destination(hypervisor, tmp_path))
