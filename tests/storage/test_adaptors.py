"""Every storage adaptor behaves the same against its real server: local, Samba (plain,
signing-required, encryption-required shares) and NFSv4 (nfs-ganesha)."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from cshyperv.storage import StorageAdaptor, copy_file

NAMES = ["plain.vhdx", "ünïcödé ñame.vhdx", "日本語.iso", "spaces and (parens) [1].txt"]


def test_write_read_stat_list_nonascii(store: tuple[str, StorageAdaptor, Path]) -> None:
    _kind, adaptor, disk = store
    adaptor.mkdir("a/b/c")
    for i, name in enumerate(NAMES):
        with adaptor.open_write(f"a/b/{name}") as out:
            out.write(name.encode() * (i + 1))
    assert adaptor.listdir("a/b") == sorted(["c", *NAMES])
    for i, name in enumerate(NAMES):
        assert adaptor.stat(f"a/b/{name}").size == len(name.encode()) * (i + 1)
        with adaptor.open_read(f"a/b/{name}") as reader:
            assert reader.read() == name.encode() * (i + 1)
        # The bytes really are on the server's disk under that (UTF-8) name.
        assert (disk / "a" / "b" / name).read_bytes() == name.encode() * (i + 1)
    assert adaptor.stat("a/b/c").is_dir and not adaptor.stat(f"a/b/{NAMES[0]}").is_dir
    assert sorted(adaptor.walk("a")) == sorted([f"a/b/{n}" for n in NAMES])
    assert adaptor.exists("a/b") and not adaptor.exists("a/zzz")


def test_rename_replaces_copy_and_remove_tree(store: tuple[str, StorageAdaptor, Path]) -> None:
    _kind, adaptor, disk = store
    adaptor.mkdir("d")
    for name, data in (("x", b"new"), ("y", b"old")):
        with adaptor.open_write(f"d/{name}") as out:
            out.write(data)
    adaptor.rename("d/x", "d/y")  # replaces the existing target
    assert adaptor.listdir("d") == ["y"]
    with adaptor.open_read("d/y") as reader:
        assert reader.read() == b"new"
    adaptor.copy("d/y", "d/z")
    assert (disk / "d" / "z").read_bytes() == b"new"
    adaptor.remove("d")
    assert not (disk / "d").exists()
    adaptor.remove("d")  # absent is fine


def test_errors_are_oserrors_with_errno_and_location(store: tuple[str, StorageAdaptor, Path]) -> None:
    kind, adaptor, _disk = store
    with pytest.raises(FileNotFoundError) as info:
        adaptor.stat("missing/file.vhdx")
    assert info.value.errno == errno.ENOENT
    assert "file.vhdx" in str(info.value)
    with pytest.raises(FileNotFoundError):
        adaptor.open_read("missing.vhdx")
    with pytest.raises(FileNotFoundError):
        adaptor.listdir("missing")
    with pytest.raises(PermissionError):
        adaptor.stat("../escape")
    if kind != "local":
        assert "password" not in repr(adaptor).lower() or "redacted" in repr(adaptor)


def test_disk_usage_matches_the_servers_filesystem(store: tuple[str, StorageAdaptor, Path]) -> None:
    _kind, adaptor, disk = store
    usage = adaptor.disk_usage("")
    st = os.statvfs(disk)
    assert usage.total_bytes == pytest.approx(st.f_blocks * st.f_frsize, rel=0.02)
    assert 0 < usage.free_bytes <= usage.total_bytes
    assert usage.used_bytes == usage.total_bytes - usage.free_bytes


def test_streamed_copy_with_progress_is_atomic(store: tuple[str, StorageAdaptor, Path], tmp_path: Path) -> None:
    _kind, adaptor, disk = store
    from cshyperv.storage import LocalStorageAdaptor

    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "src.bin").write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    size = copy_file(
        LocalStorageAdaptor(tmp_path), "src.bin", adaptor, "t/dst.bin", progress=lambda d, t: seen.append((d, t)),
        chunk_size=1024 * 1024,
    )  # fmt: skip
    assert size == len(data)
    assert hashlib.sha256((disk / "t" / "dst.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    assert seen[-1] == (len(data), len(data)) and len(seen) >= 4
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert os.listdir(disk / "t") == ["dst.bin"]  # no temporary file left behind


def test_nfs_unreachable_and_missing_export(nfs: object) -> None:
    from cshyperv.errors import StorageConnectionError
    from cshyperv.storage import NfsStorageAdaptor
    from cshyperv.testing.servers import NfsServer, free_port

    assert isinstance(nfs, NfsServer)
    with pytest.raises(StorageConnectionError) as info:
        NfsStorageAdaptor(f"nfs://127.0.0.1:{free_port()}/export/x", connect_timeout=2).stat("y")
    assert isinstance(info.value, ConnectionError) and "refused" in str(info.value)
    with pytest.raises(FileNotFoundError, match="export not found"):
        NfsStorageAdaptor(f"nfs://127.0.0.1:{nfs.port}/no-such-export/x").stat("y")
