"""The libsmbclient data path's second stream (a worker process with a connection of its own),
against the real Samba shares: the bytes arrive whole and in place, both connections are signed
and encrypted as the share requires, the password is on neither's command line or environment,
and a worker that dies mid-copy costs speed, never bytes."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.errors import StorageConnectionError
from cshyperv.storage import CifsStorageAdaptor, LocalStorageAdaptor, copy_file
from cshyperv.testing.servers import SambaServer, SambaShare

from .conftest import _require, _require_data_path

PIECE = 2 * 1024 * 1024  # the data path's piece (IO_SIZE)
# Not a whole number of pieces, so the last piece is short and the chunk edges move.
SIZE = 5 * PIECE + 12_345


@pytest.fixture(autouse=True)
def _two_streams_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _require_data_path("libsmbclient")
    monkeypatch.delenv("CSHYPERV_SMB_STREAMS", raising=False)
    monkeypatch.setenv("CSHYPERV_SMB_PARALLEL_FROM", "0")


@pytest.fixture(scope="module")
def stream_samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """A server of its own, so that the only connections smbstatus lists are this module's."""
    _require("samba")
    shares = (SambaShare("share"), SambaShare("sealed", encrypt="required"))
    server = SambaServer(tmp_path_factory.mktemp("stream-samba"), shares=shares).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def signed_samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    _require("samba")
    shares = (SambaShare("signed", signing="mandatory"),)
    server = SambaServer(tmp_path_factory.mktemp("stream-samba-signed"), shares=shares).start()
    yield server
    server.stop()


