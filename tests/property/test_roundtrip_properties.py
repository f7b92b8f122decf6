"""Property tests both ways: model -> JSON -> model, and schema -> JSON -> model -> JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cshyperv.testing import strip_nulls
from cshyperv.testing.strategies import schema_documents, wire_objects
from cshyperv.wire import Codec, builtin_registry
from cshyperv.wire.schema import SchemaValidator, build_schema

REGISTRY = builtin_registry()
CLASSES = REGISTRY.items()
CODEC = Codec(REGISTRY)
VALIDATOR = SchemaValidator(REGISTRY)


@pytest.mark.parametrize(("fqcn", "cls"), CLASSES, ids=[f for f, _ in CLASSES])
def test_model_objects_round_trip_and_validate(fqcn: str, cls: type) -> None:
    @given(wire_objects(cls, REGISTRY))
    def check(obj: object) -> None:
        body = CODEC.encode(obj)  # type: ignore[arg-type]
        document = json.loads(body)
        assert VALIDATOR.problems(cls, document) == []
        assert CODEC.decode(cls, body) == obj

    check()


@pytest.mark.parametrize(("fqcn", "cls"), CLASSES, ids=[f for f, _ in CLASSES])
def test_schema_documents_decode_and_round_trip(fqcn: str, cls: type) -> None:
    schema = build_schema(cls, REGISTRY)

    @given(schema_documents(schema))
    def check(document: object) -> None:
        assert VALIDATOR.problems(cls, document) == []
        decoded = CODEC.decode(cls, json.dumps(document))
        assert strip_nulls(CODEC.to_json_value(decoded)) == strip_nulls(document)

    check()


@given(st.sampled_from([c for _, c in CLASSES]).flatmap(lambda c: wire_objects(c, REGISTRY)))
def test_wrapped_arrays_round_trip(obj: object) -> None:
    body = CODEC.encode_wrapped([obj, obj])  # type: ignore[list-item]
    assert CODEC.decode_wrapped(body) == [obj, obj]
