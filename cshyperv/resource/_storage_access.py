"""How the resource layer reaches files: host-side locations -> (storage adaptor, relative path).

CloudStack names places three ways: UNC paths a Windows host uses (``\\\\srv\\share\\dir``), local
drive paths on the host (``C:\\VHDs``) and image-store URLs (``cifs://srv/share?user=..``,
``nfs://srv/export``). A :class:`StorageAccess` turns each into an adaptor that can read and write
there from Linux, plus the path relative to that adaptor's root.
"""

from __future__ import annotations

import re
from pathlib import Path

from cshyperv.errors import UnsupportedOperationError
from cshyperv.storage import LocalStorageAdaptor, StorageAdaptor, StorageURL
from cshyperv.storage.access import StorageAccess

__all__ = ["LocalTreeStorageAccess", "StorageAccess"]

_DRIVE = re.compile(r"^([A-Za-z]):[\\/]?(.*)$")


class LocalTreeStorageAccess:
    """Every location mapped into one local directory tree (the simulator's, and tests').

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
                raise UnsupportedOperationError("file:// locations are not served by the simulator")
            share = [p for p in url.share.split("/") if p]
            return [url.host, *share, *[p for p in url.path.split("/") if p]]
        match = _DRIVE.match(location)
        if match is None:
            raise UnsupportedOperationError("expected a UNC path, a drive path or a storage URL")
        rest = [p for p in match.group(2).replace("/", "\\").split("\\") if p]
        return ["_local", match.group(1).upper(), *rest]
