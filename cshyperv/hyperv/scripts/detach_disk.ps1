param($p)
$vm = Get-CsVm ([string] $p.vm)
$path = [string] $p.path
$detached = $false
foreach ($drive in @(Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -eq $path })) {
    Remove-VMHardDiskDrive -VMHardDiskDrive $drive -ErrorAction Stop; $detached = $true
}
foreach ($drive in @(Get-VMDvdDrive -VM $vm | Where-Object { $_.Path -eq $path })) {
    Set-VMDvdDrive -VMDvdDrive $drive -Path $null -ErrorAction Stop; $detached = $true
}
[ordered]@{ detached = $detached }
