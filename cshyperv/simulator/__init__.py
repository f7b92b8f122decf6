"""The simulator plug-in: Hyper-V semantics with state in SQLite, the embedded default."""

from cshyperv.simulator._hypervisor import HostProfile, SimulatorHypervisor, create

__all__ = ["HostProfile", "SimulatorHypervisor", "create"]
