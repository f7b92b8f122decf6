"""Commands as a CloudStack management server builds them, for demos and end-to-end tests.

A :class:`Scenario` describes one zone with an SMB primary pool and an SMB secondary store and
builds, step by step, the commands a 4.23 management server sends to a Hyper-V direct-connect
host: ReadyCommand, StartupCommand, ModifyStoragePoolCommand, CopyCommand (template to primary,
then template to root volume), StartCommand, HostVmStateReport, PingRoutingCommand,
GetVmStatsCommand, CheckVirtualMachineCommand, CreateVMSnapshotCommand, StopCommand.
"""

from __future__ import annotations

import attrs

from cshyperv.commands import (
    BroadcastDomainType,
    CheckVirtualMachineCommand,
    Command,
    CopyCommand,
    CreateVMSnapshotCommand,
    DataStoreRole,
    DiskTO,
    GetVmStatsCommand,
    HostType,
    HostVmStateReportEntry,
    HypervisorType,
    ImageFormat,
    ModifyStoragePoolCommand,
    NfsTO,
    NicTO,
    PingRoutingCommand,
    PowerState,
    PrimaryDataStoreTO,
    ReadyCommand,
    RouterPrivateIpStrategy,
    StartCommand,
    StartupRoutingCommand,
    StopCommand,
    StorageFilerTO,
    StoragePoolType,
    TemplateObjectTO,
    TrafficType,
    VirtualMachineTO,
    VirtualMachineType,
    VMSnapshotTO,
    VMSnapshotType,
    VolumeObjectTO,
    VolumeType,
)

__all__ = ["Scenario"]

GiB = 1024**3


