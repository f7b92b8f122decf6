"""The plug-in conformance kit: what every hypervisor plug-in must do, as runnable checks.

Three ways to use it, none of which needs more than cshyperv itself:

* **one call**: :func:`run` takes your plug-in (what your factory returns: a
  :class:`~cshyperv.hypervisor.Plugin` or a bare hypervisor), runs every check that applies,
  prints one line per check and returns True when all passed -- what
  ``python examples/plugin_minimal.py`` does;
* **plain calls**: each ``check_*`` function takes a plug-in instance and raises
  ``AssertionError`` (or the plug-in's own exception) when the plug-in breaks the contract, and
  :class:`CheckSkipped` when it does not apply (a capability the plug-in does not declare);
* **pytest**: subclass :class:`HypervisorConformance` in a test module and implement
  :meth:`~HypervisorConformance.make_hypervisor`; every ``test_*`` method then runs against your
  plug-in (pytest is needed only for this, and imported only when pytest runs the class).

The contract is the one documented in :mod:`cshyperv.hypervisor` and docs/plugins.md:
idempotency, typed errors, deadlines on every blocking operation, thread safety, honest
capability declarations (both directions), list/get consistency, Paused transitions, idempotent
``close()``, no secret in an error, the storage part of the contract, and the agent's own command
handling (:func:`check_agent` drives the plug-in with :class:`~cshyperv.testing.scenario.Scenario`
through :class:`~cshyperv.resource.ServerResource`, as a management server would). Checks create
VMs named ``cs-conformance-*`` and remove them again.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from cshyperv import deadline
from cshyperv.errors import (
    CheckSkipped,
    CSHyperVError,
    HypervisorError,
    OperationTimeoutError,
    VmAlreadyExistsError,
    VmNotFoundError,
)
from cshyperv.hypervisor import (
    CAPABILITY_PROTOCOLS,
    Capability,
    DiskKind,
    DiskSpec,
    HostCapacity,
    Hypervisor,
    NicSpec,
    Plugin,
    StorageAccess,
    VmSpec,
    VmState,
    as_plugin,
)

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "CheckSkipped",
    "HypervisorConformance",
    "check_agent",
    "check_capability_declarations",
    "check_checkpoints",
    "check_close",
    "check_concurrency",
    "check_concurrent_creates",
    "check_deadline",
    "check_deadlines",
    "check_disks",
    "check_errors",
    "check_host_info",
    "check_idempotency",
    "check_lifecycle",
    "check_list_get_consistency",
    "check_migration",
    "check_nics",
    "check_paused",
    "check_scaling",
    "check_secret_hygiene",
    "check_state_report",
    "check_stats",
    "check_storage",
    "check_suspend",
    "check_volumes",
    "run",
    "spec",
]

MiB = 1024 * 1024
T = TypeVar("T")


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


def _hv(target: Plugin | Hypervisor) -> Any:
    return target.hypervisor if isinstance(target, Plugin) else target


def _state(hv: Hypervisor, name: str) -> VmState | None:
    vm = hv.get_vm(name)
    return None if vm is None else vm.state


def _require(hv: Any, capability: Capability) -> None:
    if capability not in hv.capabilities:
        raise CheckSkipped(f"the plug-in does not declare {capability.value}")


def _absent() -> str:
    return f"cs-conformance-absent-{uuidlib.uuid4().hex[:8]}"


# -- the core contract ---------------------------------------------------------------------------


def check_host_info(target: Plugin | Hypervisor) -> None:
    """host_info: positive CPUs, sockets, speed and memory; a version string; a name."""
    hv = _hv(target)
    info = hv.host_info()
    assert info.name, "host_info().name is empty"
    assert info.cpus > 0 and info.cpu_sockets > 0 and info.cpu_mhz > 0, "CPU facts must be positive"
    assert info.memory_bytes > 0, "memory_bytes must be positive"
    assert info.hypervisor_version, "hypervisor_version is empty"
    assert isinstance(hv.capabilities, frozenset), "capabilities must be a frozenset of Capability"
    assert all(isinstance(c, Capability) for c in hv.capabilities)


def check_lifecycle(target: Plugin | Hypervisor) -> None:
    """create -> Off; start -> Running; reboot keeps it Running; stop -> Off and still defined;
    start again (an Off VM starts as it is); destroy -> gone."""
    hv = _hv(target)
    vm = spec()
    created = hv.create_vm(vm)
    try:
        assert created.name == vm.name and created.state is VmState.OFF, f"a new VM must be Off, is {created.state}"
        assert hv.start_vm(vm.name).state is VmState.RUNNING
        assert _state(hv, vm.name) is VmState.RUNNING
        hv.reboot_vm(vm.name)
        assert _state(hv, vm.name) is VmState.RUNNING, "a rebooted VM must come back Running"
        hv.stop_vm(vm.name)
        assert _state(hv, vm.name) is VmState.OFF, "stop_vm must leave the VM defined and Off"
        assert hv.start_vm(vm.name).state is VmState.RUNNING, "a stopped VM must start again"
        hv.stop_vm(vm.name, force=True)
    finally:
        hv.destroy_vm(vm.name)
    assert hv.get_vm(vm.name) is None, "a destroyed VM must be gone"


def check_idempotency(target: Plugin | Hypervisor) -> None:
    """Retries are harmless: same create -> same VM; stop/destroy of absent or off VMs succeed."""
    hv = _hv(target)
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


def check_state_report(target: Plugin | Hypervisor) -> None:
    """list_vms reports every VM with its state in one call; get_vm of an absent name is None."""
    hv = _hv(target)
    specs = [spec() for _ in range(3)]
    for s in specs:
        hv.create_vm(s)
    try:
        hv.start_vm(specs[0].name)
        states = {v.name: v.state for v in hv.list_vms()}
        assert states.get(specs[0].name) is VmState.RUNNING
        assert states.get(specs[1].name) is VmState.OFF and states.get(specs[2].name) is VmState.OFF
        assert hv.get_vm(_absent()) is None
    finally:
        for s in specs:
            hv.destroy_vm(s.name)


def check_list_get_consistency(target: Plugin | Hypervisor) -> None:
    """list_vms and get_vm describe each VM the same way: name, uuid, state, CPUs, memory."""
    hv = _hv(target)
    specs = [spec(), spec(cpus=2, memory_bytes=512 * MiB)]
    for s in specs:
        hv.create_vm(s)
    try:
        hv.start_vm(specs[1].name)
        listed = {v.name: v for v in hv.list_vms()}
        for s in specs:
            assert s.name in listed, f"list_vms leaves out {s.name}"
            got = hv.get_vm(s.name)
            assert got is not None, f"get_vm({s.name!r}) is None though list_vms reports it"
            seen = listed[s.name]
            for field in ("name", "uuid", "state", "cpus", "memory_bytes"):
                a, b = getattr(seen, field), getattr(got, field)
                assert a == b, f"list_vms and get_vm disagree on {s.name}'s {field}: {a!r} != {b!r}"
            assert got.uuid, f"{s.name} has no uuid (CloudStack needs the hypervisor's VM id)"
    finally:
        for s in specs:
            hv.destroy_vm(s.name)


def _parallel(calls: Sequence[Callable[[], object]], timeout_s: float = 120.0) -> list[BaseException]:
    """Run ``calls`` in threads released together; the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout_s)
            call()
        except BaseException as exc:  # collected and reported by the caller
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(c,), daemon=True) for c in calls]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout_s)
    if any(w.is_alive() for w in workers):
        errors.append(AssertionError(f"concurrent calls still running after {timeout_s:.0f} s (a deadlock?)"))
    return errors


