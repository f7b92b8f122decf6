"""The `cshyperv` console script: schema list/show/validate, wire roundtrip, demo."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cshyperv.cli import main
from tests.conftest import SAMPLES

START = "com.cloud.agent.api.StartCommand"


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_help_everywhere() -> None:
    for args in (
        [],
        ["schema"],
        ["schema", "list"],
        ["schema", "show"],
        ["schema", "validate"],
        ["wire"],
        ["wire", "roundtrip"],
        ["demo"],
        ["agent"],
        ["agent", "serve"],
    ):
        code, out, _ = run(*args, "--help")
        assert code == 0 and "Usage:" in out, args


def test_schema_list_and_show() -> None:
    code, out, _ = run("schema", "list", "--kind", "answer")
    assert code == 0 and "com.cloud.agent.api.StartAnswer" in out and START not in out
    code, out, _ = run("schema", "show", START)
    assert code == 0 and json.loads(out)["$id"].endswith(START)
    code, _, err = run("schema", "show", "com.example.Nope")
    assert code == 1 and "unknown type" in err


def test_schema_validate() -> None:
    sample = str(SAMPLES / "cmd-StartCommand.json")
    code, out, _ = run("schema", "validate", "--type", START, sample)
    assert (code, out.strip()) == (0, "valid")
    code, out, _ = run("schema", "validate", "--type", START, "-", stdin=b'{"vm":{"cpus":"S3cret"},"wait":2.5}')
    assert code == 1
    assert "$.vm.cpus: expected type integer" in out and "$.wait" in out and "S3cret" not in out
    code, out, _ = run("schema", "validate", str(SAMPLES / "ans-StartupCommand-response.json"))
    assert (code, out.strip()) == (0, "valid")


def test_wire_roundtrip() -> None:
    raw = (SAMPLES / "cmd-StartCommand.json").read_bytes()
    code, out, _ = run("wire", "roundtrip", "--type", START, "-", stdin=raw)
    assert code == 0 and json.loads(out) == json.loads(raw)
    code, out, _ = run("wire", "roundtrip", str(SAMPLES / "cmd-StartupCommand-request.json"))
    assert code == 0 and json.loads(out)[0]["com.cloud.agent.api.StartupRoutingCommand"]["vms"] == {}
    code, _, err = run("wire", "roundtrip", "--type", START, "-", stdin=b'{"vm": [1]}')
    assert code == 1 and "error: expected an object (VirtualMachineTO), got an array at $.vm" in err
    code, _, err = run("wire", "roundtrip", "-", stdin=b"{")
    assert code == 1 and "invalid JSON" in err and "Traceback" not in err


def test_demo_runs_and_passes() -> None:
    """The README's main job: the agent on the simulator, driven over HTTPS."""
    proc = subprocess.run([sys.executable, "-m", "cshyperv.cli", "demo"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "14/14 exchanges as expected" in proc.stdout and "FAIL" not in proc.stdout


def test_codec_demo_runs_and_passes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cshyperv.cli", "demo", "--codec"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout


def test_agent_serve_help_and_bad_listen() -> None:
    code, out, _ = run("agent", "serve", "--help")
    assert code == 0 and "--hypervisor" in out and "CSHYPERV_WINRM_URL" in out
    code, _, err = run("agent", "serve", "--listen", "nope")
    assert code == 2 and "HOST:PORT" in err


# -- agent serve: what it refuses, what it logs, what it closes ------------------------------------


@pytest.mark.parametrize("value", ["localhost", "/33", "10.0.0.0/33", "10.0.0.1,10.0.0.2"])
def test_agent_serve_bad_allow_is_a_usage_error(value: str) -> None:
    code, _, err = run("agent", "serve", "--allow", value)
    assert code == 2 and "is not an IP address or CIDR" in err and "Traceback" not in err


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.closed = 0


@pytest.fixture
def fake_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    """A simulator plug-in named "fake" whose close() is counted, and a serve() that records."""
    from cshyperv.frontends import direct_connect
    from cshyperv.plugins import PluginRegistry
    from cshyperv.simulator import SimulatorHypervisor

    recorder = _Recorder()
    sim = SimulatorHypervisor(tmp_path / "sim.db")
    real_close = sim.close

    def close() -> None:
        recorder.closed += 1
        real_close()

    monkeypatch.setattr(sim, "close", close)
    registry = PluginRegistry(entry_points=False)
    registry.register("fake", lambda config: sim)

    def bad(config: Any) -> Any:
        raise ValueError(f"url must be https, got {config.get('url')}")

    registry.register("bad", bad)
    monkeypatch.setattr("cshyperv.plugins.default_plugins", lambda: registry)

    def serve(backend: Any, **kwargs: Any) -> None:
        recorder.calls.append(kwargs)
        if kwargs["port"] == 1:
            raise RuntimeError("the server crashed")

    monkeypatch.setattr(direct_connect, "serve", serve)
    return recorder


def test_agent_serve_passes_settings_and_closes_the_plugin(fake_agent: _Recorder, tmp_path: Path) -> None:
    code, _, err = run(
        "agent", "serve", "--hypervisor", "fake", "--listen", "127.0.0.1:8250", "--state-dir", str(tmp_path / "s"),
        "--allow", "10.1.0.0/16", "--header-timeout", "3", "--body-timeout", "7", "--max-connections", "9",
        "--client-ca", "ca.pem",
    )  # fmt: skip
    assert code == 0, err
    (call,) = fake_agent.calls
    limits = call["limits"]
    assert (limits.header_timeout, limits.body_timeout, limits.max_connections) == (3, 7, 9)
    assert call["client_ca"] == "ca.pem" and call["allowed_clients"].allows("10.1.2.3")
    assert not call["allowed_clients"].allows("127.0.0.1")
    assert fake_agent.closed == 1, "the plug-in must be closed when the server stops"
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o700
    # ...also when the server fails.
    code, _, _ = run("agent", "serve", "--hypervisor", "fake", "--listen", "127.0.0.1:1", "--state-dir", str(tmp_path))
    assert code == 1 and fake_agent.closed == 2


def test_agent_serve_factory_error_is_one_line(fake_agent: _Recorder) -> None:
    code, _, err = run("agent", "serve", "--hypervisor", "bad", "--set", "url=http://u:S3cr3t@hv01")
    assert code == 1 and "Traceback" not in err and "S3cr3t" not in err
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("error: the bad plug-in cannot start: ValueError: url must be https")
    assert fake_agent.calls == []


def test_agent_serve_names_a_plugin_that_fails_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    broken = metadata.EntryPoint(name="broken", value="no_such_module_xyz.plugin:create", group="cshyperv.hypervisors")

    class Metadata:
        @staticmethod
        def entry_points(group: str) -> list[metadata.EntryPoint]:
            return [broken]

    monkeypatch.setattr("cshyperv.plugins.metadata", Metadata)
    code, _, err = run("agent", "serve", "--hypervisor", "broken")
    assert code == 1 and "Traceback" not in err
    for part in ("'no_such_module_xyz.plugin:create'", "module no_such_module_xyz.plugin", "ModuleNotFoundError"):
        assert part in err, err


def test_agent_serve_refuses_a_readable_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from cshyperv.frontends.tls import ensure_self_signed

    _, key = ensure_self_signed(tmp_path / "tls")
    key.chmod(0o644)

    def must_not_serve(self: Any) -> None:
        raise AssertionError("served with a world-readable key")

    monkeypatch.setattr(uvicorn.Server, "run", must_not_serve)
    code, _, err = run("agent", "serve", "--state-dir", str(tmp_path), "--listen", "127.0.0.1:0")
    assert code == 1 and "open to users other than its owner (mode 0644)" in err and "Traceback" not in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_agent_serve_logs_each_request_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The real process: an access line per request in --log-file, private files, a clean stop."""
    from cshyperv.client import DirectConnectClient
    from cshyperv.commands import ReadyCommand

    port, log_file, state = free_port(), tmp_path / "agent.log", tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cshyperv.cli", "agent", "serve", "--listen", f"127.0.0.1:{port}",
         "--state-dir", str(state), "--log-file", str(log_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        client = DirectConnectClient("127.0.0.1", port, timeout=10)
        deadline = time.monotonic() + 60
        while not client.alive():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        assert client.execute(ReadyCommand()).result
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    text = log_file.read_text()
    assert re.search(r"INFO cshyperv\.agent\.access 127\.0\.0\.1 POST com\.cloud\.agent\.api\.ReadyCommand 200 ", text)
    assert "GET /api/HypervResource 200" in text and "Traceback" not in text + err
    assert text.rstrip().endswith("closed the simulator plug-in"), "SIGTERM must still close the plug-in"
    assert state.stat().st_mode & 0o777 == 0o700 and (state / "tls").stat().st_mode & 0o777 == 0o700
    assert (state / "tls" / "agent-key.pem").stat().st_mode & 0o777 == 0o600
