"""The CLI's warm-up guesses from its arguments whether libsmbclient (and a second stream's
worker) will be needed, and starts them before the imports; it never changes what runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cshyperv import _cli_warmup


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    import cshyperv.storage

    seen: list[bool] = []
    monkeypatch.setattr(cshyperv.storage, "prestart_smb_streams", lambda *, worker: seen.append(worker), raising=False)
    return seen


def test_a_large_local_file_to_smb_starts_a_worker(tmp_path: Path, calls: list[bool]) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(3 * 1024 * 1024)
    _cli_warmup.warm_up(["cshyperv", "storage", "cp", "-q", str(big), "cifs://h/s/t.bin"])
    assert calls == [True]


def test_a_small_local_file_loads_the_library_only(tmp_path: Path, calls: list[bool]) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(b"x")
    _cli_warmup.warm_up(["cshyperv", "storage", "cp", str(small), "smb://h/s/"])
    assert calls == [False]


def test_smb_to_smb_expects_a_server_side_copy(calls: list[bool]) -> None:
    _cli_warmup.warm_up(["cshyperv", "storage", "cp", "cifs://h/s/a", "\\\\h\\s\\b"])
    assert calls == [False]


def test_a_download_from_smb_starts_a_worker(calls: list[bool]) -> None:
    _cli_warmup.warm_up(["cshyperv", "storage", "cp", "cifs://h/s/a", "/tmp/a"])
    assert calls == [True]


@pytest.mark.parametrize(
    "argv",
    [
        ["cshyperv"],
        ["cshyperv", "storage", "ls", "cifs://h/s/"],
        ["cshyperv", "storage", "cp", "/a", "/b"],
        ["cshyperv", "agent", "cifs://h/s/"],
    ],
)
def test_other_commands_start_nothing(argv: list[str], calls: list[bool]) -> None:
    _cli_warmup.warm_up(argv)
    assert calls == []


def test_importing_the_storage_package_imports_no_adaptor() -> None:
    # The package's names are imported when first used (what lets the CLI begin loading the
    # library before the adaptors' imports).
    probe = "import sys, cshyperv.storage; print(sorted(m for m in sys.modules if m.startswith('cshyperv.storage.')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    probe = "import cshyperv.storage as s; print(s.copy_file.__module__, s.StorageURL.__name__, 'copy_file' in dir(s))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["cshyperv.storage.transfer", "StorageURL", "True"]
