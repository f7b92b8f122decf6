"""SMB against a real Samba: wrong credentials, a server killed mid-copy, server-side copy, 1 GB."""

from __future__ import annotations

import hashlib
import os
import threading
import traceback
from pathlib import Path

import pytest

from cshyperv.errors import StorageAuthenticationError, StorageConnectionError
from cshyperv.storage import CifsStorageAdaptor, LocalStorageAdaptor, RemoteStorageAccess, copy_file
from cshyperv.testing.servers import SambaServer, SambaShare

from .conftest import _require


def test_wrong_password_is_a_clear_error_without_the_password(
    samba: SambaServer, data_path: str, tmp_path: Path
) -> None:
    secret = "Wr0ng-but-s3cret!"
    url = samba.url("share").replace(samba.password.replace(" ", "+").replace("@", "%40").replace("&", "%26"), secret)
    adaptor = CifsStorageAdaptor(url, data_path=data_path)
    (samba.share_path("share") / "exists.bin").write_bytes(b"x")
    (tmp_path / "src.bin").write_bytes(b"y" * 1024)
    failures = []
    for attempt in (
        adaptor.listdir,
        adaptor.connect,
        # The data path on its own (no control operation first), both ways.
        lambda: adaptor.open_read("exists.bin"),
        lambda: adaptor.open_write("new.bin"),
        lambda: copy_file(LocalStorageAdaptor(tmp_path), "src.bin", adaptor, "copied.bin"),
    ):
        with pytest.raises(StorageAuthenticationError) as info:
            attempt()
        failures.append(info.value)
    for err in failures:
        assert isinstance(err, PermissionError) and err.errno == 13
        assert "refused the credentials" in str(err)
        text = "".join(traceback.format_exception(err)) + repr(err) + str(err) + repr(adaptor)
        assert secret not in text and samba.password not in text
        assert "Wr0ng" not in text
    assert not (samba.share_path("share") / "new.bin").exists()
    assert not (samba.share_path("share") / "copied.bin").exists()


def test_unreachable_server_is_a_connection_error() -> None:
    adaptor = CifsStorageAdaptor("cifs://127.0.0.1:9/share?user=u&password=never-shown", connection_timeout=2)
    with pytest.raises(StorageConnectionError) as info:
        adaptor.stat("x")
    assert isinstance(info.value, ConnectionError)
    assert "never-shown" not in repr(info.value) + str(info.value)


def test_server_side_copy_moves_no_bytes_through_the_client(
    samba: SambaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    src_dir = samba.share_path("share") / "ssc"
    src_dir.mkdir(exist_ok=True)
    data = os.urandom(20 * 1024 * 1024)
    (src_dir / "template.vhdx").write_bytes(data)
    access = RemoteStorageAccess()
    src, src_path = access.locate(samba.url("share", "ssc/template.vhdx"))
    dst, dst_path = access.locate(samba.url("signed", "ssc/copy.vhdx"))

    def no_streaming(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a server-side copy must not stream the file")

    monkeypatch.setattr(CifsStorageAdaptor, "open_read", no_streaming)
    assert copy_file(src, src_path, dst, dst_path) == len(data)
    assert (samba.share_path("signed") / "ssc" / "copy.vhdx").read_bytes() == data
    access.close()


@pytest.mark.slow
def test_one_gigabyte_copy_both_ways(samba: SambaServer, tmp_path: Path, data_path: str) -> None:
    block = os.urandom(1024 * 1024)
    src = tmp_path / "big.vhdx"
    expected = hashlib.sha256()
    with src.open("wb") as out:
        for i in range(1024):
            chunk = block[i:] + block[:i]  # every MiB different, cheaply
            out.write(chunk)
            expected.update(chunk)
    local = LocalStorageAdaptor(tmp_path)
    smb = CifsStorageAdaptor(samba.url("share", ""), data_path=data_path)
    assert copy_file(local, "big.vhdx", smb, "gig/big.vhdx") == 1024 * 1024 * 1024
    src.unlink()
    assert copy_file(smb, "gig/big.vhdx", local, "back.vhdx") == 1024 * 1024 * 1024
    got = hashlib.sha256()
    with (tmp_path / "back.vhdx").open("rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            got.update(chunk)
    assert got.digest() == expected.digest()
    smb.remove("gig")
    smb.close()


@pytest.mark.parametrize("direction", ["put", "get"])
def test_server_killed_mid_copy(tmp_path: Path, data_path: str, direction: str) -> None:
    _require("samba")
    server = SambaServer(tmp_path / "srv", shares=(SambaShare("share"),)).start()
    try:
        data = os.urandom(1024 * 1024)
        (tmp_path / "src.bin").write_bytes(data * 200)
        local = LocalStorageAdaptor(tmp_path)
        smb = CifsStorageAdaptor(server.url("share"), connection_timeout=5, data_path=data_path)
        if direction == "get":
            (server.share_path("share") / "dst").mkdir()
            (server.share_path("share") / "src.bin").write_bytes(data * 200)
            src, src_path, dst, dst_path, target_dir = smb, "src.bin", local, "dst/final.vhdx", tmp_path / "dst"
        else:
            src, src_path, dst, dst_path = local, "src.bin", smb, "dst/final.vhdx"
            target_dir = server.share_path("share") / "dst"
        killed = threading.Event()

        def kill_after_some(done: int, _total: int | None) -> None:
            if done >= 16 * 1024 * 1024 and not killed.is_set():
                killed.set()
                server.kill()

        routes: list[str] = []
        with pytest.raises(StorageConnectionError) as info:
            copy_file(
                src, src_path, dst, dst_path, progress=kill_after_some, chunk_size=4 << 20, on_route=routes.append
            )
        assert killed.is_set()
        assert data_path in routes[0]
        assert "connection" in str(info.value)
        assert server.password not in str(info.value)
        # Nothing under the final name: at most the temporary file of the interrupted copy.
        names = os.listdir(target_dir)
        assert "final.vhdx" not in names
        assert all(n.endswith(".partial") for n in names)
        # Restarted, the same copy succeeds; the dead connection does not poison the adaptor.
        server.start()
        smb.close()
        assert copy_file(src, src_path, dst, dst_path) == 200 * 1024 * 1024
        assert (target_dir / "final.vhdx").read_bytes() == data * 200
        smb.close()
    finally:
        server.stop()
