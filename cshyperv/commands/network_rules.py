"""VM state check, private VLAN setup, virtual-router guest network and security groups (A7)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import PvlanSetupType, SecurityGroupFailureReason
from cshyperv.commands.to import NicTO, VirtualMachineTO
from cshyperv.wire import Answer, Command, JInt, JLong, WireObject, jfield

__all__ = [
    "CheckStateCommand",
    "IpPortAndProto",
    "NetworkElementCommand",
    "PvlanSetupCommand",
    "SecurityGroupRuleAnswer",
    "SecurityGroupRulesCmd",
    "SetupGuestNetworkCommand",
]


@attrs.frozen(kw_only=True, slots=False)
class CheckStateCommand(Command):
    """Ask for a VM's state (not sent at HEAD); no CheckStateAnswer class exists in Java."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckStateCommand"

    vm_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class PvlanSetupCommand(Command):
    """Add or delete private-VLAN rules for a VM or a DHCP server. Answer: a plain Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PvlanSetupCommand"

    # "add" or "delete".
    op: str | None = None
    primary: str | None = None
    isolated: str | None = None
    vm_mac: str | None = None
    dhcp_name: str | None = None
    dhcp_mac: str | None = None
    dhcp_ip: str | None = None
    type: PvlanSetupType | None = None
    network_tag: str | None = None
    pvlan_type: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class NetworkElementCommand(Command):
    """Base of the commands for a virtual router, addressed through ``router_access_ip``."""

    access_details: dict[str, str] | None = jfield(factory=dict)
    router_access_ip: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class SetupGuestNetworkCommand(NetworkElementCommand):
    """Add (or remove) a guest network interface on a virtual router. Answer: a plain Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.SetupGuestNetworkCommand"

    dhcp_range: str | None = None
    network_domain: str | None = None
    default_dns1: str | None = jfield("defaultDns1")
    default_dns2: str | None = jfield("defaultDns2")
    default_ip6_dns1: str | None = jfield("defaultIp6Dns1")
    default_ip6_dns2: str | None = jfield("defaultIp6Dns2")
    is_redundant: bool = jfield("isRedundant", default=False)
    add: bool = True
    nic: NicTO | None = None
    router_ipv6: str | None = jfield("routerIpv6")
    router_ipv6_gateway: str | None = jfield("routerIpv6Gateway")
    router_ipv6_cidr: str | None = jfield("routerIpv6Cidr")
    is_vr_guest_gateway: bool = jfield("isVrGuestGateway", default=False)
    network_id: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class IpPortAndProto(WireObject):
    """One security-group rule: a protocol, a port range and the CIDRs it admits."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.SecurityGroupRulesCmd$IpPortAndProto"

    proto: str | None = None
    start_port: JInt = 0
    end_port: JInt = 0
    allowed_cidrs: list[str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class SecurityGroupRulesCmd(Command):
    """Program a VM's full set of security-group rules. Answer: SecurityGroupRuleAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.SecurityGroupRulesCmd"

    guest_ip: str | None = None
    guest_ip6: str | None = jfield("guestIp6")
    vm_name: str | None = None
    guest_mac: str | None = None
    signature: str | None = None
    seq_num: JLong | None = None
    vm_id: JLong | None = None
    ms_id: JLong | None = None
    ingress_rule_set: list[IpPortAndProto] | None = None
    egress_rule_set: list[IpPortAndProto] | None = None
    sec_ips: list[str] | None = None
    vm_to: VirtualMachineTO | None = jfield("vmTO")


@attrs.frozen(kw_only=True, slots=False)
class SecurityGroupRuleAnswer(Answer):
    """Reply to SecurityGroupRulesCmd, echoing its sequence number and VM id."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.SecurityGroupRuleAnswer"

    log_sequence_number: JLong | None = None
    vm_id: JLong | None = None
    reason: SecurityGroupFailureReason | None = SecurityGroupFailureReason.NONE
