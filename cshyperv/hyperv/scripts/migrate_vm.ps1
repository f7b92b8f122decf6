param($p)
# Live migration to another Hyper-V host; with $p.storage_path the disks move too.
$vm = Get-CsVm ([string] $p.vm)
$moveArgs = @{ VM = $vm; DestinationHost = [string] $p.destination }
if ($p.storage_path) { $moveArgs.IncludeStorage = $true; $moveArgs.DestinationStoragePath = [string] $p.storage_path }
Move-VM @moveArgs -ErrorAction Stop
[ordered]@{ moved = $true }
