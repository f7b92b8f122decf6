"""``cshyperv agent check``: the preflight against a loopback WinRM endpoint and a real Samba share.

The simulated Hyper-V host answers ``preflight.ps1`` from its :class:`HostReadiness`; each test
breaks one thing and expects exactly that row to fail, with what to change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cshyperv.cli import main
from cshyperv.frontends.agent_check import Check, check_host, format_table
from cshyperv.frontends.agent_config import HostConfig, load_config
from cshyperv.plugins import default_plugins
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.servers import SambaServer
from cshyperv.testing.wsman import LoopbackWSManServer

WINRM_PASSWORD = "W1nRM-preflight-pw"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[SimulatedHyperVHost, LoopbackWSManServer]]:
    simulated = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "hv.db"))
    with LoopbackWSManServer(simulated.invoke, username="svc", password=WINRM_PASSWORD) as endpoint:
        yield simulated, endpoint


def write_config(
    tmp_path: Path,
    endpoint: LoopbackWSManServer,
    samba: SambaServer,
    *,
    password: str = WINRM_PASSWORD,
    listen: str = "127.0.0.2:8250",
) -> Path:
    secret = tmp_path / "winrm.pw"
    secret.write_text(password + "\n")
    os.chmod(secret, 0o600)
    smb_secret = tmp_path / "smb.pw"
    smb_secret.write_text(samba.password)
    os.chmod(smb_secret, 0o600)
    path = tmp_path / "agent.toml"
    path.write_text(
        f"""
[defaults]
hypervisor = "hyperv"
state_dir = "{tmp_path / "state"}"

[[host]]
name = "hv01"
listen = "{listen}"
default_switch = "vSwitch"
shares = ['\\\\127.0.0.1\\share']

[host.settings]
url = "{endpoint.url}"
transport = "ntlm"
username = "svc"
password_file = "{secret}"
smb_username = "{samba.username}"
smb_password_file = "{smb_secret}"
smb_port = {samba.port}
"""
    )
    return path


def run(path: Path) -> list[Check]:
    config = load_config(path)

    def open_plugin(h: HostConfig) -> object:
        return default_plugins().create(h.hypervisor, dict(h.settings))

    return check_host(config.hosts[0], open_plugin=open_plugin)


def failing(rows: list[Check]) -> list[str]:
    return [r.name for r in rows if not r.ok]


def test_a_ready_host_passes_every_check(
    tmp_path: Path, host: tuple[SimulatedHyperVHost, LoopbackWSManServer], samba: SambaServer
) -> None:
    _, endpoint = host
    path = write_config(tmp_path, endpoint, samba)
    rows = run(path)
    names = [r.name for r in rows]
    assert failing(rows) == [], format_table(rows)
    for expected in (
        "listen 127.0.0.2:8250",
        "certificate",
        "winrm",
        "powershell",
        "hyperv_module",
        "hyperv_service",
        "switch vSwitch",
        "live_migration",
        "host share \\\\127.0.0.1\\share",
        "agent share \\\\127.0.0.1\\share",
    ):
        assert expected in names, names
    assert any(n.startswith("vm_path ") for n in names) and any(n.startswith("vhd_path ") for n in names)
    result = CliRunner().invoke(main, ["agent", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "checks: " in result.output and " 0 failing" in result.output
    # The agent's probe file was removed from the share.
    assert not [p for p in samba.share_path("share").iterdir() if p.name.startswith(".cshyperv-preflight")]


BREAKS: list[tuple[str, Callable[[SimulatedHyperVHost], None], str]] = [
    ("old PowerShell", lambda h: setattr(h.readiness, "powershell", "4.0.0"), "powershell"),
    ("no Hyper-V module", lambda h: setattr(h.readiness, "hyperv_module", False), "hyperv_module"),
    ("vmms stopped", lambda h: setattr(h.readiness, "vmms", "Stopped"), "hyperv_service"),
    ("not a Hyper-V admin", lambda h: setattr(h.readiness, "hyperv_admin", False), "hyperv_host"),
    ("no such switch", lambda h: setattr(h.readiness, "switches", {"Other"}), "switch vSwitch"),
    ("VM folder denied", lambda h: h.readiness.denied.add(h.readiness.vm_path), "vm_path "),
    ("VHD folder missing", lambda h: h.readiness.missing.add(h.readiness.vhd_path), "vhd_path "),
    ("migration off", lambda h: setattr(h.readiness, "migration_enabled", False), "live_migration"),
    ("host cannot reach the share", lambda h: h.readiness.denied.add("\\\\127.0.0.1\\share"), "host share "),
]


@pytest.mark.parametrize(("label", "breaks", "row"), BREAKS, ids=[b[0] for b in BREAKS])
def test_each_broken_thing_fails_its_own_row_with_a_fix(  # noqa: PLR0917 - pytest passes parameters by name
    tmp_path: Path,
    host: tuple[SimulatedHyperVHost, LoopbackWSManServer],
    samba: SambaServer,
    label: str,
    breaks: Callable[[SimulatedHyperVHost], None],
    row: str,
) -> None:
    simulated, endpoint = host
    breaks(simulated)
    path = write_config(tmp_path, endpoint, samba)
    rows = run(path)
    bad = [r for r in rows if not r.ok]
    assert [r.name[: len(row)] for r in bad] == [row], format_table(rows)
    assert bad[0].fix
    result = CliRunner().invoke(main, ["agent", "check", "--config", str(path)])
    assert result.exit_code == 1 and "FAIL" in result.output and f"-> {bad[0].fix}" in result.output


def test_wrong_winrm_password(
    tmp_path: Path, host: tuple[SimulatedHyperVHost, LoopbackWSManServer], samba: SambaServer
) -> None:
    _, endpoint = host
    rows = run(write_config(tmp_path, endpoint, samba, password="not-the-password"))
    assert "winrm" in failing(rows)
    assert "not-the-password" not in format_table(rows) and WINRM_PASSWORD not in format_table(rows)


def test_agent_cannot_reach_the_share(
    tmp_path: Path, host: tuple[SimulatedHyperVHost, LoopbackWSManServer], samba: SambaServer
) -> None:
    _, endpoint = host
    path = write_config(tmp_path, endpoint, samba)
    path.write_text(path.read_text().replace("\\\\127.0.0.1\\share", "\\\\127.0.0.1\\no-such-share"))
    rows = run(path)
    assert "agent share \\\\127.0.0.1\\no-such-share" in failing(rows)


def test_a_listen_address_not_on_this_machine(
    tmp_path: Path, host: tuple[SimulatedHyperVHost, LoopbackWSManServer], samba: SambaServer
) -> None:
    _, endpoint = host
    # 192.0.2.0/24 is reserved for documentation: never assigned here, and binding sends nothing.
    rows = run(write_config(tmp_path, endpoint, samba, listen="192.0.2.10:8250"))
    assert failing(rows) == ["listen 192.0.2.10:8250"]
    assert "IP alias" in next(r.fix for r in rows if not r.ok)
