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

import attrs
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
    MigrationPrerequisiteError,
    NicNotFoundError,
    UnsupportedOperationError,
    VmAlreadyExistsError,
    VmNotFoundError,
    VolumeNotFoundError,
)
from cshyperv.hyperv import HyperVHypervisor, PowerShellError, map_error_record
from cshyperv.hyperv.scripts import OPERATIONS, bootstrap_text, operation_of, script_text
from cshyperv.hypervisor import DiskKind, DiskSpec, NicSpec, VmSpec
from cshyperv.simulator import HostProfile, SimulatorHypervisor
from cshyperv.testing.hyperv_host import (
    GuestBehaviour,
    HostSettings,
    RecordingRunner,
    ReplayRunner,
    ScriptTraits,
    SimulatedHyperVHost,
    powershell_output,
)

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
        self.answer: Any = None

    def invoke(self, script: str, params: Any) -> Any:
        self.sent.append((script, dict(params)))
        return self.answer

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
        # B11: a missing NIC is not a missing VM.
        ({"category": "ObjectNotFound", "fully_qualified_error_id": "cshyperv.NicNotFound"}, NicNotFoundError),
        # B6: Test-CsPath's access denied, by its own id.
        (
            {"category": "PermissionDenied", "fully_qualified_error_id": "cshyperv.AccessDenied"},
            HypervisorAccessDeniedError,
        ),
        # A4: the migration preflight.
        (
            {
                "category": "InvalidOperation",
                "fully_qualified_error_id": "cshyperv.MigrationPrerequisite",
                "target": "CredentialDelegation",
            },
            MigrationPrerequisiteError,
        ),
        # B4: boot arguments too long for KVP and no config drive to carry them.
        ({"category": "InvalidArgument", "fully_qualified_error_id": "cshyperv.KvpValueTooLong"}, JobFailedError),
        # B12: a .vhd root on Generation 2.
        (
            {"category": "InvalidArgument", "fully_qualified_error_id": "cshyperv.UnsupportedDiskFormat"},
            UnsupportedOperationError,
        ),
    ],
)
def test_errors_are_mapped_by_id_and_category(record: dict[str, Any], error: type) -> None:
    mapped = map_error_record({**record, "message": "Das ist auf Deutsch"}, {"name": "v"})
    assert type(mapped) is error
    if error is JobFailedError:
        assert mapped.code == 32773  # type: ignore[attr-defined]


def test_not_found_in_a_disk_operation_is_the_disk_not_a_vm() -> None:
    record = {
        "category": "ObjectNotFound",
        "fully_qualified_error_id": "ObjectNotFound,Microsoft.Vhd.PowerShell.GetVHD",
    }
    mapped = map_error_record(record, {"action": "info", "path": "C:\\v\\a.vhdx"})
    assert isinstance(mapped, VolumeNotFoundError) and mapped.path == "C:\\v\\a.vhdx"
    assert isinstance(map_error_record(record, {"vm": "i-2-3-VM", "path": "x"}), VmNotFoundError)


def test_a_migration_prerequisite_names_what_is_missing_and_how_to_fix_it() -> None:
    for missing, hint in (
        ("VirtualMachineMigrationEnabled", "Enable-VMMigration"),
        ("PartOfDomain", "domain"),
        ("CredentialDelegation", "credssp"),
    ):
        record = {"fully_qualified_error_id": "cshyperv.MigrationPrerequisite", "target": missing, "message": "m"}
        mapped = map_error_record(record, {"vm": "v"})
        assert isinstance(mapped, MigrationPrerequisiteError) and mapped.missing == missing
        assert hint in str(mapped)


def test_create_sends_only_what_the_script_reads() -> None:
    """A9: the free-form details map (keys 5.1's ConvertFrom-Json refuses) and user_data stay home."""
    runner = Capture()
    runner.answer = {"name": "v", "state": "Off", "existed": False}
    hv = HyperVHypervisor(runner, config_drive=False)
    spec = VmSpec(name="v", details={"": "empty key", "Key": "1", "key": "2"}, user_data="secret", boot_args="a=1")
    hv.create_vm(spec)
    _, params = runner.sent[-1]
    assert "details" not in params and "user_data" not in params
    assert params["boot_args"] == "a=1" and params["name"] == "v"

    # What is sent is JSON whose every object has distinct, non-empty keys, case-insensitively.
    def keys_ok(value: Any) -> bool:
        if isinstance(value, dict):
            lowered = [k.lower() for k in value]
            return "" not in lowered and len(set(lowered)) == len(lowered) and all(map(keys_ok, value.values()))
        return all(map(keys_ok, value)) if isinstance(value, list) else True

    assert keys_ok(json.loads(json.dumps(params)))