def check_concurrent_creates(target: Plugin | Hypervisor, threads: int = 20) -> None:
    """Concurrent creates: of one name -> one VM; of distinct names -> one VM each."""
    hv = _hv(target)
    same = spec()
    distinct = [spec() for _ in range(threads)]
    errors = _parallel([functools.partial(hv.create_vm, s) for s in [same] * threads + distinct])
    try:
        assert not errors, f"concurrent creates failed: {errors[:3]!r}"
        names = [v.name for v in hv.list_vms()]
        assert names.count(same.name) == 1, f"{names.count(same.name)} VMs named {same.name}"
        assert all(names.count(s.name) == 1 for s in distinct)
    finally:
        for s in [same, *distinct]:
            hv.destroy_vm(s.name)


def check_concurrency(target: Plugin | Hypervisor, vms: int = 8) -> None:
    """start_vm, stop_vm and destroy_vm are thread-safe: called at once on distinct VMs (and
    repeatedly on one), each call's effect is there afterwards and none fails."""
    hv = _hv(target)
    specs = [spec() for _ in range(vms)]
    for s in specs:
        hv.create_vm(s)
    try:
        rounds: list[tuple[str, Callable[[str], object], VmState]] = [
            ("start_vm", hv.start_vm, VmState.RUNNING),
            ("stop_vm", lambda name: hv.stop_vm(name, force=True), VmState.OFF),
            ("start_vm", hv.start_vm, VmState.RUNNING),
        ]
        for verb, call, expected in rounds:
            names = [s.name for s in specs] + [specs[0].name] * 3
            errors = _parallel([functools.partial(call, n) for n in names])
            assert not errors, f"concurrent {verb} calls failed: {errors[:3]!r}"
            wrong = {s.name: _state(hv, s.name) for s in specs if _state(hv, s.name) is not expected}
            assert not wrong, f"after concurrent {verb} calls these VMs are not {expected.value}: {wrong}"
        names = [s.name for s in specs] + [specs[0].name]
        errors = _parallel([functools.partial(hv.destroy_vm, n) for n in names])
        assert not errors, f"concurrent destroy_vm calls failed: {errors[:3]!r}"
        left = [v.name for v in hv.list_vms() if v.name in {s.name for s in specs}]
        assert not left, f"after concurrent destroy_vm calls these VMs are still listed: {left}"
    finally:
        for s in specs:
            hv.destroy_vm(s.name)


