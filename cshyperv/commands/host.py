"""Host-level commands and answers: startup, ping, ready, setup, health, maintenance, host stats, HA.

Field lists follow ``core/src/main/java/com/cloud/agent/api/*.java`` (reference §3a), defaults the
constructors of appendix §E. ``HostVmStateReportCommand`` has no Java class: it is the action name
the Hyper-V resource posts to when it collects VM power states before each ping (reference §1).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.commands.enums import HostType, HypervisorType, StoragePoolType, StorageResourceType
from cshyperv.commands.to import HostTO
from cshyperv.commands.values import HostStatsEntry, HostVmStateReportEntry, StoragePoolInfo, TemplateProp
from cshyperv.wire import Answer, Command, JInt, JLong, JsonObject, jfield

__all__ = [
    "CheckHealthAnswer",
    "CheckHealthCommand",
    "CheckOnHostAnswer",
    "CheckOnHostCommand",
    "GetHostStatsAnswer",
    "GetHostStatsCommand",
    "HostVmStateReportCommand",
    "MaintainAnswer",
    "MaintainCommand",
    "PingAnswer",
    "PingCommand",
    "PingRoutingCommand",
    "ReadyAnswer",
    "ReadyCommand",
    "SetupAnswer",
    "SetupCommand",
    "StartupAnswer",
    "StartupCommand",
    "StartupRoutingCommand",
    "StartupStorageCommand",
]


# --------------------------------------------------------------------------------------------
# Startup


@attrs.frozen(kw_only=True, slots=False)
class StartupCommand(Command):
    """What an agent reports about itself on connect; the Hyper-V resource posts to this name. Answer: StartupAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StartupCommand"

    type: HostType | None = None
    data_center: str | None = None
    pod: str | None = None
    cluster: str | None = None
    guid: str | None = None
    name: str | None = None
    id: JLong | None = None
    version: str | None = None
    iqn: str | None = None
    public_ip_address: str | None = None
    public_netmask: str | None = None
    public_mac_address: str | None = None
    private_ip_address: str | None = None
    private_mac_address: str | None = None
    private_netmask: str | None = None
    storage_ip_address: str | None = None
    storage_netmask: str | None = None
    storage_mac_address: str | None = None
    storage_ip_address_deux: str | None = None
    storage_mac_address_deux: str | None = None
    storage_netmask_deux: str | None = None
    agent_tag: str | None = None
    resource_name: str | None = None
    gateway_ip_address: str | None = None
    ms_host_list: str | None = None
    connection_transferred: bool = False
    arch: str | None = None


def _routing_host_details() -> dict[str, str]:
    # StartupRoutingCommand() seeds hostDetails with the router private-IP strategy, keyed by the
    # enum's canonical Java name.
    return {"com.cloud.network.Networks.RouterPrivateIpStrategy": "DcGlobal"}


