"""The conformance kit fails plug-ins that break the contract (it is a test double: it is tested)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from cshyperv.errors import InvalidVmStateError, VmAlreadyExistsError, VmNotFoundError
from cshyperv.hypervisor import Capability, Plugin, VmInfo, VmSpec, VmState
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing import conformance as kit
from tests.conftest import ROOT


class DuplicatingCreate(SimulatorHypervisor):
    """Makes a second VM when asked to create one that exists (what hyperv.py does)."""

    def create_vm(self, spec: VmSpec) -> VmInfo:
        if self.get_vm(spec.name) is not None:
            return super().create_vm(VmSpec(name=spec.name + "-dup"))
        return super().create_vm(spec)


class StopAbsentRaises(SimulatorHypervisor):
    def stop_vm(self, name: str, *, force: bool = False) -> None:
        if self.get_vm(name) is None:
            raise RuntimeError("Hyper-V was unable to find a virtual machine")
        super().stop_vm(name, force=force)


class DeclaresWhatItLacks:
    """Declares CHECKPOINTS without implementing SupportsCheckpoints."""

    name = "liar"
    capabilities = frozenset({Capability.CHECKPOINTS})


class HidesVms(SimulatorHypervisor):
    def list_vms(self) -> Sequence[VmInfo]:
        return list(super().list_vms())[1:]


def test_duplicate_create_is_caught(tmp_path: Path) -> None:
    hv = DuplicatingCreate(tmp_path / "s.db")
    with pytest.raises(AssertionError, match="same VM"):
        kit.check_idempotency(hv)


def test_failing_stop_of_absent_vm_is_caught(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        kit.check_idempotency(StopAbsentRaises(tmp_path / "s.db"))


def test_dishonest_capabilities_are_caught() -> None:
    with pytest.raises(AssertionError, match="checkpoints is declared"):
        kit.check_capability_declarations(DeclaresWhatItLacks())  # type: ignore[arg-type]


def test_incomplete_state_report_is_caught(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        kit.check_state_report(HidesVms(tmp_path / "s.db"))


def test_a_correct_plug_in_passes_the_plain_checks(tmp_path: Path) -> None:
    hv = SimulatorHypervisor(tmp_path / "s.db")
    for check in (kit.check_host_info, kit.check_lifecycle, kit.check_idempotency, kit.check_errors):
        check(hv)


# -- the eight one-bug plug-ins of issue #11: each fails the kit ------------------------------------

sys.path.insert(0, str(ROOT / "examples"))

import plugin_minimal  # noqa: E402


class SleepingCreate(plugin_minimal.MemoryHypervisor):
    """create_vm sleeps 3 s and ignores the deadline."""

    def create_vm(self, spec: VmSpec) -> VmInfo:
        time.sleep(3)
        return super().create_vm(spec)


class UndeclaredStats(plugin_minimal.MemoryHypervisor):
    """Implements SupportsStats but does not declare STATS."""

    capabilities = frozenset({Capability.CHECKPOINTS})


class UnsafeStart(plugin_minimal.MemoryHypervisor):
    """start_vm is a read-modify-write of the whole table without the lock: updates get lost."""

    def start_vm(self, name: str) -> VmInfo:
        table = dict(self._vms)
        if name not in table:
            raise VmNotFoundError(name)
        time.sleep(0.005)
        vm_spec, info = table[name]
        table[name] = (vm_spec, attrs.evolve(info, state=VmState.RUNNING))
        self._vms = table
        return table[name][1]


class PausedStopRaises(SimulatorHypervisor):
    """stop_vm of a Paused VM raises instead of turning it off."""

    def stop_vm(self, name: str, *, force: bool = False) -> None:
        vm = self.get_vm(name)
        if vm is not None and vm.state is VmState.PAUSED:
            raise InvalidVmStateError(f"VM {name!r} is Paused")
        super().stop_vm(name, force=force)


class UuidDisagrees(plugin_minimal.MemoryHypervisor):
    """get_vm reports a different uuid than list_vms."""

    def get_vm(self, name: str) -> VmInfo | None:
        info = super().get_vm(name)
        return None if info is None else attrs.evolve(info, uuid=str(uuidlib.uuid4()))


class SecondCloseRaises(plugin_minimal.MemoryHypervisor):
    closed = False

    def close(self) -> None:
        if self.closed:
            raise RuntimeError("already closed")
        self.closed = True


class PasswordInError(plugin_minimal.MemoryHypervisor):
    """Puts the VM's boot arguments (with a password) into the error of a conflicting create."""

    def create_vm(self, spec: VmSpec) -> VmInfo:
        existing = super().get_vm(spec.name)
        if existing is not None and existing.cpus != spec.cpus:
            raise VmAlreadyExistsError(spec.name, f"exists with other settings than {spec.boot_args}")
        return super().create_vm(spec)