def check_errors(target: Plugin | Hypervisor) -> None:
    """Operations on an absent VM raise VmNotFoundError (a HypervisorError and a LookupError)."""
    hv = _hv(target)
    absent = _absent()
    for operation in (hv.start_vm, hv.reboot_vm):
        try:
            operation(absent)
        except VmNotFoundError as exc:
            assert isinstance(exc, HypervisorError) and isinstance(exc, LookupError)
        else:
            raise AssertionError(f"{operation.__name__} of an absent VM must raise VmNotFoundError")


def _within_deadline(name: str, call: Callable[[], object], budget_s: float, slack_s: float) -> None:
    """``call()`` under a deadline of ``budget_s`` returns (or raises a HypervisorError) within
    ``budget_s + slack_s``; a call still running then has ignored its deadline."""
    outcome: list[BaseException] = []

    def run() -> None:
        with deadline.deadline_scope(budget_s):
            try:
                call()
            except HypervisorError:
                pass  # a timeout, or the operation refused: both are answers in time
            except BaseException as exc:  # reported below
                outcome.append(exc)

    worker = threading.Thread(target=run, name=f"cs-conformance-{name}", daemon=True)
    worker.start()
    worker.join(budget_s + slack_s)
    if worker.is_alive():
        raise AssertionError(
            f"{name} ignored its deadline: still running {budget_s + slack_s:.1f} s into a {budget_s:.2f} s deadline"
        )
    if outcome:
        raise AssertionError(f"{name} under a deadline raised {type(outcome[0]).__name__}, not a HypervisorError")


def check_deadlines(target: Plugin | Hypervisor, budget_s: float = 0.05, slack_s: float = 2.0) -> None:
    """Every blocking operation honours the current deadline (:mod:`cshyperv.deadline`): under a
    deadline about to pass it returns or raises OperationTimeoutError at once, never blocking
    past it by more than ``slack_s`` (one network round trip)."""
    hv = _hv(target)
    vm, other, third = spec(), spec(), spec()
    hv.create_vm(vm)
    caps = hv.capabilities

    def timed(name: str, call: Callable[[], object]) -> None:
        _within_deadline(name, call, budget_s, slack_s)

    try:
        timed("host_info", hv.host_info)
        timed("list_vms", hv.list_vms)
        timed("get_vm", lambda: hv.get_vm(vm.name))
        timed("create_vm", lambda: hv.create_vm(other))
        timed("start_vm", lambda: hv.start_vm(vm.name))
        timed("reboot_vm", lambda: hv.reboot_vm(vm.name))
        if Capability.STATS in caps:
            timed("vm_stats", lambda: hv.vm_stats([vm.name]))
            timed("host_stats", hv.host_stats)
        if Capability.CHECKPOINTS in caps:
            timed("create_checkpoint", lambda: hv.create_checkpoint(vm.name, "cp-deadline"))
            timed("list_checkpoints", lambda: hv.list_checkpoints(vm.name))
        if Capability.SUSPEND in caps:
            timed("suspend_vm", lambda: hv.suspend_vm(vm.name))
            timed("resume_vm", lambda: hv.resume_vm(vm.name))
        if Capability.CONSOLE in caps:
            timed("console_info", lambda: hv.console_info(vm.name))
        if Capability.NICS in caps:
            timed("add_nic", lambda: hv.add_nic(vm.name, NicSpec(mac="02:00:00:00:dd:01")))
        if Capability.SCALING in caps:
            timed("scale_vm", lambda: hv.scale_vm(vm.name, memory_bytes=512 * MiB))
        if Capability.DEPLOY in caps:
            timed("deploy_vm", lambda: hv.deploy_vm(third))
        timed("stop_vm", lambda: hv.stop_vm(vm.name, force=True))
        timed("destroy_vm", lambda: hv.destroy_vm(vm.name))
    finally:
        for s in (vm, other, third):
            with contextlib.suppress(Exception):
                hv.destroy_vm(s.name)


