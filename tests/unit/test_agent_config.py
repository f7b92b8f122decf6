"""The agent's TOML configuration: what it accepts, and errors that name the file, host and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cshyperv.errors import ConfigError
from cshyperv.frontends.agent_config import load_config, parse_listen

SECRET = "Pa55-w0rd-in-a-file"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def secret_file(tmp_path: Path, mode: int = 0o600, text: str = SECRET + "\n") -> Path:
    path = tmp_path / "hv01.pw"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_the_documented_shape(tmp_path: Path) -> None:
    pw = secret_file(tmp_path)
    config = load_config(
        write(
            tmp_path,
            f"""
[defaults]
allow = ["10.1.0.0/16"]
hypervisor = "hyperv"
state_dir = "{tmp_path}/state"
settings = {{ transport = "ntlm", verify_tls_certificate = true, smb_port = 445 }}

[[host]]
name = "hv01"
listen = "10.1.5.11:8250"
settings = {{ url = "hv01.lab", username = "LAB\\\\cloud", password_file = "{pw}" }}

[[host]]
listen = "10.1.5.12"
hypervisor = "simulator"
workers = 4
""",
        ),
        environ={},
    )
    hv01, hv02 = config.hosts
    assert (hv01.name, hv01.listen_host, hv01.port, hv01.hypervisor) == ("hv01", "10.1.5.11", 8250, "hyperv")
    assert hv01.settings == {
        "transport": "ntlm",
        "verify_tls_certificate": "true",
        "smb_port": "445",
        "url": "hv01.lab",
        "username": "LAB\\cloud",
        "password": SECRET,
    }
    assert hv01.allow == ("10.1.0.0/16",) and hv01.state_dir == tmp_path / "state" / "hv01"
    # A host without a name is named by its listen address; the port defaults to CloudStack's 8250.
    assert (hv02.name, hv02.port, hv02.hypervisor, hv02.workers) == ("10.1.5.12", 8250, "simulator", 4)
    assert "password" not in hv02.settings


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    pw = secret_file(tmp_path)
    config = load_config(
        write(
            tmp_path, f'[[host]]\nlisten = "127.0.0.2:0"\nhypervisor = "x"\nsettings = {{ password_file = "{pw}" }}\n'
        )
    )
    assert SECRET not in repr(config) and SECRET not in str(config.hosts[0])
    assert "'password': ..." in repr(config.hosts[0])


def test_a_setting_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[[host]]\nlisten = "127.0.0.2"\nhypervisor = "x"\nsettings = { password_env = "HV_PW" }\n')
    assert load_config(path, environ={"HV_PW": SECRET}).hosts[0].settings == {"password": SECRET}
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.key == "settings.password_env" and "HV_PW" in str(caught.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_secret_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    pw = secret_file(tmp_path, mode)
    path = write(
        tmp_path,
        f'[[host]]\nname = "hv01"\nlisten = "127.0.0.2"\nhypervisor = "x"\nsettings = {{ password_file = "{pw}" }}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.file, error.host, error.key) == (str(path), "hv01", "settings.password_file")
    assert "chmod 600" in str(error) and SECRET not in str(error)


CASES = [
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1:99999"\nhypervisor = "x"\n', "hv01", "listen"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\n', "hv01", "hypervisor"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\nhypervisor = "x"\nallow = ["localhost"]\n', "hv01", "allow"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\nhypervisor = "x"\nallow = ["10.0.0.0/33"]\n', "hv01", "allow"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\nhypervisor = "x"\npasword = "typo"\n', "hv01", "pasword"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\nhypervisor = "x"\nworkers = 0\n', "hv01", "workers"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\nhypervisor = "x"\ncert = "/c.pem"\n', "hv01", "cert"),
    ('[[host]]\nname = "hv01"\nlisten = "10.0.0.1"\nhypervisor = "x"\nsettings = { a = [1] }\n', "hv01", "settings.a"),
    ('[[host]]\nname = "hv01"\nhypervisor = "x"\n', "hv01", "listen"),
    (
        '[[host]]\nname = "a"\nlisten = "10.0.0.1"\nhypervisor = "x"\n[[host]]\nname = "b"\nlisten = "10.0.0.1:8250"\n'
        'hypervisor = "x"\n',
        "b",
        "listen",
    ),
    (
        '[[host]]\nname = "a"\nlisten = "10.0.0.1"\nhypervisor = "x"\n[[host]]\nname = "a"\nlisten = "10.0.0.2"\n'
        'hypervisor = "x"\n',
        "a",
        "name",
    ),
    ('[defaults]\nmetrics = "localhost:x"\n[[host]]\nlisten = "10.0.0.1"\nhypervisor = "x"\n', None, "metrics"),
    ('[defaults]\nlisten = "10.0.0.1"\n[[host]]\nlisten = "10.0.0.2"\nhypervisor = "x"\n', None, "listen"),
    ("[default]\nallow = []\n", None, "default"),
    ("[defaults]\n", None, "host"),
]


@pytest.mark.parametrize(("text", "host", "key"), CASES)
def test_errors_name_the_file_the_host_and_the_key(tmp_path: Path, text: str, host: str | None, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    error = caught.value
    assert (error.file, error.host, error.key) == (str(path), host, key)
    assert str(path) in str(error) and repr(key) in str(error)


def test_not_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[host]]\nlisten = "10.0.0.1"\npassword = "S3cret\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "line" in str(caught.value) and "S3cret" not in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("10.0.0.1:8250", ("10.0.0.1", 8250)),
        ("10.0.0.1", ("10.0.0.1", 8250)),
        ("[fd00::1]:9", ("fd00::1", 9)),
        ("[fd00::1]", ("fd00::1", 8250)),
        ("hv01.lab:8250", ("hv01.lab", 8250)),
    ],
)
def test_listen_addresses(text: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(text) == parsed


@pytest.mark.parametrize("text", ["", ":8250", "10.0.0.1:", "10.0.0.1:x", "[fd00::1", "[fd00::1]x", "a:1:2"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)
