"""The Hyper-V plug-in: constant scripts, JSON-only values, errors mapped by id, retry-safe creates."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cshyperv import deadline
from cshyperv.errors import (
    CheckpointNotFoundError,
    HypervisorAccessDeniedError,
    HypervisorError,
    InsufficientResourcesError,
    JobFailedError,
    VmAlreadyExistsError,
    VmNotFoundError,
    VolumeNotFoundError,
)
from cshyperv.hyperv import HyperVHypervisor, PowerShellError, map_error_record
from cshyperv.hyperv.scripts import OPERATIONS, bootstrap_text, operation_of, script_text
from cshyperv.hypervisor import NicSpec, VmSpec
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.hyperv_host import RecordingRunner, ReplayRunner, SimulatedHyperVHost

HOSTILE = (
    st.text(
        st.sampled_from(
            [*"a'\"`$();|&\n\r\t\x00{}[]*?", "\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d", "\u201e"]
        ),
        min_size=1,
        max_size=40,
    )
    | st.just("a\"; Remove-VM *; $(x) '")
    | st.text(min_size=1000, max_size=1200)
)


class Capture:
    """Records what the plug-in sends and answers like an empty host."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, script: str, params: Any) -> Any:
        self.sent.append((script, dict(params)))
        return None

    def close(self) -> None:
        pass


@given(name=HOSTILE, checkpoint=HOSTILE, path=HOSTILE, switch=HOSTILE)
def test_values_never_reach_script_text(name: str, checkpoint: str, path: str, switch: str) -> None:
    runner = Capture()
    hv = HyperVHypervisor(runner)
    hv.get_vm(name)
    hv.stop_vm(name)
    hv.destroy_vm(name, delete_disks=True)
    hv.delete_checkpoint(name, checkpoint)
    hv.delete_volume(path)
    hv.add_nic(name, NicSpec(mac="02:00:00:00:00:01", switch=switch))
    for script, _ in runner.sent:
        assert operation_of(script) is not None, "every script sent is one of the constant scripts"
        assert script == script_text(operation_of(script) or "")
    assert runner.sent[0][1] == {"name": name}


def test_every_script_parses_as_powershell() -> None:
    ts = pytest.importorskip("tree_sitter")
    tsp = pytest.importorskip("tree_sitter_powershell")
    parser = ts.Parser(ts.Language(tsp.language()))
    for operation in OPERATIONS:
        tree = parser.parse(script_text(operation).encode("utf-8"))
        assert not tree.root_node.has_error, operation
    for runner in ("winrm", "psrp"):
        tree = parser.parse(bootstrap_text(runner).encode("utf-8"))
        assert not tree.root_node.has_error, runner
    # The grammar does flag broken PowerShell (an unclosed block, a here-string never ended).
    for broken in ("if ($p.x) { Get-VM\n", "$t = @'\nno end\n"):
        assert parser.parse(broken.encode("utf-8")).root_node.has_error, broken


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (
            {"category": "ObjectNotFound", "fully_qualified_error_id": "cshyperv.VmNotFound", "target": "v"},
            VmNotFoundError,
        ),
        (
            {
                "category": "ObjectNotFound",
                "fully_qualified_error_id": "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
            },
            VmNotFoundError,
        ),
        (
            {"category": "ObjectNotFound", "fully_qualified_error_id": "cshyperv.CheckpointNotFound"},
            CheckpointNotFoundError,
        ),
        ({"category": "PermissionDenied", "fully_qualified_error_id": "AccessDenied,Foo"}, HypervisorAccessDeniedError),
        (
            {"category": "ResourceUnavailable", "fully_qualified_error_id": "OutOfMemory,Foo"},
            InsufficientResourcesError,
        ),
        ({"category": "InvalidResult", "fully_qualified_error_id": "cshyperv.JobFailed.32773"}, JobFailedError),
        ({"category": "ResourceExists", "fully_qualified_error_id": "Exists,Foo"}, VmAlreadyExistsError),
        ({"category": "NotSpecified", "fully_qualified_error_id": "Whatever"}, HypervisorError),
        # path_capacity.ps1: a missing path by its own id, a refused one by category.
        ({"category": "ObjectNotFound", "fully_qualified_error_id": "cshyperv.PathNotFound"}, VolumeNotFoundError),
        (
            {"category": "PermissionDenied", "fully_qualified_error_id": "cshyperv.Win32Error.5"},
            HypervisorAccessDeniedError,
        ),
        ({"category": "ReadError", "fully_qualified_error_id": "cshyperv.Win32Error.1117"}, HypervisorError),
    ],
)
def test_errors_are_mapped_by_id_and_category(record: dict[str, Any], error: type) -> None:
    mapped = map_error_record({**record, "message": "Das ist auf Deutsch"}, {"name": "v"})
    assert type(mapped) is error
    if error is JobFailedError:
        assert mapped.code == 32773  # type: ignore[attr-defined]


