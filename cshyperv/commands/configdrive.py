"""Config drive ISO handling and the ISO-attach answer (appendix A6).

With the management server's default settings the hypervisor agent never receives
HandleConfigDriveIsoCommand (the image store's agent builds the ISO); it only sees the ISO as a
StartCommand disk.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import NetworkElementLocation
from cshyperv.wire import Answer, Command, DataStoreTO, JInt, jfield

__all__ = [
    "AttachIsoAnswer",
    "HandleConfigDriveIsoAnswer",
    "HandleConfigDriveIsoCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class HandleConfigDriveIsoCommand(Command):
    """Write (``create``) or delete a VM's config drive ISO. Answer: HandleConfigDriveIsoAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.HandleConfigDriveIsoCommand"

    # Base64 of the whole ISO file (user data, keys, passwords inside); null on delete.
    iso_data: str | None = jfield(secret=True)
    iso_file: str | None = None
    create: bool = False
    # Null when the ISO goes to the host cache.
    dest_store: DataStoreTO | None = None
    use_host_cache_on_unsupported_pool: bool = False
    prefer_host_cache: bool = False


@attrs.frozen(kw_only=True, slots=False)
class HandleConfigDriveIsoAnswer(Answer):
    """Reply to HandleConfigDriveIsoCommand: where the ISO now lives."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.HandleConfigDriveIsoAnswer"

    # No no-arg constructor: a missing "result" reads as false.
    result: bool = False
    # Java initialises this to SECONDARY, but Gson bypasses the initialiser, and the MS calls
    # location.toString() on success: the agent MUST send it.
    location: NetworkElementLocation | None = None


@attrs.frozen(kw_only=True, slots=False)
class AttachIsoAnswer(Answer):
    """Reply to the legacy AttachIsoCommand (not sent at HEAD; ISOs attach via AttachCommand)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.AttachIsoAnswer"

    # No no-arg constructor: a missing "result" reads as false.
    result: bool = False
    device_key: JInt | None = None