def _correct() -> Plugin:
    return plugin_minimal.create({})


MUTANTS: list[tuple[str, Callable[[Path], Any], Callable[[Any], None], str]] = [
    (
        "sleeping create",
        lambda p: SleepingCreate(),
        lambda hv: kit.check_deadlines(hv, slack_s=0.5),
        "create_vm ignored",
    ),
    (
        "undeclared stats",
        lambda p: UndeclaredStats(),
        kit.check_capability_declarations,
        "SupportsStats is implemented",
    ),
    ("unsafe start", lambda p: UnsafeStart(), kit.check_concurrency, "not Running"),
    ("paused stop raises", lambda p: PausedStopRaises(p / "s.db"), kit.check_paused, "is Paused"),
    ("uuid disagrees", lambda p: UuidDisagrees(), kit.check_list_get_consistency, "disagree on"),
    ("no storage access", lambda p: plugin_minimal.MemoryHypervisor(), kit.check_storage, "no storage access"),
    ("second close raises", lambda p: SecondCloseRaises(), kit.check_close, "already closed"),
    ("password in error", lambda p: PasswordInError(), kit.check_secret_hygiene, "shows a secret"),
]


@pytest.mark.parametrize(("make", "check", "message"), [m[1:] for m in MUTANTS], ids=[m[0] for m in MUTANTS])
def test_each_one_bug_plugin_fails_the_kit(
    tmp_path: Path, make: Callable[[Path], Any], check: Callable[[Any], None], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        check(make(tmp_path))


@pytest.mark.parametrize(("make", "check"), [(m[1], m[2]) for m in MUTANTS], ids=[m[0] for m in MUTANTS])
def test_the_same_checks_pass_the_plugin_the_mutant_was_made_from(
    tmp_path: Path, make: Callable[[Path], Any], check: Callable[[Any], None]
) -> None:
    mutant = make(tmp_path)
    check(SimulatorHypervisor(tmp_path / "ok.db") if isinstance(mutant, SimulatorHypervisor) else _correct())


@pytest.mark.parametrize(
    "make",
    [m[1] for m in MUTANTS if m[0] != "sleeping create"],
    ids=[m[0] for m in MUTANTS if m[0] != "sleeping create"],
)
def test_the_whole_kit_fails_each_mutant(tmp_path: Path, make: Callable[[Path], Any]) -> None:
    lines: list[str] = []
    assert kit.run(make(tmp_path), out=lines.append) is False
    assert lines[-1].endswith("failed"), lines


def test_the_agent_check_catches_a_plugin_whose_stop_forgets_the_vm(tmp_path: Path) -> None:
    class StopDestroys(plugin_minimal.MemoryHypervisor):
        def stop_vm(self, name: str, *, force: bool = False) -> None:
            self.destroy_vm(name)

    with pytest.raises(AssertionError, match="keep the VM defined"):
        kit.check_agent(Plugin(StopDestroys()))


def test_the_kit_runs_without_pytest() -> None:
    """#10 item 3: the example runs its kit in an environment where pytest cannot be imported."""
    script = (
        "import runpy, sys\n"
        "sys.modules['pytest'] = None; sys.modules['_pytest'] = None\n"
        f"sys.argv = [{str(ROOT / 'examples' / 'plugin_minimal.py')!r}]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "conformant" in proc.stdout and "ModuleNotFoundError" not in proc.stderr
