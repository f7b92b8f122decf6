param($p)
$vm = Get-CsVm ([string] $p.vm)
$path = [string] $p.disk.path
if ([string] $p.disk.kind -eq 'iso') {
    $drives = @(Get-VMDvdDrive -VM $vm)
    if ($drives | Where-Object { $_.Path -eq $path }) { return [ordered]@{ attached = $false } }
    $empty = $drives | Where-Object { -not $_.Path } | Select-Object -First 1
    if ($empty) { Set-VMDvdDrive -VMDvdDrive $empty -Path $path -ErrorAction Stop }
    else { Add-VMDvdDrive -VM $vm -Path $path -ErrorAction Stop }
    return [ordered]@{ attached = $true }
}
if (Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -eq $path }) { return [ordered]@{ attached = $false } }
if (-not (Test-CsPath $path)) {
    Write-Error -Message 'disk not found' -Category ObjectNotFound -ErrorId 'cshyperv.VolumeNotFound' `
        -TargetObject $path -ErrorAction Stop
}
$controller = if ($p.disk.controller) { [string] $p.disk.controller } else { 'SCSI' }
Add-VMHardDiskDrive -VM $vm -ControllerType $controller -Path $path -ErrorAction Stop
[ordered]@{ attached = $true }
