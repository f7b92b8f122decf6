"""VM commands and answers: lifecycle, stats, console, migration, NIC configuration, SSH check.

Field lists follow ``core/src/main/java/com/cloud/agent/api/*.java`` (reference §3a), defaults the
constructors of appendix §E. CheckSshCommand/CheckSshAnswer were read off
``core/src/main/java/com/cloud/agent/api/check/CheckSshCommand.java`` and ``.../check/CheckSshAnswer.java``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import PowerState
from cshyperv.commands.to import NicTO, VirtualMachineTO
from cshyperv.commands.values import NicDetails, VmStatsEntry
from cshyperv.wire import Answer, Command, JInt, JLong, JsonObject, jfield

__all__ = [
    "AttachIsoCommand",
    "CheckSshAnswer",
    "CheckSshCommand",
    "CheckVirtualMachineAnswer",
    "CheckVirtualMachineCommand",
    "GetVmConfigAnswer",
    "GetVmConfigCommand",
    "GetVmStatsAnswer",
    "GetVmStatsCommand",
    "GetVncPortAnswer",
    "GetVncPortCommand",
    "MigrateAnswer",
    "MigrateCommand",
    "ModifyVmNicConfigAnswer",
    "ModifyVmNicConfigCommand",
    "PrepareForMigrationAnswer",
    "PrepareForMigrationCommand",
    "RebootAnswer",
    "RebootCommand",
    "StartAnswer",
    "StartCommand",
    "StopAnswer",
    "StopCommand",
]


# --------------------------------------------------------------------------------------------
# Lifecycle


@attrs.frozen(kw_only=True, slots=False)
class StartCommand(Command):
    """Start a VM from its full description (on Hyper-V this also defines it). Answer: StartAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StartCommand"

    vm: VirtualMachineTO | None = jfield(required=True)
    host_ip: str | None = None
    execute_in_sequence: bool = False
    # <= 4.22 sent one string "secondaryStorage"; >= 4.23 (commit 66132f83ea) sends a list. One
    # attribute, both shapes. System VMs get the image-store URL with its ?password= query.
    secondary_storages: list[str] | None = jfield(aliases=("secondaryStorage",), secret="url")


@attrs.frozen(kw_only=True, slots=False)
class StartAnswer(Answer):
    """The agent's reply to StartCommand, echoing the VM it started."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StartAnswer"

    vm: VirtualMachineTO | None = None
    host_guid: str | None = None
    iqn_to_data: dict[str, dict[str, str]] | None = jfield("_iqnToData")


@attrs.frozen(kw_only=True, slots=False)
class RebootCommand(Command):
    """Reset a VM. Answer: RebootAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.RebootCommand"

    vm_name: str | None = None
    vm: VirtualMachineTO | None = None
    execute_in_sequence: bool = False


@attrs.frozen(kw_only=True, slots=False)
class RebootAnswer(Answer):
    """The agent's reply to RebootCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.RebootAnswer"

    vnc_port: JInt | None = None


@attrs.frozen(kw_only=True, slots=False)
class StopCommand(RebootCommand):
    """Stop a VM (the Hyper-V agent also deletes the VM definition, keeping its disks). Answer: StopAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StopCommand"

    is_proxy: bool = False
    url_port: str | None = None
    public_console_proxy_ip_address: str | None = None
    gpu_device: JsonObject | None = None
    check_before_cleanup: bool = False
    control_ip: str | None = None
    force_stop: bool = False
    dpdk_interface_mapping: dict[str, JsonObject] | None = None
    vlan_to_persistence_map: dict[str, bool] | None = None
    expunge_vm: bool = jfield("expungeVM", default=False)
    volumes_to_disconnect: list[dict[str, str]] | None = jfield(factory=list)


