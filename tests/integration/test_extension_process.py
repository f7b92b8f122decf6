"""The Extensions executable, run as CloudStack runs it: a process per action, simulator mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cshyperv.simulator import SimulatorHypervisor
from tests.conftest import ROOT, SAMPLES

TEMPLATE = "D:\\Templates\\ubuntu-22.04-gen2.vhdx"


def payload(tmp: Path, name: str = "i-2-34-VM", **extra: Any) -> dict[str, Any]:
    document = json.loads((SAMPLES / "extension-create-payload.json").read_text())
    document["externaldetails"]["host"]["url"] = f"simulator://{tmp / 'state.db'}"
    document["virtualmachinename"] = name
    document["cloudstack.vm.details"]["name"] = name
    document.update(extra)
    return document


def run(
    tmp: Path, action: str, document: dict[str, Any] | None, wait: str = "60", *, path: Path | None = None
) -> tuple[int, Any, str, Path]:
    """Run the executable as CloudStack does; ``path`` is a payload prepared by the caller."""
    if path is None:
        path = tmp / f"payload-{os.urandom(4).hex()}.json"
        path.write_text(json.dumps(document if document is not None else {}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "cshyperv.frontends.extension_entry", action, str(path), wait],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[0]), proc.stderr, path


@pytest.fixture
def host(tmp_path: Path) -> Path:
    sim = SimulatorHypervisor(tmp_path / "state.db")
    sim.files.create_disk(TEMPLATE, 20 * 1024**3)
    return tmp_path


def test_every_action_in_simulator_mode(host: Path) -> None:
    sim = SimulatorHypervisor(host / "state.db")
    code, out, err, path = run(host, "create", payload(host))
    assert (code, out["status"], err) == (0, "success", "") and not path.exists()
    vm = sim.get_vm("i-2-34-VM")
    assert vm is not None and vm.state.value == "Running" and vm.memory_bytes == 2 * 1024**3
    assert vm.nics[0].vlan == 1234 and vm.nics[0].switch == "vSwitch-Trunk" and vm.generation == 2
    assert run(host, "create", payload(host))[0] == 0  # CloudStack retries create
    assert len(sim.list_vms()) == 1
    assert run(host, "status", payload(host))[1] == {"status": "success", "power_state": "poweron"}
    statuses = payload(host)
    del statuses["cloudstack.vm.details"], statuses["virtualmachinename"]
    assert run(host, "statuses", statuses)[1] == {"status": "success", "power_state": {"i-2-34-VM": "poweron"}}
    assert run(host, "reboot", payload(host))[0] == 0
    snap = payload(host, parameters={"snapshot_name": "before-upgrade"})
    assert run(host, "ListSnapshots", payload(host))[1]["message"] == []
    assert run(host, "CreateSnapshot", snap)[0] == 0
    rows = run(host, "listsnapshots", payload(host))[1]["message"]
    assert [r["name"] for r in rows] == ["before-upgrade"]
    assert run(host, "RestoreSnapshot", snap)[0] == 0
    assert sim.get_vm("i-2-34-VM").state.value == "Running"  # type: ignore[union-attr]
    assert run(host, "DeleteSnapshot", snap)[0] == 0
    assert run(host, "Suspend", payload(host))[0] == 0
    assert run(host, "status", payload(host))[1]["power_state"] == "unknown"
    assert run(host, "Resume", payload(host))[0] == 0
    assert run(host, "stop", payload(host))[1]["status"] == "success"
    assert run(host, "status", payload(host))[1]["power_state"] == "poweroff"
    assert run(host, "start", payload(host))[0] == 0
    code, out, _, _ = run(host, "getconsole", payload(host))
    assert code == 1 and "console_url" in out["error"]
    console = payload(host)
    console["externaldetails"]["host"]["console_url"] = "https://gw.lab/rdp?vm={vm_id}&name={vm_name}"
    out = run(host, "getconsole", console)[1]
    assert out["console"]["protocol"] == "direct" and "name=i-2-34-VM" in out["console"]["url"]
    assert run(host, "stop", payload(host))[0] == 0
    assert run(host, "delete", payload(host))[0] == 0
    assert sim.get_vm("i-2-34-VM") is None
    assert not sim.files.local("D:\\Hyper-V\\Virtual Hard Disks\\i-2-34-VM.vhdx").exists(), "delete removes disks"
    assert run(host, "delete", payload(host))[0] == 0  # already gone
    assert run(host, "stop", payload(host))[0] == 0
    code, out, err, _ = run(host, "prepare", payload(host))
    assert (code, out, err) == (0, {}, "")


@pytest.mark.parametrize("action", ["com.cloud.agent.api.CreateStoragePoolCommand", "frobnicate", "org.apache.X"])
def test_refused_actions_fail_fast_and_delete_the_payload(host: Path, action: str) -> None:
    """D14: refused at once (no hypervisor is opened) and the password-bearing payload is gone."""
    document = payload(host)
    document["externaldetails"]["host"]["url"] = "hv-that-does-not-exist.invalid"
    code, out, err, path = run(host, action, document, "5")
    assert code == 1 and "not handled" in out["error"] and err == ""
    assert not path.exists(), "a refused action must still delete the payload"


@pytest.mark.parametrize("wait", ["\u00b2", "\u0663", "1e3", "-5", "9" * 40])
def test_a_bad_wait_is_an_error_document_and_the_payload_is_deleted(host: Path, wait: str) -> None:
    """D13: "\u00b2".isdigit() is True but int() refuses it; that crashed outside the error path."""
    code, out, err, path = run(host, "status", payload(host), wait)
    assert (code, out["status"], err) == (1, "error", "")
    assert "wait must be a whole number of seconds" in out["error"]
    assert not path.exists()


def test_fifo_payload_is_refused_without_hanging(host: Path) -> None:
    """D14: nobody writes to the FIFO; opening it for a read used to block forever."""
    fifo = host / "payload.fifo"
    os.mkfifo(fifo)
    code, out, err, _ = run(host, "status", None, path=fifo)
    assert (code, err) == (1, "") and "not a regular file" in out["error"]
    assert not fifo.exists()


def test_symlinked_payload_is_refused_and_left_alone(host: Path) -> None:
    """D14, decided: a symbolic link is not followed; the link and its target stay for the admin
    to see (deleting the link kept the secret and hid where it was; deleting the target would let
    whoever can write the payload directory delete any file of CloudStack's user)."""
    target = host / "elsewhere.json"
    target.write_text(json.dumps(payload(host)))
    link = host / "payload-link.json"
    link.symlink_to(target)
    code, out, err, _ = run(host, "delete", None, path=link)
    assert (code, err) == (1, "") and "symbolic link" in out["error"] and "S3cr3t" not in out["error"]
    assert link.is_symlink() and target.read_text() == json.dumps(payload(host))


def test_oversized_and_directory_payloads_are_refused(host: Path) -> None:
    folder = host / "adir"
    folder.mkdir()
    code, out, _, _ = run(host, "status", None, path=folder)
    assert code == 1 and "not a regular file" in out["error"] and folder.is_dir()
    big = host / "big.json"
    with big.open("wb") as handle:
        handle.truncate(9 * 1024 * 1024)
    code, out, _, _ = run(host, "status", None, path=big)
    assert code == 1 and "larger than" in out["error"] and not big.exists()


def test_console_url_is_a_plain_substitution(host: Path) -> None:
    """D16: no str.format attribute access, conversions or widths."""
    assert run(host, "create", payload(host))[0] == 0
    cases = {
        "https://gw/{vm_name}?x={{literal}}": "https://gw/i-2-34-VM?x={literal}",
        "{vm_name.__class__.__mro__}": None,
        "{vm_name:>100000000}": None,
        "{vm_name!r}": None,
        "{0}{}": None,
        "{unknown}": None,
    }
    for template, expected in cases.items():
        document = payload(host)
        document["externaldetails"]["host"]["console_url"] = template
        code, out, err, _ = run(host, "getconsole", document)
        assert err == "", template
        if expected is None:
            assert code == 1 and "console_url may only use {vm_id}, {vm_name}, {host}, {port}" in out["error"]
            assert "class" not in json.dumps(out), template
        else:
            assert (code, out["console"]["url"]) == (0, expected)


def test_errors_are_one_json_line_without_secrets(host: Path) -> None:
    document = payload(host)
    document["externaldetails"]["host"]["url"] = "hv01.lab.example.com"  # no hyperv plug-in registered here
    code, out, err, _ = run(host, "start", document)
    assert code == 1 and out["status"] == "error"
    assert "S3cr3t-Pa55" not in json.dumps(out) + err
    broken = payload(host)
    broken["externaldetails"]["virtualmachine"]["template_path"] = "D:\\Templates\\missing.vhdx"
    code, out, _, _ = run(host, "create", broken)
    assert code == 1 and "not found" in out["error"]
    assert SimulatorHypervisor(host / "state.db").get_vm("i-2-34-VM") is None, "a failed create leaves nothing"


HOSTILE = ["a\"; Remove-VM *; $(x) '", "\u2018q\u2019 \u201cq\u201d `x` ;|&\n", "x" * 300]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_inert(host: Path, value: str) -> None:
    document = payload(host, parameters={"snapshot_name": value})
    document["externaldetails"]["host"]["network_switch"] = value
    assert run(host, "create", document)[0] == 0
    assert run(host, "CreateSnapshot", document)[0] == 0
    rows = run(host, "ListSnapshots", document)[1]["message"]
    assert [r["name"] for r in rows] == [value]
    vm = SimulatorHypervisor(host / "state.db").get_vm("i-2-34-VM")
    assert vm is not None and vm.nics[0].switch == value
    assert run(host, "delete", document)[0] == 0


def test_parallel_processes(host: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        same = list(pool.map(lambda _: run(host, "create", payload(host))[0], range(6)))
        distinct = list(pool.map(lambda n: run(host, "create", payload(host, name=f"i-2-{n}-VM"))[0], range(6)))
    assert same == [0] * 6 and distinct == [0] * 6
    names = sorted(v.name for v in SimulatorHypervisor(host / "state.db").list_vms())
    assert names == sorted(["i-2-34-VM", *(f"i-2-{n}-VM" for n in range(6))])
