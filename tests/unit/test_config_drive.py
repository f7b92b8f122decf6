"""Config-drive ISOs (KVP fallback, CloudStack #4072): valid ISO 9660 + Joliet, read back by an
independent reader (pycdlib) and by blkid; carried by create/deploy as data; removed with the VM."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cshyperv.hyperv import HyperVHypervisor
from cshyperv.hyperv.configdrive import build_config_drive, build_iso, config_drive_files
from cshyperv.hypervisor import VmSpec
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.hyperv_host import SimulatedHyperVHost

pycdlib = pytest.importorskip("pycdlib", reason="pycdlib (dev extra) reads the images back")

BOOT_ARGS = "template=domP type=secstorage host=10.0.0.5 port=8250 name=s-1-VM zone=1 pod=1 guid=s-1-VM"


def _read(iso: bytes) -> dict[str, bytes]:
    reader = pycdlib.PyCdlib()
    reader.open_fp(io.BytesIO(iso))
    try:
        found: dict[str, bytes] = {}
        for folder, _dirs, files in reader.walk(joliet_path="/"):
            for name in files:
                out = io.BytesIO()
                path = f"{folder.rstrip('/')}/{name}"
                reader.get_file_from_iso_fp(out, joliet_path=path)
                found[path.lstrip("/").removesuffix(";1")] = out.getvalue()
        return found
    finally:
        reader.close()


def test_iso_holds_the_files_byte_for_byte_and_is_deterministic() -> None:
    files = {
        "openstack/latest/meta_data.json": b'{"uuid": "u"}',
        "openstack/latest/user_data": b"#cloud-config\n" + bytes(range(256)) * 40,
        "cmdline": b"a=b\n",
        "empty": b"",
        "ünïcödé/Long Name With Spaces.txt": b"x" * 5000,
        **{f"many/file-{i:03d}": f"{i}".encode() for i in range(120)},  # directory over several sectors
    }
    iso = build_iso(files, label="config-2")
    assert len(iso) % 2048 == 0 and iso == build_iso(files, label="config-2")
    assert _read(iso) == files


def test_blkid_sees_the_config_2_label(tmp_path: Path) -> None:
    blkid = shutil.which("blkid") or "/usr/sbin/blkid"
    if not Path(blkid).exists():
        pytest.skip("blkid (util-linux) is not installed")
    image = tmp_path / "cd.iso"
    image.write_bytes(build_iso({"cmdline": b"x"}, label="config-2"))
    out = subprocess.run([blkid, "-o", "export", str(image)], capture_output=True, text=True, check=True).stdout
    assert "LABEL=config-2" in out and "TYPE=iso9660" in out


def test_files_of_a_spec() -> None:
    spec = VmSpec(name="r-4-VM", uuid="4b1f", boot_args=BOOT_ARGS, user_data="#!/bin/sh\necho hi\n")
    files = config_drive_files(spec)
    assert files["cmdline"] == BOOT_ARGS.encode() + b"\n"
    assert files["openstack/latest/user_data"] == b"#!/bin/sh\necho hi\n"
    assert b'"uuid": "4b1f"' in files["openstack/latest/meta_data.json"]
    assert build_config_drive(VmSpec(name="plain")) is None


class _Capture:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def invoke(self, script: str, params: Any) -> Any:
        self.sent.append(params)
        return {"name": params.get("name"), "state": "Off", "existed": False}

    def close(self) -> None:
        pass


def test_the_iso_travels_as_data_in_the_create() -> None:
    runner = _Capture()
    HyperVHypervisor(runner).deploy_vm(VmSpec(name="s-1-VM", boot_args=BOOT_ARGS))
    iso = base64.b64decode(runner.sent[-1]["config_drive"]["iso_base64"])
    assert _read(iso)["cmdline"] == BOOT_ARGS.encode() + b"\n"
    assert runner.sent[-1]["boot_args"] == BOOT_ARGS  # KVP keeps working where it works
    HyperVHypervisor(runner, config_drive=False).create_vm(VmSpec(name="s-2-VM", boot_args=BOOT_ARGS))
    assert "config_drive" not in runner.sent[-1]
    HyperVHypervisor(runner).create_vm(VmSpec(name="u-3-VM"))
    assert "config_drive" not in runner.sent[-1]


def test_on_the_host_the_iso_is_attached_and_removed_with_the_vm(tmp_path: Path) -> None:
    sim = SimulatorHypervisor(tmp_path / "h.db")
    hv = HyperVHypervisor(SimulatedHyperVHost(sim))
    info = hv.deploy_vm(VmSpec(name="v-5-VM", boot_args=BOOT_ARGS, user_data="secret user data"))
    (iso_path,) = info.isos
    assert iso_path.endswith(f"config-drive-{info.uuid}.iso")
    assert _read(sim.files.local(iso_path).read_bytes())["openstack/latest/user_data"] == b"secret user data"
    assert hv.deploy_vm(VmSpec(name="v-5-VM", boot_args=BOOT_ARGS, user_data="secret user data")).isos == (iso_path,)
    hv.destroy_vm("v-5-VM")  # disks kept, the config drive (user data) is not
    assert not sim.files.local(iso_path).exists()
