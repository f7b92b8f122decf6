"""NIC hot-plug, NIC updates and guest IP discovery (appendix A4)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import VirtualMachineType
from cshyperv.commands.to import NicTO
from cshyperv.wire import Answer, Command

__all__ = [
    "GetVmIpAddressCommand",
    "PlugNicAnswer",
    "PlugNicCommand",
    "ReplugNicAnswer",
    "ReplugNicCommand",
    "UnPlugNicAnswer",
    "UnPlugNicCommand",
    "UpdateVmNicAnswer",
    "UpdateVmNicCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class PlugNicCommand(Command):
    """Hot-add a NIC to a VM. Answer: PlugNicAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PlugNicCommand"

    nic: NicTO | None = None
    instance_name: str | None = None
    vm_type: VirtualMachineType | None = None
    details: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class PlugNicAnswer(Answer):
    """Reply to PlugNicCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PlugNicAnswer"


@attrs.frozen(kw_only=True, slots=False)
class UnPlugNicCommand(Command):
    """Hot-remove a NIC from a VM. Answer: UnPlugNicAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.UnPlugNicCommand"

    nic: NicTO | None = None
    instance_name: str | None = None
    vlan_to_persistence_map: dict[str, bool] | None = None


@attrs.frozen(kw_only=True, slots=False)
class UnPlugNicAnswer(Answer):
    """Reply to UnPlugNicCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.UnPlugNicAnswer"


@attrs.frozen(kw_only=True, slots=False)
class ReplugNicCommand(Command):
    """Reconnect an existing VM NIC to a (changed) network. Answer: ReplugNicAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ReplugNicCommand"

    nic: NicTO | None = None
    instance_name: str | None = None
    vm_type: VirtualMachineType | None = None
    details: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class ReplugNicAnswer(Answer):
    """Reply to ReplugNicCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ReplugNicAnswer"


@attrs.frozen(kw_only=True, slots=False)
class UpdateVmNicCommand(Command):
    """Enable or disable (link up/down) a VM NIC found by MAC. Answer: UpdateVmNicAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.UpdateVmNicCommand"

    nic_mac_address: str | None = None
    instance_name: str | None = None
    enabled: bool | None = None


@attrs.frozen(kw_only=True, slots=False)
class UpdateVmNicAnswer(Answer):
    """Reply to UpdateVmNicCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.UpdateVmNicAnswer"


@attrs.frozen(kw_only=True, slots=False)
class GetVmIpAddressCommand(Command):
    """Ask for the IPv4 address a guest got from an external DHCP server on one NIC.

    There is no answer class: the reply is a plain Answer whose ``details`` is the IPv4 address
    (``result`` true with ``details`` null makes the MS clear the NIC's address).
    """

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmIpAddressCommand"

    vm_name: str | None = None
    vm_network_cidr: str | None = None
    windows: bool = False
    mac_address: str | None = None
