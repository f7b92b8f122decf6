"""docs/extension.md's "Try it without Windows" walk-through, run as written.

The shell block is taken from the document (only its scratch directory is moved under the test's
own tmp_path) and run by bash with the console scripts of this environment; what it prints must
be what the document says it prints, the snapshot's creation time aside.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "extension.md"
SCRATCH = "/tmp/cshyperv-try"
_CREATED = re.compile(r'"created":"[^"]*"')


def _block_after(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(marker)
    fence = text.index("```", start)
    body = text.index("\n", fence) + 1
    return text[body : text.index("```", body)]


def test_walkthrough_runs_as_documented(tmp_path: Path) -> None:
    script = _block_after("<!-- walk-through:")
    assert SCRATCH in script, "the walk-through's scratch directory moved: update SCRATCH"
    expected = _block_after("<!-- walk-through output -->").splitlines()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(SCRATCH, str(tmp_path / "try"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    got = [_CREATED.sub('"created":"T"', line) for line in done.stdout.splitlines()]
    assert got == [_CREATED.sub('"created":"T"', line) for line in expected]
    # Every payload file was deleted by the run that read it (it holds the host password).
    assert not (tmp_path / "try" / "payload.json").exists()


def test_create_without_the_seeded_template_says_what_is_missing(tmp_path: Path) -> None:
    script = _block_after("<!-- walk-through:").replace(SCRATCH, str(tmp_path / "try"))
    script = "\n".join(line for line in script.splitlines() if "simulator add-disk" not in line)
    script = script[: script.index("run create")] + "run create\n"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "-uo", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "ubuntu-22.04-gen2.vhdx" in done.stdout and "not found" in done.stdout
