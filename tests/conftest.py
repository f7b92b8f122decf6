"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"
# The steering repository's copy, present beside the clone in CI; the committed copy must match it.
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# Optional in a developer's checkout (their tests skip), required where CI runs: there a missing
# one must fail the run, or whole test modules would pass by skipping.
REQUIRED_IN_CI = ("pypsrp", "psrpcore", "tree_sitter", "tree_sitter_powershell", "pycdlib")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CSHYPERV_REQUIRE_REAL_SERVERS") != "1":
        return
    missing = []
    for name in REQUIRED_IN_CI:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise pytest.UsageError(
            f"CSHYPERV_REQUIRE_REAL_SERVERS=1 but {', '.join(missing)} cannot be imported "
            "(pip install -e '.[dev]'): the tests that need them would only skip"
        )


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES
