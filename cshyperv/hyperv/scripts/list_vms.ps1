param($p)
# Every VM on the host in one call (CloudStack asks on every ping). Light by default: names,
# states and sizes; with $p.full also disks and NICs.
$full = [bool] $p.full
@(Get-VM | ForEach-Object { ConvertTo-CsVmInfo $_ -Full:$full })
