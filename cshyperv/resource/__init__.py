"""The resource layer: CloudStack commands -> hypervisor plug-in calls -> CloudStack answers."""

from cshyperv.resource._context import ResourceContext, ResourceSettings
from cshyperv.resource._server import ServerResource, answer_class_for
from cshyperv.resource._storage_access import LocalTreeStorageAccess, StorageAccess
from cshyperv.resource._translate import TranslationError, TranslationSettings, vm_spec

__all__ = [
    "LocalTreeStorageAccess",
    "ResourceContext",
    "ResourceSettings",
    "ServerResource",
    "StorageAccess",
    "TranslationError",
    "TranslationSettings",
    "answer_class_for",
    "vm_spec",
]
