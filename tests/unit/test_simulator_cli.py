"""``cshyperv simulator add-disk``: seeding the simulated hosts with templates and ISOs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cshyperv.cli import main
from cshyperv.simulator import SimulatorHypervisor, seed_disk

GiB = 1024**3


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10G", 10 * GiB),
        ("10GiB", 10 * GiB),
        ("10gb", 10 * GiB),
        ("512M", 512 * 1024**2),
        ("4096", 4096),
        ("1T", 1024**4),
    ],
)
def test_add_disk_seeds_what_the_simulator_then_finds(tmp_path: Path, text: str, size: int) -> None:
    state = tmp_path / "sim.db"
    result = CliRunner().invoke(main, ["simulator", "add-disk", str(state), r"D:\Templates\t.vhdx", "--size", text])
    assert result.exit_code == 0, result.output
    info = SimulatorHypervisor(state).files.disk(r"D:\Templates\t.vhdx")
    assert info is not None and info.size_bytes == size and info.format == "VHDX"


def test_add_disk_on_a_share_and_an_iso(tmp_path: Path) -> None:
    state = tmp_path / "sim.db"
    seed_disk(state, r"\\fs01\templates\t.vhd", GiB)
    seed_disk(state, r"D:\ISO\tools.iso", 5 * 1024**2)
    files = SimulatorHypervisor(state).files
    share = files.disk(r"\\fs01\templates\t.vhd")
    iso = files.disk(r"D:\ISO\tools.iso")
    assert share is not None and share.format == "VHD"
    assert iso is not None and iso.format == "ISO"


@pytest.mark.parametrize("size", ["1Q", "1.5G", "", "-1", "\uff11G"])
def test_a_bad_size_is_a_usage_error(tmp_path: Path, size: str) -> None:
    result = CliRunner().invoke(main, ["simulator", "add-disk", str(tmp_path / "s.db"), r"D:\t.vhdx", "--size", size])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "--size" in result.output


@pytest.mark.parametrize("path", ["relative\\t.vhdx", r"D:\..\escape.vhdx"])
def test_a_path_the_simulator_cannot_place_is_one_line(tmp_path: Path, path: str) -> None:
    result = CliRunner().invoke(main, ["simulator", "add-disk", str(tmp_path / "s.db"), path])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not (tmp_path / "escape.vhdx").exists()


def test_seeding_invents_no_host(tmp_path: Path) -> None:
    state = tmp_path / "sim.db"
    seed_disk(state, r"D:\t.vhdx", GiB)
    assert not state.exists()
