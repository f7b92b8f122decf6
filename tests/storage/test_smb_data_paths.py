"""Both SMB data paths keep the adaptor's promises, as the Samba server itself reports them:
every connection signed, encrypted where the share or the URL asks; the password nowhere."""

from __future__ import annotations

import os
import threading
import traceback
from pathlib import Path

import pytest

from cshyperv.storage import CifsStorageAdaptor, LocalStorageAdaptor, copy_file
from cshyperv.testing.servers import SambaServer, SambaShare

from .conftest import _require, _require_data_path


@pytest.fixture(scope="module")
def status_samba(tmp_path_factory: pytest.TempPathFactory) -> SambaServer:
    """A server of its own, so that the only connections smbstatus lists are this test's."""
    _require("samba")
    shares = (SambaShare("share"), SambaShare("sealed", encrypt="required"))
    server = SambaServer(tmp_path_factory.mktemp("status-samba"), shares=shares).start()
    for share in ("share", "sealed"):
        (server.share_path(share) / "f.bin").write_bytes(b"x" * 1000)
    yield server  # type: ignore[misc]
    server.stop()


@pytest.mark.parametrize(
    "case",
    [("share", None, False), ("sealed", None, True), ("share", True, True)],
    ids=["plain", "share-requires-encryption", "url-asks-encryption"],
)
@pytest.mark.parametrize("direction", ["read", "write"])
def test_signed_always_encrypted_when_asked(
    status_samba: SambaServer, data_path: str, case: tuple[str, bool | None, bool], direction: str
) -> None:
    share, encrypt, encrypted = case
    # The plain server does not require signing: the client insists on it by itself.
    adaptor = CifsStorageAdaptor(status_samba.url(share), data_path=data_path, encrypt=encrypt)
    stream = adaptor.open_read("f.bin") if direction == "read" else adaptor.open_write("new.bin")
    try:
        if direction == "read":
            assert stream.read(10) == b"x" * 10
        else:
            stream.write(b"y" * 10)
        assert getattr(stream, "transport", None) == data_path
        rows = [row for row in status_samba.tree_connects() if row["service"] == share]
        assert rows, status_samba.tree_connects()
        for row in rows:
            assert row["signing"] != "-", row
            assert (row["encryption"] != "-") == encrypted, row
    finally:
        stream.close()
        adaptor.close()


def test_the_password_is_nowhere_a_data_path_shows(samba: SambaServer, data_path: str, tmp_path: Path) -> None:
    (tmp_path / "src.bin").write_bytes(os.urandom(100_000))
    environment = dict(os.environ)
    adaptor = CifsStorageAdaptor(samba.url("share"), data_path=data_path)
    routes: list[str] = []
    copy_file(LocalStorageAdaptor(tmp_path), "src.bin", adaptor, "secret-check.bin", on_route=routes.append)
    reader = adaptor.open_read("secret-check.bin")
    shown = [repr(adaptor), repr(reader), str(reader), *routes]
    smbc = getattr(adaptor, "_smbc", None)
    if smbc is not None:
        shown += [repr(smbc), *(repr(v) for v in vars(smbc).values())]
        shown += [repr(reader._handle), repr(vars(reader._handle)), repr(vars(reader._handle._context))]
    with pytest.raises(FileNotFoundError) as info:
        adaptor.open_read("missing/file.bin")
    shown += ["".join(traceback.format_exception(info.value)), str(info.value)]
    reader.close()
    adaptor.close()
    text = "\n".join(shown)
    assert samba.password not in text
    assert samba.password.encode() not in text.encode()
    assert info.value.filename == "\\\\127.0.0.1\\share\\missing\\file.bin"
    # Nothing was put into the environment that child processes would inherit.
    assert dict(os.environ) == environment
    assert samba.password not in "".join(os.environ.values())


def test_data_path_choice(samba: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from cshyperv.errors import StorageError
    from cshyperv.storage.urls import StorageURLError

    assert CifsStorageAdaptor(samba.url("share"), data_path="smbprotocol").data_path == "smbprotocol"
    # Without a password (Kerberos, anonymous) the data path is smbprotocol's.
    assert CifsStorageAdaptor(samba.url("share", credentials=False)).data_path == "smbprotocol"
    with pytest.raises(StorageError) as info:
        CifsStorageAdaptor(samba.url("share", credentials=False), data_path="libsmbclient")
    assert info.value.errno == 38  # ENOSYS
    with pytest.raises(StorageURLError):
        CifsStorageAdaptor(samba.url("share"), data_path="fastest")
    monkeypatch.setenv("CSHYPERV_SMB_DATA_PATH", "smbprotocol")
    assert CifsStorageAdaptor(samba.url("share")).data_path == "smbprotocol"


def test_a_replacing_copy_sets_up_its_rename_while_the_bytes_flow(
    samba: SambaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On libsmbclient a copy onto an existing file ends with smbprotocol's atomic replace; its
    # import and session start before the data stream closes, not after (a CLI process saved
    # ~0.1 s), and the rename still replaces atomically: no partial left, the new bytes in place.
    _require_data_path("libsmbclient")
    from cshyperv.storage import _libsmbclient, cifs

    started = threading.Event()
    real_import = cifs._import_smbclient

    def import_smbclient() -> object:
        started.set()
        return real_import()

    seen_at_close: list[bool] = []
    real_close = _libsmbclient.SmbcWriter.close

    def close(self: _libsmbclient.SmbcWriter) -> None:
        seen_at_close.append(started.wait(30))
        real_close(self)

    monkeypatch.setattr(cifs, "_import_smbclient", import_smbclient)
    monkeypatch.setattr(_libsmbclient.SmbcWriter, "close", close)
    disk = samba.share_path("share")
    (disk / "replaced.bin").write_bytes(b"old" * 1000)
    (tmp_path / "new.bin").write_bytes(os.urandom(300_000))
    adaptor = CifsStorageAdaptor(samba.url("share"), data_path="libsmbclient")
    try:
        copy_file(LocalStorageAdaptor(tmp_path), "new.bin", adaptor, "replaced.bin")
        assert seen_at_close == [True]
        assert (disk / "replaced.bin").read_bytes() == (tmp_path / "new.bin").read_bytes()
        assert [p.name for p in disk.glob("replaced.bin.*")] == []
    finally:
        adaptor.close()
    # A copy to a new name renames in libsmbclient: nothing is set up ahead of it.
    started.clear()
    monkeypatch.setattr(_libsmbclient.SmbcWriter, "close", real_close)
    fresh = CifsStorageAdaptor(samba.url("share"), data_path="libsmbclient")
    try:
        copy_file(LocalStorageAdaptor(tmp_path), "new.bin", fresh, "fresh.bin")
        assert not started.is_set()
        assert (disk / "fresh.bin").read_bytes() == (tmp_path / "new.bin").read_bytes()
    finally:
        fresh.close()
