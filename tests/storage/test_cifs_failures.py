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


def test_wrong_password_is_a_clear_error_without_the_password(samba: SambaServer) -> None:
    secret = "Wr0ng-but-s3cret!"
    url = samba.url("share").replace(samba.password.replace(" ", "+").replace("@", "%40").replace("&", "%26"), secret)
    adaptor = CifsStorageAdaptor(url)
    with pytest.raises(StorageAuthenticationError) as info:
        adaptor.listdir()
    err = info.value
    assert isinstance(err, PermissionError) and err.errno == 13
    assert "refused the credentials" in str(err)
    text = "".join(traceback.format_exception(err)) + repr(err) + str(err) + repr(adaptor)
    assert secret not in text and samba.password not in text
    with pytest.raises(StorageAuthenticationError):
        adaptor.connect()


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
def test_one_gigabyte_copy_both_ways(samba: SambaServer, tmp_path: Path) -> None:
    block = os.urandom(1024 * 1024)
    src = tmp_path / "big.vhdx"
    expected = hashlib.sha256()
    with src.open("wb") as out:
        for i in range(1024):
            chunk = block[i:] + block[:i]  # every MiB different, cheaply
            out.write(chunk)
            expected.update(chunk)
    local = LocalStorageAdaptor(tmp_path)
    smb = CifsStorageAdaptor(samba.url("share", ""))
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


def test_server_killed_mid_copy(tmp_path: Path) -> None:
    _require("samba")
    server = SambaServer(tmp_path / "srv", shares=(SambaShare("share"),)).start()
    try:
        data = os.urandom(1024 * 1024)
        (tmp_path / "src.bin").write_bytes(data * 200)
        local = LocalStorageAdaptor(tmp_path)
        smb = CifsStorageAdaptor(server.url("share"), connection_timeout=5)
        killed = threading.Event()

        def kill_after_some(done: int, _total: int | None) -> None:
            if done >= 16 * 1024 * 1024 and not killed.is_set():
                killed.set()
                server.kill()

        with pytest.raises(StorageConnectionError) as info:
            copy_file(local, "src.bin", smb, "dst/final.vhdx", progress=kill_after_some, chunk_size=4 * 1024 * 1024)
        assert killed.is_set()
        assert "connection" in str(info.value)
        assert server.password not in str(info.value)
        # Nothing under the final name: at most the temporary file of the interrupted copy.
        names = os.listdir(server.share_path("share") / "dst")
        assert "final.vhdx" not in names
        assert all(n.endswith(".partial") for n in names)
        # Restarted, the same copy succeeds; the dead connection does not poison the adaptor.
        server.start()
        smb.close()
        assert copy_file(local, "src.bin", smb, "dst/final.vhdx") == 200 * 1024 * 1024
        assert (server.share_path("share") / "dst" / "final.vhdx").stat().st_size == 200 * 1024 * 1024
        smb.close()
    finally:
        server.stop()
