"""Every payload captured from CloudStack's own tests decodes, validates and round-trips losslessly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cshyperv.testing import strip_nulls
from cshyperv.wire import Codec, decode_vm_states, encode_vm_states
from tests.conftest import SAMPLES, SHARED_SAMPLES

# Bare bodies: the FQCN comes from the URL the management server posts to.
BARE = {
    "cmd-CopyCommand-cifs-template-to-primary.json": "org.apache.cloudstack.storage.command.CopyCommand",
    "cmd-StartCommand.json": "com.cloud.agent.api.StartCommand",
    "derived/derived-HostVmStateReport-request.json": "org.apache.cloudstack.HostVmStateReportCommand",
    "derived/derived-PingRoutingCommand-request.json": "com.cloud.agent.api.PingRoutingCommand",
    "derived/wire-ReadyCommand-request-from-issue-10808.json": "com.cloud.agent.api.ReadyCommand",
}
# Wrapped arrays [{"<FQCN>": {...}}]: StartupCommand both ways, and answers.
WRAPPED = [
    "ans-Answer-array-ResponseTest.json",
    "ans-StartupCommand-java-expected.json",
    "ans-StartupCommand-response.json",
    "cmd-StartupCommand-request.json",
    "derived/derived-PingRoutingCommand-answer.json",
    "derived/derived-StartAnswer.json",
    "derived/derived-UnsupportedAnswer.json",
]
VM_STATES = "derived/derived-HostVmStateReport-response.json"
EXTENSION = "extension-create-payload.json"


def all_sample_files() -> list[str]:
    return sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.json"))


def test_every_sample_is_covered() -> None:
    """No sample file escapes the tests below."""
    covered = set(BARE) | set(WRAPPED) | {VM_STATES, EXTENSION}
    assert set(all_sample_files()) == covered


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="../shared/samples is not beside this checkout")
def test_committed_samples_match_shared() -> None:
    """The copy under tests/samples is the steering repository's, byte for byte."""
    shared = sorted(str(p.relative_to(SHARED_SAMPLES)) for p in SHARED_SAMPLES.rglob("*.json"))
    assert shared == all_sample_files()
    for name in shared:
        assert (SHARED_SAMPLES / name).read_bytes() == (SAMPLES / name).read_bytes(), name


@pytest.fixture(scope="module")
def validating() -> Codec:
    return Codec(validate=True)


@pytest.mark.parametrize("name", sorted(BARE))
def test_bare_sample_round_trips(name: str, validating: Codec) -> None:
    raw = (SAMPLES / name).read_bytes()
    command = validating.decode_command(BARE[name], raw)
    assert BARE[name] == type(command).FQCN
    assert json.loads(validating.encode(command)) == strip_nulls(json.loads(raw))


@pytest.mark.parametrize("name", WRAPPED)
def test_wrapped_sample_round_trips(name: str, validating: Codec) -> None:
    raw = (SAMPLES / name).read_bytes()
    objects = validating.decode_wrapped(raw)
    assert [type(o).FQCN for o in objects] == [next(iter(e)) for e in json.loads(raw)]
    assert json.loads(validating.encode_wrapped(objects)) == strip_nulls(json.loads(raw))


def test_vm_state_report_round_trips() -> None:
    raw = (SAMPLES / VM_STATES).read_bytes()
    states = decode_vm_states(raw)
    assert {k: str(v) for k, v in states.items()} == {"i-2-17-VM": "PowerOn", "r-4-VM": "PowerOn"}
    assert json.loads(encode_vm_states(states)) == json.loads(raw)


def test_extension_payload_vm_is_a_virtual_machine_to(validating: Codec) -> None:
    """The Extensions payload carries a Gson-written VirtualMachineTO under cloudstack.vm.details."""
    payload = json.loads((SAMPLES / EXTENSION).read_bytes())
    details = payload["cloudstack.vm.details"]
    vm = validating.decode("com.cloud.agent.api.to.VirtualMachineTO", details)
    assert vm.name == "i-2-34-VM"
    assert vm.nics[0].broadcast_uri == "vlan://1234"
    assert validating.to_json_value(vm) == strip_nulls(details)


def test_sample_paths_exist() -> None:
    for name in [*BARE, *WRAPPED, VM_STATES, EXTENSION]:
        assert Path(SAMPLES / name).is_file(), name
