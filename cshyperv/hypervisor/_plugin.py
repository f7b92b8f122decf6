"""What a plug-in factory returns, and the typed capability check.

A factory ``(settings: Mapping[str, str]) -> Plugin | Hypervisor`` builds one plug-in instance.
Returning a :class:`Plugin` says everything explicitly: the hypervisor, the storage access the
agent uses to reach the host's files, and (optionally) the host's own view of path capacity.
Returning a bare :class:`Hypervisor` is shorthand: its storage access and host capacity are then
found through the protocols it implements (:class:`ProvidesStorageAccess`,
:class:`HostCapacity`); :func:`as_plugin` turns either form into a :class:`Plugin`.

A plug-in that declares no optional :class:`Capability` is complete: every CloudStack command
that needs an undeclared capability is answered "unsupported" before the plug-in is called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Literal, TypeGuard, overload

import attrs

from cshyperv.hypervisor._protocols import (
    Capability,
    Hypervisor,
    SupportsCheckpoints,
    SupportsConsole,
    SupportsDeploy,
    SupportsDisks,
    SupportsMigration,
    SupportsNics,
    SupportsRestore,
    SupportsScaling,
    SupportsStats,
    SupportsSuspend,
    SupportsVolumes,
)
from cshyperv.hypervisor._storage import HostCapacity, ProvidesStorageAccess, StorageAccess

__all__ = ["CAPABILITY_PROTOCOLS", "Plugin", "PluginFactory", "as_plugin", "supports"]

CAPABILITY_PROTOCOLS: Mapping[Capability, type] = {
    Capability.STATS: SupportsStats,
    Capability.DISKS: SupportsDisks,
    Capability.VOLUMES: SupportsVolumes,
    Capability.NICS: SupportsNics,
    Capability.CHECKPOINTS: SupportsCheckpoints,
    Capability.MIGRATION: SupportsMigration,
    Capability.STORAGE_MIGRATION: SupportsMigration,
    Capability.CONSOLE: SupportsConsole,
    Capability.SCALING: SupportsScaling,
    Capability.SUSPEND: SupportsSuspend,
    Capability.DEPLOY: SupportsDeploy,
    Capability.RESTORE: SupportsRestore,
}
"""The protocol each capability promises (two capabilities share :class:`SupportsMigration`)."""


# fmt: off
@overload
def supports(hv: object, capability: Literal[Capability.STATS]) -> TypeGuard[SupportsStats]: ...
@overload
def supports(hv: object, capability: Literal[Capability.DISKS]) -> TypeGuard[SupportsDisks]: ...
@overload
def supports(hv: object, capability: Literal[Capability.VOLUMES]) -> TypeGuard[SupportsVolumes]: ...
@overload
def supports(hv: object, capability: Literal[Capability.NICS]) -> TypeGuard[SupportsNics]: ...
@overload
def supports(hv: object, capability: Literal[Capability.CHECKPOINTS]) -> TypeGuard[SupportsCheckpoints]: ...
@overload
def supports(
    hv: object, capability: Literal[Capability.MIGRATION, Capability.STORAGE_MIGRATION]
) -> TypeGuard[SupportsMigration]: ...
@overload
def supports(hv: object, capability: Literal[Capability.CONSOLE]) -> TypeGuard[SupportsConsole]: ...
@overload
def supports(hv: object, capability: Literal[Capability.SCALING]) -> TypeGuard[SupportsScaling]: ...
@overload
def supports(hv: object, capability: Literal[Capability.SUSPEND]) -> TypeGuard[SupportsSuspend]: ...
@overload
def supports(hv: object, capability: Literal[Capability.DEPLOY]) -> TypeGuard[SupportsDeploy]: ...
@overload
def supports(hv: object, capability: Literal[Capability.RESTORE]) -> TypeGuard[SupportsRestore]: ...
@overload
def supports(hv: object, capability: Capability) -> bool: ...
# fmt: on


def supports(hv: object, capability: Capability) -> bool:
    """True when ``hv`` declares ``capability`` *and* implements its protocol; narrows ``hv`` to
    that protocol for the type checker. Both are needed: a declaration without the methods is a
    broken plug-in, methods without the declaration are a feature the plug-in did not offer."""
    declared: frozenset[Capability] = getattr(hv, "capabilities", frozenset())
    if capability not in declared:
        return False
    key = (type(hv), capability)
    if _CLASS_IMPLEMENTS.get(key):
        return True
    protocol = CAPABILITY_PROTOCOLS[capability]
    try:
        by_class = issubclass(type(hv), protocol)
    except TypeError:  # a protocol with data members: only instances can be checked
        by_class = False
    if by_class:
        _CLASS_IMPLEMENTS[key] = True
        return True
    # Methods set on the instance (not the class) count too; checked every time.
    return isinstance(hv, protocol)


# Classes known to implement a capability's protocol. A structural isinstance() against a
# Protocol walks its members on every call, and capability checks sit on every request's path
# (the StartCommand retry CloudStack sends makes several); what a class implements does not
# change, so a positive answer is kept per (class, capability). A benign race: two threads may
# both compute and store True.
_CLASS_IMPLEMENTS: dict[tuple[type, Capability], bool] = {}


@attrs.define(eq=False)
class Plugin:
    """One plug-in instance as the agent uses it.

    ``storage`` is how the agent reaches the host's files (required to serve the direct-connect
    agent; the Extensions executable needs none). ``host_capacity`` answers capacity of host drive
    paths; without it, capacity is asked of the file server through ``storage``.
    :meth:`close` closes the hypervisor once, however often it is called.
    """

    hypervisor: Hypervisor
    storage: StorageAccess | None = None
    host_capacity: HostCapacity | None = None
    _closed: bool = attrs.field(default=False, init=False, repr=False)
    _close_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.hypervisor.name

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.hypervisor.close()


def as_plugin(obj: Plugin | Hypervisor) -> Plugin:
    """``obj`` as a :class:`Plugin`: itself, or a bare hypervisor with the storage access and host
    capacity it provides through :class:`ProvidesStorageAccess` / :class:`HostCapacity`."""
    if isinstance(obj, Plugin):
        return obj
    storage = obj.storage_access() if isinstance(obj, ProvidesStorageAccess) else None
    capacity = obj if isinstance(obj, HostCapacity) else None
    return Plugin(obj, storage=storage, host_capacity=capacity)


PluginFactory = Callable[[Mapping[str, str]], "Plugin | Hypervisor"]
"""Builds one plug-in instance from string settings (URL, credentials, paths...)."""
