param($p)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
# Physical CPU use: the hypervisor's own counter over all logical processors. Win32_Processor
# LoadPercentage sees only the root partition, not the guests (B5). The CIM class name is the
# same in every language (the performance counter names are localised).
$total = Get-CimInstance -ClassName Win32_PerfFormattedData_HvStats_HyperVHypervisorLogicalProcessor -ErrorAction SilentlyContinue |
    Where-Object { $_.Name -eq '_Total' } | Select-Object -First 1
$cpu = if ($total) { [double] $total.PercentTotalRunTime } else { [double] 0 }
# Physical adapters only: a vEthernet adapter's traffic also crosses the physical NIC under it.
$physical = @(Get-NetAdapter -Physical -ErrorAction SilentlyContinue | ForEach-Object { [string] $_.Name })
$rx = 0; $tx = 0
foreach ($s in @(Get-NetAdapterStatistics -ErrorAction SilentlyContinue | Where-Object { $physical -contains [string] $_.Name })) {
    $rx += [int64] $s.ReceivedBytes; $tx += [int64] $s.SentBytes
}
[ordered]@{
    cpu_percent         = $cpu
    memory_total_bytes  = [int64] $os.TotalVisibleMemorySize * 1024
    memory_free_bytes   = [int64] $os.FreePhysicalMemory * 1024
    network_read_bytes  = $rx
    network_write_bytes = $tx
}
