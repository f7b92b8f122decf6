"""Storage from user space: URLs that keep credentials out of sight, and adaptors for SMB, NFS and
local directories that need no mount, no root and no kernel client.

* :class:`StorageURL` — ``cifs://``/``smb://``/``nfs://``/``file://`` URLs and UNC paths.
* :class:`StorageAdaptor` — the protocol; :class:`CifsStorageAdaptor` (smbprotocol, and
  libsmbclient for streamed data where installed),
  :class:`NfsStorageAdaptor` (nfs-rs), :class:`LocalStorageAdaptor`.
* :class:`RemoteStorageAccess` — any location string -> (adaptor, path), with credentials.
* :func:`copy_file` — streamed or server-side copies, atomic under the final name, with progress.
* :func:`install_template` — download, verify, decompress and publish a template.
* :func:`prestart_smb_streams` — for a short-lived process about to stream an SMB file: loads
  libsmbclient and starts the second stream's process while the caller does other things.

Every name is imported when first used, not with the package: a process that copies one file
(``cshyperv storage cp``) pays only for what that copy needs, and can begin loading libsmbclient
before the rest of its imports (see :func:`prestart_smb_streams`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cshyperv.storage._adaptor import (
        DiskUsage,
        FileStat,
        LocalStorageAdaptor,
        PreparesReplace,
        StorageAdaptor,
        SupportsServerSideCopy,
    )
    from cshyperv.storage._libsmbclient import prestart as prestart_smb_streams
    from cshyperv.storage._libsmbclient import unavailable_reason as libsmbclient_unavailable_reason
    from cshyperv.storage.access import RemoteStorageAccess, SmbCredentials, StorageAccess
    from cshyperv.storage.cifs import CifsStorageAdaptor
    from cshyperv.storage.nfs import NfsStorageAdaptor
    from cshyperv.storage.templates import Checksum, InstalledTemplate, install_template, read_template_properties
    from cshyperv.storage.transfer import copy_file, copy_stream
    from cshyperv.storage.urls import StorageURL, StorageURLError

# name -> (module, name there). Templates bring an HTTP client (urllib.request, http.client, ssl,
# email, ~40 ms) and the adaptors attrs and smbprotocol's imports: a process that never uses
# them does not pay for them.
_FROM = {
    "DiskUsage": ("_adaptor", "DiskUsage"),
    "FileStat": ("_adaptor", "FileStat"),
    "LocalStorageAdaptor": ("_adaptor", "LocalStorageAdaptor"),
    "PreparesReplace": ("_adaptor", "PreparesReplace"),
    "StorageAdaptor": ("_adaptor", "StorageAdaptor"),
    "SupportsServerSideCopy": ("_adaptor", "SupportsServerSideCopy"),
    "libsmbclient_unavailable_reason": ("_libsmbclient", "unavailable_reason"),
    "prestart_smb_streams": ("_libsmbclient", "prestart"),
    "RemoteStorageAccess": ("access", "RemoteStorageAccess"),
    "SmbCredentials": ("access", "SmbCredentials"),
    "StorageAccess": ("access", "StorageAccess"),
    "CifsStorageAdaptor": ("cifs", "CifsStorageAdaptor"),
    "NfsStorageAdaptor": ("nfs", "NfsStorageAdaptor"),
    "Checksum": ("templates", "Checksum"),
    "InstalledTemplate": ("templates", "InstalledTemplate"),
    "install_template": ("templates", "install_template"),
    "read_template_properties": ("templates", "read_template_properties"),
    "copy_file": ("transfer", "copy_file"),
    "copy_stream": ("transfer", "copy_stream"),
    "StorageURL": ("urls", "StorageURL"),
    "StorageURLError": ("urls", "StorageURLError"),
}


def __getattr__(name: str) -> Any:
    where = _FROM.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where[0]}"), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "prestart_smb_streams",
    "read_template_properties",
]
