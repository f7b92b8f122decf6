"""Real Samba and NFS servers on 127.0.0.1 for the storage tests.

They are started once per session at free non-standard ports. Without smbd/ganesha (or root) the
tests skip with the reason — except where CSHYPERV_REQUIRE_REAL_SERVERS=1 (set by .ci/run), where a
missing server is a failure: CI must exercise the real thing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.storage import CifsStorageAdaptor, LocalStorageAdaptor, NfsStorageAdaptor, StorageAdaptor
from cshyperv.testing.servers import NfsServer, SambaServer, SambaShare, skip_reason

DATA_PATHS = ("libsmbclient", "smbprotocol")


def _require(kind: str) -> None:
    reason = skip_reason(kind)
    if reason is None:
        return
    if os.environ.get("CSHYPERV_REQUIRE_REAL_SERVERS") == "1":
        pytest.fail(f"CSHYPERV_REQUIRE_REAL_SERVERS=1 but {reason}")
    pytest.skip(reason)


def _require_data_path(data_path: str) -> None:
    """The libsmbclient data path is optional on a developer's machine, never in CI."""
    if data_path != "libsmbclient":
        return
    from cshyperv.storage import libsmbclient_unavailable_reason as unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CSHYPERV_REQUIRE_REAL_SERVERS") == "1":
        pytest.fail(f"CSHYPERV_REQUIRE_REAL_SERVERS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(params=DATA_PATHS)
def data_path(request: pytest.FixtureRequest) -> str:
    """Each SMB data path in turn (``CifsStorageAdaptor(data_path=...)``)."""
    _require_data_path(request.param)
    return str(request.param)


# The session's Samba servers, whose logs a failing test's report shows (a dropped connection
# in CI is otherwise a mystery once the temporary directories are gone).
_SAMBAS: list[SambaServer] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if getattr(report, "failed", False) and call.when == "call":
        for server in _SAMBAS:
            for log in sorted(p for p in (server.root / "log").glob("*") if p.is_file()):
                lines = log.read_text("utf-8", "replace").splitlines()[-40:]
                if lines:
                    report.sections.append((f"samba log {log}", "\n".join(lines)))
    return report


@pytest.fixture(scope="session")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    _require("samba")
    server = SambaServer(tmp_path_factory.mktemp("samba")).start()
    _SAMBAS.append(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def samba_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaServer]:
    """A second Samba that requires signing (Samba's setting is per server, not per share)."""
    _require("samba")
    server = SambaServer(tmp_path_factory.mktemp("samba-signed"), shares=(SambaShare("signed", signing="mandatory"),))
    server.start()
    _SAMBAS.append(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NfsServer]:
    _require("nfs")
    server = NfsServer(tmp_path_factory.mktemp("nfs")).start()
    yield server
    server.stop()


CIFS_KINDS = [f"cifs-{share}-{path}" for share in ("plain", "signed", "sealed") for path in DATA_PATHS]


@pytest.fixture(params=["local", *CIFS_KINDS, "nfs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, StorageAdaptor, Path]]:
    """(kind, adaptor rooted at a fresh directory, that directory on the server's disk)."""
    kind = request.param
    folder = f"t-{uuid.uuid4().hex[:8]}"
    adaptor: StorageAdaptor
    if kind == "local":
        disk = tmp_path / folder
        disk.mkdir()
        adaptor = LocalStorageAdaptor(disk)
    elif kind.startswith("cifs"):
        _, which, data_path = kind.split("-")
        _require_data_path(data_path)
        samba: SambaServer = request.getfixturevalue("samba_signed" if which == "signed" else "samba")
        share = {"plain": "share", "signed": "signed", "sealed": "sealed"}[which]
        disk = samba.share_path(share) / folder
        disk.mkdir()
        cifs = CifsStorageAdaptor(samba.url(share, folder), data_path=data_path)
        assert cifs.data_path == data_path
        assert cifs.control_path == data_path  # stat, listing, rename, remove: the same library
        adaptor = cifs
    else:
        server: NfsServer = request.getfixturevalue("nfs")
        disk = server.export_path / folder
        disk.mkdir()
        adaptor = NfsStorageAdaptor(server.url(folder))
    yield kind, adaptor, disk
    adaptor.close()
    shutil.rmtree(disk, ignore_errors=True)