@attrs.frozen(kw_only=True, slots=False)
class StartupRoutingCommand(StartupCommand):
    """Compute-host description, sent by the MS inside a Command[] and returned filled in by the agent."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StartupRoutingCommand"

    type: HostType | None = HostType.Routing
    cpu_sockets: JInt | None = None
    cpus: JInt = 0
    speed: JLong = 0
    cpu_arch: str | None = None
    memory: JLong = 0
    dom0_min_memory: JLong = jfield("dom0MinMemory", default=0)
    pool_sync: bool = False
    supports_cloned_volumes: bool = False
    caps: str | None = None
    pool: str | None = None
    hypervisor_type: HypervisorType | None = None
    host_details: dict[str, str] | None = jfield(factory=_routing_host_details)
    host_tags: list[str] | None = jfield(factory=list)
    hypervisor_version: str | None = None
    group_details: dict[str, dict[str, JsonObject]] | None = jfield(factory=dict)
    gpu_devices: list[JsonObject] | None = jfield(factory=list)
    host_health_check_result: bool | None = None


@attrs.frozen(kw_only=True, slots=False)
class StartupStorageCommand(StartupCommand):
    """Local storage pool of a host, appended by the agent to its StartupCommand reply."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StartupStorageCommand"

    type: HostType | None = HostType.Storage
    parent: str | None = None
    template_info: dict[str, TemplateProp] | None = None
    total_size: JLong = 0
    pool_info: StoragePoolInfo | None = None
    resource_type: StorageResourceType | None = None
    fs_type: StoragePoolType | None = None
    host_details: dict[str, str] | None = jfield(factory=dict)
    nfs_share: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class StartupAnswer(Answer):
    """The MS's reply to a StartupCommand: host id and ping interval (NIO agents only; not used over HTTP)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.StartupAnswer"

    host_id: JLong = 0
    host_name: str | None = None
    host_uuid: str | None = None
    ping_interval: JInt = 0


# --------------------------------------------------------------------------------------------
# Ping


@attrs.frozen(kw_only=True, slots=False)
class PingCommand(Command):
    """Periodic liveness report of a host. Answer: PingAnswer (the C# agent replies with a plain Answer)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PingCommand"

    host_type: HostType | None = None
    host_id: JLong = 0
    out_of_band: bool = False
    command_infos: list[JsonObject] | None = jfield(factory=list)


@attrs.frozen(kw_only=True, slots=False)
class PingRoutingCommand(PingCommand):
    """Ping of a compute host with its VM power states, posted by the MS each ping period. Answer: Answer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PingRoutingCommand"

    host_vm_state_report: dict[str, HostVmStateReportEntry] | None = jfield("_hostVmStateReport")
    gateway_accessible: bool = jfield("_gatewayAccessible", default=True)
    vnet_accessible: bool = jfield("_vnetAccessible", default=True)
    host_health_check_result: bool | None = None


@attrs.frozen(kw_only=True, slots=False)
class PingAnswer(Answer):
    """The MS's reply to a NIO agent's ping, echoing the PingCommand it answers."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.PingAnswer"

    command: PingCommand | None = jfield("_command")
    send_startup: bool = False
    avoid_ms_list: list[str] | None = None
    reconcile_commands: list[str] | None = jfield(factory=list)


@attrs.frozen(kw_only=True, slots=False)
class HostVmStateReportCommand(Command):
    """Pseudo-command (no Java class) the MS posts as ``{}`` to collect VM power states before each ping.

    Its reply is not an Answer but a plain, unwrapped array of single-key maps,
    ``[{"<vm>": "<PowerState>"}]``.
    """

    FQCN: ClassVar[str] = "org.apache.cloudstack.HostVmStateReportCommand"


# --------------------------------------------------------------------------------------------
# Ready, setup, health, maintenance


@attrs.frozen(kw_only=True, slots=False)
class ReadyCommand(Command):
    """Sent by the MS after startup and as the discovery liveness probe. Answer: ReadyAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ReadyCommand"

    details: str | None = jfield("_details")
    dc_id: JLong | None = None
    host_id: JLong | None = None
    host_uuid: str | None = None
    host_name: str | None = None
    ms_host_list: list[str] | None = None
    avoid_ms_host_list: list[str] | None = None
    lb_algorithm: str | None = None
    lb_check_interval: JLong | None = None
    enable_human_readable_sizes: bool | None = None
    arch: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class ReadyAnswer(Answer):
    """The agent's reply to ReadyCommand; ``detailsMap`` carries host capabilities (appendix B)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.ReadyAnswer"

    details_map: dict[str, str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class SetupCommand(Command):
    """Sent by the MS on connect to prepare the host. Answer: SetupAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.SetupCommand"

    env: JsonObject | None = None
    multipath: bool = False
    need_setup: bool = False


@attrs.frozen(kw_only=True, slots=False)
class SetupAnswer(Answer):
    """The agent's reply to SetupCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.SetupAnswer"

    # Declared here, as Java declares it (a boolean, so False when absent); Gson writes a
    # subclass's own fields first, so ``_reconnect`` leads the object.
    reconnect: bool = jfield("_reconnect", default=False)


@attrs.frozen(kw_only=True, slots=False)
class CheckHealthCommand(Command):
    """Health probe sent by the MS. Answer: CheckHealthAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckHealthCommand"

    # CheckHealthCommand() calls setWait(50).
    wait: JInt = 50


@attrs.frozen(kw_only=True, slots=False)
class CheckHealthAnswer(Answer):
    """The agent's reply to CheckHealthCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckHealthAnswer"


@attrs.frozen(kw_only=True, slots=False)
class MaintainCommand(Command):
    """Sent by the MS when the host enters maintenance. Answer: MaintainAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MaintainCommand"


@attrs.frozen(kw_only=True, slots=False)
class MaintainAnswer(Answer):
    """The agent's reply to MaintainCommand: whether its VMs will be migrated away."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.MaintainAnswer"

    will_migrate: bool = False


# --------------------------------------------------------------------------------------------
# Host stats and HA


@attrs.frozen(kw_only=True, slots=False)
class GetHostStatsCommand(Command):
    """Periodic host CPU, memory and network statistics request from the MS. Answer: GetHostStatsAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetHostStatsCommand"

    host_guid: str | None = None
    host_name: str | None = None
    host_id: JLong = 0


@attrs.frozen(kw_only=True, slots=False)
class GetHostStatsAnswer(Answer):
    """The agent's reply to GetHostStatsCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.GetHostStatsAnswer"

    # GetHostStatsAnswer() allocates an empty HostStatsEntry, so an absent member is not null.
    host_stats: HostStatsEntry | None = jfield(factory=HostStatsEntry)


@attrs.frozen(kw_only=True, slots=False)
class CheckOnHostCommand(Command):
    """HA check: sent to another host of the cluster about a suspect ``host``. Answer: CheckOnHostAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckOnHostCommand"

    host: HostTO | None = None
    report_if_heart_beat_failed_for_one_storage_pool: bool = False


@attrs.frozen(kw_only=True, slots=False)
class CheckOnHostAnswer(Answer):
    """Reply to CheckOnHostCommand; for Hyper-V ``result`` true means the suspect host is down (inverted)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckOnHostAnswer"

    determined: bool = False
    alive: bool = False
