"""The operations layer: deploy rules, capability gates, retries, and the one exception boundary."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cshyperv.commands import ReadyCommand, StartCommand
from cshyperv.errors import (
    HypervisorConnectionError,
    InsufficientResourcesError,
    PluginFailedError,
    UnsupportedOperationError,
)
from cshyperv.hypervisor import Capability, DiskKind, DiskSpec, Plugin, VmSpec, VmState
from cshyperv.operations import Operations
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.scenario import Scenario

GiB = 1024**3


def _sim(tmp_path: Path, **kwargs: object) -> SimulatorHypervisor:
    return SimulatorHypervisor(tmp_path / "s.db", **kwargs)  # type: ignore[arg-type]


def test_a_failed_first_start_removes_the_vm_and_the_disks_its_create_made(tmp_path: Path) -> None:
    sim = _sim(tmp_path, faults={"start_vm": InsufficientResourcesError("no memory")})
    sim.add_disk("D:\\T\\t.vhdx", GiB)
    root = DiskSpec(kind=DiskKind.ROOT, path="D:\\VMs\\a.vhdx", template_path="D:\\T\\t.vhdx")
    with pytest.raises(InsufficientResourcesError):
        Operations(sim).deploy(VmSpec(name="a", disks=(root,)))
    assert sim.get_vm("a") is None
    assert sim.volume_info("D:\\VMs\\a.vhdx") is None, "the clone the create made is removed"
    assert sim.volume_info("D:\\T\\t.vhdx") is not None, "the template is not"


def test_a_failed_start_keeps_volumes_the_vm_did_not_make(tmp_path: Path) -> None:
    sim = _sim(tmp_path, faults={"start_vm": InsufficientResourcesError("no memory")})
    sim.add_disk("\\\\fs\\primary\\vol.vhdx", GiB)
    root = DiskSpec(kind=DiskKind.ROOT, path="\\\\fs\\primary\\vol.vhdx")
    with pytest.raises(InsufficientResourcesError):
        Operations(sim).deploy(VmSpec(name="a", disks=(root,)))
    assert sim.get_vm("a") is None
    assert sim.volume_info("\\\\fs\\primary\\vol.vhdx") is not None, "CloudStack's volume stays"


def test_a_failed_start_of_an_existing_vm_leaves_it_defined(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    sim.create_vm(VmSpec(name="a"))
    sim._faults = lambda op, args: InsufficientResourcesError("no memory") if op == "start_vm" else None
    with pytest.raises(InsufficientResourcesError):
        Operations(sim).deploy(VmSpec(name="a"))
    assert sim.get_vm("a") is not None


def test_an_off_vm_whose_spec_changed_is_redefined_and_started(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    sim.create_vm(VmSpec(name="a", cpus=1))
    info = Operations(sim).deploy(VmSpec(name="a", cpus=2))
    assert info.state is VmState.RUNNING and info.cpus == 2


def test_a_running_vm_is_left_as_it_is_by_a_retried_deploy(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    ops = Operations(sim)
    first = ops.deploy(VmSpec(name="a", cpus=1))
    again = ops.deploy(VmSpec(name="a", cpus=2))
    assert again.uuid == first.uuid and again.cpus == 1 and again.state is VmState.RUNNING


def test_undeclared_capabilities_are_refused_before_the_plugin_is_called(tmp_path: Path) -> None:
    calls: list[str] = []

    class NoStats(SimulatorHypervisor):
        capabilities = frozenset({Capability.CHECKPOINTS})

    hv = NoStats(tmp_path / "s.db", faults=lambda op, args: calls.append(op))  # type: ignore[arg-type,func-returns-value]
    with pytest.raises(UnsupportedOperationError, match="does not support stats"):
        Operations(hv).vm_stats(["a"])
    assert calls == []


def test_reads_are_retried_once_after_a_lost_connection(tmp_path: Path) -> None:
    failures = [HypervisorConnectionError("reset")]
    sim = _sim(tmp_path, faults=lambda op, args: failures.pop() if op == "list_vms" and failures else None)
    assert Operations(sim).vms() == []


def test_changes_are_not_retried(tmp_path: Path) -> None:
    failures = [HypervisorConnectionError("reset")]
    sim = _sim(tmp_path, faults=lambda op, args: failures.pop() if op == "create_vm" and failures else None)
    with pytest.raises(HypervisorConnectionError):
        Operations(sim).create(VmSpec(name="a"))


def test_a_plugin_bug_is_logged_once_with_its_traceback_and_answered_by_class_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A KeyError inside the plug-in: one ERROR record with the traceback (password redacted),
    a failed Answer that names only the class, and no second record from the dispatcher."""

    def fault(op: str, args: tuple[object, ...]) -> BaseException | None:
        if op == "host_info":
            raise KeyError("cifs://u:S3cretPW@fs/share")
        return None

    sim = _sim(tmp_path, faults=fault)
    resource = ServerResource(sim, sim.storage_access())
    with caplog.at_level(logging.DEBUG, logger="cshyperv"):
        answer = resource.execute(ReadyCommand())
    assert not answer.result and "internal error (KeyError)" in (answer.details or "")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].name == "cshyperv.operations"
    text = errors[0].getMessage()
    assert "Traceback" in text and "KeyError" in text and "S3cretPW" not in text


def test_plugin_failures_are_typed() -> None:
    class Broken:
        name = "broken"
        capabilities: frozenset[Capability] = frozenset()

        def list_vms(self) -> list[object]:
            return [1][2:][0]  # type: ignore[no-any-return]

    with pytest.raises(PluginFailedError) as info:
        Operations(Plugin(Broken())).vms()  # type: ignore[arg-type]
    assert info.value.cause_type == "IndexError" and isinstance(info.value.__cause__, IndexError)


def test_a_plugin_without_storage_access_answers_storage_commands_unsupported(tmp_path: Path) -> None:
    sim = _sim(tmp_path)
    ops = Operations(Plugin(sim))
    with pytest.raises(UnsupportedOperationError, match="no storage access"):
        ops.locate("\\\\fs\\share\\x")


def test_start_answer_echoes_the_vm(tmp_path: Path) -> None:
    scenario = Scenario()
    sim = _sim(tmp_path)
    sim.add_disk("\\\\fileserver.lab\\primary\\root.vhdx", GiB)
    resource = ServerResource(sim, sim.storage_access())
    command: StartCommand = scenario.start("root.vhdx")
    answer = resource.execute(command)
    assert answer.result, answer.details
    assert sim.get_vm(scenario.vm_name).state is VmState.RUNNING  # type: ignore[union-attr]
