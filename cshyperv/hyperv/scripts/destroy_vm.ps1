param($p)
# Remove the VM's definition; with $p.delete_disks also every disk file it owned (checkpoint
# chains included) and its now empty folder. An absent VM is already destroyed.
$found = Find-CsVm ([string] $p.name)
if ($found.Count -eq 0) { return [ordered]@{ removed = $false; deleted = @() } }
$vm = $found[0]
$paths = @(Get-CsVhdPaths $vm)
$folder = [string] $vm.Path
# The config drive holds user data: it goes with the VM, whatever $p.delete_disks says.
$configDrive = Join-Path $folder ('config-drive-' + [string] $vm.Id + '.iso')
if ([string] $vm.State -ne 'Off') { Stop-VM -VM $vm -TurnOff -Force -ErrorAction Stop }
Remove-VM -VM $vm -Force -ErrorAction Stop
$deleted = @()
if (Test-Path -LiteralPath $configDrive) { Remove-Item -LiteralPath $configDrive -Force -ErrorAction Stop; $deleted += $configDrive }
if ([bool] $p.delete_disks) {
    foreach ($path in $paths) {
        if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Force -ErrorAction Stop; $deleted += $path }
    }
    if ($folder -and (Test-Path -LiteralPath $folder) -and -not (Get-ChildItem -LiteralPath $folder -Recurse -File)) {
        Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction SilentlyContinue
    }
}
[ordered]@{ removed = $true; deleted = $deleted }
