"""Plug-ins are found by entry point or registered explicitly."""

from __future__ import annotations

from pathlib import Path

import pytest

from cshyperv.errors import PluginError
from cshyperv.plugins import PluginRegistry, default_plugins
from cshyperv.simulator import SimulatorHypervisor


def test_simulator_is_an_entry_point(tmp_path: Path) -> None:
    plugins = default_plugins()
    assert "simulator" in plugins.names()
    hv = plugins.create("simulator", {"state": str(tmp_path / "s.db")})
    assert isinstance(hv, SimulatorHypervisor) and hv.name == "simulator"


def test_explicit_registration_and_unknown_names(tmp_path: Path) -> None:
    plugins = PluginRegistry(entry_points=False)
    plugins.register("mine", lambda config: SimulatorHypervisor(Path(config["state"])))
    assert plugins.names() == ["mine"]
    assert plugins.create("mine", {"state": str(tmp_path / "m.db")}).name == "simulator"
    with pytest.raises(PluginError, match="no hypervisor plug-in named 'nope'"):
        plugins.create("nope")
    plugins.register("broken", lambda config: object())  # type: ignore[arg-type,return-value]
    with pytest.raises(PluginError, match="not a Hypervisor"):
        plugins.create("broken")
