param($p)
# Remove the VM's definition; with $p.delete_disks also every disk file it owned and its folder
# when create_vm made that folder. An absent VM is already destroyed.
$found = Find-CsVm ([string] $p.name)
if ($found.Count -eq 0) { return [ordered]@{ removed = $false; deleted = @() } }
$vm = $found[0]
$folder = [string] $vm.Path
# The config drive holds user data: it goes with the VM, whatever $p.delete_disks says.
$configDrive = Join-Path $folder ('config-drive-' + [string] $vm.Id + '.iso')
if ([string] $vm.State -eq 'Saved') { Remove-VMSavedState -VM $vm -ErrorAction Stop }
elseif ([string] $vm.State -ne 'Off') { Stop-VM -VM $vm -TurnOff -Force -ErrorAction Stop }
# Checkpoints are merged into the disks BEFORE Remove-VM (A5): Remove-VM would merge them in the
# background after the VM is gone, holding the files open while they are deleted below, and a
# retry would find no VM and leak the disks for good. Removing the root checkpoints with their
# children starts the merge; the VM's drives point at .avhdx files until it is done.
$roots = @(Get-VMSnapshot -VM $vm -ErrorAction Stop | Where-Object { -not $_.ParentSnapshotName })
foreach ($root in $roots) { Remove-VMSnapshot -VMSnapshot $root -IncludeAllChildSnapshots -ErrorAction Stop }
if ($roots.Count -gt 0) {
    $deadline = [DateTime]::UtcNow.AddSeconds([double] $p.timeout_s)
    while (@(Get-VMHardDiskDrive -VM $vm | Where-Object { [string] $_.Path -match '\.avhdx?$' }).Count -gt 0) {
        if ([DateTime]::UtcNow -gt $deadline) {
            Write-Error -Message 'the checkpoint merge did not finish in time' -Category OperationTimeout `
                -ErrorId 'cshyperv.MergeTimeout' -TargetObject $vm.Name -ErrorAction Stop
        }
        Start-Sleep -Milliseconds 500
    }
}
$paths = @(Get-CsVhdPaths $vm)
Remove-VM -VM $vm -Force -ErrorAction Stop
$deleted = @()
if (Test-CsPath $configDrive) { Remove-Item -LiteralPath $configDrive -Force -ErrorAction Stop; $deleted += $configDrive }
if ([bool] $p.delete_disks) {
    foreach ($path in $paths) {
        if (Test-CsPath $path) { Remove-Item -LiteralPath $path -Force -ErrorAction Stop; $deleted += $path }
    }
    # Only a folder of the VM's own: New-VM -Path <vm_path> makes <vm_path>\<name>. Without -Path
    # the VM lives in the host's default folder, shared by every VM, which must stay (B8).
    $vmHost = Get-VMHost
    $shared = @([string] $vmHost.VirtualMachinePath, [string] $vmHost.VirtualHardDiskPath) |
        ForEach-Object { $_.TrimEnd('\') }
    $own = $folder -and [System.IO.Path]::GetFileName($folder.TrimEnd('\')) -ceq [string] $vm.Name -and
        -not ($shared -contains $folder.TrimEnd('\'))
    if ($own -and (Test-CsPath $folder) -and -not (Get-ChildItem -LiteralPath $folder -Recurse -File)) {
        Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction SilentlyContinue
    }
}
[ordered]@{ removed = $true; deleted = $deleted }
