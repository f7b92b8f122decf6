"""The PSRP runner (pypsrp RunspacePool) against a loopback PSRP endpoint, over real HTTP.

pypsrp -> HTTP -> LoopbackPSRPServer (psrpcore's server runspace pool) -> the simulated host.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pypsrp", reason="the psrp runner needs pypsrp (the psrp extra)")
pytest.importorskip("psrpcore", reason="the loopback PSRP endpoint needs psrpcore (the dev extra)")

from cshyperv import deadline
from cshyperv.errors import (
    HypervisorAccessDeniedError,
    OperationTimeoutError,
    PluginError,
    VmNotFoundError,
)
from cshyperv.hyperv import HostConnection, HyperVHypervisor, create
from cshyperv.hyperv.psrp import PSRPRunner
from cshyperv.hypervisor import Hypervisor, VmSpec
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.conformance import HypervisorConformance
from cshyperv.testing.hyperv_host import SimulatedHyperVHost
from cshyperv.testing.psrp import LoopbackPSRPServer

PASSWORD = "Ps-R3mot1ng pass"


@pytest.fixture
def host(tmp_path: Path) -> SimulatedHyperVHost:
    return SimulatedHyperVHost(SimulatorHypervisor(tmp_path / "host.db"))


@pytest.fixture
def endpoint(host: SimulatedHyperVHost) -> Iterator[LoopbackPSRPServer]:
    with LoopbackPSRPServer(host.invoke, password=PASSWORD) as server:
        yield server


def plugin(endpoint: LoopbackPSRPServer, password: str = PASSWORD) -> HyperVHypervisor:
    connection = HostConnection(url=endpoint.url, username="admin", password=password)  # NTLM, sealed
    return HyperVHypervisor(PSRPRunner(connection))


def test_one_pool_and_three_exchanges_per_warm_invocation(endpoint: LoopbackPSRPServer) -> None:
    hv = plugin(endpoint)
    hv.host_info()
    before = endpoint.total_exchanges()
    for n in range(5):
        hv.create_vm(VmSpec(name=f"i-2-{n}-VM"))
    assert endpoint.exchanges["Create"] == 1, "the runspace pool is reused"
    assert (endpoint.total_exchanges() - before) / 5 == 3  # Command, Receive, Signal
    assert endpoint.pipelines_run == 6
    hv.close()
    assert endpoint.exchanges["Delete"] == 1


def test_large_parameters_and_hostile_values_arrive_intact(endpoint: LoopbackPSRPServer) -> None:
    hv = plugin(endpoint)
    notes = "n\u2019\u201c$(x)`;\n" * 100_000  # ~1 MB: several PSRP fragments, the rest sent with Send
    name = "a\"; Remove-VM *; $(x) '\u2018`"
    info = hv.create_vm(VmSpec(name=name, notes=notes))
    assert info.name == name and info.notes == notes
    assert endpoint.exchanges["Send"] >= 1
    hv.get_vm("plain")
    assert len(set(endpoint.scripts)) == 2  # create_vm and get_vm: the script text never varies


def test_error_records_become_typed_errors(endpoint: LoopbackPSRPServer) -> None:
    hv = plugin(endpoint)
    with pytest.raises(VmNotFoundError):
        hv.start_vm("i-404-VM")
    hv.stop_vm("i-404-VM")  # stopping an absent VM is not an error


def test_deadline_while_the_host_works(endpoint: LoopbackPSRPServer, host: SimulatedHyperVHost) -> None:
    hv = plugin(endpoint)
    hv.host_info()
    slow = host.invoke

    release = threading.Event()

    def sleepy(script: str, params: object) -> object:
        release.wait(30)  # the host works until the test lets it go
        return slow(script, params)  # type: ignore[arg-type]

    endpoint.handler = sleepy
    with deadline.deadline_scope(1.0), pytest.raises(OperationTimeoutError):
        hv.host_info()
    assert endpoint.open_shells == 0, "the pool of the abandoned pipeline was closed on the host"
    assert hv.host_info().cpus > 0, "the next invocation opens a new pool"


def test_dropped_pool_is_reopened_and_busy_is_retried(endpoint: LoopbackPSRPServer) -> None:
    hv = plugin(endpoint)
    hv.host_info()
    endpoint.inject("Command", "drop-shell")
    assert hv.get_vm("nothing") is None
    assert endpoint.exchanges["Create"] == 2
    endpoint.inject("Command", "busy")
    assert hv.get_vm("nothing") is None


def test_wrong_password_is_access_denied_without_the_password(endpoint: LoopbackPSRPServer) -> None:
    with pytest.raises(HypervisorAccessDeniedError) as info:
        plugin(endpoint, password="Wr0ng-S3cret").host_info()
    assert "Wr0ng-S3cret" not in str(info.value) and PASSWORD not in repr(info.value)


def test_chosen_by_the_runner_setting(endpoint: LoopbackPSRPServer) -> None:
    hv = create({"url": endpoint.url, "username": "admin", "password": PASSWORD, "runner": "psrp"})
    assert isinstance(hv.runner, PSRPRunner)
    assert hv.host_info().cpus > 0
    hv.close()
    with pytest.raises(PluginError, match="unknown runner"):
        create({"url": endpoint.url, "username": "a", "password": "b", "runner": "ssh"})


class TestHyperVOverPSRP(HypervisorConformance):
    """The conformance kit, end to end through pypsrp and HTTP."""

    @pytest.fixture(autouse=True)
    def _endpoint(self, tmp_path: Path) -> Iterator[None]:
        self._simulator = SimulatorHypervisor(tmp_path / "kit.db")
        with LoopbackPSRPServer(SimulatedHyperVHost(self._simulator).invoke, password=PASSWORD) as server:
            self._server = server
            yield

    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        return plugin(self._server)

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str:
        path = "\\\\fileserver\\templates\\base.vhdx"
        self._simulator.files.create_disk(path, 1024**3)
        return path
