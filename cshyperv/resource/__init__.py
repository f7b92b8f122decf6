"""The resource layer: CloudStack's agent semantics over the operations layer.

* :class:`ServerResource` -- every command this agent handles: Command -> translate ->
  :class:`~cshyperv.operations.Operations` -> Answer;
* :func:`handle_request` -- the transport-neutral entry (FQCN, body bytes, content type) ->
  answer bytes, with every routing rule of the direct-connect protocol (docs/frontends.md);
* the public translation from CloudStack transfer objects to SDK specs (:func:`vm_spec`,
  :func:`nic_spec`, :func:`disk_file`, :func:`store_root`, :func:`power_state`), shared with the
  Extensions executable and any other frontend.
"""

from cshyperv.errors import TranslationError
from cshyperv.hypervisor import LocalTreeStorageAccess, StorageAccess
from cshyperv.resource._backend import AgentBackend
from cshyperv.resource._context import ResourceContext, ResourceSettings
from cshyperv.resource._endpoint import QUICK_BODY_LIMIT, Reply, decode_body, handle_request, handle_request_quickly
from cshyperv.resource._server import ServerResource, answer_class_for
from cshyperv.resource._translate import (
    TranslationSettings,
    disk_file,
    join_path,
    nic_spec,
    power_state,
    store_root,
    vlan_of,
    vm_spec,
)

__all__ = [
    "AgentBackend",
    "LocalTreeStorageAccess",
    "QUICK_BODY_LIMIT",
    "Reply",
    "ResourceContext",
    "ResourceSettings",
    "ServerResource",
    "StorageAccess",
    "TranslationError",
    "TranslationSettings",
    "answer_class_for",
    "decode_body",
    "disk_file",
    "handle_request",
    "handle_request_quickly",
    "join_path",
    "nic_spec",
    "power_state",
    "store_root",
    "vlan_of",
    "vm_spec",
]
