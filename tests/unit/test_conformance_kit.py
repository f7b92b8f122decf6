"""The conformance kit fails plug-ins that break the contract (it is a test double: it is tested)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cshyperv.hypervisor import Capability, VmInfo, VmSpec
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing import conformance as kit


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
