"""FQCN <-> class registry.

A :class:`Registry` maps Java class names to model classes. The built-in one lists every class of
the model that registered itself with :func:`register_model` -- ``cshyperv.commands`` does so when
it is imported, and the first registry built imports the package the distribution declares as its
model (``cshyperv.MODEL_PACKAGE``), so this generic engine names no model package. Plug-ins
that add commands take a copy and register their own classes, then build a codec over it
(``Codec(registry=...)``). Each call of :func:`builtin_registry` returns a new,
independent registry.
"""

from __future__ import annotations

import enum
import importlib
import sys
import threading
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TypeVar

from cshyperv.errors import UnknownTypeError
from cshyperv.wire import _model
from cshyperv.wire._model import WireObject

__all__ = ["Registry", "builtin_registry", "register_model"]

W = TypeVar("W", bound=type[WireObject])

_models: list[ModuleType] = [_model]
_power_state: list[type[enum.Enum]] = []
_built: list[tuple[type[WireObject], ...]] = []
_lock = threading.Lock()


def register_model(modules: Iterable[ModuleType], *, power_state: type[enum.Enum] | None = None) -> None:
    """Add the model classes (with an ``FQCN`` of their own) defined in ``modules`` to every
    built-in registry made from now on; ``power_state`` is the enum the HostVmStateReport reply
    decodes to. Called once by ``cshyperv.commands``; a later module's class replaces an earlier
    one under the same FQCN."""
    with _lock:
        _models.extend(m for m in modules if m not in _models)
        if power_state is not None:
            _power_state[:] = [power_state]
        _built.clear()


class Registry:
    """A mutable mapping from Java FQCN to model class."""

    def __init__(self, classes: Iterable[type[WireObject]] = (), *, power_state: type[enum.Enum] | None = None) -> None:
        self._by_fqcn: dict[str, type[WireObject]] = {}
        self.power_state = power_state
        """The enum HostVmStateReport replies decode to (None: plain strings)."""
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
        return Registry(self._by_fqcn.values(), power_state=self.power_state)

    def __contains__(self, fqcn: object) -> bool:
        return fqcn in self._by_fqcn

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._by_fqcn))

    def __len__(self) -> int:
        return len(self._by_fqcn)

    def items(self) -> list[tuple[str, type[WireObject]]]:
        """(FQCN, class) pairs sorted by FQCN."""
        return sorted(self._by_fqcn.items())


def _import_declared_model() -> None:
    # Outside the lock: the model's import registers itself, which takes the lock.
    package = getattr(sys.modules.get("cshyperv"), "MODEL_PACKAGE", None)
    if isinstance(package, str) and package not in sys.modules:
        importlib.import_module(package)


def _builtin_classes() -> tuple[type[WireObject], ...]:
    _import_declared_model()
    with _lock:
        if _built:
            return _built[0]
        found: dict[str, type[WireObject]] = {}
        for module in _models:
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, WireObject)
                    and value.__module__ == module.__name__
                    and value.__dict__.get("FQCN")
                ):
                    found[value.__dict__["FQCN"]] = value
        _built.append(tuple(found.values()))
        return _built[0]


def builtin_registry() -> Registry:
    """A new registry holding every class of the registered model (see :func:`register_model`)."""
    registry = Registry(_builtin_classes())  # imports the declared model first
    registry.power_state = _power_state[0] if _power_state else None
    return registry
