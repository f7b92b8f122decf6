"""The hypervisor plug-in SDK: neutral value objects, Protocols and capabilities.

Write a plug-in by implementing :class:`Hypervisor` plus the ``Supports*`` protocols you offer,
declare them in ``capabilities``, register a factory (:mod:`cshyperv.plugins`), and run the
conformance kit (:mod:`cshyperv.testing.conformance`) against it. See ``docs/plugins.md``.
"""

from cshyperv.hypervisor._protocols import (
    Capability,
    Hypervisor,
    SupportsCheckpoints,
    SupportsConsole,
    SupportsDeploy,
    SupportsDisks,
    SupportsMigration,
    SupportsNics,
    SupportsScaling,
    SupportsStats,
    SupportsSuspend,
    SupportsVolumes,
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
    PowerStateName,
    VmInfo,
    VmSpec,
    VmState,
    VmStats,
    VolumeInfo,
)

__all__ = [
    "Capability",
    "Checkpoint",
    "ConsoleInfo",
    "DeviceCounters",
    "DiskKind",
    "DiskSpec",
    "HostInfo",
    "HostStats",
    "Hypervisor",
    "NicInfo",
    "NicSpec",
    "PowerStateName",
    "SupportsCheckpoints",
    "SupportsConsole",
    "SupportsDeploy",
    "SupportsDisks",
    "SupportsMigration",
    "SupportsNics",
    "SupportsScaling",
    "SupportsStats",
    "SupportsSuspend",
    "SupportsVolumes",
    "VmInfo",
    "VmSpec",
    "VmState",
    "VmStats",
    "VolumeInfo",
]
