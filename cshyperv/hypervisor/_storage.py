"""The storage part of the plug-in contract: how the agent reaches a host's files from Linux.

A plug-in gives the agent a :class:`StorageAccess` (location string -> storage adaptor and path),
because only it knows how its host's shares and drives are reached. Two further abilities are
optional and declared by implementing their protocol:

* :class:`LearnsLocations` on the storage access: remember the credentials or NFS export roots
  that store URLs carry (CloudStack sends them in a few commands and strips them from the rest);
* :class:`HostCapacity` on the plug-in: capacity of a drive path as the host itself sees it
  (local pools, cluster shared volumes), which no share can tell.

:class:`LocalTreeStorageAccess` maps every location into one local directory: what the simulator
and plug-ins without real shares (tests, examples) hand out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from cshyperv.errors import UnsupportedOperationError
from cshyperv.storage import DiskUsage, LocalStorageAdaptor, StorageAccess, StorageAdaptor, StorageURL

__all__ = ["HostCapacity", "LearnsLocations", "LocalTreeStorageAccess", "ProvidesStorageAccess", "StorageAccess"]

_DRIVE = re.compile(r"^([A-Za-z]):[\\/]?(.*)$")


@runtime_checkable
class LearnsLocations(Protocol):
    """A storage access that remembers what store URLs carry (credentials, export roots)."""

    def learn(self, location: str) -> None:
        """Remember ``location``'s credentials or export root for later locations on that server."""


@runtime_checkable
class HostCapacity(Protocol):
    """Capacity of a path as the hypervisor host sees it (``C:\\ClusterStorage\\Volume1``)."""

    def path_capacity(self, path: str) -> DiskUsage:
        """Total and free bytes of the volume holding ``path`` on the host."""


@runtime_checkable
class ProvidesStorageAccess(Protocol):
    """A hypervisor object that hands out its own storage access (the built-in plug-ins do)."""

    def storage_access(self) -> StorageAccess:
        """The storage access the agent uses for this host; the same object on every call."""


class LocalTreeStorageAccess:
    """Every location mapped into one local directory tree (the simulator's, tests', examples').

    ``\\\\host\\share\\p`` and ``cifs://host/share/p`` -> ``<root>/host/share/p``;
    ``nfs://host/export/p`` -> ``<root>/host/<export>/p``; ``C:\\p`` -> ``<root>/_local/C/p``.
    Credentials in URLs are ignored (a local tree has none).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.adaptor = LocalStorageAdaptor(self.root)

    def locate(self, location: str) -> tuple[StorageAdaptor, str]:
        return self.adaptor, "/".join(self.parts(location))

    def parts(self, location: str) -> list[str]:
        if location.startswith("\\\\") or "://" in location:
            url = StorageURL.parse(location)
            if url.scheme == "file":
                raise UnsupportedOperationError("file:// locations are not served from a local tree")
            share = [p for p in url.share.split("/") if p]
            return [url.host, *share, *[p for p in url.path.split("/") if p]]
        match = _DRIVE.match(location)
        if match is None:
            raise UnsupportedOperationError("expected a UNC path, a drive path or a storage URL")
        rest = [p for p in match.group(2).replace("/", "\\").split("\\") if p]
        return ["_local", match.group(1).upper(), *rest]
