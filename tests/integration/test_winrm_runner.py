"""The WinRM runner against a loopback WS-Management endpoint, over real HTTP with pywinrm."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.errors import HypervisorAccessDeniedError, HypervisorConnectionError, HypervisorError, PluginError
from cshyperv.hyperv import HyperVHypervisor
from cshyperv.hyperv.winrm import HostConnection, WinRMRunner, parse_clixml
from cshyperv.hypervisor import Hypervisor, VmSpec
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.conformance import HypervisorConformance
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.wsman import LoopbackWSManServer

PASSWORD = "P@ss w0rd"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[LoopbackWSManServer]:
    host = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "host.db"))
    with LoopbackWSManServer(host.invoke, password=PASSWORD) as server:
        yield server


def runner(endpoint: LoopbackWSManServer, password: str = PASSWORD) -> WinRMRunner:
    return WinRMRunner(HostConnection(url=endpoint.url, username="admin", password=password, transport="basic"))


def test_one_shell_and_four_exchanges_per_warm_invocation(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    hv.host_info()
    before = endpoint.total_exchanges()
    for n in range(5):
        hv.create_vm(VmSpec(name=f"i-2-{n}-VM"))
    assert endpoint.exchanges["Create"] == 1, "the shell is reused"
    assert (endpoint.total_exchanges() - before) / 5 == 4
    hv.close()
    assert endpoint.exchanges["Delete"] == 1


def test_large_parameters_travel_on_stdin(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    notes = "x" * (1024 * 1024)
    info = hv.create_vm(VmSpec(name="i-2-big-VM", notes=notes))
    assert info.notes == notes


def test_script_text_is_the_same_whatever_the_values(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    for name in ["a\"; Remove-VM *; $(x) '", "\u2018x\u2019`$()\n\x00", "plain"]:
        hv.get_vm(name)
    assert len(set(endpoint.scripts)) == 1


def test_dropped_shell_is_reopened_and_busy_is_retried(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    hv.host_info()
    endpoint.inject("Command", "drop-shell")
    assert hv.host_info().cpus > 0
    assert endpoint.exchanges["Create"] == 2
    endpoint.inject("Command", "busy")
    endpoint.inject("Command", "busy")
    assert hv.host_info().cpus > 0


def test_wrong_password_is_access_denied_without_the_password(endpoint: LoopbackWSManServer) -> None:
    with pytest.raises(HypervisorAccessDeniedError) as caught:
        HyperVHypervisor(runner(endpoint, password="Wr0ng-S3cret")).host_info()
    assert "Wr0ng-S3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_transport_failures_are_mapped(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    hv.host_info()
    endpoint.inject("Send", "500")
    with pytest.raises(HypervisorError):
        hv.host_info()
    assert hv.host_info().cpus > 0, "a failed invocation does not poison the runner"
    dead = HyperVHypervisor(
        WinRMRunner(HostConnection(url="http://127.0.0.1:1/wsman", username="u", password="p", transport="basic"))
    )
    with pytest.raises(HypervisorConnectionError):
        dead.host_info()


def test_concurrent_invocations_on_one_runner(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            hv.create_vm(VmSpec(name=f"i-3-{n}-VM"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(hv.list_vms()) == 20


def test_host_naming_rules() -> None:
    assert HostConnection(url="hv01").endpoint == "https://hv01:5986/wsman"
    assert HostConnection(url="hv01:5985").endpoint == "http://hv01:5985/wsman"
    assert HostConnection(url="https://hv01.lab:443/wsman").endpoint == "https://hv01.lab:443/wsman"
    with pytest.raises(PluginError, match="in clear"):
        HostConnection(url="http://hv01:5985/wsman", transport="basic")
    with pytest.raises(PluginError, match="transport"):
        HostConnection(url="hv01", transport="telnet")
    env = {"CSHYPERV_WINRM_URL": "hv02", "CSHYPERV_WINRM_PASSWORD": "S3cret", "CSHYPERV_WINRM_VERIFY_TLS": "false"}
    conn = HostConnection.from_env(env)
    assert conn.endpoint == "https://hv02:5986/wsman" and not conn.verify_tls_certificate
    assert "S3cret" not in repr(conn)


def test_certificate_authentication_settings(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")  # pywinrm checks that the files exist
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(PluginError, match="client_certificate and client_key"):
        HostConnection(url="hv01", transport="certificate")
    with pytest.raises(PluginError, match="HTTPS only"):
        HostConnection(url="hv01:5985", transport="certificate", client_certificate=str(cert), client_key=str(key))
    env = {
        "CSHYPERV_WINRM_URL": "hv01.lab",
        "CSHYPERV_WINRM_TRANSPORT": "certificate",
        "CSHYPERV_WINRM_CLIENT_CERTIFICATE": str(cert),
        "CSHYPERV_WINRM_CLIENT_KEY": str(key),
    }
    connection = HostConnection.from_env(env)
    protocol = WinRMRunner(connection)._make_protocol()
    assert protocol.transport.cert_pem == str(cert) and protocol.transport.cert_key_pem == str(key)
    assert connection.endpoint == "https://hv01.lab:5986/wsman"


def test_clixml_stderr_is_read() -> None:
    stderr = (
        b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<S S="Error">Cannot find VM_x000D__x000A_</S><S S="Warning">careful</S></Objs>'
    )
    assert parse_clixml(stderr) == ["Cannot find VM", "careful"]


class TestHyperVOverWinRM(HypervisorConformance):
    """The whole conformance kit through pywinrm, HTTP and the loopback endpoint."""

    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        self.simulator = SimulatorHypervisor(tmp_path / "host.db")
        self.endpoint = LoopbackWSManServer(SimulatedHyperVHost(self.simulator).invoke, password=PASSWORD)
        self.endpoint.__enter__()
        return _Closing(HyperVHypervisor(runner(self.endpoint)), self.endpoint)

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str:

        path = "\\\\fileserver\\templates\\base.vhdx"
        self.simulator.files.create_disk(path, 1024**3)
        return path


class _Closing(HyperVHypervisor):
    def __init__(self, inner: HyperVHypervisor, endpoint: LoopbackWSManServer) -> None:
        super().__init__(inner.runner)
        self._endpoint = endpoint

    def close(self) -> None:
        super().close()
        self._endpoint.__exit__(None, None, None)
