"""Fixtures the unit tests share: a simulator on a fresh state file, the scenario, and a
resource over both with the scenario's template on secondary storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.scenario import Scenario

GiB = 1024**3


@pytest.fixture
def sim(tmp_path: Path) -> SimulatorHypervisor:
    return SimulatorHypervisor(tmp_path / "state.db")


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


@pytest.fixture
def resource(sim: SimulatorHypervisor, scenario: Scenario) -> ServerResource:
    sim.files.create_disk(scenario.secondary_template_unc, 8 * GiB)
    return ServerResource(sim, sim.storage_access())
