"""The resource layer's storage commands against real Samba and NFS servers.

The agent reaches the shares from Linux through RemoteStorageAccess (no mount): SMB pools by
their UNC paths, NFS secondary storage by URL; capacities are the servers' own figures.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from cshyperv.commands import (
    CopyCmdAnswer,
    CopyCommand,
    DataStoreRole,
    DeleteCommand,
    GetStorageStatsAnswer,
    GetStorageStatsCommand,
    ImageFormat,
    ModifyStoragePoolAnswer,
    NfsTO,
    PrimaryStorageDownloadAnswer,
    PrimaryStorageDownloadCommand,
    TemplateObjectTO,
    VolumeObjectTO,
    VolumeType,
)
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.storage import RemoteStorageAccess, SmbCredentials
from cshyperv.testing.scenario import Scenario
from cshyperv.testing.servers import NfsServer, SambaServer


@pytest.fixture
def setup(
    samba: SambaServer, nfs: NfsServer, tmp_path: Path
) -> Iterator[tuple[ServerResource, Scenario, SambaServer, NfsServer]]:
    for share in ("share", "signed"):
        for item in samba.share_path(share).iterdir():
            if item.is_dir():
                import shutil

                shutil.rmtree(item)
            else:
                item.unlink()
    (nfs.export_path / "secondary").mkdir(exist_ok=True)
    access = RemoteStorageAccess(credentials=SmbCredentials(samba.username, samba.password), smb_port=samba.port)
    resource = ServerResource(SimulatorHypervisor(tmp_path / "sim.db"), access)
    scenario = Scenario(storage_host="127.0.0.1", primary_share="share", secondary_share="signed")
    yield resource, scenario, samba, nfs
    access.close()


def _statvfs_total(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def test_pool_capacity_is_the_servers(setup: tuple[ServerResource, Scenario, SambaServer, NfsServer]) -> None:
    resource, scenario, samba, nfs = setup
    answer = resource.execute(scenario.modify_storage_pool())
    assert isinstance(answer, ModifyStoragePoolAnswer) and answer.result, answer.details
    assert answer.pool_info is not None
    assert answer.pool_info.capacity_bytes == pytest.approx(_statvfs_total(samba.share_path("share")), rel=0.02)
    stats = resource.execute(GetStorageStatsCommand(store=scenario.primary_store()))
    assert isinstance(stats, GetStorageStatsAnswer) and stats.result, stats.details
    assert stats.capacity_bytes == answer.pool_info.capacity_bytes
    nfs_stats = resource.execute(
        GetStorageStatsCommand(store=NfsTO(url=nfs.url("secondary"), role=DataStoreRole.Image))
    )
    assert isinstance(nfs_stats, GetStorageStatsAnswer) and nfs_stats.result, nfs_stats.details
    assert nfs_stats.capacity_bytes == pytest.approx(_statvfs_total(nfs.export_path), rel=0.02)


def test_templates_between_smb_and_nfs(setup: tuple[ServerResource, Scenario, SambaServer, NfsServer]) -> None:
    resource, scenario, samba, nfs = setup
    data = os.urandom(5 * 1024 * 1024)
    # SMB secondary -> SMB primary (same server: copied server-side).
    seeded = samba.share_path("signed") / scenario.template_path
    seeded.parent.mkdir(parents=True)
    seeded.write_bytes(data)
    answer = resource.execute(scenario.copy_template_to_primary())
    assert isinstance(answer, CopyCmdAnswer) and answer.result, answer.details
    assert answer.new_data is not None and answer.new_data.path == f"{scenario.template_uuid}.vhdx"
    assert (samba.share_path("share") / f"{scenario.template_uuid}.vhdx").read_bytes() == data

    # NFS secondary -> SMB primary (streamed through the agent).
    nfs_template = nfs.export_path / "secondary" / "template" / "tmpl" / "2" / "202" / "t.vhdx"
    nfs_template.parent.mkdir(parents=True)
    nfs_template.write_bytes(data[::-1])
    image = NfsTO(url=nfs.url("secondary"), role=DataStoreRole.Image)
    cmd = scenario.copy_template_to_primary()
    cmd = attrs.evolve(
        cmd,
        src_to=attrs.evolve(cmd.src_to, image_data_store=image, path="template/tmpl/2/202/t.vhdx", uuid="t202"),
        dest_to=attrs.evolve(cmd.dest_to, uuid="t202"),
    )
    answer = resource.execute(cmd)
    assert isinstance(answer, CopyCmdAnswer) and answer.result, answer.details
    assert (samba.share_path("share") / "t202.vhdx").read_bytes() == data[::-1]

    # A volume on SMB primary -> a template on NFS secondary, with template.properties.
    volume = VolumeObjectTO(
        uuid="t202", path="t202", data_store=scenario.primary_store(), format=ImageFormat.VHDX,
        volume_type=VolumeType.ROOT, size=len(data),
    )  # fmt: skip
    target = TemplateObjectTO(path="template/tmpl/2/303", uuid="u303", id=303, name="303-2-x", image_data_store=image)
    answer = resource.execute(CopyCommand(src_to=volume, dest_to=target, wait=600))
    assert isinstance(answer, CopyCmdAnswer) and answer.result, answer.details
    folder = nfs.export_path / "secondary" / "template" / "tmpl" / "2" / "303"
    assert (folder / "u303.vhdx").read_bytes() == data[::-1]
    props = (folder / "template.properties").read_text()
    assert "id=303" in props and "vhdx.filename=u303.vhdx" in props

    # Delete the template on the primary pool.
    template = TemplateObjectTO(path="t202.vhdx", image_data_store=scenario.primary_store())
    answer = resource.execute(DeleteCommand(data=template))
    assert answer.result, answer.details
    assert not (samba.share_path("share") / "t202.vhdx").exists()


def test_missing_template_is_a_failed_answer_naming_it(
    setup: tuple[ServerResource, Scenario, SambaServer, NfsServer],
) -> None:
    resource, scenario, samba, _nfs = setup
    answer = resource.execute(scenario.copy_template_to_primary())
    assert isinstance(answer, CopyCmdAnswer) and not answer.result
    assert "not found" in (answer.details or "") and samba.password not in (answer.details or "")


class _Web(http.server.BaseHTTPRequestHandler):
    body = os.urandom(1024 * 1024)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


def test_primary_storage_download_over_http(setup: tuple[ServerResource, Scenario, SambaServer, NfsServer]) -> None:
    resource, scenario, samba, _nfs = setup
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cmd = PrimaryStorageDownloadCommand(
            url=f"http://127.0.0.1:{server.server_address[1]}/templates/ubuntu.vhdx",
            name="tmpl-77",
            format=ImageFormat.VHDX,
            local_path="\\\\127.0.0.1\\share",
            primary_pool=scenario.modify_storage_pool().pool,
        )
        answer = resource.execute(cmd)
    finally:
        server.shutdown()
    assert isinstance(answer, PrimaryStorageDownloadAnswer) and answer.result, answer.details
    assert answer.install_path == "tmpl-77.vhdx" and answer.template_size == len(_Web.body)
    assert (samba.share_path("share") / "tmpl-77.vhdx").read_bytes() == _Web.body
