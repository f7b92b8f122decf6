"""The committed JSON Schemas are generated from the model and say what the codec does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cshyperv.errors import SchemaValidationError
from cshyperv.wire import builtin_registry
from cshyperv.wire.schema import ID_PREFIX, SchemaValidator, build_schema, render_files
from tests.conftest import ROOT

SCHEMAS = ROOT / "schemas"


def test_committed_schemas_are_current() -> None:
    """schemas/ == what the model generates now (run `python -m cshyperv.wire.schema schemas/`)."""
    expected = render_files()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    stale = sorted(n for n in expected.keys() | committed.keys() if expected.get(n) != committed.get(n))
    assert not stale, f"stale schemas, regenerate them: {stale[:10]}"


def test_index_lists_exactly_the_registry() -> None:
    index = json.loads((SCHEMAS / "index.json").read_text())
    assert [e["fqcn"] for e in index["schemas"]] == list(builtin_registry())
    for entry in index["schemas"]:
        assert (SCHEMAS / entry["file"]).is_file()


def test_ids_are_stable_urns() -> None:
    for fqcn, cls in builtin_registry().items():
        assert build_schema(cls)["$id"] == ID_PREFIX + fqcn


def _root(fqcn: str) -> dict:
    doc = build_schema(builtin_registry().lookup(fqcn))
    return doc["$defs"][fqcn]


def test_commands_are_open_and_answers_closed() -> None:
    assert "additionalProperties" not in _root("com.cloud.agent.api.StartCommand")
    assert _root("com.cloud.agent.api.StartAnswer")["additionalProperties"] is False
    # A transfer object echoed inside an answer stays open: it may carry members from a newer CloudStack.
    assert "additionalProperties" not in _root("com.cloud.agent.api.to.VirtualMachineTO")


def test_every_integer_is_bounded() -> None:
    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                assert "minimum" in node and "maximum" in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, cls in builtin_registry().items():
        walk(build_schema(cls))
    vm = _root("com.cloud.agent.api.to.VirtualMachineTO")["properties"]
    assert (vm["cpus"]["minimum"], vm["cpus"]["maximum"]) == (-(2**31), 2**31 - 1)
    assert vm["maxRam"]["maximum"] == 2**63 - 1


def test_validation_errors_name_paths_never_values() -> None:
    validator = SchemaValidator()
    cls = builtin_registry().lookup("com.cloud.agent.api.StartCommand")
    document = {"vm": {"nics": [{"deviceId": "S3cr3t"}], "cpus": 2**40}, "wait": "x"}
    with pytest.raises(SchemaValidationError) as caught:
        validator.validate(cls, document)
    paths = dict(caught.value.problems)
    assert set(paths) == {"$.vm.nics[0].deviceId", "$.vm.cpus", "$.wait"}
    assert "S3cr3t" not in str(caught.value) and "S3cr3t" not in repr(caught.value.problems)


def test_alias_and_current_name_are_exclusive() -> None:
    validator = SchemaValidator()
    cls = builtin_registry().lookup("com.cloud.agent.api.StartCommand")
    assert validator.problems(cls, {"vm": {}, "secondaryStorage": "a"}) == []
    assert validator.problems(cls, {"vm": {}, "secondaryStorage": "a", "secondaryStorages": ["a"]})


def test_schema_files_are_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    for path in Path(SCHEMAS).glob("*.json"):
        if path.name != "index.json":
            Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_fast_and_reference_validators_agree() -> None:
    """jsonschema-rs (the fast path) and jsonschema (the explainer) give the same verdicts."""
    pytest.importorskip("jsonschema_rs")
    fast, reference = SchemaValidator(use_rust=True), SchemaValidator(use_rust=False)
    cls = builtin_registry().lookup("com.cloud.agent.api.StartCommand")
    body = json.loads((ROOT / "tests" / "samples" / "cmd-StartCommand.json").read_bytes())
    bad = {**body, "vm": {**body["vm"], "cpus": "two"}}
    for document in (body, bad, {"vm": None}, {}):
        assert fast.is_valid(cls, document) == reference.is_valid(cls, document)
    with pytest.raises(SchemaValidationError):
        fast.validate(cls, bad)
