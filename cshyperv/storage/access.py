"""From a location string to an adaptor that can reach it from this (Linux) machine.

CloudStack and Hyper-V name storage places as UNC paths (``\\\\srv\\share\\dir``), image store URLs
(``cifs://srv/share?user=..``, ``nfs://srv/export``) and drive paths on the Hyper-V host
(``C:\\ClusterStorage\\...``). :class:`RemoteStorageAccess` reaches each of them without mounting:

* UNC and ``cifs://``/``smb://`` -> a :class:`CifsStorageAdaptor` rooted at the share, with the
  credentials the URL carries, else those learnt from an earlier URL for the same share
  (:meth:`RemoteStorageAccess.learn`), else the configured defaults;
* ``nfs://`` -> an :class:`NfsStorageAdaptor` whose export is the longest learnt store URL that
  prefixes the location (CloudStack's image store URL is the export), else its first segment;
* ``C:\\dir`` on the Hyper-V host -> ``\\\\<host>\\C$\\dir`` (the administrative share) when
  ``admin_share_host`` is set — it needs an account that is an administrator on the host;
* an absolute local path (``/srv/x``) -> the local filesystem, when ``allow_local`` is set (the CLI).

Adaptors are cached per server, share and account, and closed by :meth:`close`.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import attrs

from cshyperv._redact import REDACTED
from cshyperv.errors import StorageError
from cshyperv.storage._adaptor import LocalStorageAdaptor, StorageAdaptor
from cshyperv.storage.cifs import CifsStorageAdaptor
from cshyperv.storage.nfs import NfsStorageAdaptor
from cshyperv.storage.urls import StorageURL

__all__ = ["RemoteStorageAccess", "SmbCredentials", "StorageAccess"]

_DRIVE = re.compile(r"^([A-Za-z]):[\\/]?(.*)$")


@runtime_checkable
class StorageAccess(Protocol):
    """Location strings (UNC paths, drive paths, storage URLs) -> where to read and write them."""

    def locate(self, location: str) -> tuple[StorageAdaptor, str]:
        """An adaptor and the ``/``-separated path below its root for ``location``."""


def _hidden(value: object) -> str:
    return "None" if value is None else repr(REDACTED)


@attrs.frozen
class SmbCredentials:
    """An SMB account: ``username`` may be ``DOMAIN\\user`` or ``user@realm``."""

    username: str
    password: str = attrs.field(repr=_hidden)
    domain: str | None = None


class RemoteStorageAccess:
    """Locations -> (adaptor, path below its root). Thread-safe."""

    def __init__(
        self,
        *,
        credentials: SmbCredentials | None = None,
        smb_port: int | None = None,
        admin_share_host: str | None = None,
        allow_local: bool = False,
        nfs_options: dict[str, object] | None = None,
    ) -> None:
        self._default = credentials
        self._smb_port = smb_port
        self._admin_host = admin_share_host
        self._allow_local = allow_local
        self._nfs_options = dict(nfs_options or {})
        self._learnt: dict[tuple[str, str], SmbCredentials] = {}
        self._nfs_roots: set[tuple[str, int | None, str]] = set()
        self._adaptors: dict[tuple[object, ...], StorageAdaptor] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteStorageAccess(smb_port={self._smb_port}, admin_share_host={self._admin_host!r})"

    def learn(self, location: str | None) -> None:
        """Remember what a store URL teaches: SMB credentials for its share, an NFS export root."""
        if not location or "://" not in location:
            return
        try:
            url = StorageURL.parse(location)
        except ValueError:
            return
        with self._lock:
            if url.scheme == "cifs" and url.user and url.password is not None:
                self._learnt[(url.host.lower(), url.share.lower())] = SmbCredentials(url.user, url.password, url.domain)
            elif url.scheme == "nfs":
                root = "/".join(p for p in f"{url.share}/{url.path}".split("/") if p)
                self._nfs_roots.add((url.host.lower(), url.port, root))

    def locate(self, location: str) -> tuple[StorageAdaptor, str]:
        if location.startswith("\\\\") or "://" in location:
            url = StorageURL.parse(location)
            if url.scheme == "cifs":
                return self._cifs(url), url.path
            if url.scheme == "nfs":
                return self._nfs(url)
            if url.scheme == "file" and self._allow_local:
                return self._local(), url.path.lstrip("/")
            raise StorageError(f"{url.scheme} locations are not supported here", location=str(url))
        drive = _DRIVE.match(location)
        if drive is not None:
            if self._admin_host is None:
                raise StorageError(
                    "a drive path on the Hyper-V host is reachable only through its administrative share;"
                    " set smb_admin_share (needs an administrator account) or use an SMB pool",
                    location=location,
                )
            rest = "/".join(p for p in drive.group(2).replace("\\", "/").split("/") if p)
            url = StorageURL(scheme="cifs", host=self._admin_host, share=f"{drive.group(1).upper()}$", path=rest)
            return self._cifs(url), rest
        if self._allow_local and location.startswith("/"):
            return self._local(), location.lstrip("/")
        raise StorageError("expected a UNC path, a drive path or a storage URL", location=location)

    def _credentials(self, url: StorageURL) -> SmbCredentials | None:
        if url.user and url.password is not None:
            return SmbCredentials(url.user, url.password, url.domain)
        with self._lock:
            return self._learnt.get((url.host.lower(), url.share.lower()), self._default)

    def _cifs(self, url: StorageURL) -> StorageAdaptor:
        creds = self._credentials(url)
        port = url.port or self._smb_port or 445
        encrypt = {k.lower(): v for k, v in url.options}.get("encrypt")
        key = ("cifs", url.host.lower(), port, url.share.lower(), creds, encrypt)
        with self._lock:
            adaptor = self._adaptors.get(key)
            if adaptor is None:
                root = attrs.evolve(url.without_credentials(), path="", port=port, options=url.options)
                adaptor = CifsStorageAdaptor(
                    root,
                    username=creds.username if creds else None,
                    password=creds.password if creds else None,
                    domain=creds.domain if creds else None,
                )
                self._adaptors[key] = adaptor
        return adaptor

    def _nfs(self, url: StorageURL) -> tuple[StorageAdaptor, str]:
        parts = [p for p in f"{url.share}/{url.path}".split("/") if p]
        with self._lock:
            roots = [r for h, p, r in self._nfs_roots if h == url.host.lower() and p == url.port]
        export = parts[:1]
        for root in sorted(roots, key=len, reverse=True):
            root_parts = root.split("/")
            if parts[: len(root_parts)] == root_parts:
                export = root_parts
                break
        key = ("nfs", url.host.lower(), url.port, tuple(export))
        with self._lock:
            adaptor = self._adaptors.get(key)
            if adaptor is None:
                base = StorageURL(scheme="nfs", host=url.host, port=url.port, share="/" + "/".join(export))
                base = attrs.evolve(base, options=url.options)
                adaptor = NfsStorageAdaptor(base, export="/" + "/".join(export), **self._nfs_options)  # type: ignore[arg-type]
                self._adaptors[key] = adaptor
        return adaptor, "/".join(parts[len(export) :])

    def _local(self) -> StorageAdaptor:
        with self._lock:
            adaptor = self._adaptors.get(("local",))
            if adaptor is None:
                adaptor = self._adaptors[("local",)] = LocalStorageAdaptor(Path("/"))
        return adaptor

    def close(self) -> None:
        with self._lock:
            adaptors, self._adaptors = list(self._adaptors.values()), {}
        for adaptor in adaptors:
            adaptor.close()
