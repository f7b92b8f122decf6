"""Server-side copies are atomic too: the server writes a temporary name, then it is renamed.

A copy the server breaks off half-way (a full disk, a dropped session) must leave nothing under
the target's name, which CloudStack would otherwise take for a complete template or volume.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cshyperv.storage import LocalStorageAdaptor, copy_file

DATA = b"VHDX" * 4096


class BreaksOffWithinOneStore(LocalStorageAdaptor):
    """A store whose own copy writes half the bytes, then fails, as a server would."""

    def copy(self, source: str, target: str) -> None:
        self.local_path(target).write_bytes(self.local_path(source).read_bytes()[: len(DATA) // 2])
        raise OSError(28, "No space left on device")


class BreaksOffBetweenStores(LocalStorageAdaptor):
    """A store that copies from another one server-side (FSCTL_SRV_COPYCHUNK), and breaks off."""

    def copy_from(self, other: object, source: str, target: str) -> bool:
        assert isinstance(other, LocalStorageAdaptor)
        self.local_path(target).write_bytes(other.local_path(source).read_bytes()[: len(DATA) // 2])
        raise OSError(28, "No space left on device")


class CopiesBetweenStores(LocalStorageAdaptor):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.targets: list[str] = []

    def copy_from(self, other: object, source: str, target: str) -> bool:
        assert isinstance(other, LocalStorageAdaptor)
        self.targets.append(target)
        self.local_path(target).write_bytes(other.local_path(source).read_bytes())
        return True


def test_a_server_side_copy_within_a_store_that_breaks_off_leaves_no_target(tmp_path: Path) -> None:
    store = BreaksOffWithinOneStore(tmp_path)
    (tmp_path / "template.vhdx").write_bytes(DATA)
    with pytest.raises(OSError, match="No space"):
        copy_file(store, "template.vhdx", store, "pool/volume.vhdx")
    assert not (tmp_path / "pool" / "volume.vhdx").exists()
    assert [p.name for p in (tmp_path / "pool").iterdir()] == []  # the partial file was removed too


def test_a_server_side_copy_between_stores_that_breaks_off_leaves_no_target(tmp_path: Path) -> None:
    source = LocalStorageAdaptor(tmp_path / "secondary")
    (tmp_path / "secondary").mkdir()
    (tmp_path / "secondary" / "template.vhdx").write_bytes(DATA)
    target = BreaksOffBetweenStores(tmp_path / "primary")
    (tmp_path / "primary").mkdir()
    with pytest.raises(OSError, match="No space"):
        copy_file(source, "template.vhdx", target, "volume.vhdx")
    assert list((tmp_path / "primary").iterdir()) == []


def test_a_server_side_copy_writes_a_temporary_name_then_renames(tmp_path: Path) -> None:
    (tmp_path / "secondary").mkdir()
    (tmp_path / "primary").mkdir()
    (tmp_path / "secondary" / "template.vhdx").write_bytes(DATA)
    routes: list[str] = []
    target = CopiesBetweenStores(tmp_path / "primary")
    copy_file(
        LocalStorageAdaptor(tmp_path / "secondary"), "template.vhdx", target, "volume.vhdx", on_route=routes.append
    )
    assert target.targets and all(t != "volume.vhdx" and t.endswith(".partial") for t in target.targets)
    assert (tmp_path / "primary" / "volume.vhdx").read_bytes() == DATA
    assert [p.name for p in (tmp_path / "primary").iterdir()] == ["volume.vhdx"]
    assert routes and "server-side" in routes[0]
