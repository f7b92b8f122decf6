"""CloudStack's Java enums as Gson writes them: by ``name()``.

Every enum is a :class:`~cshyperv.wire._model.JavaEnum`: an unknown name (from a newer CloudStack)
decodes to a pseudo-member instead of failing, and is written back unchanged.
"""

from __future__ import annotations

from cshyperv.wire import JavaEnum

__all__ = [
    "BootloaderType",
    "BroadcastDomainType",
    "CommandState",
    "DataObjectType",
    "DataStoreRole",
    "DiskCacheMode",
    "HostType",
    "HypervisorType",
    "ImageFormat",
    "IsolationType",
    "NetworkElementLocation",
    "PowerState",
    "ProvisioningType",
    "PvlanSetupType",
    "RouterPrivateIpStrategy",
    "SecurityGroupFailureReason",
    "StoragePoolType",
    "StorageResourceType",
    "TrafficType",
    "VMSnapshotState",
    "VMSnapshotType",
    "VirtualMachineState",
    "VirtualMachineType",
    "VolumeType",
]


class VirtualMachineState(JavaEnum):
    """``com.cloud.vm.VirtualMachine.State``."""

    Starting = "Starting"
    Running = "Running"
    Stopping = "Stopping"
    Stopped = "Stopped"
    Destroyed = "Destroyed"
    Expunging = "Expunging"
    Migrating = "Migrating"
    Error = "Error"
    Unknown = "Unknown"
    Shutdown = "Shutdown"
    Restoring = "Restoring"
    BackingUp = "BackingUp"
    BackupError = "BackupError"
    RestoreError = "RestoreError"


class PowerState(JavaEnum):
    """``com.cloud.vm.VirtualMachine.PowerState``."""

    PowerUnknown = "PowerUnknown"
    PowerOn = "PowerOn"
    PowerOff = "PowerOff"
    PowerReportMissing = "PowerReportMissing"


class VirtualMachineType(JavaEnum):
    """``com.cloud.vm.VirtualMachine.Type``."""

    User = "User"
    DomainRouter = "DomainRouter"
    ConsoleProxy = "ConsoleProxy"
    SecondaryStorageVm = "SecondaryStorageVm"
    ElasticIpVm = "ElasticIpVm"
    ElasticLoadBalancerVm = "ElasticLoadBalancerVm"
    InternalLoadBalancerVm = "InternalLoadBalancerVm"
    NetScalerVm = "NetScalerVm"
    UserBareMetal = "UserBareMetal"
    Instance = "Instance"


class VolumeType(JavaEnum):
    """``com.cloud.storage.Volume.Type``."""

    UNKNOWN = "UNKNOWN"
    ROOT = "ROOT"
    SWAP = "SWAP"
    DATADISK = "DATADISK"
    ISO = "ISO"


class StoragePoolType(JavaEnum):
    """``com.cloud.storage.Storage.StoragePoolType`` (the C# agent knew only up to SMB)."""

    Filesystem = "Filesystem"
    NetworkFilesystem = "NetworkFilesystem"
    IscsiLUN = "IscsiLUN"
    Iscsi = "Iscsi"
    ISO = "ISO"
    LVM = "LVM"
    CLVM = "CLVM"
    CLVM_NG = "CLVM_NG"
    RBD = "RBD"
    SharedMountPoint = "SharedMountPoint"
    VMFS = "VMFS"
    PreSetup = "PreSetup"
    EXT = "EXT"
    OCFS2 = "OCFS2"
    SMB = "SMB"
    Gluster = "Gluster"
    PowerFlex = "PowerFlex"
    ManagedNFS = "ManagedNFS"
    Linstor = "Linstor"
    DatastoreCluster = "DatastoreCluster"
    StorPool = "StorPool"
    FiberChannel = "FiberChannel"


class ImageFormat(JavaEnum):
    """``com.cloud.storage.Storage.ImageFormat``."""

    QCOW2 = "QCOW2"
    RAW = "RAW"
    VHD = "VHD"
    ISO = "ISO"
    OVA = "OVA"
    VHDX = "VHDX"
    BAREMETAL = "BAREMETAL"
    EXTERNAL = "EXTERNAL"
    VMDK = "VMDK"
    VDI = "VDI"
    TAR = "TAR"
    ZIP = "ZIP"
    DIR = "DIR"
    PNG = "PNG"


class StorageResourceType(JavaEnum):
    """``com.cloud.storage.Storage.StorageResourceType``."""

    STORAGE_POOL = "STORAGE_POOL"
    STORAGE_HOST = "STORAGE_HOST"
    SECONDARY_STORAGE = "SECONDARY_STORAGE"
    LOCAL_SECONDARY_STORAGE = "LOCAL_SECONDARY_STORAGE"


class ProvisioningType(JavaEnum):
    """``com.cloud.storage.Storage.ProvisioningType``."""

    THIN = "THIN"
    SPARSE = "SPARSE"
    FAT = "FAT"


class DataStoreRole(JavaEnum):
    """``com.cloud.storage.DataStoreRole`` (Gson writes the name, not the lower-case role)."""

    Primary = "Primary"
    Image = "Image"
    ImageCache = "ImageCache"
    Backup = "Backup"
    Object = "Object"


class BroadcastDomainType(JavaEnum):
    """``com.cloud.network.Networks.BroadcastDomainType`` (names; the URI schemes differ)."""

    Native = "Native"
    Vlan = "Vlan"
    Vswitch = "Vswitch"
    LinkLocal = "LinkLocal"
    Vnet = "Vnet"
    Storage = "Storage"
    Lswitch = "Lswitch"
    Mido = "Mido"
    Pvlan = "Pvlan"
    Vxlan = "Vxlan"
    Vcs = "Vcs"
    UnDecided = "UnDecided"
    OpenDaylight = "OpenDaylight"
    TUNGSTEN = "TUNGSTEN"
    NSX = "NSX"
    Netris = "Netris"


