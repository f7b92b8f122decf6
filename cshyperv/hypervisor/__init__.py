"""The hypervisor plug-in SDK: the whole contract between cshyperv and a plug-in.

* value objects (:class:`VmSpec`, :class:`VmInfo`, :class:`VmState` ...): what a plug-in sees and
  returns, hypervisor-neutral, no CloudStack types;
* :class:`Hypervisor` (required) and the ``Supports*`` protocols (optional), each optional one
  declared as a :class:`Capability`; :data:`CAPABILITY_PROTOCOLS` maps one to the other and
  :func:`supports` checks both at once;
* the storage part: :class:`StorageAccess` (required to serve the agent), :class:`LearnsLocations`
  and :class:`HostCapacity` (optional), :class:`LocalTreeStorageAccess` (a ready one);
* :class:`Plugin`, what a factory returns (:data:`PluginFactory`), and :func:`as_plugin`.

Register a factory (:mod:`cshyperv.plugins`) and run the conformance kit
(:mod:`cshyperv.testing.conformance`) against it. See ``docs/plugins.md``.
"""

from cshyperv.hypervisor._plugin import CAPABILITY_PROTOCOLS, Plugin, PluginFactory, as_plugin, supports
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
from cshyperv.hypervisor._storage import (
    HostCapacity,
    LearnsLocations,
    LocalTreeStorageAccess,
    ProvidesStorageAccess,
    StorageAccess,
)
from cshyperv.hypervisor._values import (
    Checkpoint,
    ConsoleInfo,
    DeviceCounters,
    DiskKind,
    DiskSpec,
    HostInfo,
    HostStats,
    NicInfo,
    NicSpec,
    VmInfo,
    VmSpec,
    VmState,
    VmStats,
    VolumeInfo,
)

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "Capability",
    "Checkpoint",
    "ConsoleInfo",
    "DeviceCounters",
    "DiskKind",
    "DiskSpec",
    "HostCapacity",
    "HostInfo",
    "HostStats",
    "Hypervisor",
    "LearnsLocations",
    "LocalTreeStorageAccess",
    "NicInfo",
    "NicSpec",
    "Plugin",
    "PluginFactory",
    "ProvidesStorageAccess",
    "StorageAccess",
    "SupportsCheckpoints",
    "SupportsConsole",
    "SupportsDeploy",
    "SupportsDisks",
    "SupportsMigration",
    "SupportsNics",
    "SupportsRestore",
    "SupportsScaling",
    "SupportsStats",
    "SupportsSuspend",
    "SupportsVolumes",
    "VmInfo",
    "VmSpec",
    "VmState",
    "VmStats",
    "VolumeInfo",
    "as_plugin",
    "supports",
]
