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

BOOT_ARGS = "template=domP type=secstorage host=10.0.0.5 port=8250 name=s-1-VM zone=1 pod=1 guid=s-1-VM"


def _read(iso: bytes, *, joliet: bool = True) -> dict[str, bytes]:
    """Every file of the image by path, from the Joliet hierarchy or the primary (8.3) one."""
    pycdlib = pytest.importorskip("pycdlib", reason="pycdlib (dev extra) reads the images back")
    reader = pycdlib.PyCdlib()
    reader.open_fp(io.BytesIO(iso))
    kind = "joliet_path" if joliet else "iso_path"
    try:
        found: dict[str, bytes] = {}
        for folder, _dirs, files in reader.walk(**{kind: "/"}):
            for name in files:
                out = io.BytesIO()
                path = f"{folder.rstrip('/')}/{name}"
                reader.get_file_from_iso_fp(out, **{kind: path})
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
    # A reader without Joliet sees the same contents under 8.3 names.
    primary = _read(iso, joliet=False)
    assert sorted(primary.values()) == sorted(files.values())
    assert primary["OPENSTAC/LATEST/USER_DAT."] == files["openstack/latest/user_data"]


def _u32(image: bytes, at: int, order: str = "little") -> int:
    return int.from_bytes(image[at : at + 4], order)  # type: ignore[arg-type]


