"""The simulator passes the plug-in conformance kit."""

from __future__ import annotations

from pathlib import Path

from cshyperv.hypervisor import Hypervisor
from cshyperv.simulator import HostProfile, SimulatorHypervisor
from cshyperv.testing.conformance import HypervisorConformance


class TestSimulator(HypervisorConformance):
    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        return SimulatorHypervisor(tmp_path / "state.db")

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str:
        assert isinstance(hypervisor, SimulatorHypervisor)
        path = "\\\\fileserver\\templates\\base.vhdx"
        hypervisor.files.create_disk(path, 1024**3)
        return path

    def migration_destination(self, hypervisor: Hypervisor, tmp_path: Path) -> str:
        SimulatorHypervisor(tmp_path / "state.db", host=HostProfile(name="sim-host-2", ip="10.0.0.2"))
        return "sim-host-2"
