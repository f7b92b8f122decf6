"""Find and build hypervisor plug-ins.

A plug-in is a factory ``(config: Mapping[str, str]) -> Plugin | Hypervisor`` (the contract is
:mod:`cshyperv.hypervisor`'s: :class:`~cshyperv.hypervisor.Plugin`). Register one explicitly with
:meth:`PluginRegistry.register`, or publish it under the entry point group ``cshyperv.hypervisors``
in your package's metadata::

    [project.entry-points."cshyperv.hypervisors"]
    myhv = "my_package.plugin:create"

Entry points are loaded lazily, the first time their name is asked for. A registry is an ordinary
object: build one per application (:func:`default_plugins` gives one with the built-ins).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

from cshyperv.errors import PluginError
from cshyperv.hypervisor import Hypervisor, Plugin, PluginFactory, as_plugin

__all__ = ["ENTRY_POINT_GROUP", "HypervisorFactory", "PluginRegistry", "default_plugins"]

ENTRY_POINT_GROUP = "cshyperv.hypervisors"

HypervisorFactory = PluginFactory
"""Builds a plug-in instance from string settings (URL, credentials, paths...)."""


class PluginRegistry:
    """Name -> factory, with entry points consulted for names not registered explicitly."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self._factories: dict[str, HypervisorFactory] = {}
        self._use_entry_points = entry_points

    def register(self, name: str, factory: HypervisorFactory) -> None:
        self._factories[name] = factory

    def names(self) -> list[str]:
        found = set(self._factories)
        if self._use_entry_points:
            found.update(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
        return sorted(found)

    def factory(self, name: str) -> HypervisorFactory:
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        if self._use_entry_points:
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                if ep.name == name:
                    try:
                        loaded: Any = ep.load()
                    except Exception as exc:
                        raise PluginError(
                            f"hypervisor plug-in {name!r} failed to load: entry point {ep.value!r} "
                            f"(module {ep.module}): {type(exc).__name__}: {str(exc)[:300]}"
                        ) from exc
                    self._factories[name] = loaded
                    return loaded  # type: ignore[no-any-return]
        raise PluginError(f"no hypervisor plug-in named {name!r} (known: {', '.join(self.names()) or 'none'})")

    def load(self, name: str, config: Mapping[str, str] | None = None) -> Plugin:
        """Build plug-in ``name`` with ``config``: its hypervisor, storage access and host
        capacity (:func:`~cshyperv.hypervisor.as_plugin`); :class:`PluginError` if unknown or broken."""
        built: Any = self.factory(name)(dict(config or {}))
        plugin = built if isinstance(built, Plugin) else None
        hypervisor = plugin.hypervisor if plugin is not None else built
        if not isinstance(hypervisor, Hypervisor):
            raise PluginError(f"hypervisor plug-in {name!r} returned an object that is not a Hypervisor")
        return plugin if plugin is not None else as_plugin(hypervisor)

    def create(self, name: str, config: Mapping[str, str] | None = None) -> Hypervisor:
        """Build plug-in ``name`` with ``config`` and return its hypervisor (see :meth:`load`)."""
        return self.load(name, config).hypervisor


def default_plugins() -> PluginRegistry:
    """A registry with the built-in plug-ins (they are entry points of cshyperv itself)."""
    return PluginRegistry()
