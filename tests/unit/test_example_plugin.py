"""The example plug-in in examples/ passes the conformance kit (and so shows a correct plug-in)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cshyperv.hypervisor import Hypervisor
from cshyperv.testing.conformance import HypervisorConformance
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))

import plugin_minimal


class TestExamplePlugin(HypervisorConformance):
    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        return plugin_minimal.create({"host": "test"})


def test_example_runs_the_kit_itself() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "plugin_minimal.py")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "conformant" in proc.stdout
