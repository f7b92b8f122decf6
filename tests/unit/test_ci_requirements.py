"""Where CI runs (CSHYPERV_REQUIRE_REAL_SERVERS=1), a missing optional test dependency fails the
run instead of skipping the tests that need it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REQUIRED_IN_CI, ROOT

_RUN_WITHOUT = """
import sys
sys.modules[sys.argv[1]] = None  # what an absent package looks like to import
import pytest
sys.exit(pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--collect-only", sys.argv[2]]))
"""


def _collect_without(module: str, require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CSHYPERV_REQUIRE_REAL_SERVERS"}
    if require:
        env["CSHYPERV_REQUIRE_REAL_SERVERS"] = "1"
    target = str(ROOT / "tests" / "unit" / "test_redaction.py")
    return subprocess.run(
        [sys.executable, "-c", _RUN_WITHOUT, module, target],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("module", REQUIRED_IN_CI)
def test_a_missing_test_dependency_fails_ci(module: str) -> None:
    done = _collect_without(module, require=True)
    assert done.returncode != 0
    assert module in done.stdout + done.stderr and "CSHYPERV_REQUIRE_REAL_SERVERS=1" in done.stdout + done.stderr


def test_outside_ci_it_does_not() -> None:
    assert _collect_without("pycdlib", require=False).returncode == 0