def test_error_messages_are_redacted() -> None:
    mapped = map_error_record({"category": "NotSpecified", "message": "cifs://h/s?password=S3cret failed"}, {})
    assert "S3cret" not in str(mapped)


def test_a_retried_create_reuses_the_vm_and_a_different_one_is_refused(tmp_path: Path) -> None:
    hv = HyperVHypervisor(SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "h.db")))
    spec = VmSpec(name="i-2-3-VM", cpus=2, nics=(NicSpec(mac="02:00:00:00:00:01", vlan=7),))
    first = hv.create_vm(spec)
    assert hv.create_vm(spec).uuid == first.uuid
    with pytest.raises(VmAlreadyExistsError):
        hv.create_vm(VmSpec(name="i-2-3-VM", cpus=4))


def test_path_capacity_from_the_host(tmp_path: Path) -> None:
    sim = SimulatorHypervisor(tmp_path / "h.db")
    sim.files.create_disk("\\\\fs.lab\\primary\\a.vhdx", 1024**3)
    hv = HyperVHypervisor(SimulatedHyperVHost(sim))
    usage = hv.path_capacity("\\\\fs.lab\\primary")
    disk = shutil.disk_usage(tmp_path)
    assert usage.total_bytes == disk.total and 0 < usage.free_bytes <= usage.total_bytes
    assert hv.path_capacity("\\\\fs.lab\\primary\\a.vhdx") == usage  # a file: its folder's volume
    for missing in ("\\\\fs.lab\\nowhere", "\\\\fs.lab\\primary\\a.vhdx\\below-a-file", "relative\\path"):
        with pytest.raises(VolumeNotFoundError, match=r"path .* not found") as info:
            hv.path_capacity(missing)
        assert isinstance(info.value, FileNotFoundError) and info.value.path == missing


def test_stop_timeout_leaves_room_before_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock that does not move: the remaining time is exact, whatever the machine's load.
    monkeypatch.setattr(deadline, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    runner = Capture()
    hv = HyperVHypervisor(runner, stop_timeout_s=120)
    hv.stop_vm("v")
    assert runner.sent[-1][1]["timeout_s"] == 120 and runner.sent[-1][1]["force"] is False
    with deadline.deadline_scope(30):
        hv.stop_vm("v")
    assert runner.sent[-1][1]["timeout_s"] == 20
    with deadline.deadline_scope(5):
        hv.stop_vm("v")
    assert runner.sent[-1][1]["force"] is True


def test_record_and_replay(tmp_path: Path) -> None:
    recorder = RecordingRunner(SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "h.db")))
    hv = HyperVHypervisor(recorder)
    hv.create_vm(VmSpec(name="i-2-9-VM"))
    hv.start_vm("i-2-9-VM")
    with pytest.raises(VmNotFoundError):
        hv.start_vm("absent")
    recorder.save(tmp_path / "t.jsonl")
    replay = HyperVHypervisor(ReplayRunner.load(tmp_path / "t.jsonl"))
    replay.create_vm(VmSpec(name="i-2-9-VM"))
    assert replay.start_vm("i-2-9-VM").state.value == "Running"
    with pytest.raises(VmNotFoundError):
        replay.start_vm("absent")
    with pytest.raises(AssertionError, match="more invocations"):
        replay.start_vm("i-2-9-VM")


def test_a_powershell_error_never_leaks_unredacted() -> None:
    error = PowerShellError({"message": "password=S3cret"})
    assert "S3cret" not in str(error)