def check_deadline(target: Plugin | Hypervisor, slack_s: float = 2.0) -> None:
    """A list_vms under a deadline that has passed returns or raises OperationTimeoutError,
    nothing else (see :func:`check_deadlines` for every other operation; ``slack_s`` is unused
    here and kept for callers that pass it)."""
    hv = _hv(target)
    with deadline.deadline_scope(0.001), contextlib.suppress(OperationTimeoutError):
        time.sleep(0.005)
        hv.list_vms()


def check_close(target: Plugin | Hypervisor) -> None:
    """close() may be called twice (frontends close on every way out). Run it last: the
    instance is not used afterwards."""
    hv = _hv(target)
    hv.close()
    hv.close()


def _leaks(exc: BaseException, secrets: Sequence[str]) -> str | None:
    texts = [str(exc), repr(exc), *(str(a) for a in exc.args)]
    for secret in secrets:
        if any(secret in text for text in texts):
            return secret
    return None


def check_secret_hygiene(target: Plugin | Hypervisor, secrets: Sequence[str] = ()) -> None:
    """No secret in an error: failures of operations whose input holds passwords (boot arguments,
    user data, a credential-bearing template URL) say what failed without repeating them.

    ``secrets`` adds your own (the host password your factory was given): none may appear in any
    error the check provokes either.
    """
    hv = _hv(target)
    secret = f"cs-conformance-secret-{uuidlib.uuid4().hex[:12]}"
    known = [secret, *secrets]
    vm = spec(boot_args=f"password={secret}", user_data=f"#cloud-config\npassword: {secret}\n")
    provoked: list[tuple[str, Callable[[], object]]] = [
        ("create_vm of a different spec under a taken name", lambda: hv.create_vm(attrs.evolve(vm, cpus=vm.cpus + 1))),
        ("start_vm of an absent VM", lambda: hv.start_vm(_absent())),
        ("reboot_vm of an absent VM", lambda: hv.reboot_vm(_absent())),
    ]
    if Capability.DISKS in hv.capabilities:
        missing = f"cifs://admin:{secret}@cs-conformance.invalid/templates/absent.vhdx"
        root = DiskSpec(kind=DiskKind.ROOT, path="\\\\cs-conformance.invalid\\vms\\r.vhdx", template_path=missing)
        provoked.append(("create_vm from a missing template", lambda: hv.create_vm(spec(disks=(root,)))))
    hv.create_vm(vm)
    try:
        for what, call in provoked:
            try:
                call()
            except Exception as exc:
                leaked = _leaks(exc, known)
                assert leaked is None, f"the error of {what} shows a secret: {type(exc).__name__}"
    finally:
        hv.destroy_vm(vm.name)


# -- optional features -----------------------------------------------------------------------------


def check_capability_declarations(target: Plugin | Hypervisor) -> None:
    """Declarations are honest both ways: every declared capability comes with the protocol that
    provides it, and every protocol implemented is declared (an undeclared feature is never
    offered to CloudStack, so it is dead code or a forgotten declaration)."""
    hv = _hv(target)
    declared = hv.capabilities
    for capability in declared:
        protocol = CAPABILITY_PROTOCOLS[capability]
        assert isinstance(hv, protocol), f"{capability.value} is declared but {protocol.__name__} is not implemented"
    for capability, protocol in CAPABILITY_PROTOCOLS.items():
        shared = [c for c, p in CAPABILITY_PROTOCOLS.items() if p is protocol]
        if isinstance(hv, protocol) and not any(c in declared for c in shared):
            raise AssertionError(
                f"{protocol.__name__} is implemented but {capability.value} is not declared in capabilities"
            )


def check_stats(target: Plugin | Hypervisor) -> None:
    """vm_stats covers existing VMs only; host_stats is sane."""
    hv = _hv(target)
    _require(hv, Capability.STATS)
    vm = spec()
    hv.create_vm(vm)
    try:
        hv.start_vm(vm.name)
        stats = hv.vm_stats([vm.name, _absent()])
        assert set(stats) == {vm.name}, "vm_stats must leave absent VMs out"
        assert stats[vm.name].cpu_percent >= 0 and stats[vm.name].cpus >= 1
        host = hv.host_stats()
        assert host.memory_total_bytes >= host.memory_free_bytes >= 0 and host.cpu_percent >= 0
    finally:
        hv.destroy_vm(vm.name)


