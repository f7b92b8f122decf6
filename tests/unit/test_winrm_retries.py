"""The WinRM runner retries a busy host a bounded number of times, backing off, then gives up."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from winrm.exceptions import WSManFaultError

from cshyperv import deadline
from cshyperv.errors import HypervisorError, OperationTimeoutError
from cshyperv.hyperv.winrm import BUSY_CODES, HostConnection, WinRMRunner


class AlwaysBusy:
    """A WS-Management peer that refuses every command with the operation-limit fault."""

    def __init__(self) -> None:
        self.commands = 0

    def run_command(self, *args: Any, **kwargs: Any) -> str:
        self.commands += 1
        raise WSManFaultError(400, "busy", "", "quota", wsman_fault_code=BUSY_CODES[0], fault_code="s:Receiver")


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    # The back-off is recorded, not slept: no test time, and no duration to assert.
    module = sys.modules[WinRMRunner.__module__]
    monkeypatch.setattr(module, "time", types.SimpleNamespace(sleep=pauses.append))
    return pauses


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_busy_host_is_retried_a_bounded_number_of_times(slept: list[float], retries: int) -> None:
    peer = AlwaysBusy()
    runner = WinRMRunner(HostConnection(url="http://127.0.0.1:5985/wsman", username="u", password="p"))
    runner.busy_retries = retries
    runner._ensure_protocol = lambda: peer  # type: ignore[method-assign]
    runner._shell = "shell-1"  # an open, kept shell: every attempt is a Command on it
    # Under a deadline, so that an unbounded loop ends as a timeout and fails this test, not CI.
    with deadline.deadline_scope(5), pytest.raises(HypervisorError) as caught:
        runner.invoke("get_vm", {"name": "v"})
    assert not isinstance(caught.value, OperationTimeoutError)
    assert peer.commands == retries + 1
    assert slept == [min(2.0, 0.1 * 2**n) for n in range(1, retries + 1)]
