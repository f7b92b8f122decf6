"""The `cshyperv` console script: schema list/show/validate, wire roundtrip, demo."""

from __future__ import annotations

import json
import subprocess
import sys

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