def check_checkpoints(target: Plugin | Hypervisor) -> None:
    """create (idempotent) / list (empty for none) / revert / restore (RESTORE) / delete (absent is fine)."""
    hv = _hv(target)
    _require(hv, Capability.CHECKPOINTS)
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
        if Capability.RESTORE in hv.capabilities:
            hv.start_vm(vm.name)
            restored = hv.restore_checkpoint(vm.name, "cp1")
            assert restored.state is VmState.RUNNING, "restore_checkpoint must leave a running VM running"
        hv.delete_checkpoint(vm.name, "cp2")
        hv.delete_checkpoint(vm.name, "cp2")
        assert [c.name for c in hv.list_checkpoints(vm.name)] == ["cp1"]
    finally:
        hv.destroy_vm(vm.name)


def check_nics(target: Plugin | Hypervisor) -> None:
    """add (idempotent), VLAN change, remove (absent is fine)."""
    hv = _hv(target)
    _require(hv, Capability.NICS)
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


def check_volumes(target: Plugin | Hypervisor, template: str) -> None:
    """create (idempotent), clone (grows), resize, info, delete (absent is fine)."""
    hv = _hv(target)
    _require(hv, Capability.VOLUMES)
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


def check_disks(target: Plugin | Hypervisor, template: str) -> None:
    """A VM built from a template; data disk attach/detach, both idempotent."""
    hv = _hv(target)
    _require(hv, Capability.DISKS)
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


def check_scaling(target: Plugin | Hypervisor) -> None:
    hv = _hv(target)
    _require(hv, Capability.SCALING)
    vm = spec()
    hv.create_vm(vm)
    try:
        scaled = hv.scale_vm(vm.name, cpus=2, memory_bytes=512 * MiB)
        assert scaled.cpus == 2 and scaled.memory_bytes == 512 * MiB
    finally:
        hv.destroy_vm(vm.name)


def check_suspend(target: Plugin | Hypervisor) -> None:
    hv = _hv(target)
    _require(hv, Capability.SUSPEND)
    vm = spec()
    hv.create_vm(vm)
    try:
        hv.start_vm(vm.name)
        assert hv.suspend_vm(vm.name).state is VmState.PAUSED
        assert hv.suspend_vm(vm.name).state is VmState.PAUSED
        assert hv.resume_vm(vm.name).state is VmState.RUNNING
    finally:
        hv.destroy_vm(vm.name)


def check_paused(target: Plugin | Hypervisor) -> None:
    """A Paused VM is reported Paused by list and get, and stop_vm, start_vm and destroy_vm all
    work on it (CloudStack stops or starts VMs in whatever state it finds them)."""
    hv = _hv(target)
    _require(hv, Capability.SUSPEND)
    vm = spec()
    hv.create_vm(vm)
    try:
        hv.start_vm(vm.name)
        hv.suspend_vm(vm.name)
        assert _state(hv, vm.name) is VmState.PAUSED, "get_vm must report a suspended VM as Paused"
        assert {v.name: v.state for v in hv.list_vms()}.get(vm.name) is VmState.PAUSED
        hv.stop_vm(vm.name)
        assert _state(hv, vm.name) is VmState.OFF, "stop_vm of a Paused VM must turn it Off"
        hv.start_vm(vm.name)
        hv.suspend_vm(vm.name)
        assert hv.start_vm(vm.name).state is VmState.RUNNING, "start_vm of a Paused VM must make it Running"
        hv.suspend_vm(vm.name)
        hv.destroy_vm(vm.name)
        assert hv.get_vm(vm.name) is None, "destroy_vm of a Paused VM must remove it"
    finally:
        hv.destroy_vm(vm.name)


def check_migration(target: Plugin | Hypervisor, destination: str | None) -> None:
    """Migration to an unknown host fails with a HypervisorError; to ``destination`` it moves."""
    hv = _hv(target)
    _require(hv, Capability.MIGRATION)
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


# -- the storage part and the agent -----------------------------------------------------------------