@attrs.frozen(kw_only=True)
class Scenario:
    """One zone, one host, one user VM. All names and addresses are fixed and fake."""

    host_guid: str = "16f85622-4508-415e-b13a-49a39bb14e4d-HypervResource"
    host_ip: str = "127.0.0.1"
    storage_host: str = "fileserver.lab"
    primary_share: str = "primary"
    secondary_share: str = "secondary"
    pool_uuid: str = "5fe2bad3-d785-394e-9949-89786b8a63d2"
    template_uuid: str = "7e4ca941-cb1b-4113-ab9e-043960d0fb10"
    template_path: str = "template/tmpl/2/201/61d5316a-3cc4-30cf-a557-78691ff5c143.vhdx"
    volume_uuid: str = "19ae8e67-cb2c-4ab4-901e-e0b864272b59"
    vm_name: str = "i-2-17-VM"
    vm_uuid: str = "8b030b6a-0243-440a-8cc5-45d08815ca11"
    root_size: int = 20 * GiB

    # -- stores ------------------------------------------------------------------------------

    def secondary_url(self, *, with_password: bool = False) -> str:
        url = f"cifs://{self.storage_host}/{self.secondary_share}"
        return url + ("?user=administrator&password=1pass%40word1&domain=LAB" if with_password else "")

    def primary_store(self) -> PrimaryDataStoreTO:
        return PrimaryDataStoreTO(
            uuid=self.pool_uuid,
            id=201,
            host=self.storage_host,
            type="SMB",
            pool_type=StoragePoolType.SMB,
            path=f"/{self.primary_share}",
            port=445,
        )

    def image_store(self) -> NfsTO:
        return NfsTO(url=self.secondary_url(), role=DataStoreRole.Image)

    @property
    def secondary_template_unc(self) -> str:
        """Where the template file lives on the secondary share (what a demo seeds)."""
        return f"\\\\{self.storage_host}\\{self.secondary_share}\\" + self.template_path.replace("/", "\\")

    # -- commands ----------------------------------------------------------------------------

    def ready(self) -> ReadyCommand:
        return ReadyCommand(host_id=5, host_uuid=self.host_guid)

    def startup(self) -> list[Command]:
        return [
            StartupRoutingCommand(
                data_center="1",
                pod="1",
                cluster="1",
                guid=self.host_guid,
                name="hv-demo",
                version="4.23.0.0",
                private_ip_address=self.host_ip,
                storage_ip_address=self.host_ip,
                hypervisor_type=HypervisorType.Hyperv,
                host_details={
                    "com.cloud.network.Networks.RouterPrivateIpStrategy": RouterPrivateIpStrategy.HostLocal.value
                },
                pool="1",
            )
        ]

    def modify_storage_pool(self) -> ModifyStoragePoolCommand:
        return ModifyStoragePoolCommand(
            add=True,
            pool=StorageFilerTO(
                id=201,
                uuid=self.pool_uuid,
                host=self.storage_host,
                path=f"/{self.primary_share}",
                port=445,
                type=StoragePoolType.SMB,
            ),
            local_path=f"\\\\{self.storage_host}\\{self.primary_share}",
        )

    def _template(self, store: object, path: str | None) -> TemplateObjectTO:
        return TemplateObjectTO(
            path=path,
            uuid=self.template_uuid,
            id=206,
            format=ImageFormat.VHDX,
            account_id=2,
            hvm=True,
            display_text="Ubuntu 22.04 (demo)",
            image_data_store=store,  # type: ignore[arg-type]
            name="206-2-73592258-559a-3b38-8f66-b667aab143eb",
            hypervisor_type=HypervisorType.Hyperv,
        )

    def copy_template_to_primary(self) -> CopyCommand:
        return CopyCommand(
            src_to=self._template(self.image_store(), self.template_path),
            dest_to=self._template(self.primary_store(), None),
            wait=10800,
        )

    def copy_template_to_volume(self, template_path_on_primary: str) -> CopyCommand:
        return CopyCommand(
            src_to=self._template(self.primary_store(), template_path_on_primary),
            dest_to=VolumeObjectTO(
                uuid=self.volume_uuid,
                volume_type=VolumeType.ROOT,
                data_store=self.primary_store(),
                name=f"ROOT-{17}",
                size=self.root_size,
                account_id=2,
                id=10,
                format=ImageFormat.VHDX,
            ),
            wait=10800,
        )

    def vm(self, root_volume_path: str) -> VirtualMachineTO:
        return VirtualMachineTO(
            id=17,
            name=self.vm_name,
            type=VirtualMachineType.User,
            cpus=2,
            speed=2000,
            min_ram=2 * GiB,
            max_ram=2 * GiB,
            os="Ubuntu 22.04 LTS",
            boot_args="",
            vnc_password="31f82f29aff646eb",
            uuid=self.vm_uuid,
            disks=[
                DiskTO(
                    data=VolumeObjectTO(
                        uuid=self.volume_uuid,
                        volume_type=VolumeType.ROOT,
                        data_store=self.primary_store(),
                        name="ROOT-17",
                        size=self.root_size,
                        path=root_volume_path,
                        id=10,
                        format=ImageFormat.VHDX,
                    ),
                    disk_seq=0,
                    type=VolumeType.ROOT,
                ),
                DiskTO(disk_seq=3, type=VolumeType.ISO),
            ],
            nics=[
                NicTO(
                    device_id=0,
                    network_rate_mbps=200,
                    default_nic=True,
                    uuid="99cb4813-23af-428c-a87a-2d1899be4f4b",
                    ip="10.1.1.67",
                    netmask="255.255.255.0",
                    gateway="10.1.1.1",
                    mac="02:00:51:2c:00:0e",
                    broadcast_type=BroadcastDomainType.Vlan,
                    type=TrafficType.Guest,
                    broadcast_uri="vlan://261",
                    isolation_uri="vlan://261",
                    name="vSwitch-Trunk",
                )
            ],
        )

    def start(self, root_volume_path: str) -> StartCommand:
        return StartCommand(vm=self.vm(root_volume_path), host_ip=self.host_ip, wait=600)

    def ping(self, states: dict[str, PowerState]) -> PingRoutingCommand:
        report = {name: HostVmStateReportEntry(state=state, host=self.host_guid) for name, state in states.items()}
        return PingRoutingCommand(host_type=HostType.Routing, host_id=5, host_vm_state_report=report)

    def vm_stats(self) -> GetVmStatsCommand:
        return GetVmStatsCommand(vm_names=[self.vm_name], host_guid=self.host_guid, host_name="hv-demo")

    def check_vm(self) -> CheckVirtualMachineCommand:
        return CheckVirtualMachineCommand(vm_name=self.vm_name, wait=20)

    def snapshot(self, root_volume_path: str) -> CreateVMSnapshotCommand:
        volume = VolumeObjectTO(
            uuid=self.volume_uuid,
            volume_type=VolumeType.ROOT,
            data_store=self.primary_store(),
            path=root_volume_path,
            size=self.root_size,
            id=10,
        )
        return CreateVMSnapshotCommand(
            vm_name=self.vm_name,
            vm_uuid=self.vm_uuid,
            target=VMSnapshotTO(id=1, snapshot_name="i-2-17-VM_VS_20261123", type=VMSnapshotType.Disk, quiescevm=False),
            volume_tos=[volume],
        )

    def stop(self) -> StopCommand:
        return StopCommand(vm_name=self.vm_name, check_before_cleanup=False)
