"""Commands answered without waiting (on the agent's event loop) and the ones that give up."""

from __future__ import annotations

import threading

from cshyperv.commands import CheckVirtualMachineCommand, StopCommand
from cshyperv.resource import ServerResource, handle_request, handle_request_quickly
from cshyperv.simulator import SimulatorHypervisor
from cshyperv.testing.scenario import Scenario
from cshyperv.wire import encode

GiB = 1024**3
START = "com.cloud.agent.api.StartCommand"


def _running(resource: ServerResource, scenario: Scenario) -> bytes:
    """Deploy the scenario's VM; the body of its StartCommand."""
    copied = resource.execute(scenario.copy_template_to_primary())
    volume = resource.execute(scenario.copy_template_to_volume(copied.new_data.path))  # type: ignore[attr-defined]
    start = scenario.start(volume.new_data.path)  # type: ignore[attr-defined]
    assert resource.execute(start).result
    return encode(start)


def test_a_start_retry_for_a_running_vm_is_answered_without_waiting_and_the_same(
    resource: ServerResource, scenario: Scenario
) -> None:
    body = _running(resource, scenario)
    assert START in resource.quick_commands
    quick = handle_request_quickly(resource, START, body, "application/json")
    assert quick is not None and quick.ok
    assert quick.body == handle_request(resource, START, body, "application/json").body
    assert b"vncPassword" not in quick.body, "the quick answer is redacted like any other"


def test_a_start_that_must_change_something_gives_up_before_changing_it(
    resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor
) -> None:
    body = _running(resource, scenario)
    name = scenario.vm_name
    assert resource.execute(StopCommand(vm_name=name)).result
    assert handle_request_quickly(resource, START, body, "application/json") is None
    vm = sim.get_vm(name)
    assert vm is not None and vm.state.value == "Off", "nothing was started on the event loop"
    assert handle_request(resource, START, body, "application/json").ok  # the worker thread's run


def test_a_vm_lock_held_by_another_thread_is_not_waited_for(resource: ServerResource, scenario: Scenario) -> None:
    body = _running(resource, scenario)
    held, release = threading.Event(), threading.Event()

    def slow_operation() -> None:
        with resource.ops._locks.hold(scenario.vm_name):
            held.set()
            release.wait(30)

    worker = threading.Thread(target=slow_operation)
    worker.start()
    try:
        assert held.wait(10)
        assert handle_request_quickly(resource, START, body, "application/json") is None
    finally:
        release.set()
        worker.join()
    assert handle_request_quickly(resource, START, body, "application/json") is not None


def test_reads_the_plugin_does_not_declare_quick_give_up(resource: ServerResource, scenario: Scenario) -> None:
    _running(resource, scenario)
    check = CheckVirtualMachineCommand(vm_name=scenario.vm_name)
    assert resource.execute_quickly(check) is not None
    assert resource.ops.without_waiting(resource.ops.vms) is None, "list_vms is not declared quick"
    assert resource.ops.without_waiting(lambda: resource.ops.vm(scenario.vm_name)) is not None


def test_a_plugin_that_may_sleep_or_block_gets_no_quick_path(
    resource: ServerResource, scenario: Scenario, sim: SimulatorHypervisor
) -> None:
    body = _running(resource, scenario)
    sim.latency_s = 0.01
    assert not resource.quick_commands
    assert handle_request_quickly(resource, START, body, "application/json") is None
    sim.latency_s = 0.0
    sim._faults = lambda op, args: None  # a hook may block: nothing is quick with one
    assert handle_request_quickly(resource, START, body, "application/json") is None


def test_only_listed_commands_and_small_bodies_are_tried(resource: ServerResource, scenario: Scenario) -> None:
    body = _running(resource, scenario)
    assert resource.execute_quickly(scenario.copy_template_to_primary()) is None
    padded = body[:-1] + b',"padding":"' + b"x" * (70 * 1024) + b'"}'
    assert handle_request_quickly(resource, START, padded, "application/json") is None
    assert handle_request_quickly(resource, START, b"{not json", "application/json") is None