class TrafficType(JavaEnum):
    """``com.cloud.network.Networks.TrafficType``."""

    None_ = "None"
    Public = "Public"
    Guest = "Guest"
    Storage = "Storage"
    Management = "Management"
    Control = "Control"
    Vpn = "Vpn"


class IsolationType(JavaEnum):
    """``com.cloud.network.Networks.IsolationType``."""

    None_ = "None"
    Ec2 = "Ec2"
    Vlan = "Vlan"
    Vswitch = "Vswitch"
    Undecided = "Undecided"
    Vnet = "Vnet"


class RouterPrivateIpStrategy(JavaEnum):
    """``com.cloud.network.Networks.RouterPrivateIpStrategy``."""

    None_ = "None"
    DcGlobal = "DcGlobal"
    HostLocal = "HostLocal"


class HostType(JavaEnum):
    """``com.cloud.host.Host.Type``."""

    Storage = "Storage"
    Routing = "Routing"
    SecondaryStorage = "SecondaryStorage"
    SecondaryStorageCmdExecutor = "SecondaryStorageCmdExecutor"
    ConsoleProxy = "ConsoleProxy"
    ExternalFirewall = "ExternalFirewall"
    ExternalLoadBalancer = "ExternalLoadBalancer"
    ExternalVirtualSwitchSupervisor = "ExternalVirtualSwitchSupervisor"
    PxeServer = "PxeServer"
    BaremetalPxe = "BaremetalPxe"
    BaremetalDhcp = "BaremetalDhcp"
    TrafficMonitor = "TrafficMonitor"
    NetScalerControlCenter = "NetScalerControlCenter"
    ExternalDhcp = "ExternalDhcp"
    SecondaryStorageVM = "SecondaryStorageVM"
    LocalSecondaryStorage = "LocalSecondaryStorage"
    L2Networking = "L2Networking"


class HypervisorType(JavaEnum):
    """``com.cloud.hypervisor.Hypervisor.HypervisorType`` (a class in Java, written by name)."""

    None_ = "None"
    XenServer = "XenServer"
    KVM = "KVM"
    VMware = "VMware"
    Hyperv = "Hyperv"
    VirtualBox = "VirtualBox"
    Parralels = "Parralels"  # sic: Java's spelling
    BareMetal = "BareMetal"
    Simulator = "Simulator"
    Ovm = "Ovm"
    Ovm3 = "Ovm3"
    LXC = "LXC"
    Custom = "Custom"
    External = "External"
    Any = "Any"


class BootloaderType(JavaEnum):
    """``com.cloud.template.VirtualMachineTemplate.BootloaderType``."""

    PyGrub = "PyGrub"
    HVM = "HVM"
    External = "External"
    CD = "CD"


class CommandState(JavaEnum):
    """``com.cloud.agent.api.Command.State`` (in CommandInfo)."""

    CREATED = "CREATED"
    STARTED = "STARTED"
    PROCESSING = "PROCESSING"
    PROCESSING_IN_BACKEND = "PROCESSING_IN_BACKEND"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    RECONCILE_RETRY = "RECONCILE_RETRY"
    RECONCILING = "RECONCILING"
    RECONCILED = "RECONCILED"
    RECONCILE_SKIPPED = "RECONCILE_SKIPPED"
    RECONCILE_FAILED = "RECONCILE_FAILED"
    TIMED_OUT = "TIMED_OUT"
    INTERRUPTED = "INTERRUPTED"
    DANGLED_IN_BACKEND = "DANGLED_IN_BACKEND"


class DataObjectType(JavaEnum):
    """``com.cloud.agent.api.to.DataObjectType`` (never a JSON member: inferred from the FQCN)."""

    VOLUME = "VOLUME"
    SNAPSHOT = "SNAPSHOT"
    TEMPLATE = "TEMPLATE"
    ARCHIVE = "ARCHIVE"
    BACKUP = "BACKUP"


class VMSnapshotType(JavaEnum):
    """``com.cloud.vm.snapshot.VMSnapshot.Type``."""

    Disk = "Disk"
    DiskAndMemory = "DiskAndMemory"


class VMSnapshotState(JavaEnum):
    """``com.cloud.vm.snapshot.VMSnapshot.State``."""

    Allocated = "Allocated"
    Creating = "Creating"
    Ready = "Ready"
    Reverting = "Reverting"
    Expunging = "Expunging"
    Removed = "Removed"
    Error = "Error"
    Hidden = "Hidden"


class NetworkElementLocation(JavaEnum):
    """``com.cloud.network.element.NetworkElement.Location`` (where a config drive ISO lives)."""

    SECONDARY = "SECONDARY"
    PRIMARY = "PRIMARY"
    HOST = "HOST"


class PvlanSetupType(JavaEnum):
    """``com.cloud.agent.api.PvlanSetupCommand.Type``."""

    DHCP = "DHCP"
    VM = "VM"


class SecurityGroupFailureReason(JavaEnum):
    """``com.cloud.agent.api.SecurityGroupRuleAnswer.FailureReason``."""

    NONE = "NONE"
    UNKNOWN = "UNKNOWN"
    PROGRAMMING_FAILED = "PROGRAMMING_FAILED"
    CANNOT_BRIDGE_FIREWALL = "CANNOT_BRIDGE_FIREWALL"


class DiskCacheMode(JavaEnum):
    """``com.cloud.offering.DiskOffering.DiskCacheMode`` (VolumeObjectTO.cacheMode), by name."""

    NONE = "NONE"
    WRITEBACK = "WRITEBACK"
    WRITETHROUGH = "WRITETHROUGH"
