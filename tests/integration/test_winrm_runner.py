"""The WinRM runner against a loopback WS-Management endpoint, over real HTTP(S) with pywinrm.

The endpoint behaves as a Windows host with WinRM's defaults: NTLM with sealed messages over HTTP
(pyspnego's acceptor checks the password), HTTPS with a certificate, MaxEnvelopeSizekb, Receive
timeouts, and only the plug-in's constant bootstrap command line may run.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cshyperv import deadline
from cshyperv.errors import (
    HypervisorAccessDeniedError,
    HypervisorConnectionError,
    HypervisorError,
    OperationTimeoutError,
    PluginError,
)
from cshyperv.hyperv import HyperVHypervisor
from cshyperv.hyperv.scripts import script_text
from cshyperv.hyperv.winrm import HostConnection, WinRMRunner, bootstrap_command_line, parse_clixml
from cshyperv.hypervisor import Hypervisor, VmSpec
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.conformance import HypervisorConformance
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.wsman import LoopbackWSManServer, TestCertificateAuthority

USER = "LAB\\svc-cloudstack"
PASSWORD = "P@ss w0rd"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[LoopbackWSManServer]:
    host = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "host.db"))
    with LoopbackWSManServer(host.invoke, username=USER, password=PASSWORD) as server:
        yield server


def runner(
    endpoint: LoopbackWSManServer, password: str = PASSWORD, *, one_shot: bool = False, **options: Any
) -> WinRMRunner:
    """The default transport, NTLM: over HTTP every body is sealed both ways."""
    connection = HostConnection(url=endpoint.url, username=USER, password=password, **options)
    return WinRMRunner(connection, one_shot=one_shot)


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
    assert endpoint.refused_logons == 1 and endpoint.total_exchanges() == 0, "NTLM refused it before any SOAP"
    with pytest.raises(HypervisorAccessDeniedError):
        HyperVHypervisor(
            WinRMRunner(HostConnection(url=endpoint.url, username="LAB\\nobody", password=PASSWORD))
        ).host_info()


def test_ntlm_bodies_are_sealed_and_unsealed_ones_refused(endpoint: LoopbackWSManServer) -> None:
    from winrm.exceptions import WinRMTransportError
    from winrm.protocol import Protocol

    HyperVHypervisor(runner(endpoint)).host_info()
    # The same account, NTLM, but plain SOAP over HTTP: a host with AllowUnencrypted=false refuses it.
    plain = Protocol(endpoint.url, transport="ntlm", username=USER, password=PASSWORD, message_encryption="never")
    with pytest.raises(WinRMTransportError) as caught:
        plain.open_shell()
    assert caught.value.code == 500


def test_basic_is_refused_unless_the_host_allows_it(tmp_path: Path) -> None:
    host = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "basic.db"))
    ntlm_only = LoopbackWSManServer(host.invoke, username=USER, password=PASSWORD)
    with ntlm_only, pytest.raises(HypervisorAccessDeniedError):
        HyperVHypervisor(runner(ntlm_only, transport="basic")).host_info()
    # Basic over plain HTTP needs AllowUnencrypted on the host.
    encrypted_only = LoopbackWSManServer(host.invoke, username=USER, password=PASSWORD, auth=("basic",))
    with encrypted_only, pytest.raises(HypervisorAccessDeniedError):
        HyperVHypervisor(runner(encrypted_only, transport="basic")).host_info()
    options: dict[str, Any] = {"auth": ("basic",), "allow_unencrypted": True}
    with LoopbackWSManServer(host.invoke, username=USER, password=PASSWORD, **options) as basic:
        assert HyperVHypervisor(runner(basic, transport="basic")).host_info().cpus > 0


def test_only_the_constant_bootstrap_command_line_runs(endpoint: LoopbackWSManServer) -> None:
    hv = HyperVHypervisor(runner(endpoint))
    for name in ["a\"; Remove-VM *; $(x) '", "plain"]:
        hv.get_vm(name)
    hv.create_vm(VmSpec(name="i-2-cmd-VM", notes="n" * 200_000))
    one_shot = HyperVHypervisor(runner(endpoint, one_shot=True))
    one_shot.get_vm("a\"; Remove-VM *; $(x) '")
    one_shot.get_vm("second invocation of the process")
    one_shot.close()
    lines = {bootstrap_command_line(), bootstrap_command_line(stdin_only=True)}
    assert set(endpoint.command_lines) == lines and not endpoint.refused_command_lines
    assert all("Remove-VM" not in line and len(line) < 8191 for line in lines)


@pytest.mark.parametrize("one_shot", [False, True])
def test_a_runner_that_puts_the_envelope_on_the_command_line_fails(
    endpoint: LoopbackWSManServer, monkeypatch: pytest.MonkeyPatch, one_shot: bool
) -> None:
    """The mutant the endpoint exists to catch: the envelope as part of the command line."""

    def envelope_on_the_command_line(self: WinRMRunner, envelope: str) -> tuple[bytes, bytes]:
        script = "Invoke-CsEnvelope '" + envelope.replace("'", "''") + "'"
        encoded = base64.b64encode(script.encode("utf-16-le")).decode()
        try:
            protocol = self._ensure_protocol()
            shell = protocol.open_shell(codepage=65001)
            command_id = protocol.run_command(
                shell, "powershell.exe", ["-EncodedCommand", encoded], skip_cmd_shell=True
            )
            return self._receive(protocol, shell, command_id)
        except Exception as exc:
            raise self._map(exc) from None

    monkeypatch.setattr(WinRMRunner, "_run", envelope_on_the_command_line)
    with pytest.raises(HypervisorError, match="fault"):
        HyperVHypervisor(runner(endpoint, one_shot=one_shot)).host_info()
    assert endpoint.refused_command_lines and not endpoint.scripts


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


def test_one_shot_invocation_is_four_exchanges_with_the_envelope_in_the_shell_environment(
    endpoint: LoopbackWSManServer,
) -> None:
    def one_process(work: Any) -> tuple[Any, int]:
        """One Extensions process: a one-shot runner, closed at the end."""
        before = endpoint.total_exchanges()
        hv = HyperVHypervisor(runner(endpoint, one_shot=True))
        try:
            result = work(hv)
        finally:
            hv.close()
        assert endpoint.open_shells == 0, "the process deletes its shell"
        return result, endpoint.total_exchanges() - before

    _, count = one_process(lambda hv: hv.host_info())
    assert count == 4 and dict(endpoint.exchanges) == {"Create": 1, "Command": 1, "Receive": 1, "Delete": 1}
    # ~100,000 characters: several environment variables, each under Windows' 32,767 limit.
    notes = "\u2019n$(x)'\"" + "n" * 100_000
    info, count = one_process(lambda hv: hv.runner.invoke(script_text("get_vm"), {"name": "x", "notes": notes}))
    assert count == 4 and endpoint.exchanges["Send"] == 0
    # Over the budget a Create could carry: stdin, in Sends under MaxEnvelopeSizekb (500 KB).
    big = "x" * (1024 * 1024)
    info, count = one_process(lambda hv: hv.create_vm(VmSpec(name="i-2-big-VM", notes=big)))
    assert info.notes == big and endpoint.exchanges["Send"] >= 8
    # A second invocation in the same process reuses the shell: Command, Send, Receive.
    _, count = one_process(lambda hv: (hv.get_vm("a"), hv.get_vm("b")))
    assert count == 4 + 3


def _blocking_endpoint(tmp_path: Path, release: threading.Event) -> LoopbackWSManServer:
    host = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "slow.db"))

    def slow(script: str, params: Any) -> Any:
        release.wait(60)  # a host that never answers in time
        return host.invoke(script, params)

    return LoopbackWSManServer(slow, username=USER, password=PASSWORD)


@pytest.mark.parametrize("one_shot", [False, True])
def test_no_shell_is_left_open_after_the_deadline(tmp_path: Path, one_shot: bool) -> None:
    release = threading.Event()
    with _blocking_endpoint(tmp_path, release) as endpoint:
        hv = HyperVHypervisor(runner(endpoint, one_shot=one_shot))
        try:
            with pytest.raises(OperationTimeoutError), deadline.deadline_scope(1.5):
                hv.host_info()
            assert endpoint.exchanges["Receive"] >= 1 and endpoint.exchanges["Delete"] == 1
            assert endpoint.open_shells == 0, "the shell (and its process) was deleted at the deadline"
        finally:
            release.set()
            hv.close()


def test_https_verifies_the_host_certificate(tmp_path: Path) -> None:
    trusted = TestCertificateAuthority.create(tmp_path / "ca")
    stranger = TestCertificateAuthority.create(tmp_path / "other", name="someone else's CA")
    host = SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "tls.db"))
    with LoopbackWSManServer(host.invoke, username=USER, password=PASSWORD, tls=trusted) as endpoint:
        assert endpoint.url.startswith("https://127.0.0.1:")
        # Verification is on by default: a certificate from a CA the client does not trust is refused.
        for ca in (None, str(stranger.ca_path)):
            with pytest.raises(HypervisorConnectionError, match="certificate"):
                HyperVHypervisor(runner(endpoint, ca_trust_path=ca)).host_info()
        assert endpoint.total_exchanges() == 0
        # The CA bundle that signed it is accepted; NTLM then binds the logon to the TLS channel.
        hv = HyperVHypervisor(runner(endpoint, ca_trust_path=str(trusted.ca_path), one_shot=True))
        assert hv.host_info().cpus > 0 and endpoint.refused_logons == 0
        assert HyperVHypervisor(runner(endpoint, ca_trust_path=str(trusted.ca_path))).host_info().cpus > 0


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
    # A typo never turns verification off.
    with pytest.raises(PluginError, match="verify_tls_certificate"):
        HostConnection.from_mapping({"url": "hv01", "verify_tls_certificate": "flase"})
    assert HostConnection.from_mapping({"url": "hv01", "verify_tls_certificate": "Off"}).verify_tls_certificate is False


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
        self.endpoint = LoopbackWSManServer(
            SimulatedHyperVHost(self.simulator).invoke, username=USER, password=PASSWORD
        )
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
