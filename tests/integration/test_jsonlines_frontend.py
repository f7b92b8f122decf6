"""The third frontend in examples/ (JSON lines over stdin/stdout) answers byte for byte like the
HTTPS agent: both are shells over cshyperv.resource.handle_request."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
from pathlib import Path

from cshyperv.frontends.direct_connect import AgentServer
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.scenario import Scenario
from cshyperv.wire import HOST_VM_STATE_REPORT_FQCN, encode, encode_commands
from tests.conftest import ROOT

API = "/api/HypervResource/"
ROOT_DISK = "\\\\fileserver.lab\\primary\\root.vhdx"


def _requests() -> list[tuple[str, bytes]]:
    scenario = Scenario()
    return [
        ("com.cloud.agent.api.CheckHealthCommand", b"{}"),
        ("com.cloud.agent.api.ReadyCommand", encode(scenario.ready())),
        ("com.cloud.agent.api.StartupCommand", encode_commands(scenario.startup())),
        ("com.cloud.agent.api.NoSuchCommand", b"{}"),
        ("com.cloud.agent.api.ReadyCommand", b'{"contextMap": '),
        ("com.cloud.agent.api.StartCommand", b'{"vm": {"cpus": "four"}}'),
        ("..%2F..%2Fetc%2Fpasswd", b"{}"),
        ("com.cloud.agent.api.StartCommand", encode(scenario.start("root.vhdx"))),
        (HOST_VM_STATE_REPORT_FQCN, b"{}"),
        ("com.cloud.agent.api.CheckVirtualMachineCommand", encode(scenario.check_vm())),
        ("com.cloud.agent.api.StopCommand", encode(scenario.stop())),
        ("com.cloud.agent.api.CheckVirtualMachineCommand", encode(scenario.check_vm())),
    ]


def _https_answers(tmp_path: Path, requests: list[tuple[str, bytes]]) -> list[bytes]:
    sim = SimulatorHypervisor(tmp_path / "https" / "simulator.db")
    sim.add_disk(ROOT_DISK, 2 * 1024**3)
    answers = []
    with AgentServer(ServerResource(sim), state_dir=tmp_path / "https") as agent:
        for fqcn, body in requests:
            conn = http.client.HTTPSConnection("127.0.0.1", agent.port, context=ssl._create_unverified_context())
            conn.request("POST", API + fqcn, body=body, headers={"content-type": "application/json"})
            answers.append(conn.getresponse().read())
            conn.close()
    return answers


def _jsonlines_answers(tmp_path: Path, requests: list[tuple[str, bytes]]) -> list[bytes]:
    state = tmp_path / "lines"
    SimulatorHypervisor(state / "simulator.db").add_disk(ROOT_DISK, 2 * 1024**3)
    lines = b"".join(
        json.dumps({"fqcn": fqcn, "body": body.decode("utf-8")}).encode() + b"\n" for fqcn, body in requests
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "jsonlines_agent.py"), "--state", str(state)],
        input=lines + b"not json\n",
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.splitlines()
    assert len(out) == len(requests) + 1
    assert json.loads(out[-1])[0]["com.cloud.agent.api.Answer"]["result"] is False
    return out[:-1]


def test_jsonlines_answers_are_the_https_agents_byte_for_byte(tmp_path: Path) -> None:
    requests = _requests()
    https = _https_answers(tmp_path, requests)
    lines = _jsonlines_answers(tmp_path, requests)
    for (fqcn, _), a, b in zip(requests, https, lines, strict=True):
        assert a == b, fqcn
    start = json.loads(https[7])[0]["com.cloud.agent.api.StartAnswer"]
    assert start["result"] is True, start
    assert json.loads(https[8]) == [{"i-2-17-VM": "PowerOn"}]
