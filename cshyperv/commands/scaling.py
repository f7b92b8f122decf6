"""Volume resize and dynamic VM scaling (appendix A3).

The management server sends neither to Hyper-V hosts at HEAD: both features are gated to other
hypervisors. The classes exist so that such commands decode and can be answered cleanly.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.to import StorageFilerTO, VirtualMachineTO
from cshyperv.wire import Answer, Command, JByte, JInt, JLong, jfield

__all__ = [
    "ResizeVolumeAnswer",
    "ResizeVolumeCommand",
    "ScaleVmAnswer",
    "ScaleVmCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class ResizeVolumeCommand(Command):
    """Grow (or, with ``shrink_ok``, shrink) a volume. Answer: ResizeVolumeAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.ResizeVolumeCommand"

    path: str | None = None
    pool: StorageFilerTO | None = None
    # Both sizes are in bytes.
    current_size: JLong | None = None
    new_size: JLong | None = None
    shrink_ok: bool = False
    vm_instance: str | None = None
    chain_info: str | None = None
    managed: bool = False
    i_scsi_name: str | None = jfield("iScsiName")
    # Volume-encryption passphrase; Gson writes a byte[] as an array of numbers.
    passphrase: list[JByte] | None = jfield(secret=True)
    encrypt_format: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class ResizeVolumeAnswer(Answer):
    """Reply to ResizeVolumeCommand with the size reached."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.storage.ResizeVolumeAnswer"

    # Bytes.
    new_size: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class ScaleVmCommand(Command):
    """Change the CPU and memory of a running VM. Answer: ScaleVmAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ScaleVmCommand"

    vm: VirtualMachineTO | None = None
    vm_name: str | None = None
    cpus: JInt = 0
    min_speed: JInt | None = None
    max_speed: JInt | None = None
    # Bytes: the MS multiplies the offering's MB by 1024*1024.
    min_ram: JLong = 0
    max_ram: JLong = 0
    limit_cpu_use_change: bool = False


@attrs.frozen(kw_only=True, slots=False)
class ScaleVmAnswer(Answer):
    """Reply to ScaleVmCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ScaleVmAnswer"
