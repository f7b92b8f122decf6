"""The Hyper-V plug-in passes the conformance kit against a simulated Hyper-V host.

Every call goes through the plug-in's real scripts (identified by their exact text) and JSON
parameters; the simulated host answers as the scripts do.
"""

from __future__ import annotations

from pathlib import Path

from cshyperv.hyperv import HyperVHypervisor
from cshyperv.hypervisor import Hypervisor
from cshyperv.simulator import HostProfile, SimulatorHypervisor
from cshyperv.testing.conformance import HypervisorConformance
from cshyperv.testing.hyperv_host import HostSettings, SimulatedHyperVHost


class TestHyperVPlugin(HypervisorConformance):
    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        self.simulator = SimulatorHypervisor(tmp_path / "host.db")
        return HyperVHypervisor(SimulatedHyperVHost(self.simulator))

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str:
        path = "\\\\fileserver\\templates\\base.vhdx"
        self.simulator.files.create_disk(path, 1024**3)
        return path

    def migration_destination(self, hypervisor: Hypervisor, tmp_path: Path) -> str:
        SimulatorHypervisor(tmp_path / "host.db", host=HostProfile(name="hv02", ip="10.0.0.2"))
        return "hv02"


class TestHyperVPluginOnACredSSPHost(TestHyperVPlugin):
    """The kit again, on a host set up the other documented way: CredSSP migration authentication
    from a CredSSP session (docs/hyperv.md, Live migration)."""

    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        self.simulator = SimulatorHypervisor(tmp_path / "host.db")
        settings = HostSettings(migration_authentication="CredSSP", session_authentication="CredSSP")
        return HyperVHypervisor(SimulatedHyperVHost(self.simulator, settings=settings))
