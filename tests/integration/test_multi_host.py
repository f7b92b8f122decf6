"""One agent process serving several hosts (``agent serve --config``): isolation and reload.

Every host listens on its own loopback address (127.0.0.2, .3, ... — all of 127/8 is loopback),
as an operator gives each Hyper-V host its own IP alias on the agent's box.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cshyperv.client import DirectConnectClient
from cshyperv.commands import CheckHealthCommand
from cshyperv.errors import CSHyperVError
from cshyperv.frontends.agent_config import HostConfig
from cshyperv.frontends.multi_host import MultiHostAgent, build_host
from cshyperv.resource import ServerResource
from cshyperv.simulator import HostProfile, SimulatorHypervisor

pytest.importorskip("uvicorn")


def config_text(tmp_path: Path, hosts: dict[str, str], extra: str = "") -> str:
    lines = [f'[defaults]\nhypervisor = "simulator"\nstate_dir = "{tmp_path / "state"}"\n{extra}']
    for name, address in hosts.items():
        lines.append(f'[[host]]\nname = "{name}"\nlisten = "{address}:0"\nworkers = 2\n')
    return "\n".join(lines)


def healthy(agent: MultiHostAgent, name: str, address: str) -> bool:
    with DirectConnectClient(address, agent.port(name), timeout=30) as client:
        return bool(client.execute(CheckHealthCommand()).result)


@pytest.fixture
def gates() -> Iterator[dict[str, threading.Event]]:
    """Per-host gates: while a host's gate is closed, its plug-in's list_vms blocks."""
    table: dict[str, threading.Event] = {}
    yield table
    for gate in table.values():
        gate.set()


WAITING: dict[str, int] = {}
_WAITING_LOCK = threading.Lock()


@pytest.fixture
def gated_builder(gates: dict[str, threading.Event]) -> Callable[[HostConfig], tuple[Any, Callable[[], None]]]:
    WAITING.clear()

    def build(host: HostConfig) -> tuple[Any, Callable[[], None]]:
        gate = gates.setdefault(host.name, threading.Event())
        gate.set()

        def fault(operation: str, args: tuple[Any, ...]) -> None:
            if operation == "list_vms" and not gate.is_set():
                with _WAITING_LOCK:
                    WAITING[host.name] = WAITING.get(host.name, 0) + 1
                assert gate.wait(60), "the test never opened the gate"

        host.state_dir.mkdir(parents=True, exist_ok=True)
        hv = SimulatorHypervisor(host.state_dir / "sim.db", host=HostProfile(name=host.name), faults=fault)
        return ServerResource(hv), hv.close

    return build


def test_every_host_is_served_on_its_own_address(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2", "hv02": "127.0.0.3", "hv03": "127.0.0.4"}))
    with MultiHostAgent(path, builder=build_host) as agent:
        assert agent.hosts == ["hv01", "hv02", "hv03"]
        for name, address in (("hv01", "127.0.0.2"), ("hv02", "127.0.0.3"), ("hv03", "127.0.0.4")):
            assert healthy(agent, name, address)
            with DirectConnectClient(address, agent.port(name)) as client:
                assert client.host_vm_states() == {}
        # Each host has state of its own, under state_dir/<name>.
        assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["hv01", "hv02", "hv03"]


def test_a_stuck_host_does_not_delay_the_others(
    tmp_path: Path, gates: dict[str, threading.Event], gated_builder: Any
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2", "hv02": "127.0.0.3"}))
    with MultiHostAgent(path, builder=gated_builder) as agent:
        gates["hv01"].clear()  # hv01's host stops answering
        stuck: list[threading.Thread] = []
        for _ in range(4):  # more requests than hv01 has workers: its pool is full, its queue too
            client = DirectConnectClient("127.0.0.2", agent.port("hv01"), timeout=120)
            thread = threading.Thread(target=client.host_vm_states, daemon=True)
            thread.start()
            stuck.append(thread)
        # Both of hv01's workers are inside its plug-in, waiting; the other two requests queue.
        for _ in range(600):
            if WAITING.get("hv01") == 2:
                break
            time.sleep(0.05)
        assert WAITING.get("hv01") == 2
        with DirectConnectClient("127.0.0.3", agent.port("hv02"), timeout=30) as other:
            for _ in range(10):
                assert other.host_vm_states() == {}
        assert all(thread.is_alive() for thread in stuck)
        gates["hv01"].set()
        for thread in stuck:
            thread.join(60)
            assert not thread.is_alive()


def test_reload_adds_removes_and_changes_hosts_and_keeps_the_rest(
    tmp_path: Path, gated_builder: Any, gates: dict[str, threading.Event]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2", "hv02": "127.0.0.3", "hv03": "127.0.0.4"}))
    with MultiHostAgent(path, builder=gated_builder) as agent:
        kept_port = agent.port("hv01")
        kept_server = agent._served["hv01"].server
        # An in-flight request on hv02, which the new file removes: it must still get its answer.
        gates["hv02"].clear()
        answer: list[Any] = []
        client = DirectConnectClient("127.0.0.3", agent.port("hv02"), timeout=120)
        inflight = threading.Thread(target=lambda: answer.append(client.host_vm_states()), daemon=True)
        inflight.start()
        for _ in range(600):
            if WAITING.get("hv02") == 1:
                break
            time.sleep(0.05)
        assert WAITING.get("hv02") == 1
        path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2", "hv03": "127.0.0.5", "hv04": "127.0.0.6"}))
        reloading = threading.Thread(target=agent.reload, daemon=True)
        reloading.start()
        gates["hv02"].set()
        reloading.join(120)
        inflight.join(60)
        assert answer == [{}]
        assert agent.hosts == ["hv01", "hv03", "hv04"]
        # hv01 did not change: the very same server, on the very same port.
        assert agent._served["hv01"].server is kept_server and agent.port("hv01") == kept_port
        assert healthy(agent, "hv03", "127.0.0.5") and healthy(agent, "hv04", "127.0.0.6")
        assert healthy(agent, "hv01", "127.0.0.2")


def test_a_broken_file_keeps_the_running_config(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2"}))
    with MultiHostAgent(path, builder=build_host) as agent:
        path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2", "hv02": "127.0.0.3"}) + "colour = 'blue'\n")
        assert agent.reload() is False
        assert agent.hosts == ["hv01"] and healthy(agent, "hv01", "127.0.0.2")
        assert str(path) in caplog.text and "'hv02'" in caplog.text and "'colour'" in caplog.text


def test_a_host_whose_plugin_cannot_start_leaves_everything_running(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2"}))
    with MultiHostAgent(path, builder=build_host) as agent:
        path.write_text(
            config_text(tmp_path, {"hv01": "127.0.0.2"})
            + '\n[[host]]\nname = "hv09"\nlisten = "127.0.0.9:0"\nhypervisor = "no-such-plugin"\n'
        )
        assert agent.reload() is False
        assert agent.hosts == ["hv01"] and healthy(agent, "hv01", "127.0.0.2")


def test_sighup_reloads_a_running_agent_process(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    first = '[defaults]\nhypervisor = "simulator"\nstate_dir = "{s}"\n[[host]]\nname = "hv01"\nlisten = "{a}"\n'
    port = _free_port("127.0.0.2")
    path.write_text(first.format(s=tmp_path / "state", a=f"127.0.0.2:{port}"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cshyperv.cli", "agent", "serve", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        assert _wait_alive("127.0.0.2", port)
        second_port = _free_port("127.0.0.3")
        path.write_text(
            first.format(s=tmp_path / "state", a=f"127.0.0.2:{port}")
            + f'[[host]]\nname = "hv02"\nlisten = "127.0.0.3:{second_port}"\n'
        )
        process.send_signal(signal.SIGHUP)
        assert _wait_alive("127.0.0.3", second_port)
        path.write_text(path.read_text() + "oops = 1\n")
        process.send_signal(signal.SIGHUP)
        assert _wait_alive("127.0.0.2", port) and _wait_alive("127.0.0.3", second_port)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "configuration not reloaded" in output and "'oops'" in output and "'hv02'" in output
    assert "Traceback" not in output


def _free_port(address: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _wait_alive(address: str, port: int, attempts: int = 300) -> bool:
    for _ in range(attempts):
        try:
            with DirectConnectClient(address, port, timeout=5) as client:
                if client.alive():
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def test_metrics_are_scraped_and_parsed_by_prometheus_own_parser(tmp_path: Path) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from cshyperv.frontends.metrics import AgentMetrics

    metrics = AgentMetrics()
    server = metrics.serve("127.0.0.1", 0)
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, {"hv01": "127.0.0.2", "hv02": "127.0.0.3"}))
    try:
        with MultiHostAgent(path, builder=build_host, metrics=metrics) as agent:
            for _ in range(3):
                assert healthy(agent, "hv01", "127.0.0.2")
            with DirectConnectClient("127.0.0.3", agent.port("hv02")) as client:
                client.host_vm_states()
                client._request("POST", "/api/HypervResource/com.example.MadeUpCommand", b"{}")
            url = f"http://127.0.0.1:{server.server_port}/metrics"
            text = urllib.request.urlopen(url, timeout=30).read().decode()
    finally:
        server.shutdown()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["host"], s.labels["command"], s.labels["result"]): s.value
        for s in families["cshyperv_requests"].samples
        if s.name == "cshyperv_requests_total"
    }
    assert requests[("hv01", "CheckHealthCommand", "success")] == 3
    assert requests[("hv02", "HostVmStateReportCommand", "success")] == 1
    # A class nobody knows is counted, under one bounded label.
    assert requests[("hv02", "other", "failure")] == 1
    assert not any("MadeUp" in key[1] for key in requests)
    histogram = [s for s in families["cshyperv_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert {(s.labels["host"], s.labels["command"]): s.value for s in histogram}[("hv01", "CheckHealthCommand")] == 3
    assert families["cshyperv_hosts"].samples[0].value == 2


def test_winrm_and_copy_metrics_per_host(tmp_path: Path) -> None:
    """A Hyper-V host behind the loopback WinRM endpoint (NTLM) and a simulated host that copies a
    template: exchanges, open shells and copied bytes show up under each host's name."""
    from prometheus_client.parser import text_string_to_metric_families

    from cshyperv.frontends.metrics import AgentMetrics
    from cshyperv.simulator import seed_disk
    from cshyperv.testing.hyperv_host import SimulatedHyperVHost
    from cshyperv.testing.scenario import Scenario
    from cshyperv.testing.wsman import LoopbackWSManServer

    scenario = Scenario()
    seed_disk(tmp_path / "state" / "sim01" / "simulator.db", scenario.secondary_template_unc, 2**20)
    secret = tmp_path / "winrm.pw"
    secret.write_text("W1nRM-metrics")
    os.chmod(secret, 0o600)
    metrics = AgentMetrics()
    simulated = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "hv.db"))
    with LoopbackWSManServer(simulated.invoke, username="svc", password="W1nRM-metrics") as endpoint:
        path = tmp_path / "agent.toml"
        path.write_text(
            config_text(tmp_path, {"sim01": "127.0.0.2"})
            + f'\n[[host]]\nname = "hv01"\nlisten = "127.0.0.3:0"\nhypervisor = "hyperv"\n[host.settings]\n'
            f'url = "{endpoint.url}"\nusername = "svc"\npassword_file = "{secret}"\n'
        )
        with MultiHostAgent(path, builder=build_host, metrics=metrics) as agent:
            with DirectConnectClient("127.0.0.3", agent.port("hv01")) as client:
                client.host_vm_states()
                client.host_vm_states()
            with DirectConnectClient("127.0.0.2", agent.port("sim01")) as client:
                assert client.execute(scenario.copy_template_to_primary()).result
            text = metrics.exposition().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("cshyperv_winrm_exchanges_total", (("host", "hv01"),))] >= 2 * 3
    assert samples[("cshyperv_winrm_open_shells", (("host", "hv01"),))] == 1
    template = SimulatorHypervisor(tmp_path / "state" / "sim01" / "simulator.db").files.local(
        scenario.secondary_template_unc
    )
    assert samples[("cshyperv_copied_bytes_total", (("host", "sim01"),))] == template.stat().st_size
    assert samples[("cshyperv_copies_in_flight", (("host", "sim01"),))] == 0