@given(value=HOSTILE)
def test_every_string_parameter_of_every_operation_travels_as_data(value: str) -> None:
    """Each public operation, with a hostile value in every string it takes: the script text sent
    is always one of the constant scripts, and the value arrives intact in the JSON parameters."""
    from cshyperv.hypervisor import DiskKind, DiskSpec

    runner = Capture()
    hv = HyperVHypervisor(runner)
    disk = DiskSpec(kind=DiskKind.DATA, path=value, template_path=value)
    calls = [
        lambda: hv.get_vm(value),
        lambda: hv.create_vm(
            VmSpec(
                name=value,
                notes=value,
                boot_args=value,
                user_data=value,
                vm_path=value,
                disks=(disk,),
                nics=(NicSpec(mac=value, switch=value),),
                secure_boot_template=value,
            )
        ),
        lambda: hv.deploy_vm(VmSpec(name=value, uuid=value, user_data=value)),
        lambda: hv.start_vm(value),
        lambda: hv.stop_vm(value),
        lambda: hv.reboot_vm(value),
        lambda: hv.destroy_vm(value),
        lambda: hv.attach_disk(value, disk),
        lambda: hv.detach_disk(value, value),
        lambda: hv.create_volume(value, 1, parent=value),
        lambda: hv.clone_volume(value, value),
        lambda: hv.resize_volume(value, 2),
        lambda: hv.delete_volume(value),
        lambda: hv.volume_info(value),
        lambda: hv.add_nic(value, NicSpec(mac=value, switch=value)),
        lambda: hv.remove_nic(value, value),
        lambda: hv.set_nic_vlan(value, value, 5),
        lambda: hv.create_checkpoint(value, value),
        lambda: hv.list_checkpoints(value),
        lambda: hv.revert_checkpoint(value, value),
        lambda: hv.delete_checkpoint(value, value),
        lambda: hv.migrate_vm(value, value, storage_path=value),
        lambda: hv.console_info(value),
        lambda: hv.scale_vm(value, cpus=1),
        lambda: hv.suspend_vm(value),
        lambda: hv.resume_vm(value),
        lambda: hv.vm_stats([value]),
        lambda: hv.path_capacity(value),
    ]
    for call in calls:
        # Capture answers None, which the plug-in may not accept: what matters is what was sent.
        with contextlib.suppress(TypeError, KeyError, AttributeError, AssertionError):
            call()
    assert len(runner.sent) == len(calls)

    def holds(node: Any) -> bool:
        if isinstance(node, dict):
            return any(holds(v) for v in node.values())
        if isinstance(node, list):
            return any(holds(v) for v in node)
        return node == value

    for script, params in runner.sent:
        operation = operation_of(script)
        assert operation is not None and script == script_text(operation)
        assert holds(json.loads(json.dumps(params))), operation

    # The config drive is data too: base64 in the parameters, and the value intact inside the ISO.
    drives = [params["config_drive"] for _script, params in runner.sent if "config_drive" in params]
    assert len(drives) == 2  # the create and the deploy
    for drive in drives:
        assert set(drive) == {"iso_base64"}
        files = _iso_files(base64.b64decode(drive["iso_base64"], validate=True))
        assert files["openstack/latest/user_data"] == value.encode("utf-8")
        assert json.loads(files["openstack/latest/meta_data.json"])["name"] == value
    assert _iso_files(base64.b64decode(drives[0]["iso_base64"]))["cmdline"] == value.encode("utf-8") + b"\n"


def _iso_files(image: bytes) -> dict[str, bytes]:
    """Every file of an ISO image by its Joliet path, read with pycdlib (an independent reader)."""
    pycdlib = pytest.importorskip("pycdlib", reason="pycdlib (dev extra) reads the config drives back")
    reader = pycdlib.PyCdlib()
    reader.open_fp(io.BytesIO(image))
    try:
        found: dict[str, bytes] = {}
        for folder, _dirs, names in reader.walk(joliet_path="/"):
            for name in names:
                path = f"{folder.rstrip('/')}/{name}"
                out = io.BytesIO()
                reader.get_file_from_iso_fp(out, joliet_path=path)
                found[path.lstrip("/").removesuffix(";1")] = out.getvalue()
        return found
    finally:
        reader.close()
