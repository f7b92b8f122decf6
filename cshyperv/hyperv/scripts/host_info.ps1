param($p)
$vmHost = Get-VMHost
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cpus = @(Get-CimInstance -ClassName Win32_Processor)
# The address CloudStack reaches us on: the interface holding the default route.
$route = Get-NetRoute -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue | Sort-Object RouteMetric | Select-Object -First 1
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
$drive = [System.IO.Path]::GetPathRoot($vhdPath)
if ($drive) {
    $info = New-Object System.IO.DriveInfo($drive)
    $capacity = [int64] $info.TotalSize; $free = [int64] $info.AvailableFreeSpace
}
[ordered]@{
    name              = [string] $cs.DNSHostName
    cpus              = [int] $cs.NumberOfLogicalProcessors
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