def test_generation_2_defaults_boot_every_guest() -> None:
    """B12: secure boot off unless asked (Hyper-V's default template boots Windows only); .vhd refused."""
    runner = Capture()
    runner.answer = {"name": "v", "state": "Off", "existed": False}
    hv = HyperVHypervisor(runner, config_drive=False)
    hv.create_vm(VmSpec(name="v", generation=2))
    assert runner.sent[-1][1]["secure_boot"] is False
    hv.create_vm(VmSpec(name="v", generation=2, secure_boot=True))
    assert runner.sent[-1][1]["secure_boot"] is True
    hv.create_vm(VmSpec(name="v", generation=1))
    assert runner.sent[-1][1]["secure_boot"] is None
    sent = len(runner.sent)
    root = DiskSpec(kind=DiskKind.ROOT, path="C:\\v\\root.vhd")
    with pytest.raises(UnsupportedOperationError, match=r"disks\[0\]\.path"):
        hv.create_vm(VmSpec(name="v", generation=2, disks=(root,)))
    assert len(runner.sent) == sent  # refused before anything was sent
    hv.create_vm(VmSpec(name="v", generation=1, disks=(root,)))  # Generation 1 boots from .vhd


def test_list_vms_reads_a_bare_object_as_one_vm() -> None:
    runner = Capture()
    runner.answer = {"name": "only", "state": "Running"}
    assert [v.name for v in HyperVHypervisor(runner).list_vms()] == ["only"]


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


# -- the simulated host behaves like Windows where the scripts' defects hid -----------------------


def _host(tmp_path: Path, **settings: Any) -> tuple[SimulatedHyperVHost, HyperVHypervisor]:
    host = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "h.db"), settings=HostSettings(**settings))
    return host, HyperVHypervisor(host, config_drive=False)


def _regressed(operation: str, fixed: str, before: str) -> Any:
    """A script source in which one fix of ``operation`` is reverted (what a regression sends)."""

    def source(name: str) -> str:
        text = script_text(name)
        if name == operation:
            assert fixed in text, f"{operation} no longer holds {fixed!r}"
            return text.replace(fixed, before)
        return text

    return source


def test_powershell_output_rules() -> None:
    assert powershell_output([], wrapped=False) is None
    assert powershell_output([{"a": 1}], wrapped=False) == {"a": 1}
    assert powershell_output([1, 2], wrapped=False) == [1, 2]
    assert powershell_output([], wrapped=True) == [] and powershell_output([{"a": 1}], wrapped=True) == [{"a": 1}]
    assert powershell_output({"a": [1]}, wrapped=False) == {"a": [1]}  # a hashtable is one object
    assert powershell_output(None, wrapped=False) is None


def test_the_double_unrolls_an_array_the_script_does_not_wrap(tmp_path: Path) -> None:
    """A1: list_vms with one VM is a list because the script says ,@(...); without it, a bare object."""
    sim = SimulatorHypervisor(tmp_path / "h.db")
    HyperVHypervisor(SimulatedHyperVHost(sim)).create_vm(VmSpec(name="only"))
    raw = SimulatedHyperVHost(sim).invoke(script_text("list_vms"), {"full": False})
    assert isinstance(raw, list) and [v["name"] for v in raw] == ["only"]
    regressed = SimulatedHyperVHost(sim, script_source=_regressed("list_vms", ",@(Get-VM", "@(Get-VM")).invoke(
        script_text("list_vms"), {"full": False}
    )
    assert isinstance(regressed, dict) and regressed["name"] == "only"
    empty = SimulatorHypervisor(tmp_path / "e.db")
    assert SimulatedHyperVHost(empty).invoke(script_text("list_vms"), {"full": False}) == []
    assert (
        SimulatedHyperVHost(empty, script_source=_regressed("list_vms", ",@(Get-VM", "@(Get-VM")).invoke(
            script_text("list_vms"), {"full": False}
        )
        is None
    )
    one = SimulatedHyperVHost(sim).invoke(script_text("checkpoint"), {"action": "list", "vm": "only", "checkpoint": ""})
    assert one == []


