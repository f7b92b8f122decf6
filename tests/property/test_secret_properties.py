"""No secret in a repr, a str or an answer, for every class of the model.

Each test builds objects of one registered class with hypothesis, then puts a canary secret
everywhere the management server may put one: behind ``password=`` in every text member (URL
queries, UNC paths, boot arguments), in the userinfo of URLs, in every secret field, under
secret-looking keys of every map of text and of the unknown members.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cshyperv.testing.strategies import wire_objects
from cshyperv.wire import Codec, OpaqueTO, WireObject, builtin_registry, redact_secrets

REGISTRY = builtin_registry()
CLASSES = REGISTRY.items()
CODEC = Codec(REGISTRY)
CANARY = "Cn4ryS3cr3tZq"
# Two tests per class of a model of about 250: a few examples each keep the file under a minute.
FEW = settings(max_examples=8)

FORMS = [
    f"cifs://10.1.1.1/secondary?user=administrator&password={CANARY}&domain=LAB",
    f"smb://administrator:{CANARY}@10.1.1.1/share/dir",
    f"/primary/dir?user=administrator&password={CANARY}",
    f"\\\\10.1.1.1\\primary?user=u&password={CANARY}",
    f"template=domP name=r-4-VM password={CANARY} eth0ip=10.1.1.2",
    f"type=router authorized_key={CANARY} eth0mask=255.255.255.0",
]


def _plant(value: Any, draw: Any, *, secret: bool = False) -> Any:
    """``value`` with canaries planted, keeping every runtime type (so it still encodes)."""
    if isinstance(value, (enum.Enum, bool)) or value is None:
        return value
    if isinstance(value, str):
        return CANARY if secret else draw(st.sampled_from(FORMS))
    if isinstance(value, WireObject):
        return _plant_object(value, draw)
    if isinstance(value, list):
        return [_plant(v, draw, secret=secret) for v in value]
    if isinstance(value, tuple):
        return tuple(_plant(v, draw, secret=secret) for v in value)
    if isinstance(value, dict):
        out = {k: _plant(v, draw, secret=secret) for k, v in value.items()}
        if out and all(isinstance(v, str) for v in out.values()):
            out["password"] = CANARY  # a map of text (details, params, contextMap, extraConfig)
            out["chap.target.secret"] = CANARY
        return out
    return value


def _plant_object(obj: WireObject, draw: Any) -> WireObject:
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        if field.name == "wire_members" or (isinstance(obj, OpaqueTO) and field.name == "fqcn"):
            continue  # (a Java class name is where CloudStack never puts a secret)
        value = getattr(obj, field.name)
        if field.name == "unknown_members":
            changes[field.name] = {**value, "password": CANARY, "extra": {"token": CANARY, "u": FORMS[1]}}
            continue
        changes[field.name] = _plant(value, draw, secret=field.metadata.get("cshyperv.secret") == "value")
    return attrs.evolve(obj, **changes)


@pytest.mark.parametrize(("fqcn", "cls"), CLASSES, ids=[f for f, _ in CLASSES])
def test_repr_and_str_never_show_a_secret(fqcn: str, cls: type[WireObject]) -> None:
    @FEW
    @given(wire_objects(cls, REGISTRY), st.data())
    def check(obj: WireObject, data: st.DataObject) -> None:
        planted = _plant_object(obj, data.draw)
        assert CANARY not in repr(planted)
        assert CANARY not in str(planted)
        # Decoded objects too (their unknown members come from the wire).
        decoded = CODEC.decode(cls, CODEC.encode(planted))
        assert CANARY not in repr(decoded) and CANARY not in str(decoded)

    check()


@pytest.mark.parametrize(("fqcn", "cls"), CLASSES, ids=[f for f, _ in CLASSES])
def test_what_leaves_the_agent_holds_no_secret(fqcn: str, cls: type[WireObject]) -> None:
    @FEW
    @given(wire_objects(cls, REGISTRY), st.data())
    def check(obj: WireObject, data: st.DataObject) -> None:
        planted = CODEC.decode(cls, CODEC.encode(_plant_object(obj, data.draw)))
        body = CODEC.encode(redact_secrets(planted))
        assert CANARY not in body.decode("utf-8")
        # Everything else is still there: the same members, unknown ones included.
        assert set(json.loads(body)) <= set(json.loads(CODEC.encode(planted)))
        assert set(redact_secrets(planted).unknown_members) == set(planted.unknown_members)

    check()