def check_storage(target: Plugin | Hypervisor) -> None:
    """The plug-in gives the agent a storage access (a :class:`Plugin` with ``storage``, or a
    ``storage_access()`` method) whose ``locate`` answers UNC paths, drive paths and storage URLs
    with (adaptor, path) or a typed cshyperv error, never a foreign exception; a host capacity,
    if offered, implements :class:`HostCapacity`."""
    plugin = as_plugin(target)
    assert plugin.storage is not None, (
        "the plug-in offers no storage access: the agent cannot serve it (return "
        "Plugin(hypervisor, storage=...) from the factory, or give the hypervisor a storage_access() method)"
    )
    assert isinstance(plugin.storage, StorageAccess), "the storage access has no locate(location) method"
    locations = (
        "\\\\cs-conformance.invalid\\share\\dir\\disk.vhdx",
        "C:\\cs-conformance\\disk.vhdx",
        "nfs://cs-conformance.invalid/export/dir",
        "not a location",
        "",
    )
    for location in locations:
        try:
            found = plugin.storage.locate(location)
        except CSHyperVError:
            continue
        except Exception as exc:
            raise AssertionError(f"locate({location!r}) raised {type(exc).__name__}, not a cshyperv error") from exc
        assert isinstance(found, tuple) and len(found) == 2 and isinstance(found[1], str), (
            f"locate({location!r}) must return (adaptor, path)"
        )
    if plugin.host_capacity is not None:
        assert isinstance(plugin.host_capacity, HostCapacity), "host_capacity has no path_capacity(path) method"


def check_agent(target: Plugin | Hypervisor, *, root_volume: str | None = None) -> None:
    """The plug-in behind the agent's own command handling, as a management server drives it:
    Ready, Startup, Start (and its retry), the state report, ping, CheckVirtualMachine, VM stats
    and a VM snapshot (answered by what the plug-in declares), Stop (the VM stays defined), Stop
    with expunge (it is gone).

    ``root_volume`` is the file name of an existing disk on the scenario's primary pool
    (``\\\\fileserver.lab\\primary``) to boot from; without it the VM has no disks.
    """
    from cshyperv.commands import PowerState
    from cshyperv.resource import ServerResource
    from cshyperv.testing.scenario import Scenario

    plugin = as_plugin(target)
    hv = plugin.hypervisor
    name = f"cs-conformance-{uuidlib.uuid4().hex[:10]}"
    scenario = Scenario(vm_name=name, vm_uuid=str(uuidlib.uuid4()))
    # A plug-in's close() belongs to whoever made it, not to this check: no ServerResource.close().
    agent = ServerResource(Plugin(hv, storage=plugin.storage, host_capacity=plugin.host_capacity))

    def ok(answer: Any, what: str) -> Any:
        assert answer.result, f"{what} failed: {answer.details}"
        return answer

    start = scenario.start(root_volume or "none.vhdx")
    if root_volume is None:
        assert start.vm is not None
        drives = [d for d in start.vm.disks or () if d.data is None]  # the empty DVD drive only
        start = attrs.evolve(start, vm=attrs.evolve(start.vm, disks=drives))
    try:
        ok(agent.execute(scenario.ready()), "ReadyCommand")
        routing = agent.startup(scenario.startup())[0]
        assert getattr(routing, "cpus", 0) > 0 and getattr(routing, "memory", 0) > 0, "startup reports no CPUs/memory"
        ok(agent.execute(start), "StartCommand")
        ok(agent.execute(start), "a retried StartCommand")
        assert [v.name for v in hv.list_vms()].count(name) == 1, "a retried StartCommand made a second VM"
        states = agent.host_vm_states()
        assert states.get(name) is PowerState.PowerOn, f"the state report says {states.get(name)} for a started VM"
        ok(agent.execute(scenario.ping(states)), "PingRoutingCommand")
        assert ok(agent.execute(scenario.check_vm()), "CheckVirtualMachineCommand").state is PowerState.PowerOn
        stats: Any = agent.execute(scenario.vm_stats())
        assert stats.result is (Capability.STATS in hv.capabilities), f"GetVmStatsCommand: {stats.details}"
        if stats.result:
            assert name in (stats.vm_stats_map or {}), "GetVmStatsAnswer leaves out the running VM"
        snapshot = agent.execute(scenario.snapshot(root_volume or "none.vhdx"))
        declared = Capability.CHECKPOINTS in hv.capabilities
        assert snapshot.result is declared, f"CreateVMSnapshotCommand: {snapshot.details}"
        ok(agent.execute(scenario.stop()), "StopCommand")
        assert ok(agent.execute(scenario.check_vm()), "CheckVirtualMachineCommand").state is PowerState.PowerOff
        assert hv.get_vm(name) is not None, "StopCommand must keep the VM defined"
        ok(agent.execute(attrs.evolve(scenario.stop(), expunge_vm=True)), "StopCommand with expungeVM")
        assert hv.get_vm(name) is None, "StopCommand with expungeVM must remove the VM"
    finally:
        with contextlib.suppress(Exception):
            hv.destroy_vm(name)