@attrs.frozen(kw_only=True, slots=False)
class StopAnswer(RebootAnswer):
    """The agent's reply to StopCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StopAnswer"

    platform: str | None = None


# --------------------------------------------------------------------------------------------
# State, stats, console


@attrs.frozen(kw_only=True, slots=False)
class CheckVirtualMachineCommand(Command):
    """Ask for the power state of one VM. Answer: CheckVirtualMachineAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckVirtualMachineCommand"

    vm_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class CheckVirtualMachineAnswer(Answer):
    """The agent's reply to CheckVirtualMachineCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckVirtualMachineAnswer"

    vnc_port: JInt | None = None
    # The C# agent writes "powerstate" (since 2014, commit 5350e61187) while Java reads "state", so
    # from that agent the state arrived as null. Accept both, write "state".
    state: PowerState | None = jfield(aliases=("powerstate",))


@attrs.frozen(kw_only=True, slots=False)
class GetVmStatsCommand(Command):
    """Periodic per-VM statistics request from the MS. Answer: GetVmStatsAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmStatsCommand"

    vm_names: list[str] | None = None
    host_guid: str | None = None
    host_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVmStatsAnswer(Answer):
    """The agent's reply to GetVmStatsCommand, keyed by VM name."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmStatsAnswer"

    vm_stats_map: dict[str, VmStatsEntry] | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVncPortCommand(Command):
    """Ask where a VM's console is reached (RDP on Hyper-V). Answer: GetVncPortAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVncPortCommand"

    id: JLong = 0
    name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVncPortAnswer(Answer):
    """The agent's reply to GetVncPortCommand (the C# agent sends ``instanceId=<guid>`` and port -9)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVncPortAnswer"

    address: str | None = None
    port: JInt = 0


# --------------------------------------------------------------------------------------------
# Migration


@attrs.frozen(kw_only=True, slots=False)
class MigrateCommand(Command):
    """Live-migrate a VM to another host, sent to the source host. Answer: MigrateAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MigrateCommand"

    vm_name: str | None = None
    # Java renamed destIp to destinationIp in PR #10514 (May 2025); the C# agent still reads destIp.
    destination_ip: str | None = jfield(aliases=("destIp",))
    migrate_storage: dict[str, JsonObject] | None = None
    migrate_storage_managed: bool = False
    migrate_non_shared_inc: bool = False
    auto_convergence: bool = False
    host_guid: str | None = None
    windows: bool = False
    virtual_machine: VirtualMachineTO | None = None
    execute_in_sequence: bool = False
    migrate_disk_info_list: list[JsonObject] | None = jfield(factory=list)
    dpdk_interface_mapping: dict[str, JsonObject] | None = jfield(factory=dict)
    new_vm_cpu_shares: JInt = 0
    clvm_cross_pool_migration: bool = False
    vlan_to_persistence_map: dict[str, bool] | None = jfield(factory=dict)


@attrs.frozen(kw_only=True, slots=False)
class MigrateAnswer(Answer):
    """The agent's reply to MigrateCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MigrateAnswer"

    vnc_port: JInt | None = None


@attrs.frozen(kw_only=True, slots=False)
class PrepareForMigrationCommand(Command):
    """Sent to the destination host before a migration. Answer: PrepareForMigrationAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PrepareForMigrationCommand"

    vm: VirtualMachineTO | None = None
    rollback: bool = False


@attrs.frozen(kw_only=True, slots=False)
class PrepareForMigrationAnswer(Answer):
    """The destination host's reply to PrepareForMigrationCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PrepareForMigrationAnswer"

    dpdk_interface_mapping: dict[str, JsonObject] | None = jfield(factory=dict)
    new_vm_cpu_shares: JInt | None = None


# --------------------------------------------------------------------------------------------
# ISO, NIC configuration, SSH check


@attrs.frozen(kw_only=True, slots=False)
class AttachIsoCommand(Command):
    """Legacy ISO attach/detach (not built at HEAD; ISOs go through AttachCommand). Answer: AttachIsoAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.AttachIsoCommand"

    vm_name: str | None = None
    # A secondary-storage URL; on Hyper-V a CIFS share whose query may carry the password.
    store_url: str | None = jfield(secret="url")
    iso_path: str | None = None
    attach: bool = False
    device_key: JInt | None = None
    force: bool = False


@attrs.frozen(kw_only=True, slots=False)
class GetVmConfigCommand(Command):
    """Read a VM's NICs, sent by the Hyper-V resource for Plug/UnPlugNic and IpAssoc. Answer: GetVmConfigAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmConfigCommand"

    vm_name: str | None = None
    nics: list[NicTO] | None = None


@attrs.frozen(kw_only=True, slots=False)
class GetVmConfigAnswer(Answer):
    """The agent's reply to GetVmConfigCommand: MAC, VLAN and state of each NIC."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetVmConfigAnswer"

    vm_name: str | None = None
    nics: list[NicDetails] | None = None


@attrs.frozen(kw_only=True, slots=False)
class ModifyVmNicConfigCommand(Command):
    """Set the VLAN / switch of one VM NIC, sent by the Hyper-V resource. Answer: ModifyVmNicConfigAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ModifyVmNicConfigCommand"

    vm_name: str | None = None
    vlan: str | None = None
    mac_address: str | None = None
    index: JInt = 0
    enable: bool = False
    # Misspelt in Java; the wire key must match it.
    switch_lable_name: str | None = jfield("switchLableName")


@attrs.frozen(kw_only=True, slots=False)
class ModifyVmNicConfigAnswer(Answer):
    """The agent's reply to ModifyVmNicConfigCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ModifyVmNicConfigAnswer"

    vm_name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class CheckSshCommand(Command):
    """Wait until a system VM answers on SSH; the Hyper-V resource handles it itself. Answer: CheckSshAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.check.CheckSshCommand"

    ip: str | None = None
    port: JInt = 0
    interval: JInt = 0
    retries: JInt = 0
    name: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class CheckSshAnswer(Answer):
    """The reply to CheckSshCommand (the C# agent answers ``result=true`` without checking)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.check.CheckSshAnswer"
