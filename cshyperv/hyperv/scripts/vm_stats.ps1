param($p)
# CPU and memory now, disk and network counters since metering was enabled (enabled on first use).
$out = [ordered]@{}
foreach ($name in @($p.names)) {
    $found = Find-CsVm ([string] $name)
    if ($found.Count -eq 0) { continue }
    $vm = $found[0]
    if (-not $vm.ResourceMeteringEnabled) { Enable-VMResourceMetering -VM $vm -ErrorAction SilentlyContinue }
    $usage = Measure-VM -VM $vm -ErrorAction SilentlyContinue
    $readBytes = 0; $writeBytes = 0; $netIn = 0; $netOut = 0
    if ($usage) {
        $readBytes = [int64] $usage.AggregatedDiskDataRead * 1048576
        $writeBytes = [int64] $usage.AggregatedDiskDataWritten * 1048576
        foreach ($traffic in @($usage.NetworkMeteredTrafficReport)) {
            if ([string] $traffic.Direction -eq 'Inbound') { $netIn += [int64] $traffic.TotalTraffic * 1048576 }
            else { $netOut += [int64] $traffic.TotalTraffic * 1048576 }
        }
    }
    $out[$vm.Name] = [ordered]@{
        cpu_percent         = [double] $vm.CPUUsage
        cpus                = [int] $vm.ProcessorCount
        memory_bytes        = [int64] $vm.MemoryAssigned
        memory_free_bytes   = [int64] [Math]::Max(0, $vm.MemoryAssigned - $vm.MemoryDemand)
        memory_target_bytes = [int64] $vm.MemoryStartup
        disk_read_bytes     = $readBytes
        disk_write_bytes    = $writeBytes
        network_read_bytes  = $netIn
        network_write_bytes = $netOut
    }
}
$out
