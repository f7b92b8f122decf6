"""Storage: URLs with credentials kept out of sight, and adaptors that work without mounting."""

from cshyperv.storage._adaptor import DiskUsage, FileStat, LocalStorageAdaptor, StorageAdaptor
from cshyperv.storage.urls import StorageURL, StorageURLError

__all__ = ["DiskUsage", "FileStat", "LocalStorageAdaptor", "StorageAdaptor", "StorageURL", "StorageURLError"]
