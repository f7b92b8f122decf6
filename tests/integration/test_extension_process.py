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


def run(tmp: Path, action: str, document: dict[str, Any] | None, wait: str = "60") -> tuple[int, Any, str, Path]:
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


def test_class_name_fallback_fails_fast_without_reading_the_payload(host: Path) -> None:
    code, out, err, path = run(host, "com.cloud.agent.api.CreateStoragePoolCommand", None, "5")
    assert code == 1 and "not handled" in out["error"] and err == ""
    assert path.exists(), "the fallback must not even touch the payload"
    assert run(host, "frobnicate", None)[0] == 1


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
