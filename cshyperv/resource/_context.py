"""State shared by the resource layer's handlers, and the helpers they use."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from cshyperv.errors import UnsupportedOperationError
from cshyperv.hypervisor import Capability, Hypervisor
from cshyperv.resource._storage_access import StorageAccess
from cshyperv.resource._translate import TranslationSettings

__all__ = ["ResourceContext", "ResourceSettings"]

P = TypeVar("P")


@attrs.frozen(kw_only=True)
class ResourceSettings:
    """Agent-side choices CloudStack does not send.

    ``default_switch``: the vSwitch for NICs whose network has no label. ``default_generation``:
    VM generation when the VM has no ``bootType``. ``differencing_root_disks``: build root disks
    from primary-storage templates as differencing disks (fast) rather than full copies.
    ``ping_interval``: not sent by us; kept for symmetry with StartupAnswer.
    """

    default_switch: str | None = None
    default_generation: int = 1
    differencing_root_disks: bool = False
    agent_version: str = "4.23.0.0"
    stop_timeout_s: float = 120.0

    @property
    def translation(self) -> TranslationSettings:
        return TranslationSettings(
            default_switch=self.default_switch,
            default_generation=self.default_generation,
            differencing_root_disks=self.differencing_root_disks,
        )


class ResourceContext:
    """The hypervisor, storage access and host identity every handler works with."""

    def __init__(self, hypervisor: Hypervisor, storage: StorageAccess, settings: ResourceSettings) -> None:
        self.hypervisor = hypervisor
        self.storage = storage
        self.settings = settings
        self.host_guid: str | None = None
        # Pools the management server told us about (ModifyStoragePoolCommand): uuid -> host path.
        self.pools: dict[str, str] = {}
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def learn(self, *locations: str | None) -> None:
        """Let the storage access remember credentials or export roots that store URLs carry
        (CloudStack strips them from most commands; StartCommand's secondaryStorages and pool
        details keep them)."""
        learn = getattr(self.storage, "learn", None)
        if learn is not None:
            for location in locations:
                if location:
                    learn(location)

    def require(self, capability: Capability, protocol: type[P]) -> P:
        """The hypervisor as ``protocol`` if it declares ``capability``; otherwise
        :class:`UnsupportedOperationError` (turned into a failed Answer by the handler)."""
        hv: Any = self.hypervisor
        if capability not in self.hypervisor.capabilities or not isinstance(hv, protocol):
            raise UnsupportedOperationError(
                f"the {self.hypervisor.name} hypervisor plug-in does not support {capability.value}"
            )
        return hv

    @contextmanager
    def vm_lock(self, name: str) -> Iterator[None]:
        """Serialise operations on one VM within this agent (CloudStack may retry concurrently)."""
        with self._locks_guard:
            lock = self._locks[name]
        with lock:
            yield
