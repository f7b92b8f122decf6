"""FQCN <-> class registry.

A :class:`Registry` maps Java class names to model classes. The built-in one lists every class in
``cshyperv.commands``; plug-ins that add commands take a copy and register their own classes, then
build a codec over it (``Codec(registry=...)``). Nothing here is global state: each call of
:func:`builtin_registry` returns a new, independent registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TypeVar

from cshyperv.errors import UnknownTypeError
from cshyperv.wire._model import WireObject

__all__ = ["Registry", "builtin_registry"]

W = TypeVar("W", bound=type[WireObject])

# The modules of cshyperv.commands, in the order their classes are listed.
_BUILTIN_MODULES = (
    "cshyperv.wire._model",
    "cshyperv.commands.enums",
    "cshyperv.commands.generic",
    "cshyperv.commands.values",
    "cshyperv.commands.to",
    "cshyperv.commands.storage_to",
    "cshyperv.commands.host",
    "cshyperv.commands.vm",
    "cshyperv.commands.network",
    "cshyperv.commands.storage",
    "cshyperv.commands.storage_subsystem",
    "cshyperv.commands.snapshots",
    "cshyperv.commands.scaling",
    "cshyperv.commands.nics",
    "cshyperv.commands.stats",
    "cshyperv.commands.configdrive",
    "cshyperv.commands.network_rules",
    "cshyperv.commands.pool_migration",
)


class Registry:
    """A mutable mapping from Java FQCN to model class."""

    def __init__(self, classes: Iterable[type[WireObject]] = ()) -> None:
        self._by_fqcn: dict[str, type[WireObject]] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: W) -> W:
        """Add ``cls`` under its ``FQCN``; usable as a class decorator.

        Registering a different class under a name already taken replaces it, which is how a
        plug-in overrides a built-in model class.
        """
        fqcn = cls.__dict__.get("FQCN")
        if not isinstance(fqcn, str) or not fqcn:
            raise ValueError(f"{cls.__qualname__} declares no FQCN of its own")
        self._by_fqcn[fqcn] = cls
        return cls

    def get(self, fqcn: str) -> type[WireObject] | None:
        return self._by_fqcn.get(fqcn)

    def lookup(self, fqcn: str) -> type[WireObject]:
        """The class registered under ``fqcn``; :class:`UnknownTypeError` if there is none."""
        cls = self._by_fqcn.get(fqcn)
        if cls is None:
            raise UnknownTypeError(fqcn)
        return cls

    def copy(self) -> Registry:
        return Registry(self._by_fqcn.values())

    def __contains__(self, fqcn: object) -> bool:
        return fqcn in self._by_fqcn

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._by_fqcn))

    def __len__(self) -> int:
        return len(self._by_fqcn)

    def items(self) -> list[tuple[str, type[WireObject]]]:
        """(FQCN, class) pairs sorted by FQCN."""
        return sorted(self._by_fqcn.items())


@cache
def _builtin_classes() -> tuple[type[WireObject], ...]:
    found: dict[str, type[WireObject]] = {}
    for name in _BUILTIN_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, WireObject)
                and value.__module__ == name
                and value.__dict__.get("FQCN")
            ):
                found[value.__dict__["FQCN"]] = value
    return tuple(found.values())


def builtin_registry() -> Registry:
    """A new registry holding every class of cshyperv's own model."""
    return Registry(_builtin_classes())