def test_access_denied_is_not_vm_absent(tmp_path: Path) -> None:
    """B3: Get-VM refused reads as an error; a script hiding Get-VM's errors would say "absent"."""
    host, hv = _host(tmp_path)
    hv.create_vm(VmSpec(name="v"))
    host.settings.vm_access_denied = True
    for call in (lambda: hv.get_vm("v"), lambda: hv.stop_vm("v"), lambda: hv.destroy_vm("v"), hv.list_vms):
        with pytest.raises(HypervisorAccessDeniedError):
            call()
    hiding = SimulatedHyperVHost(
        host.simulator,
        settings=host.settings,
        script_source=_regressed("get_vm", "Get-VM -ErrorAction Stop", "Get-VM -ErrorAction SilentlyContinue"),
    )
    # _common.ps1 is in every operation's text: the regression reaches get_vm through it.
    assert hiding.traits("get_vm").vm_lookup_hides_errors
    assert HyperVHypervisor(hiding).get_vm("v") is None


def test_a_path_the_session_may_not_reach_is_an_error_not_missing(tmp_path: Path) -> None:
    """B6: Test-CsPath, unlike Test-Path, keeps access denied (the double hop to a share) an error."""
    share = "\\\\fs.lab\\primary"
    host, hv = _host(tmp_path, denied_paths=(share,))
    host.simulator.files.create_disk(share + "\\d.vhdx", 1024**2)
    hv.create_vm(VmSpec(name="v"))
    with pytest.raises(HypervisorAccessDeniedError):
        hv.volume_info(share + "\\d.vhdx")
    with pytest.raises(HypervisorAccessDeniedError):
        hv.attach_disk("v", DiskSpec(kind=DiskKind.DATA, path=share + "\\d.vhdx"))
    with pytest.raises(HypervisorAccessDeniedError):
        hv.path_capacity(share)
    with pytest.raises(HypervisorAccessDeniedError):
        hv.create_vm(VmSpec(name="w", disks=(DiskSpec(kind=DiskKind.ROOT, path=share + "\\d.vhdx"),)))
    assert hv.volume_info("\\\\fs.lab\\other\\absent.vhdx") is None  # truly absent: None
    hiding = SimulatedHyperVHost(
        host.simulator,
        settings=host.settings,
        script_source=_regressed(
            "volume",
            "if (-not (Test-CsPath $path)) { return $null }",
            "if (-not (Test-Path -LiteralPath $path)) { return $null }",
        ),
    )
    assert HyperVHypervisor(hiding).volume_info(share + "\\d.vhdx") is None  # the defect: "absent"


def test_destroy_merges_checkpoints_before_removing_the_vm(tmp_path: Path) -> None:
    """A5: Remove-VM merges checkpoints after the VM is gone; the script merges them first."""
    host, hv = _host(tmp_path)
    files = host.simulator.files
    root = "C:\\VMs\\v\\root.vhdx"
    files.create_disk(root, 1024**3)
    hv.create_vm(VmSpec(name="v", disks=(DiskSpec(kind=DiskKind.ROOT, path=root),)))
    hv.create_checkpoint("v", "one")
    hv.create_checkpoint("v", "two")
    avhdx = sorted(p.name for p in files.local(root).parent.glob("*.avhdx"))
    assert len(avhdx) == 2
    hv.destroy_vm("v", delete_disks=True)
    assert not files.local(root).exists() and not list(files.local(root).parent.glob("*.avhdx"))

    # The regression the double must catch: Remove-VM first, the disks deleted during the merge.
    racing = SimulatedHyperVHost(
        host.simulator,
        script_source=_regressed(
            "destroy_vm",
            "{ Remove-VMSnapshot -VMSnapshot $root -IncludeAllChildSnapshots -ErrorAction Stop }",
            "{ }",
        ),
    )
    hv2 = HyperVHypervisor(racing, config_drive=False)
    files.create_disk(root, 1024**3)
    hv2.create_vm(VmSpec(name="v", disks=(DiskSpec(kind=DiskKind.ROOT, path=root),)))
    hv2.create_checkpoint("v", "one")
    with pytest.raises(HypervisorError):
        hv2.destroy_vm("v", delete_disks=True)
    hv2.destroy_vm("v", delete_disks=True)  # the retry finds no VM...
    assert files.local(root).exists()  # ... and the base disk is leaked


