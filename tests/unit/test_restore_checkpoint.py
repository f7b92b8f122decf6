"""A revert that keeps a running VM running: one plug-in call (RESTORE), the same result everywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from cshyperv.errors import CheckpointNotFoundError
from cshyperv.hyperv.plugin import HyperVHypervisor
from cshyperv.hyperv.scripts import operation_of
from cshyperv.hypervisor import Capability, Hypervisor, VmInfo, VmSpec, VmState, supports
from cshyperv.operations import Operations
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing import conformance as kit
from cshyperv.testing.hyperv_host import SimulatedHyperVHost


class CountingHost:
    """The simulated Hyper-V host, recording each invocation (operation and parameters)."""

    def __init__(self, sim: SimulatorHypervisor) -> None:
        self.host = SimulatedHyperVHost(sim)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, script: str, params: Mapping[str, Any]) -> Any:
        self.calls.append((operation_of(script), dict(params)))
        return self.host.invoke(script, params)

    def close(self) -> None:
        self.host.close()


class WithoutRestore(HyperVHypervisor):
    """A plug-in that offers checkpoints but not RESTORE (as a third-party one may)."""

    capabilities = frozenset(Capability) - {Capability.RESTORE}


def _simulator(sim: SimulatorHypervisor) -> Hypervisor:
    return sim


def _hyperv(sim: SimulatorHypervisor) -> Hypervisor:
    return HyperVHypervisor(SimulatedHyperVHost(sim))


PLUGINS: dict[str, Callable[[SimulatorHypervisor], Hypervisor]] = {"simulator": _simulator, "hyperv": _hyperv}


def _vm_with_checkpoint(sim: SimulatorHypervisor, hv: Hypervisor, *, running: bool) -> None:
    sim.create_vm(VmSpec(name="a"))
    sim.start_vm("a")
    # A checkpoint without memory (a production one): Hyper-V brings the VM back Off.
    sim.create_checkpoint("a", "cp", with_memory=False)
    if not running:
        sim.stop_vm("a")


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
@pytest.mark.parametrize(
    ("running", "keep_running", "expected"),
    [
        (True, True, VmState.RUNNING),  # RestoreSnapshot of a running VM: running again
        (True, False, VmState.OFF),  # RevertToVMSnapshotCommand: as the checkpoint left it
        (False, True, VmState.OFF),  # a VM that was off is not started
        (False, False, VmState.OFF),
    ],
)
def test_the_simulator_and_the_simulated_hyperv_host_restore_alike(
    tmp_path: Path, plugin: str, running: bool, keep_running: bool, expected: VmState
) -> None:
    sim = SimulatorHypervisor(tmp_path / "s.db")
    hv = PLUGINS[plugin](sim)
    assert supports(hv, Capability.RESTORE)
    _vm_with_checkpoint(sim, hv, running=running)
    after = Operations(hv).revert_checkpoint("a", "cp", keep_running=keep_running)
    assert after.state is expected
    assert sim.get_vm("a").state is expected  # type: ignore[union-attr]


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_restore_of_an_unknown_checkpoint_is_a_typed_error(tmp_path: Path, plugin: str) -> None:
    sim = SimulatorHypervisor(tmp_path / "s.db")
    hv = PLUGINS[plugin](sim)
    _vm_with_checkpoint(sim, hv, running=True)
    with pytest.raises(CheckpointNotFoundError):
        Operations(hv).revert_checkpoint("a", "no such checkpoint", keep_running=True)
    assert sim.get_vm("a").state is VmState.RUNNING  # type: ignore[union-attr]


def test_a_restore_is_one_invocation_on_hyperv(tmp_path: Path) -> None:
    sim = SimulatorHypervisor(tmp_path / "s.db")
    host = CountingHost(sim)
    hv = HyperVHypervisor(host)
    _vm_with_checkpoint(sim, hv, running=True)
    assert Operations(hv).revert_checkpoint("a", "cp", keep_running=True).state is VmState.RUNNING
    assert host.calls == [("checkpoint", {"action": "revert", "vm": "a", "checkpoint": "cp", "restart": True})]
    host.calls.clear()
    assert Operations(hv).revert_checkpoint("a", "cp").state is VmState.OFF
    assert host.calls == [("checkpoint", {"action": "revert", "vm": "a", "checkpoint": "cp", "restart": False})]


def test_a_plugin_without_restore_gets_state_revert_and_start(tmp_path: Path) -> None:
    sim = SimulatorHypervisor(tmp_path / "s.db")
    host = CountingHost(sim)
    hv = WithoutRestore(host)
    assert not supports(hv, Capability.RESTORE)
    _vm_with_checkpoint(sim, hv, running=True)
    assert Operations(hv).revert_checkpoint("a", "cp", keep_running=True).state is VmState.RUNNING
    assert [operation for operation, _ in host.calls] == ["get_vm", "checkpoint", "start_vm"]
    assert host.calls[1][1]["restart"] is False


class RestoreLeavesItOff(SimulatorHypervisor):
    """Declares RESTORE but reverts only (what a plug-in that forgets the start does)."""

    def restore_checkpoint(self, vm: str, name: str) -> VmInfo:
        return self.revert_checkpoint(vm, name)


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_the_conformance_kit_passes_restore(tmp_path: Path, plugin: str) -> None:
    kit.check_checkpoints(PLUGINS[plugin](SimulatorHypervisor(tmp_path / "s.db")))


def test_the_conformance_kit_fails_a_restore_that_leaves_the_vm_off(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="running VM running"):
        kit.check_checkpoints(RestoreLeavesItOff(tmp_path / "s.db"))
