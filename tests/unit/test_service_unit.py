"""The shipped systemd unit: valid for systemd, hardened, and pointing at the installed command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cshyperv.cli import main

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None and not os.environ.get("CSHYPERV_REQUIRE_REAL_SERVERS"),
    reason="systemd-analyze (Debian package systemd) is needed to check the unit",
)


def unit(tmp_path: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, ["agent", "unit", "--exec", shutil.which("true") or "/bin/true", *args])
    assert result.exit_code == 0, result.output
    path = tmp_path / "cshyperv-agent.service"
    path.write_text(result.output, encoding="utf-8")
    return path


def settings(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@needs_analyze
def test_systemd_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    assert ANALYZE is not None, "CI needs systemd-analyze"
    path = unit(tmp_path)
    done = subprocess.run([ANALYZE, "verify", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@needs_analyze
def test_the_unit_is_hardened(tmp_path: Path) -> None:
    assert ANALYZE is not None
    path = unit(tmp_path)
    # systemd's exposure score, offline (shown as 0.0-10.0; the threshold counts tenths): at most 2.0.
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--threshold=20", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:]


def test_what_the_unit_promises(tmp_path: Path) -> None:
    found = settings(unit(tmp_path, "--config", "/etc/cshyperv/lab.toml"))
    assert found["User"] == ["cshyperv"] and found["StateDirectory"] == ["cshyperv"]
    assert found["StateDirectoryMode"] == ["0700"] and found["UMask"] == ["0077"]
    assert found["Restart"] == ["on-failure"] and int(found["LimitNOFILE"][0]) >= 65536
    assert found["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert found["ExecStart"][0].endswith("agent serve --config /etc/cshyperv/lab.toml")
    assert found["NoNewPrivileges"] == ["yes"] and found["CapabilityBoundingSet"] == [""]