# -- one call ------------------------------------------------------------------------------------------


def run(
    target: Plugin | Hypervisor,
    *,
    template: str | None = None,
    migration_destination: str | None = None,
    root_volume: str | None = None,
    secrets: Sequence[str] = (),
    out: Callable[[str], object] = print,
) -> bool:
    """Run every check that applies against ``target``, one line each; True when none failed.

    ``target`` is closed at the end (the last check is :func:`check_close`). ``template`` (a disk
    the plug-in can clone) enables the volume and disk checks; ``secrets`` are passwords your
    factory was given, which no error may show.
    """
    checks: list[tuple[str, Callable[[], object]]] = [
        ("host_info", lambda: check_host_info(target)),
        ("lifecycle", lambda: check_lifecycle(target)),
        ("idempotency", lambda: check_idempotency(target)),
        ("state_report", lambda: check_state_report(target)),
        ("list_get_consistency", lambda: check_list_get_consistency(target)),
        ("concurrent_creates", lambda: check_concurrent_creates(target)),
        ("concurrency", lambda: check_concurrency(target)),
        ("errors", lambda: check_errors(target)),
        ("deadlines", lambda: check_deadlines(target)),
        ("capability_declarations", lambda: check_capability_declarations(target)),
        ("secret_hygiene", lambda: check_secret_hygiene(target, secrets)),
        ("stats", lambda: check_stats(target)),
        ("checkpoints", lambda: check_checkpoints(target)),
        ("nics", lambda: check_nics(target)),
        ("scaling", lambda: check_scaling(target)),
        ("suspend", lambda: check_suspend(target)),
        ("paused", lambda: check_paused(target)),
        ("migration", lambda: check_migration(target, migration_destination)),
        ("storage", lambda: check_storage(target)),
        ("agent", lambda: check_agent(target, root_volume=root_volume)),
    ]
    if template is not None:
        checks.insert(-2, ("volumes", lambda: check_volumes(target, template)))
        checks.insert(-2, ("disks", lambda: check_disks(target, template)))
    checks.append(("close", lambda: check_close(target)))
    failed = 0
    for name, check in checks:
        started = time.perf_counter()
        try:
            check()
            outcome = "ok"
        except CheckSkipped as skip:
            outcome = f"skipped: {skip}"
        except Exception as exc:
            failed += 1
            outcome = f"FAIL: {type(exc).__name__}: {exc}"
        out(f"{name:26} {(time.perf_counter() - started) * 1000:8.1f} ms  {outcome}")
    out("conformant" if not failed else f"{failed} check(s) failed")
    return not failed


# -- pytest mixin -------------------------------------------------------------------------------------


def _fixture(function: Callable[..., T]) -> Callable[..., T]:
    """pytest's fixture decorator when pytest is importable; the plain function otherwise (so
    this module imports, and its checks run, without pytest)."""
    try:
        import pytest
    except ImportError:
        return function
    return pytest.fixture(function)


def _run(check: Callable[[], object]) -> None:
    try:
        check()
    except CheckSkipped as skip:
        import pytest

        pytest.skip(str(skip))