def test_one_hyperv_hosts_winrm_stall_and_faults_do_not_reach_another(tmp_path: Path) -> None:
    """Two Hyper-V hosts, each behind its own loopback WinRM endpoint (NTLM): hv01's host stops
    answering, then fails every request; hv02 is polled meanwhile and answers every time."""
    from cshyperv.testing.hyperv_host import SimulatedHyperVHost
    from cshyperv.testing.wsman import LoopbackWSManServer

    gate = threading.Event()
    stalled = threading.Event()
    first = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "hv01.db"))
    second = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "hv02.db"))

    def stalling(script: str, params: Any) -> Any:
        if not gate.is_set():
            stalled.set()
            assert gate.wait(120), "the test never let hv01's host answer"
        return first.invoke(script, params)

    secret = tmp_path / "winrm.pw"
    secret.write_text("W1nRM-isolation")
    os.chmod(secret, 0o600)
    with (
        LoopbackWSManServer(stalling, username="svc", password="W1nRM-isolation") as one,
        LoopbackWSManServer(second.invoke, username="svc", password="W1nRM-isolation") as two,
    ):
        path = tmp_path / "agent.toml"
        text = f'[defaults]\nhypervisor = "hyperv"\nstate_dir = "{tmp_path / "state"}"\nworkers = 2\n'
        for name, address, endpoint in (("hv01", "127.0.0.2", one), ("hv02", "127.0.0.3", two)):
            text += (
                f'[[host]]\nname = "{name}"\nlisten = "{address}:0"\n[host.settings]\nurl = "{endpoint.url}"\n'
                f'username = "svc"\npassword_file = "{secret}"\n'
            )
        path.write_text(text)
        with MultiHostAgent(path, builder=build_host) as agent:
            stuck = []
            outcomes: list[str] = []

            def poll_hv01() -> None:
                client = DirectConnectClient("127.0.0.2", agent.port("hv01"), timeout=180)
                try:
                    client.host_vm_states()
                    outcomes.append("answered")
                except CSHyperVError:  # a failed Answer once the host fails: an answer all the same
                    outcomes.append("failed answer")

            for _ in range(3):
                thread = threading.Thread(target=poll_hv01, daemon=True)
                thread.start()
                stuck.append(thread)
            assert stalled.wait(60), "hv01's host was never asked"
            with DirectConnectClient("127.0.0.3", agent.port("hv02"), timeout=60) as other:
                for _ in range(5):
                    assert other.host_vm_states() == {}
                # hv01's host now fails every exchange (HTTP 500): hv02 is still unaffected.
                for _ in range(20):
                    one.inject("*", "500")
                gate.set()
                for thread in stuck:
                    thread.join(120)
                    assert not thread.is_alive()
                for _ in range(5):
                    assert other.host_vm_states() == {}
            assert len(outcomes) == 3
            with DirectConnectClient("127.0.0.2", agent.port("hv01"), timeout=60) as client:
                answer = client.execute(CheckHealthCommand())
                assert answer.result  # CheckHealth does not need the host
