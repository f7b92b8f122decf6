param($p)
# Every VM on the host in one call (CloudStack asks on every ping). Light by default: names,
# states and sizes; with $p.full also disks and NICs. The unary comma keeps the array whole:
# PowerShell would otherwise unroll it, leaving $null for no VM and a bare object for one (A1).
$full = [bool] $p.full
,@(Get-VM -ErrorAction Stop | ForEach-Object { ConvertTo-CsVmInfo $_ -Full:$full })