class HypervisorConformance:
    """Subclass this in a test module and implement :meth:`make_hypervisor`."""

    def make_hypervisor(self, tmp_path: Path) -> Hypervisor | Plugin:
        """The plug-in to test: what your factory returns (a Plugin or a bare hypervisor)."""
        raise NotImplementedError("return the plug-in instance to test")

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str | None:
        """A template disk path usable as DiskSpec.template_path, or None to skip disk checks."""
        return None

    def migration_destination(self, hypervisor: Hypervisor, tmp_path: Path) -> str | None:
        """A host this plug-in can migrate to, or None to check only the failure case."""
        return None

    def root_volume(self, hypervisor: Hypervisor, tmp_path: Path) -> str | None:
        """A disk file on ``\\\\fileserver.lab\\primary`` the agent check boots from, or None."""
        return None

    def secrets(self) -> Sequence[str]:
        """Passwords your plug-in was given, which no error may show."""
        return ()

    @_fixture
    def plugin(self, tmp_path: Path) -> Iterator[Plugin]:
        made = as_plugin(self.make_hypervisor(tmp_path))
        try:
            yield made
        finally:
            made.close()

    @_fixture
    def hypervisor(self, plugin: Plugin) -> Hypervisor:
        return plugin.hypervisor

    def test_host_info(self, hypervisor: Hypervisor) -> None:
        check_host_info(hypervisor)

    def test_lifecycle(self, hypervisor: Hypervisor) -> None:
        check_lifecycle(hypervisor)

    def test_idempotency(self, hypervisor: Hypervisor) -> None:
        check_idempotency(hypervisor)

    def test_state_report(self, hypervisor: Hypervisor) -> None:
        check_state_report(hypervisor)

    def test_list_get_consistency(self, hypervisor: Hypervisor) -> None:
        check_list_get_consistency(hypervisor)

    def test_concurrent_creates(self, hypervisor: Hypervisor) -> None:
        check_concurrent_creates(hypervisor)

    def test_concurrency(self, hypervisor: Hypervisor) -> None:
        check_concurrency(hypervisor)

    def test_errors(self, hypervisor: Hypervisor) -> None:
        check_errors(hypervisor)

    def test_deadline(self, hypervisor: Hypervisor) -> None:
        check_deadline(hypervisor)

    def test_deadlines(self, hypervisor: Hypervisor) -> None:
        check_deadlines(hypervisor)

    def test_capability_declarations(self, hypervisor: Hypervisor) -> None:
        check_capability_declarations(hypervisor)

    def test_secret_hygiene(self, hypervisor: Hypervisor) -> None:
        check_secret_hygiene(hypervisor, self.secrets())

    def test_close(self, hypervisor: Hypervisor) -> None:
        check_close(hypervisor)

    def test_storage(self, plugin: Plugin) -> None:
        check_storage(plugin)

    def test_agent(self, plugin: Plugin, tmp_path: Path) -> None:
        check_agent(plugin, root_volume=self.root_volume(plugin.hypervisor, tmp_path))

    def test_stats(self, hypervisor: Hypervisor) -> None:
        _run(lambda: check_stats(hypervisor))

    def test_checkpoints(self, hypervisor: Hypervisor) -> None:
        _run(lambda: check_checkpoints(hypervisor))

    def test_nics(self, hypervisor: Hypervisor) -> None:
        _run(lambda: check_nics(hypervisor))

    def test_volumes(self, hypervisor: Hypervisor, tmp_path: Path) -> None:
        def check() -> None:
            _require(hypervisor, Capability.VOLUMES)
            template = self.make_template(hypervisor, tmp_path)
            if template is None:
                raise CheckSkipped("no template disk for this plug-in (make_template returned None)")
            check_volumes(hypervisor, template)

        _run(check)

    def test_disks(self, hypervisor: Hypervisor, tmp_path: Path) -> None:
        def check() -> None:
            _require(hypervisor, Capability.DISKS)
            template = self.make_template(hypervisor, tmp_path)
            if template is None:
                raise CheckSkipped("no template disk for this plug-in (make_template returned None)")
            check_disks(hypervisor, template)

        _run(check)

    def test_scaling(self, hypervisor: Hypervisor) -> None:
        _run(lambda: check_scaling(hypervisor))

    def test_suspend(self, hypervisor: Hypervisor) -> None:
        _run(lambda: check_suspend(hypervisor))

    def test_paused(self, hypervisor: Hypervisor) -> None:
        _run(lambda: check_paused(hypervisor))

    def test_deploy(self, hypervisor: Hypervisor) -> None:
        def check() -> None:
            _require(hypervisor, Capability.DEPLOY)
            hv: Any = hypervisor
            vm = spec()
            try:
                assert hv.deploy_vm(vm).state is VmState.RUNNING
                assert hv.deploy_vm(vm).state is VmState.RUNNING, "deploying again is harmless"
                assert [v.name for v in hv.list_vms()].count(vm.name) == 1
            finally:
                hv.destroy_vm(vm.name)

        _run(check)

    def test_console(self, hypervisor: Hypervisor) -> None:
        def check() -> None:
            _require(hypervisor, Capability.CONSOLE)
            vm = spec()
            hv: Any = hypervisor
            hv.create_vm(vm)
            try:
                info = hv.console_info(vm.name)
                assert info.host and info.port > 0 and info.protocol
            finally:
                hv.destroy_vm(vm.name)

        _run(check)

    def test_migration(self, hypervisor: Hypervisor, tmp_path: Path) -> None:
        _run(lambda: check_migration(hypervisor, self.migration_destination(hypervisor, tmp_path)))
