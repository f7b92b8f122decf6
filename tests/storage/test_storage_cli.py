"""``cshyperv storage`` against real servers, as an operator runs it (a subprocess)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from cshyperv.testing.servers import NfsServer, SambaServer

from .conftest import _require_data_path


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cshyperv.cli", "storage", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_cp_ls_df_rm_across_local_smb_and_nfs(
    samba: SambaServer, nfs: NfsServer, tmp_path: Path, data_path: str
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / "disk.vhdx").write_bytes(data)
    (nfs.export_path / "cli").mkdir(exist_ok=True)
    env = {
        "CSHYPERV_SMB_USERNAME": samba.username,
        "CSHYPERV_SMB_PASSWORD": samba.password,
        "CSHYPERV_SMB_DATA_PATH": data_path,
    }
    smb = f"cifs://127.0.0.1:{samba.port}"
    steps = [
        (("cp", "-v", str(tmp_path / "disk.vhdx"), f"{smb}/share/cli/"), f"local file, written via {data_path}"),
        (("cp", "-v", f"{smb}/share/cli/disk.vhdx", f"{smb}/sealed/cli/copy.vhdx"), "route: server-side"),
        (("cp", "-v", f"{smb}/sealed/cli/copy.vhdx", nfs.url("cli/nfs.vhdx")), f"streamed: read via {data_path},"),
        (("cp", nfs.url("cli/nfs.vhdx"), str(tmp_path / "back.vhdx")), None),
    ]
    for step, route in steps:
        result = _run(*step, env=env)
        assert result.returncode == 0, result.stderr
        assert "copied 3,145,728 bytes" in result.stderr
        if route is None:
            assert "route:" not in result.stderr  # only with -v
        else:
            assert route in result.stderr, result.stderr
        assert samba.password not in result.stderr + result.stdout
    assert hashlib.sha256((tmp_path / "back.vhdx").read_bytes()).digest() == hashlib.sha256(data).digest()

    listing = _run("ls", "-l", f"{smb}/share/cli", env=env)
    assert listing.returncode == 0 and "3145728 " in listing.stdout and "disk.vhdx" in listing.stdout
    assert _run("ls", "-R", nfs.url("cli")).stdout.split() == ["nfs.vhdx"]
    df = _run("df", f"{smb}/share", nfs.url("cli"), env=env)
    assert df.returncode == 0 and len(df.stdout.strip().splitlines()) == 3

    refused = _run("rm", f"{smb}/share/cli", env=env)
    assert refused.returncode == 1 and "use -r" in refused.stderr
    assert _run("rm", "-r", f"{smb}/share/cli", env=env).returncode == 0
    assert not (samba.share_path("share") / "cli").exists()


def test_errors_are_one_line_without_the_password(samba: SambaServer) -> None:
    url = samba.url("share", "nothing-here")
    missing = _run("ls", url)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: [Errno 2]") and "Traceback" not in missing.stderr
    wrong = _run("ls", f"cifs://127.0.0.1:{samba.port}/share?user={samba.username}&password=Not-The-One")
    assert wrong.returncode == 1 and "refused the credentials" in wrong.stderr
    assert "Not-The-One" not in wrong.stderr + wrong.stdout


def test_install_template_from_a_store(samba: SambaServer, nfs: NfsServer) -> None:
    payload = os.urandom(1024 * 1024)
    src = samba.share_path("share") / "incoming" / "t.vhdx"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(payload)
    (nfs.export_path / "sec").mkdir(exist_ok=True)
    digest = hashlib.md5(payload).hexdigest()
    result = _run(
        "install-template", "--checksum", f"{{MD5}}{digest}", "--id", "9",
        samba.url("share", "incoming/t.vhdx"), nfs.url("sec/template/tmpl/1/9"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("installed: ")
    assert (nfs.export_path / "sec/template/tmpl/1/9/t.vhdx").read_bytes() == payload
    assert "id=9" in (nfs.export_path / "sec/template/tmpl/1/9/template.properties").read_text()
    again = _run(
        "install-template",
        "--checksum",
        digest,
        samba.url("share", "incoming/t.vhdx"),
        nfs.url("sec/template/tmpl/1/9"),
    )
    assert again.returncode == 0 and again.stdout.startswith("already installed")


_REPORT_MODULES = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('modules:', *sorted(m for m in ('smbprotocol', 'cshyperv.storage.templates')"
    " if m in sys.modules), file=sys.stderr))\n"
    "sys.argv = ['cshyperv', *sys.argv[1:]]\n"
    "runpy.run_module('cshyperv.cli', run_name='__main__')\n"
)


def _modules_after(*args: str, env: dict[str, str]) -> list[str]:
    """The heavy modules a ``cshyperv`` process had loaded when it ended (it must succeed)."""
    result = subprocess.run(
        [sys.executable, "-c", _REPORT_MODULES, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.rsplit("modules:", 1)[1].split()


def test_on_libsmbclient_a_copy_loads_no_second_smb_client(samba: SambaServer, tmp_path: Path) -> None:
    # smbprotocol's import and session cost a CLI process ~0.25 s; libsmbclient does it all,
    # except replacing an existing file (atomic only through smbprotocol).
    _require_data_path("libsmbclient")
    (tmp_path / "t.bin").write_bytes(os.urandom(100_000))
    env = {
        "CSHYPERV_SMB_USERNAME": samba.username,
        "CSHYPERV_SMB_PASSWORD": samba.password,
        "CSHYPERV_SMB_DATA_PATH": "libsmbclient",
    }
    remote = f"cifs://127.0.0.1:{samba.port}/share/lean/t.bin"
    assert _modules_after("storage", "cp", "-q", str(tmp_path / "t.bin"), remote, env=env) == []
    assert _modules_after("storage", "cp", "-q", remote, str(tmp_path / "back.bin"), env=env) == []
    assert (tmp_path / "back.bin").read_bytes() == (tmp_path / "t.bin").read_bytes()
    assert _modules_after("storage", "ls", "-l", "-R", remote.rsplit("/", 1)[0], env=env) == []
    assert _modules_after("storage", "df", remote.rsplit("/", 1)[0], env=env) == []
    # The target exists now: the atomic replace goes through smbprotocol.
    assert _modules_after("storage", "cp", "-q", str(tmp_path / "t.bin"), remote, env=env) == ["smbprotocol"]
    assert _modules_after("storage", "rm", "-r", remote.rsplit("/", 1)[0], env=env) == []
    assert not (samba.share_path("share") / "lean").exists()
