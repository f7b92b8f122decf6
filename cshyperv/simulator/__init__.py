"""The simulator plug-in: Hyper-V semantics with state in SQLite, the embedded default."""

from cshyperv.simulator._hypervisor import HostProfile, SimulatorHypervisor, create
from cshyperv.simulator.seed import files_root_for, seed_disk

__all__ = ["HostProfile", "SimulatorHypervisor", "create", "files_root_for", "seed_disk"]
