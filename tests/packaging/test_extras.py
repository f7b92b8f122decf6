"""Each console script and documented CLI verb, in a venv holding only the extras its doc names.

The development venv has every extra installed, so a missing dependency of one command (the
README's demo needing uvicorn, say) goes unnoticed there. Here the project is built into a wheel
once and installed into fresh venvs, one per install line the docs give:

* core (``pip install cshyperv``): ``cshyperv schema``/``wire``/``simulator``/``demo --codec``,
  ``cshyperv-extension`` in simulator mode (docs/extension.md), the codec example;
* ``cshyperv[agent,fast]`` (what ``./scripts/demo`` installs): ``cshyperv demo``, the example plug-in;
* ``cshyperv[hyperv]`` (docs/extension.md for Hyper-V hosts): the Hyper-V mode of the extension.

A ``ModuleNotFoundError`` (or any traceback) in any output fails the test; a command that needs an
extra the venv lacks must say which one to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "samples" / "cmd-StartCommand.json"
START = "com.cloud.agent.api.StartCommand"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("cshyperv-*.whl")
    return built


class Env:
    """A fresh venv with the project's wheel and the given extras, nothing else."""

    def __init__(self, root: Path, wheel: Path, extras: Sequence[str]) -> None:
        self.root = root
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        self.bin = root / "bin"
        spec = f"cshyperv[{','.join(extras)}] @ {wheel.as_uri()}" if extras else f"cshyperv @ {wheel.as_uri()}"
        subprocess.run(
            [str(self.bin / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec],
            check=True,
            capture_output=True,
            timeout=900,
        )

    def run(self, *argv: str, cwd: Path | None = None, expect: int = 0) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        program = argv[0] if argv[0].startswith("/") else str(self.bin / argv[0])
        done = subprocess.run(
            [program, *argv[1:]], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
        )
        output = done.stdout + done.stderr
        assert "ModuleNotFoundError" not in output and "Traceback" not in output, output
        assert done.returncode == expect, output
        return output

    def has(self, module: str) -> bool:
        probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
        return subprocess.run([str(self.bin / "python"), "-c", probe], check=False).returncode == 0


@pytest.fixture(scope="module")
def core(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield Env(tmp_path_factory.mktemp("core"), wheel, ())


@pytest.fixture(scope="module")
def demo_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    extras = _demo_extras()
    yield Env(tmp_path_factory.mktemp("demo"), wheel, extras)


def _demo_extras() -> list[str]:
    """The extras ./scripts/demo installs, read from the script itself so the two cannot drift."""
    text = (ROOT / "scripts" / "demo").read_text(encoding="utf-8")
    start = text.index("-e '.[") + len("-e '.[")
    return text[start : text.index("]'", start)].split(",")


def test_core_holds_no_optional_dependency(core: Env) -> None:
    for module in ("uvicorn", "cryptography", "orjson", "winrm", "smbclient", "pypsrp", "pytest", "hypothesis"):
        assert not core.has(module), module


def test_core_cli_verbs(core: Env, tmp_path: Path) -> None:
    core.run("cshyperv", "--help")
    assert "StartCommand" in core.run("cshyperv", "schema", "list", "--kind", "command")
    assert json.loads(core.run("cshyperv", "schema", "show", START))["$id"].endswith(START)
    core.run("cshyperv", "schema", "validate", "--type", START, str(SAMPLE))
    core.run("cshyperv", "wire", "roundtrip", "--type", START, str(SAMPLE))
    core.run("cshyperv", "demo", "--codec")
    core.run("cshyperv", "simulator", "add-disk", str(tmp_path / "s.db"), r"D:\t.vhdx", "--size", "1G")
    core.run("cshyperv", "storage", "ls", str(ROOT / "examples"))
    core.run("python", str(ROOT / "examples" / "decode_and_answer.py"))


def test_core_names_the_extra_a_command_needs(core: Env, tmp_path: Path) -> None:
    out = core.run("cshyperv", "agent", "serve", "--state-dir", str(tmp_path / "a"), expect=1)
    assert "pip install 'cshyperv[agent]'" in out
    out = core.run("cshyperv", "storage", "ls", "cifs://fs.invalid/share/x", expect=1)
    assert "pip install 'cshyperv[smb]'" in out


def test_extension_in_simulator_mode_needs_only_core(core: Env, tmp_path: Path) -> None:
    core.run("cshyperv", "simulator", "add-disk", str(tmp_path / "sim.db"), r"D:\T\t.vhdx")
    payload = {
        "externaldetails": {
            "host": {"url": f"simulator://{tmp_path}/sim.db", "vhd_path": r"D:\VHD", "network_switch": "sw"},
            "virtualmachine": {"template_path": r"D:\T\t.vhdx"},
        },
        "virtualmachinename": "i-2-3-VM",
        "cloudstack.vm.details": {"name": "i-2-3-VM", "cpus": 1, "maxRam": 1073741824, "nics": []},
    }
    for action in ("create", "status", "statuses", "delete"):
        path = tmp_path / "payload.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        out = core.run("cshyperv-extension", action, str(path), "60")
        assert json.loads(out)["status"] == "success", out
        assert not path.exists()


def test_the_demo_runs_with_what_scripts_demo_installs(demo_env: Env, tmp_path: Path) -> None:
    out = demo_env.run("cshyperv", "demo", cwd=tmp_path)
    assert "14/14 exchanges as expected" in out


def test_the_example_plugin_runs_its_conformance_checks_without_pytest(demo_env: Env, tmp_path: Path) -> None:
    assert not demo_env.has("pytest")
    demo_env.run("python", str(ROOT / "examples" / "plugin_minimal.py"), cwd=tmp_path)


def test_extension_in_hyperv_mode_with_the_hyperv_extra(wheel: Path, tmp_path: Path) -> None:
    env = Env(tmp_path / "venv", wheel, ("hyperv",))
    path = tmp_path / "payload.json"
    # An address nothing listens on: the answer must be a failed JSON document naming no secret.
    host = {"url": "http://127.0.0.1:9/wsman", "username": "u", "password": "S3cret-pw", "transport": "basic"}
    path.write_text(json.dumps({"externaldetails": {"host": host}, "virtualmachinename": "v"}), encoding="utf-8")
    out = env.run("cshyperv-extension", "status", str(path), "30", expect=1)
    assert json.loads(out)["status"] == "error" and "S3cret-pw" not in out
