"""Storage from user space: URLs that keep credentials out of sight, and adaptors for SMB, NFS and
local directories that need no mount, no root and no kernel client.

* :class:`StorageURL` — ``cifs://``/``smb://``/``nfs://``/``file://`` URLs and UNC paths.
* :class:`StorageAdaptor` — the protocol; :class:`CifsStorageAdaptor` (smbprotocol, and
  libsmbclient for streamed data where installed),
  :class:`NfsStorageAdaptor` (nfs-rs), :class:`LocalStorageAdaptor`.
* :class:`RemoteStorageAccess` — any location string -> (adaptor, path), with credentials.
* :func:`copy_file` — streamed or server-side copies, atomic under the final name, with progress.
* :func:`install_template` — download, verify, decompress and publish a template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cshyperv.storage._adaptor import (
    DiskUsage,
    FileStat,
    LocalStorageAdaptor,
    PreparesReplace,
    StorageAdaptor,
    SupportsServerSideCopy,
)
from cshyperv.storage._libsmbclient import unavailable_reason as libsmbclient_unavailable_reason
from cshyperv.storage.access import RemoteStorageAccess, SmbCredentials, StorageAccess
from cshyperv.storage.cifs import CifsStorageAdaptor
from cshyperv.storage.nfs import NfsStorageAdaptor
from cshyperv.storage.transfer import copy_file, copy_stream
from cshyperv.storage.urls import StorageURL, StorageURLError

if TYPE_CHECKING:
    from cshyperv.storage.templates import Checksum, InstalledTemplate, install_template, read_template_properties

# Imported when first used: templates bring an HTTP client (urllib.request, http.client, ssl,
# email), about 40 ms that a process which only copies a file (``cshyperv storage cp``) never needs.
_FROM_TEMPLATES = ("Checksum", "InstalledTemplate", "install_template", "read_template_properties")


def __getattr__(name: str) -> Any:
    if name in _FROM_TEMPLATES:
        from cshyperv.storage import templates

        value = getattr(templates, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Checksum",
    "CifsStorageAdaptor",
    "DiskUsage",
    "FileStat",
    "InstalledTemplate",
    "LocalStorageAdaptor",
    "NfsStorageAdaptor",
    "PreparesReplace",
    "RemoteStorageAccess",
    "SmbCredentials",
    "StorageAccess",
    "StorageAdaptor",
    "StorageURL",
    "StorageURLError",
    "SupportsServerSideCopy",
    "copy_file",
    "copy_stream",
    "install_template",
    "libsmbclient_unavailable_reason",
    "read_template_properties",
]
