param($p)
$vmHost = Get-VMHost
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cpus = @(Get-CimInstance -ClassName Win32_Processor)
# The address CloudStack reaches us on: the interface holding the default route, chosen by the
# effective metric (route metric plus interface metric), as Windows itself chooses.
$route = Get-NetRoute -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue |
    Sort-Object { [int] $_.RouteMetric + [int] $_.InterfaceMetric } | Select-Object -First 1
$ip = $null; $prefix = $null; $mac = $null; $gateway = $null
if ($route) {
    $gateway = [string] $route.NextHop
    $address = Get-NetIPAddress -InterfaceIndex $route.ifIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($address) { $ip = [string] $address.IPAddress; $prefix = [int] $address.PrefixLength }
    $adapter = Get-NetAdapter -InterfaceIndex $route.ifIndex -ErrorAction SilentlyContinue
    if ($adapter) { $mac = ([string] $adapter.MacAddress -replace '-', ':').ToLowerInvariant() }
}
$vhdPath = [string] $vmHost.VirtualHardDiskPath
$capacity = 0; $free = 0
if ($vhdPath) {
    # GetDiskFreeSpaceEx, not [IO.DriveInfo]: the default VHD path may be a UNC path (A3). A
    # volume the host cannot measure leaves the figures at 0 rather than failing host_info.
    try {
        $usage = Get-CsDiskSpace $vhdPath
        $capacity = $usage.total_bytes; $free = $usage.free_bytes
    } catch { $capacity = 0; $free = 0 }
}
# The hypervisor's logical processors: Win32_ComputerSystem counts the root partition's view,
# capped at 64 on large hosts.
$logical = [int] $vmHost.LogicalProcessorCount
if ($logical -le 0) { $logical = [int] $cs.NumberOfLogicalProcessors }
[ordered]@{
    name              = [string] $cs.DNSHostName
    cpus              = $logical
    sockets           = [int] $cpus.Count
    mhz               = [int] ($cpus | Measure-Object -Property MaxClockSpeed -Maximum).Maximum
    memory_bytes      = [int64] $cs.TotalPhysicalMemory
    os_version        = [string] $os.Caption + ' ' + [string] $os.Version
    hypervisor_version = [string] $os.Version
    private_ip        = $ip
    prefix_length     = $prefix
    private_mac       = $mac
    gateway           = $gateway
    vhd_path          = $vhdPath
    vm_path           = [string] $vmHost.VirtualMachinePath
    storage_capacity  = $capacity
    storage_free      = $free
}
