param($p)
# Graceful shutdown through the integration services, then a hard turn-off when the guest does
# not finish by $p.timeout_s (or at once with $p.force). An absent VM is already stopped.
$found = Find-CsVm ([string] $p.name)
if ($found.Count -eq 0) { return [ordered]@{ state = 'Absent' } }
$vm = $found[0]
if ([string] $vm.State -eq 'Off') { return [ordered]@{ state = 'Off' } }
if (-not [bool] $p.force -and [string] $vm.State -eq 'Running') {
    $job = Stop-VM -VM $vm -Force -AsJob -ErrorAction SilentlyContinue
    $deadline = [DateTime]::UtcNow.AddSeconds([double] $p.timeout_s)
    while ([DateTime]::UtcNow -lt $deadline -and [string] (Get-VM -Id $vm.Id).State -ne 'Off') {
        Start-Sleep -Milliseconds 500
    }
    if ($job) { Remove-Job -Job $job -Force -ErrorAction SilentlyContinue }
}
if ([string] (Get-VM -Id $vm.Id).State -ne 'Off') { Stop-VM -VM $vm -TurnOff -Force -ErrorAction Stop }
[ordered]@{ state = [string] (Get-VM -Id $vm.Id).State }
