"""The agent on the Hyper-V plug-in reaches the host's shares from Linux.

The Hyper-V side is the plug-in -> WinRM runner -> pywinrm -> HTTP -> loopback WS-Management
endpoint -> simulated host; the storage side is a real Samba. The plug-in's factory builds the
storage access from the same settings the agent gets (``smb_port`` here; the WinRM account's
credentials unless ``smb_username`` is given).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.commands import CopyCmdAnswer, ModifyStoragePoolAnswer
from cshyperv.hyperv.factory import create
from cshyperv.hyperv.storage import storage_access_from_settings
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.storage import RemoteStorageAccess
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.scenario import Scenario
from cshyperv.testing.servers import SambaServer
from cshyperv.testing.wsman import LoopbackWSManServer


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[LoopbackWSManServer]:
    sim = SimulatorHypervisor(tmp_path / "hyperv.db")
    with LoopbackWSManServer(SimulatedHyperVHost(sim).invoke, username="svc-cloud", password="W1nRM-pass") as ep:
        yield ep


def test_agent_on_hyperv_copies_templates_on_the_share(endpoint: LoopbackWSManServer, samba: SambaServer) -> None:
    plugin = create(
        {
            "url": endpoint.url,
            "username": "svc-cloud",
            "password": "W1nRM-pass",
            "smb_username": samba.username,
            "smb_password": samba.password,
            "smb_port": str(samba.port),
        }
    )
    resource = ServerResource(plugin, plugin.storage_access())
    scenario = Scenario(storage_host="127.0.0.1", primary_share="share", secondary_share="signed")
    data = os.urandom(4 * 1024 * 1024)
    seeded = samba.share_path("signed") / scenario.template_path
    seeded.parent.mkdir(parents=True, exist_ok=True)
    seeded.write_bytes(data)
    try:
        pool = resource.execute(scenario.modify_storage_pool())
        assert isinstance(pool, ModifyStoragePoolAnswer) and pool.result, pool.details
        st = os.statvfs(samba.share_path("share"))
        assert pool.pool_info is not None
        assert pool.pool_info.capacity_bytes == pytest.approx(st.f_blocks * st.f_frsize, rel=0.02)
        answer = resource.execute(scenario.copy_template_to_primary())
        assert isinstance(answer, CopyCmdAnswer) and answer.result, answer.details
        assert (samba.share_path("share") / f"{scenario.template_uuid}.vhdx").read_bytes() == data
    finally:
        plugin.close()


def test_settings_choose_the_account_and_never_show_passwords() -> None:
    access = storage_access_from_settings(
        {"smb_port": "4445"}, host="hv01", winrm_username="LAB\\svc", winrm_password="winrm-secret", environ={}
    )
    assert isinstance(access, RemoteStorageAccess)
    adaptor, rel = access.locate("\\\\fs.lab\\primary\\a\\b.vhdx")
    assert rel == "a/b.vhdx" and "winrm-secret" not in repr(adaptor) and "4445" in repr(adaptor)
    assert "LAB\\\\svc" in repr(adaptor)
    env = {"CSHYPERV_SMB_USERNAME": "files", "CSHYPERV_SMB_PASSWORD": "smb-secret", "CSHYPERV_SMB_DOMAIN": "LAB"}
    access = storage_access_from_settings({}, host="hv01", winrm_username="x", winrm_password="y", environ=env)
    adaptor, _ = access.locate("\\\\fs.lab\\primary\\x.vhdx")
    assert "files" in repr(adaptor) and "smb-secret" not in repr(adaptor)
    # Drive paths on the host only through the administrative share, and only when allowed.
    with pytest.raises(OSError, match="administrative share"):
        access.locate("C:\\VMs\\x.vhdx")
    allowed = storage_access_from_settings({"smb_admin_share": "true"}, host="hv01", environ={})
    adaptor, rel = allowed.locate("C:\\VMs\\x.vhdx")
    assert rel == "VMs/x.vhdx" and getattr(adaptor, "location", None) == "\\\\hv01\\C$"


def test_local_pool_capacity_is_asked_of_the_host(endpoint: LoopbackWSManServer) -> None:
    from cshyperv.commands import GetStorageStatsAnswer, GetStorageStatsCommand

    plugin = create({"url": endpoint.url, "username": "svc-cloud", "password": "W1nRM-pass"})
    resource = ServerResource(plugin, plugin.storage_access())
    try:
        # The simulated host's C: drive exists once something lives there.
        plugin.create_volume("C:\\ClusterStorage\\Volume1\\seed.vhdx", 1024**3)
        answer = resource.execute(GetStorageStatsCommand(local_path="C:\\ClusterStorage\\Volume1"))
        assert isinstance(answer, GetStorageStatsAnswer) and answer.result, answer.details
        assert answer.capacity_bytes > 0 and 0 <= answer.used_bytes <= answer.capacity_bytes
    finally:
        plugin.close()
