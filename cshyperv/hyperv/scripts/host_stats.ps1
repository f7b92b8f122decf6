param($p)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cpu = (Get-CimInstance -ClassName Win32_Processor | Measure-Object -Property LoadPercentage -Average).Average
$rx = 0; $tx = 0
foreach ($s in @(Get-NetAdapterStatistics -ErrorAction SilentlyContinue)) { $rx += [int64] $s.ReceivedBytes; $tx += [int64] $s.SentBytes }
[ordered]@{
    cpu_percent         = [double] $cpu
    memory_total_bytes  = [int64] $os.TotalVisibleMemorySize * 1024
    memory_free_bytes   = [int64] $os.FreePhysicalMemory * 1024
    network_read_bytes  = $rx
    network_write_bytes = $tx
}