def test_migration_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    """A4: the preflight names the missing prerequisite; Move-VM alone would fail obscurely."""
    host, hv = _host(tmp_path)
    SimulatorHypervisor(tmp_path / "h.db", host=HostProfile(name="hv02", ip="10.0.0.2"))
    hv.create_vm(VmSpec(name="v"))
    cases = [
        ({"migration_enabled": False}, "VirtualMachineMigrationEnabled"),
        ({"domain_joined": False}, "PartOfDomain"),
        ({"migration_authentication": "CredSSP", "session_authentication": "NTLM"}, "CredentialDelegation"),
    ]
    for change, missing in cases:
        host.settings = HostSettings(**change)
        with pytest.raises(MigrationPrerequisiteError) as info:
            hv.migrate_vm("v", "hv02")
        assert info.value.missing == missing and missing in str(info.value)
    # Kerberos without constrained delegation: no preflight can see it; Move-VM fails.
    host.settings = HostSettings(kerberos_delegation=False)
    with pytest.raises(HypervisorError) as failed:
        hv.migrate_vm("v", "hv02")
    assert not isinstance(failed.value, MigrationPrerequisiteError)
    # A regressed script without the preflight meets the host's refusal untyped.
    host.settings = HostSettings(migration_enabled=False)
    bare = SimulatedHyperVHost(
        host.simulator,
        settings=host.settings,
        script_source=_regressed(
            "migrate_vm", "if (-not [bool] $vmHost.VirtualMachineMigrationEnabled)", "if ($false)"
        ),
    )
    with pytest.raises(HypervisorError) as untyped:
        HyperVHypervisor(bare).migrate_vm("v", "hv02")
    assert not isinstance(untyped.value, MigrationPrerequisiteError)
    # Set up as docs/hyperv.md says (CredSSP from a CredSSP session, or Kerberos delegation): it moves.
    host.settings = HostSettings(migration_authentication="CredSSP", session_authentication="CredSSP")
    hv.migrate_vm("v", "hv02")
    assert hv.get_vm("v") is None


def test_kvp_values_over_1023_characters_are_refused(tmp_path: Path) -> None:
    """B4: the AddKvpItems job fails (32773) beyond 1023 UTF-16 characters; the script waits for it."""
    host, hv = _host(tmp_path)
    host.add_kvp_item("x", "a" * 1023)
    for too_long in ("a" * 1024, "\U0001f600" * 512):  # 1024 UTF-16 code units either way
        with pytest.raises(PowerShellError) as info:
            host.add_kvp_item("x", too_long)
        assert info.value.record["fully_qualified_error_id"] == "cshyperv.JobFailed.32773"
    hv.create_vm(VmSpec(name="short", boot_args="template=domP name=r-1-VM"))
    assert host.kvp["short"] == "template=domP name=r-1-VM"
    with pytest.raises(JobFailedError) as failed:
        hv.create_vm(VmSpec(name="long", boot_args="k=" + "v" * 2000))
    assert failed.value.code == 32773 and hv.get_vm("long") is None  # rolled back
    # With the config drive the long arguments travel there alone.
    HyperVHypervisor(host).create_vm(VmSpec(name="drive", boot_args="k=" + "v" * 2000))
    assert "drive" not in host.kvp and host.simulator.get_vm("drive") is not None
    # The defect: a job never awaited fails unseen and the VM boots without its arguments.
    unchecked = SimulatedHyperVHost(
        host.simulator,
        script_source=_regressed("create_vm", "if ($bootArgs.Length -le 1023) {", "if ($bootArgs) {"),
    )
    unchecked._traits["create_vm"] = attrs.evolve(unchecked.traits("create_vm"), kvp_job_awaited=False)
    HyperVHypervisor(unchecked, config_drive=False).create_vm(VmSpec(name="silent", boot_args="k=" + "v" * 2000))
    assert "silent" not in unchecked.kvp