def _payload() -> bytes:
    # Every piece different, so a piece written at the wrong offset cannot go unnoticed.
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() * 2048 for i in range(SIZE // 65536 + 1))[:SIZE]


SHARES = ["plain", "signed", "sealed"]


def _adaptor(which: str, stream_samba: SambaServer, signed_samba: SambaServer) -> tuple[CifsStorageAdaptor, Path]:
    server, share = {
        "plain": (stream_samba, "share"),
        "signed": (signed_samba, "signed"),
        "sealed": (stream_samba, "sealed"),
    }[which]
    adaptor = CifsStorageAdaptor(server.url(share), data_path="libsmbclient")
    return adaptor, server.share_path(share)


@pytest.mark.parametrize("which", SHARES)
def test_two_streams_write_every_byte_in_place(
    which: str, stream_samba: SambaServer, signed_samba: SambaServer
) -> None:
    adaptor, disk = _adaptor(which, stream_samba, signed_samba)
    data = _payload()
    writer = adaptor.open_write("two.bin")
    # Uneven writes: pieces straddle the caller's chunks.
    for start in range(0, SIZE, 3_000_000):
        writer.write(data[start : start + 3_000_000])
    assert getattr(writer, "streams", None) == 2
    writer.close()
    adaptor.close()
    assert (disk / "two.bin").read_bytes() == data


@pytest.mark.parametrize("which", SHARES)
def test_two_streams_read_every_byte_in_order(which: str, stream_samba: SambaServer, signed_samba: SambaServer) -> None:
    adaptor, disk = _adaptor(which, stream_samba, signed_samba)
    data = _payload()
    (disk / "two-r.bin").write_bytes(data)
    reader = adaptor.open_read("two-r.bin")
    parts = [reader.read(1_000_003)]
    assert getattr(reader, "streams", None) == 2
    while chunk := reader.read(5_000_000):
        parts.append(chunk)
    reader.close()
    adaptor.close()
    assert b"".join(parts) == data


@pytest.mark.parametrize("share", ["share", "sealed"])
@pytest.mark.parametrize("direction", ["read", "write"])
def test_both_connections_signed_and_encrypted_as_required(
    stream_samba: SambaServer, share: str, direction: str
) -> None:
    (stream_samba.share_path(share) / "status.bin").write_bytes(_payload())
    adaptor = CifsStorageAdaptor(stream_samba.url(share), data_path="libsmbclient")
    before = len([row for row in stream_samba.tree_connects() if row["service"] == share])
    stream = adaptor.open_read("status.bin") if direction == "read" else adaptor.open_write("status-w.bin")
    try:
        if direction == "read":
            stream.read(PIECE)
        else:
            stream.write(b"z" * 2 * PIECE)
        assert getattr(stream, "streams", None) == 2
        rows = [row for row in stream_samba.tree_connects() if row["service"] == share]
        # This process's connection, the worker's and the adaptor's control connection.
        assert len(rows) >= before + 2, rows
        for row in rows:
            assert row["signing"] != "-", row
            assert (row["encryption"] != "-") == (share == "sealed"), row
    finally:
        stream.close()
        adaptor.close()


def test_the_password_is_not_in_the_workers_arguments_or_environment(
    stream_samba: SambaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI takes the password from this variable: the worker must not inherit it.
    monkeypatch.setenv("CSHYPERV_SMB_PASSWORD", stream_samba.password)
    adaptor = CifsStorageAdaptor(stream_samba.url("share"), data_path="libsmbclient")
    writer = adaptor.open_write("secret.bin")
    try:
        writer.write(b"s" * 2 * PIECE)
        pid = getattr(writer, "worker_pid", None)
        assert isinstance(pid, int)
        secret = stream_samba.password.encode()
        assert secret not in Path(f"/proc/{pid}/cmdline").read_bytes()
        environment = Path(f"/proc/{pid}/environ").read_bytes()
        assert secret not in environment
        assert b"CSHYPERV" not in environment
    finally:
        writer.close()
        adaptor.close()


def _kill_and_wait(pid: int) -> None:
    """SIGKILL the worker and wait until the kernel has closed its pipes (it is a zombie, reaped by
    its Popen later), so that the stream's next request to it fails instead of racing its death."""
    os.kill(pid, signal.SIGKILL)
    for _ in range(1000):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return
        time.sleep(0.01)


@pytest.mark.parametrize("direction", ["write", "read"])
def test_a_worker_killed_mid_copy_costs_no_bytes(stream_samba: SambaServer, direction: str) -> None:
    data = _payload()
    disk = stream_samba.share_path("share")
    adaptor = CifsStorageAdaptor(stream_samba.url("share"), data_path="libsmbclient")
    if direction == "write":
        writer = adaptor.open_write("killed.bin")
        writer.write(data[:PIECE])  # the worker starts; this process writes while it does
        assert getattr(writer, "streams", None) == 2  # waits until it has started
        writer.write(data[PIECE : 3 * PIECE])  # the worker has piece 1 when it is killed
        pid = getattr(writer, "worker_pid", None)
        assert isinstance(pid, int)
        _kill_and_wait(pid)
        writer.write(data[3 * PIECE :])
        assert getattr(writer, "streams", None) == 1
        writer.close()
        assert (disk / "killed.bin").read_bytes() == data
    else:
        (disk / "killed-r.bin").write_bytes(data)
        reader = adaptor.open_read("killed-r.bin")
        parts = [reader.read(PIECE // 2)]
        assert getattr(reader, "streams", None) == 2  # waits until it has started
        parts.append(reader.read(PIECE))  # pieces 1 and 3 go to the worker, 1 is read by it
        pid = getattr(reader, "worker_pid", None)
        assert isinstance(pid, int)
        _kill_and_wait(pid)
        while chunk := reader.read(PIECE):
            parts.append(chunk)
        assert getattr(reader, "streams", None) == 1
        reader.close()
        assert b"".join(parts) == data
    adaptor.close()


def test_one_stream_when_asked(stream_samba: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSHYPERV_SMB_STREAMS", "1")
    adaptor = CifsStorageAdaptor(stream_samba.url("share"), data_path="libsmbclient")
    writer = adaptor.open_write("one.bin")
    writer.write(b"o" * 3 * PIECE)
    assert getattr(writer, "streams", None) == 1
    assert getattr(writer, "worker_pid", 0) is None
    writer.close()
    adaptor.close()


@pytest.mark.parametrize("direction", ["put", "get"])
def test_server_killed_with_two_streams_is_a_connection_error(tmp_path: Path, direction: str) -> None:
    _require("samba")
    server = SambaServer(tmp_path / "srv", shares=(SambaShare("share"),)).start()
    try:
        data = _payload() * 8
        (tmp_path / "src.bin").write_bytes(data)
        (server.share_path("share") / "src.bin").write_bytes(data)
        local = LocalStorageAdaptor(tmp_path)
        smb = CifsStorageAdaptor(server.url("share"), connection_timeout=5, data_path="libsmbclient")
        seen: list[int] = []

        def kill_then(done: int, _total: int | None) -> None:
            if done >= 2 * PIECE and not seen:
                seen.append(done)
                server.kill()

        src, dst = (local, smb) if direction == "put" else (smb, local)
        with pytest.raises(StorageConnectionError) as info:
            copy_file(src, "src.bin", dst, "out/final.bin", progress=kill_then, chunk_size=PIECE)
        assert seen
        assert server.password not in str(info.value)
        target = (server.share_path("share") if direction == "put" else tmp_path) / "out"
        assert "final.bin" not in os.listdir(target)
    finally:
        server.stop()


def test_the_client_configuration_is_removed_when_the_process_exits(tmp_path: Path) -> None:
    _require_data_path("libsmbclient")
    import subprocess
    import sys

    probe = "from cshyperv.storage import libsmbclient_unavailable_reason as r; import os, sys; "
    probe += "assert r() is None; print(os.listdir(os.environ['TMPDIR']))"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert "cshyperv-smbc-" in result.stdout  # it was there while the process ran
    assert os.listdir(tmp_path) == []


# -- prestart: a spare worker started ahead of the first stream -----------------------------------


@pytest.fixture
def spare_worker() -> Iterator[int]:
    """A spare started by prestart; yields its pid. Whatever a test leaves is discarded after it."""
    from cshyperv.storage import _libsmbclient, prestart_smb_streams

    prestart_smb_streams()
    assert _libsmbclient._SPARE, "prestart started no worker"
    yield _libsmbclient._SPARE[0].pid
    _libsmbclient._discard_spare()


@pytest.mark.parametrize("direction", ["read", "write"])
def test_the_first_stream_takes_the_spare_worker(
    stream_samba: SambaServer, spare_worker: int, direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the usual threshold: the spare is used from the first piece, not after 8 MiB.
    monkeypatch.delenv("CSHYPERV_SMB_PARALLEL_FROM")
    data = _payload()
    disk = stream_samba.share_path("share")
    (disk / "spare-r.bin").write_bytes(data)
    adaptor = CifsStorageAdaptor(stream_samba.url("share"), data_path="libsmbclient")
    stream = adaptor.open_read("spare-r.bin") if direction == "read" else adaptor.open_write("spare-w.bin")
    if direction == "read":
        parts = [stream.read(3 * PIECE)]
    else:
        stream.write(data[: 3 * PIECE])
    assert getattr(stream, "streams", None) == 2
    assert stream.worker_pid == spare_worker  # type: ignore[union-attr]
    if direction == "read":
        while chunk := stream.read(5_000_000):
            parts.append(chunk)
        stream.close()
        assert b"".join(parts) == data
    else:
        stream.write(data[3 * PIECE :])
        stream.close()
        assert (disk / "spare-w.bin").read_bytes() == data
    adaptor.close()


def test_a_spare_that_died_is_not_used(stream_samba: SambaServer, spare_worker: int) -> None:
    _kill_and_wait(spare_worker)
    data = _payload()
    adaptor = CifsStorageAdaptor(stream_samba.url("share"), data_path="libsmbclient")
    writer = adaptor.open_write("spare-dead.bin")
    writer.write(data)
    assert getattr(writer, "streams", None) == 2  # a new worker, started as without a spare
    assert writer.worker_pid not in (None, spare_worker)  # type: ignore[attr-defined]
    writer.close()
    adaptor.close()
    assert (stream_samba.share_path("share") / "spare-dead.bin").read_bytes() == data


def test_an_unused_spare_ends_with_its_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    probe = "from cshyperv.storage import prestart_smb_streams, _libsmbclient as l; "
    probe += "prestart_smb_streams(); print(l._SPARE[0].pid, flush=True)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    pid = int(result.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                if "State:\tZ" in status.read():
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the spare worker {pid} outlived its parent")
