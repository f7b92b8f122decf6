"""Simulator specifics the conformance kit does not cover: shared state, faults, latency."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from cshyperv.errors import InsufficientResourcesError, JobFailedError, OperationTimeoutError
from cshyperv.hypervisor import VmSpec, VmState
from cshyperv.simulator import HostProfile, SimulatorHypervisor, create

GiB = 1024**3

CREATE_AND_START = """
import sys
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.hypervisor import VmSpec
hv = SimulatorHypervisor(sys.argv[1])
hv.create_vm(VmSpec(name=sys.argv[2], memory_bytes=2**30))
hv.start_vm(sys.argv[2])
"""


def test_processes_share_state_and_never_duplicate_a_vm(tmp_path: Path) -> None:
    """Eight processes creating the same VM at once (as Extensions calls do) leave one VM."""
    db = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", CREATE_AND_START, str(db), "i-2-1-VM"]) for _ in range(8)] + [
        subprocess.Popen([sys.executable, "-c", CREATE_AND_START, str(db), f"i-2-{n}-VM"]) for n in (2, 3)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 10
    vms = SimulatorHypervisor(db).list_vms()
    assert sorted(v.name for v in vms) == ["i-2-1-VM", "i-2-2-VM", "i-2-3-VM"]
    assert all(v.state is VmState.RUNNING for v in vms)


def test_memory_is_accounted_when_starting(tmp_path: Path) -> None:
    hv = SimulatorHypervisor(tmp_path / "s.db", host=HostProfile(memory_bytes=4 * GiB))
    for name in ("a", "b", "c"):
        hv.create_vm(VmSpec(name=name, memory_bytes=2 * GiB))
    hv.start_vm("a")
    hv.start_vm("b")
    with pytest.raises(InsufficientResourcesError):
        hv.start_vm("c")
    hv.stop_vm("a")
    hv.start_vm("c")


def test_injected_faults_and_latency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hv = SimulatorHypervisor(tmp_path / "s.db", faults={"start_vm": JobFailedError("injected", code=32768)})
    hv.create_vm(VmSpec(name="a"))
    with pytest.raises(JobFailedError, match="32768"):
        hv.start_vm("a")
    slow = SimulatorHypervisor(tmp_path / "s.db", latency_s=0.05)
    slept: list[float] = []
    # The injected latency is a sleep of latency_s: record it rather than time it.
    module = sys.modules[SimulatorHypervisor.__module__]
    monkeypatch.setattr(module, "time", types.SimpleNamespace(sleep=slept.append, time=time.time))
    slow.get_vm("a")
    assert slept == [0.05]
    from cshyperv import deadline

    with deadline.deadline_scope(0.01), pytest.raises(OperationTimeoutError):
        slow.get_vm("a")


def test_factory_reads_string_settings(tmp_path: Path) -> None:
    hv = create({"state": str(tmp_path / "f.db"), "host": "hv9", "cpus": "8", "memory_gb": "32", "latency_ms": "0"})
    info = hv.host_info()
    assert (info.name, info.cpus, info.memory_bytes) == ("hv9", 8, 32 * GiB)


def test_in_memory_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="database file"):
        SimulatorHypervisor(":memory:", files_root=tmp_path)


def test_add_disk_seeds_a_template_a_vm_can_use(tmp_path: Path) -> None:
    """add_disk makes a disk exist at a Windows path with its size; repeating it is harmless."""
    from cshyperv.hypervisor import DiskKind, DiskSpec

    sim = SimulatorHypervisor(tmp_path / "s.db")
    template = "D:\\Templates\\ubuntu.vhdx"
    sim.add_disk(template, 10 * 1024**3)
    sim.add_disk(template, 10 * 1024**3)
    info = sim.volume_info(template)
    assert info is not None and info.size_bytes == 10 * 1024**3
    sim.add_disk(template, 12 * 1024**3)
    assert sim.volume_info(template).size_bytes == 12 * 1024**3  # type: ignore[union-attr]
    root = DiskSpec(kind=DiskKind.ROOT, path="D:\\VMs\\a.vhdx", template_path=template)
    sim.create_vm(VmSpec(name="a", disks=(root,)))
    assert sim.get_vm("a").disks == ("D:\\VMs\\a.vhdx",)  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        sim.add_disk(template, 0)


def test_a_retried_create_is_the_same_vm_unless_the_configuration_differs(tmp_path: Path) -> None:
    """Boot arguments, user data and notes may change between CloudStack's retries; CPUs, memory,
    disks and NICs may not."""
    from cshyperv.errors import VmAlreadyExistsError
    from cshyperv.hypervisor import NicSpec

    sim = SimulatorHypervisor(tmp_path / "s.db")
    spec = VmSpec(name="a", nics=(NicSpec(mac="02:00:00:00:00:01", vlan=10),), boot_args="x=1")
    first = sim.create_vm(spec)
    import attrs

    assert sim.create_vm(attrs.evolve(spec, boot_args="x=2", user_data="u", notes="n")).uuid == first.uuid
    for changed in (
        attrs.evolve(spec, cpus=2),
        attrs.evolve(spec, memory_bytes=spec.memory_bytes * 2),
        attrs.evolve(spec, nics=(NicSpec(mac="02:00:00:00:00:01", vlan=11),)),
    ):
        with pytest.raises(VmAlreadyExistsError):
            sim.create_vm(changed)


STOP_IN_ANOTHER_PROCESS = """
import sys
from cshyperv.simulator import SimulatorHypervisor
SimulatorHypervisor(sys.argv[1]).stop_vm(sys.argv[2])
"""


def test_get_vm_sees_every_commit_since_its_last_read(tmp_path: Path) -> None:
    """get_vm answers again what it read while nothing was committed since; a commit by this
    thread, another thread or another process (an Extensions call) is seen at the next read."""
    import threading

    db = tmp_path / "s.db"
    hv = SimulatorHypervisor(db)
    hv.create_vm(VmSpec(name="a", memory_bytes=GiB))
    hv.start_vm("a")
    first = hv.get_vm("a")
    assert first is not None and first.state is VmState.RUNNING
    assert hv.get_vm("a") is first  # nothing changed: the same (frozen) answer, no query

    subprocess.run([sys.executable, "-c", STOP_IN_ANOTHER_PROCESS, str(db), "a"], check=True, timeout=60)
    after_process = hv.get_vm("a")
    assert after_process is not None and after_process.state is VmState.OFF

    other = threading.Thread(target=hv.start_vm, args=("a",))
    other.start()
    other.join()
    after_thread = hv.get_vm("a")
    assert after_thread is not None and after_thread.state is VmState.RUNNING

    hv.stop_vm("a")  # this thread's own connection: SQLite's data_version does not change
    after_own = hv.get_vm("a")
    assert after_own is not None and after_own.state is VmState.OFF
    hv.destroy_vm("a", delete_disks=True)
    assert hv.get_vm("a") is None


def test_a_rolled_back_write_is_not_what_get_vm_keeps(tmp_path: Path) -> None:
    hv = SimulatorHypervisor(tmp_path / "s.db")
    hv.create_vm(VmSpec(name="a", memory_bytes=GiB))

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), hv.store.transaction() as db:
        db.execute("UPDATE vms SET state = 'Running' WHERE name = 'a'")
        inside = hv.get_vm("a")  # this thread sees its own uncommitted change
        assert inside is not None and inside.state is VmState.RUNNING
        raise Abandon
    after = hv.get_vm("a")
    assert after is not None and after.state is VmState.OFF