def test_reboot_is_a_guest_reboot_and_reset_only_without_the_shutdown_service(tmp_path: Path) -> None:
    """B1: InitiateReboot when the guest offers the service; Restart-VM (a hard reset) otherwise."""
    host, hv = _host(tmp_path)
    hv.deploy_vm(VmSpec(name="v"))
    hv.deploy_vm(VmSpec(name="bare"))
    host.guests["bare"] = GuestBehaviour(shutdown_service=False)
    hv.reboot_vm("v")
    hv.reboot_vm("bare")
    assert host.reboots == {"v": ["reboot"], "bare": ["reset"]}
    assert hv.get_vm("v").state.value == "Running"  # type: ignore[union-attr]
    regressed = SimulatedHyperVHost(
        host.simulator,
        script_source=_regressed("reboot_vm", "-MethodName InitiateReboot", "-MethodName Reset"),
    )
    HyperVHypervisor(regressed).reboot_vm("v")
    assert regressed.reboots == {"v": ["reset"]}


def test_stop_is_graceful_within_the_deadline_and_turns_off_after_it(tmp_path: Path) -> None:
    """B2: a guest that shuts down in time is shut down; one that does not is turned off at the deadline."""
    host, hv = _host(tmp_path)
    hv = HyperVHypervisor(host, config_drive=False, stop_timeout_s=120)
    behaviours = {
        "quick": GuestBehaviour(shutdown_s=30),
        "slow": GuestBehaviour(shutdown_s=300),
        "bare": GuestBehaviour(shutdown_service=False),
    }
    for name, behaviour in behaviours.items():
        hv.deploy_vm(VmSpec(name=name))
        host.guests[name] = behaviour
        hv.stop_vm(name)
        assert hv.get_vm(name).state.value == "Off"  # type: ignore[union-attr]
    hv.deploy_vm(VmSpec(name="forced"))
    hv.stop_vm("forced", force=True)
    assert host.stops == {
        "quick": ("shutdown", 30),
        "slow": ("turn-off", 120),
        "bare": ("turn-off", 120),
        "forced": ("turn-off", 0),
    }
    # The regression: Stop-VM -Force turns a guest without the service off at once, deadline or not.
    regressed = SimulatedHyperVHost(
        host.simulator, script_source=_regressed("stop_vm", "-MethodName InitiateShutdown", "-MethodName Nothing")
    )
    regressed.guests["bare"] = GuestBehaviour(shutdown_service=False)
    hv.start_vm("bare")
    HyperVHypervisor(regressed, stop_timeout_s=120).stop_vm("bare")
    assert regressed.stops["bare"] == ("turn-off", 0)


def test_the_real_scripts_have_every_windows_safe_trait() -> None:
    for operation in OPERATIONS:
        traits = ScriptTraits.of(operation, script_text(operation))
        assert not traits.vm_lookup_hides_errors and not traits.path_check_hides_errors, operation
        if operation in ("list_vms", "checkpoint"):
            assert traits.wraps_array, operation
    assert ScriptTraits.of("destroy_vm", script_text("destroy_vm")).merges_before_remove
    assert ScriptTraits.of("migrate_vm", script_text("migrate_vm")).migration_preflight
    create = ScriptTraits.of("create_vm", script_text("create_vm"))
    assert create.kvp_length_checked and create.kvp_job_awaited
    assert ScriptTraits.of("reboot_vm", script_text("reboot_vm")).guest_reboot
    assert ScriptTraits.of("stop_vm", script_text("stop_vm")).guest_shutdown


def test_transcripts_keep_what_powershell_made_of_the_output(tmp_path: Path) -> None:
    """A recording holds the envelope as the host's PowerShell shaped it; a replay gives it back."""
    sim = SimulatorHypervisor(tmp_path / "h.db")
    HyperVHypervisor(SimulatedHyperVHost(sim)).create_vm(VmSpec(name="only"))
    regressed = SimulatedHyperVHost(sim, script_source=_regressed("list_vms", ",@(Get-VM", "@(Get-VM"))
    recorder = RecordingRunner(regressed)
    assert [v.name for v in HyperVHypervisor(recorder).list_vms()] == ["only"]
    assert isinstance(recorder.transcript[-1]["result"], dict)  # one VM, unrolled to a bare object
    recorder.save(tmp_path / "t.jsonl")
    replayed = HyperVHypervisor(ReplayRunner.load(tmp_path / "t.jsonl")).list_vms()
    assert [v.name for v in replayed] == ["only"]
