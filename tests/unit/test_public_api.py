"""The public API is curated: every package lists its names once, sorted, and they all exist."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["cshyperv", "cshyperv.commands", "cshyperv.errors", "cshyperv.wire", "cshyperv.testing"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported), "keep __all__ sorted"
    assert len(exported) == len(set(exported))
    for item in exported:
        assert hasattr(module, item), item


def test_every_registered_class_is_exported_from_commands() -> None:
    from cshyperv import commands
    from cshyperv.wire import builtin_registry

    for _, cls in builtin_registry().items():
        assert getattr(commands, cls.__name__, None) is cls, cls.__name__


def test_fqcns_are_unique_and_match_class_names() -> None:
    from cshyperv.wire import builtin_registry

    for fqcn, cls in builtin_registry().items():
        simple = fqcn.rsplit(".", 1)[-1].rsplit("$", 1)[-1]
        assert simple == cls.__name__, fqcn
        cls()  # every class builds with no arguments, as Gson builds it from {}
