"""State shared by the resource layer's handlers."""

from __future__ import annotations

import attrs

from cshyperv.operations import Operations
from cshyperv.resource._translate import TranslationSettings

__all__ = ["ResourceContext", "ResourceSettings"]


@attrs.frozen(kw_only=True)
class ResourceSettings:
    """Agent-side choices CloudStack does not send.

    ``default_switch``: the vSwitch for NICs whose network has no label. ``default_generation``:
    VM generation when the VM has no ``bootType``. ``differencing_root_disks``: build root disks
    from primary-storage templates as differencing disks (fast) rather than full copies.
    """

    default_switch: str | None = None
    default_generation: int = 1
    differencing_root_disks: bool = False

    @property
    def translation(self) -> TranslationSettings:
        return TranslationSettings(
            default_switch=self.default_switch,
            default_generation=self.default_generation,
            differencing_root_disks=self.differencing_root_disks,
        )


class ResourceContext:
    """What every handler works with: the operations over the plug-in, the settings, and what
    the management server told this agent (its host GUID, the pools it added)."""

    def __init__(self, ops: Operations, settings: ResourceSettings) -> None:
        self.ops = ops
        self.settings = settings
        self.translation = settings.translation
        self.host_guid: str | None = None
        # Pools the management server told us about (ModifyStoragePoolCommand): uuid -> host path.
        self.pools: dict[str, str] = {}
