param($p)
# Graceful shutdown through the shutdown integration service, then a hard turn-off when the
# guest has not finished by $p.timeout_s (or at once with $p.force). An absent VM is already
# stopped. Not Stop-VM -Force: it may turn the VM off at once, whatever the deadline (B2).
$found = Find-CsVm ([string] $p.name)
if ($found.Count -eq 0) { return [ordered]@{ state = 'Absent'; method = 'none' } }
$vm = $found[0]
if ([string] $vm.State -eq 'Off') { return [ordered]@{ state = 'Off'; method = 'none' } }
$method = 'turn-off'
if (-not [bool] $p.force -and [string] $vm.State -eq 'Running') {
    $deadline = [DateTime]::UtcNow.AddSeconds([double] $p.timeout_s)
    $asked = $false; $round = 0
    while ([DateTime]::UtcNow -lt $deadline -and [string] (Get-VM -Id $vm.Id).State -ne 'Off') {
        # The service is looked for every 2 s (four rounds), not on every 500 ms poll.
        if (-not $asked -and ($round++ % 4) -eq 0) {
            # Asked once the guest offers the service (a guest still booting may not yet).
            $component = Get-CsShutdownComponent $vm
            if ($component) {
                $result = Invoke-CimMethod -InputObject $component -MethodName InitiateShutdown -ErrorAction Stop `
                    -Arguments @{ Force = $true; Reason = 'CloudStack: stop' }
                $asked = @(0, 4096) -contains [int] $result.ReturnValue
            }
        }
        Start-Sleep -Milliseconds 500
    }
    if ([string] (Get-VM -Id $vm.Id).State -eq 'Off') { $method = 'shutdown' }
}
$current = Get-VM -Id $vm.Id
if ([string] $current.State -eq 'Saved') { Remove-VMSavedState -VM $current -ErrorAction Stop }
elseif ([string] $current.State -ne 'Off') { Stop-VM -VM $current -TurnOff -Force -ErrorAction Stop }
[ordered]@{ state = [string] (Get-VM -Id $vm.Id).State; method = $method }
