"""Host-level handlers: startup, readiness, health, ping, host stats, HA check, network NOPs."""

from __future__ import annotations

import attrs

from cshyperv.commands import (
    Answer,
    CheckHealthAnswer,
    CheckHealthCommand,
    CheckNetworkAnswer,
    CheckNetworkCommand,
    CheckOnHostAnswer,
    CheckOnHostCommand,
    CheckSshAnswer,
    CheckSshCommand,
    CleanupNetworkRulesCmd,
    Command,
    CreateStoragePoolCommand,
    DeleteStoragePoolCommand,
    GetHostStatsAnswer,
    GetHostStatsCommand,
    HostStatsEntry,
    HypervisorType,
    MaintainAnswer,
    MaintainCommand,
    PingCommand,
    PingRoutingCommand,
    PowerState,
    PrepareForMigrationAnswer,
    PrepareForMigrationCommand,
    ReadyAnswer,
    ReadyCommand,
    SetupAnswer,
    SetupCommand,
    StartupRoutingCommand,
    StartupStorageCommand,
    StoragePoolInfo,
    StoragePoolType,
    StorageResourceType,
)
from cshyperv.errors import WireTypeError
from cshyperv.resource._context import ResourceContext
from cshyperv.resource._translate import power_state

__all__ = ["HANDLERS", "host_vm_states", "startup"]


def startup(ctx: ResourceContext, commands: list[Command]) -> list[Command]:
    """Fill in the StartupRoutingCommand the management server sent and add local storage.

    ``dataCenter``, ``pod``, ``cluster``, ``guid``, ``privateIpAddress`` and ``name`` come back
    unchanged: HypervDirectConnectResource rejects the host otherwise.
    """
    routing = next((c for c in commands if isinstance(c, StartupRoutingCommand)), None)
    if routing is None:
        raise WireTypeError("expected a com.cloud.agent.api.StartupRoutingCommand").at(0)
    info = ctx.ops.host_info()
    ctx.host_guid = routing.guid
    details = dict(routing.host_details or {})
    details["product_version"] = info.os_version or info.hypervisor_version
    details["rdp.server.port"] = str(info.console_port)
    filled = attrs.evolve(
        routing,
        cpus=info.cpus,
        cpu_sockets=info.cpu_sockets,
        speed=info.cpu_mhz,
        memory=info.memory_bytes,
        dom0_min_memory=info.dom0_min_memory_bytes,
        caps="hvm",
        cpu_arch=info.arch,
        hypervisor_type=HypervisorType.Hyperv,
        hypervisor_version=info.hypervisor_version,
        host_details=details,
        private_netmask=routing.private_netmask or info.private_netmask,
        private_mac_address=routing.private_mac_address or info.private_mac,
        storage_netmask=routing.storage_netmask or info.private_netmask,
        storage_mac_address=routing.storage_mac_address or info.private_mac,
        # The C# agent put a MAC here (a bug); the gateway's address is what the field means.
        gateway_ip_address=routing.gateway_ip_address or info.gateway,
    )
    result: list[Command] = [filled]
    if info.local_storage_path:
        result.append(
            StartupStorageCommand(
                guid=routing.guid,
                data_center=routing.data_center,
                resource_type=StorageResourceType.STORAGE_POOL,
                pool_info=StoragePoolInfo(
                    uuid=routing.guid,
                    host=routing.private_ip_address or info.private_ip,
                    local_path=info.local_storage_path,
                    host_path=info.local_storage_path,
                    pool_type=StoragePoolType.Filesystem,
                    capacity_bytes=info.local_storage_capacity_bytes,
                    available_bytes=info.local_storage_available_bytes,
                ),
            )
        )
    return result


def host_vm_states(ctx: ResourceContext) -> dict[str, PowerState]:
    """Every VM on the host, in one hypervisor call."""
    return {name: power_state(state) for name, state in ctx.ops.states().items()}


def ready(ctx: ResourceContext, cmd: ReadyCommand) -> Answer:
    ctx.ops.host_info()  # proves the host answers; a failure becomes result=false
    # UEFI firmware is always there on Hyper-V (generation 2 VMs).
    return ReadyAnswer(result=True, details_map={"host.uefi.enable": "true"})


def setup(ctx: ResourceContext, cmd: SetupCommand) -> Answer:
    return SetupAnswer(result=True, details="success - NOP", reconnect=False)


def check_health(ctx: ResourceContext, cmd: CheckHealthCommand) -> Answer:
    # The agent itself answering is the health being checked (the legacy agent did no more);
    # ReadyCommand and the pings are what prove the hypervisor answers.
    return CheckHealthAnswer(result=True, details="resource is alive")


def maintain(ctx: ResourceContext, cmd: MaintainCommand) -> Answer:
    return MaintainAnswer(result=True, will_migrate=True)


def ping(ctx: ResourceContext, cmd: PingCommand) -> Answer:
    ctx.ops.vms()  # a ping that cannot reach the host must fail
    kind = type(cmd).__name__
    return Answer(result=True, details=f"success - NOP for {kind}")


def host_stats(ctx: ResourceContext, cmd: GetHostStatsCommand) -> Answer:
    stats = ctx.ops.host_stats()
    entry = HostStatsEntry(
        host_id=cmd.host_id,
        entity_type="host",
        cpu_utilization=stats.cpu_percent,
        network_read_kbs=stats.network_read_bytes / 1024,
        network_write_kbs=stats.network_write_bytes / 1024,
        total_memory_kbs=stats.memory_total_bytes / 1024,
        free_memory_kbs=stats.memory_free_bytes / 1024,
    )
    return GetHostStatsAnswer(result=True, host_stats=entry)


def check_on_host(ctx: ResourceContext, cmd: CheckOnHostCommand) -> Answer:
    # HypervInvestigator reads result=true as "the other host is down". Without a heartbeat store
    # this agent cannot tell, so it says so rather than condemning a host it never checked.
    return CheckOnHostAnswer(result=False, determined=False, details="host liveness cannot be determined here")


def nop_true(answer_class: type[Answer]) -> object:
    def handler(ctx: ResourceContext, cmd: Command) -> Answer:
        return answer_class(result=True)

    return handler


def cleanup_network_rules(ctx: ResourceContext, cmd: CleanupNetworkRulesCmd) -> Answer:
    return Answer(result=False, details="security group rules are not supported on Hyper-V")


def check_network(ctx: ResourceContext, cmd: CheckNetworkCommand) -> Answer:
    return CheckNetworkAnswer(result=True, reconnect=False)


def check_ssh(ctx: ResourceContext, cmd: CheckSshCommand) -> Answer:
    return CheckSshAnswer(result=True)


def prepare_for_migration(ctx: ResourceContext, cmd: PrepareForMigrationCommand) -> Answer:
    return PrepareForMigrationAnswer(result=True, details="NOP - success")


HANDLERS = {
    ReadyCommand: ready,
    SetupCommand: setup,
    CheckHealthCommand: check_health,
    MaintainCommand: maintain,
    PingCommand: ping,
    PingRoutingCommand: ping,
    GetHostStatsCommand: host_stats,
    CheckOnHostCommand: check_on_host,
    CleanupNetworkRulesCmd: cleanup_network_rules,
    CheckNetworkCommand: check_network,
    CheckSshCommand: check_ssh,
    PrepareForMigrationCommand: prepare_for_migration,
    CreateStoragePoolCommand: nop_true(Answer),
    DeleteStoragePoolCommand: nop_true(Answer),
}