def _tables_and_records(image: bytes, descriptor_at: int) -> tuple[list[tuple[int, bytes, int]], dict[str, int]]:
    """A minimal reader of one hierarchy: its L path table (parent number, identifier, extent),
    checked equal to its M table, and every directory's extent found by walking the records."""
    vd = image[descriptor_at * 2048 : (descriptor_at + 1) * 2048]
    size, little_at, big_at = _u32(vd, 132), _u32(vd, 140), _u32(vd, 148, "big")

    def table(at: int, order: str) -> list[tuple[int, bytes, int]]:
        entries, pos, end = [], at * 2048, at * 2048 + size
        while pos < end:
            length = image[pos]
            extent = _u32(image, pos + 2, order)
            parent = int.from_bytes(image[pos + 6 : pos + 8], order)  # type: ignore[arg-type]
            entries.append((parent, image[pos + 8 : pos + 8 + length], extent))
            pos += 8 + length + length % 2
        return entries

    little = table(little_at, "little")
    assert little == table(big_at, "big")

    walked: dict[str, int] = {}

    def walk(path: str, extent: int, length: int) -> None:
        walked[path] = extent
        data, pos = image[extent * 2048 : extent * 2048 + length], 0
        while pos < len(data):
            record_length = data[pos]
            if record_length == 0:  # padding to the end of the sector
                pos = (pos // 2048 + 1) * 2048
                continue
            ident = data[pos + 33 : pos + 33 + data[pos + 32]]
            if data[pos + 25] & 2 and ident not in (b"\x00", b"\x01"):
                walk(f"{path}/{ident.hex()}", _u32(data, pos + 2), _u32(data, pos + 10))
            pos += record_length

    walk("", _u32(vd, 158), _u32(vd, 166))
    return little, walked


def test_path_tables_are_in_order_and_agree_with_the_directories() -> None:
    # Primary names are upper-cased 8.3 forms, so their order is not the Joliet order: "B" sorts
    # before "a" as given, after it as "A"; "c-e" before "c_d" as given, after it as "C_E".
    files = {"a/x": b"1", "B/y": b"2", "c_d/z": b"3", "c-e/w": b"4", "c-e/deeper/v": b"5"}
    image = build_iso(files, label="config-2")
    for descriptor_at in (16, 17):
        entries, walked = _tables_and_records(image, descriptor_at)
        assert entries[0][:2] == (1, b"\x00")
        paths = [""]
        for parent, ident, _extent in entries[1:]:
            paths.append(f"{paths[parent - 1]}/{ident.hex()}")
        # ISO 9660 6.9.1: by level, then parent number, then identifier.
        keys = [(p.count("/"), parent, ident) for p, (parent, ident, _e) in zip(paths, entries, strict=True)]
        assert keys == sorted(keys), descriptor_at
        assert {p: extent for p, (_pa, _i, extent) in zip(paths, entries, strict=True)} == walked


@pytest.mark.parametrize(
    "name",
    ["x" * 65, "a:b", "a;b", "a*b", "a?b", "a\\b", "tab\there", "\U0001f600", "."],
)
def test_names_joliet_cannot_hold_are_refused_not_mangled(name: str) -> None:
    with pytest.raises(ValueError, match="config drive"):
        build_iso({f"dir/{name}": b"x"}, label="config-2")
    build_iso({"dir/" + "x" * 64: b"x"}, label="config-2")  # the longest name that fits


@pytest.mark.parametrize("files", [{"a": b"1", "a/b": b"2"}, {"a//b": b"1"}, {"/a": b"1"}])
def test_ambiguous_paths_are_refused(files: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="config drive"):
        build_iso(files, label="config-2")


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
    assert files["cmdline"] == files["cloudstack/cmdline"] == BOOT_ARGS.encode() + b"\n"
    assert files["openstack/latest/user_data"] == b"#!/bin/sh\necho hi\n"
    assert b'"uuid": "4b1f"' in files["openstack/latest/meta_data.json"]
    assert build_config_drive(VmSpec(name="plain")) is None
    assert set(config_drive_files(VmSpec(name="u", user_data="x"))) == {
        "openstack/latest/meta_data.json",
        "openstack/latest/user_data",
    }
    assert build_config_drive(spec) == build_config_drive(spec)  # a retried create writes the same bytes


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
    spec = VmSpec(name="v-5-VM", boot_args=BOOT_ARGS, user_data="secret user data")
    info = hv.deploy_vm(spec)
    (iso_path,) = info.isos
    assert sim.files.local(iso_path).read_bytes() == build_config_drive(spec)  # intact, byte for byte
    assert iso_path == f"C:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\config-drive-{info.uuid}.iso"
    assert _read(sim.files.local(iso_path).read_bytes())["openstack/latest/user_data"] == b"secret user data"
    assert hv.deploy_vm(VmSpec(name="v-5-VM", boot_args=BOOT_ARGS, user_data="secret user data")).isos == (iso_path,)
    hv.destroy_vm("v-5-VM")  # disks kept, the config drive (user data) is not
    assert not sim.files.local(iso_path).exists()


def test_the_iso_lives_in_the_vms_own_folder(tmp_path: Path) -> None:
    sim = SimulatorHypervisor(tmp_path / "h.db")
    info = HyperVHypervisor(SimulatedHyperVHost(sim)).create_vm(VmSpec(name="r-7-VM", vm_path="D:\\VMs", user_data="x"))
    assert info.isos == (f"D:\\VMs\\r-7-VM\\config-drive-{info.uuid}.iso",)


def test_a_stopped_vm_gets_a_fresh_iso_when_started_again(tmp_path: Path) -> None:
    """CloudStack regenerates boot args and lets users change user data while a VM is stopped:
    the next deploy of the (kept) VM rewrites the drive; a running VM's drive is left alone."""
    sim = SimulatorHypervisor(tmp_path / "h.db")
    hv = HyperVHypervisor(SimulatedHyperVHost(sim))
    (iso_path,) = hv.deploy_vm(VmSpec(name="r-6-VM", boot_args="a=1")).isos
    hv.deploy_vm(VmSpec(name="r-6-VM", boot_args="a=2"))  # running: untouched
    assert _read(sim.files.local(iso_path).read_bytes())["cmdline"] == b"a=1\n"
    hv.stop_vm("r-6-VM")
    assert hv.deploy_vm(VmSpec(name="r-6-VM", boot_args="a=2")).isos == (iso_path,)
    assert _read(sim.files.local(iso_path).read_bytes())["cmdline"] == b"a=2\n"
    hv.stop_vm("r-6-VM")
    # Nothing to pass any more (or config_drive=false): the old drive, with its data, goes.
    assert hv.deploy_vm(VmSpec(name="r-6-VM")).isos == ()
    assert not sim.files.local(iso_path).exists()


def test_a_failed_deploy_leaves_no_iso_behind(tmp_path: Path) -> None:
    from cshyperv.errors import InsufficientResourcesError

    sim = SimulatorHypervisor(tmp_path / "h.db", faults={"start_vm": InsufficientResourcesError("no memory")})
    hv = HyperVHypervisor(SimulatedHyperVHost(sim))
    with pytest.raises(InsufficientResourcesError):
        hv.deploy_vm(VmSpec(name="v-8-VM", user_data="secret"))
    assert hv.get_vm("v-8-VM") is None
    assert not list(sim.files.root.rglob("*.iso"))
