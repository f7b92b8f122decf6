param($p)
# A guest reboot (B1): the shutdown integration service asks the guest OS to restart, as a
# user would. Restart-VM on Windows Server 2016-2025 has no -Type and is a hard reset ("can
# result in data loss"): it is used only when the guest offers no shutdown service.
$vm = Get-CsVm ([string] $p.name)
if ([string] $vm.State -ne 'Running') {
    Write-Error -Message 'VM is not running' -Category InvalidOperation -ErrorId 'cshyperv.InvalidVmState' `
        -TargetObject $vm.Name -ErrorAction Stop
}
$component = Get-CsShutdownComponent $vm
if ($component) {
    $result = Invoke-CimMethod -InputObject $component -MethodName InitiateReboot -ErrorAction Stop `
        -Arguments @{ Force = $true; Reason = 'CloudStack: reboot' }
    Wait-CsMethodResult $result ([string] $vm.Name)
    $method = 'reboot'
} else {
    Restart-VM -VM $vm -Force -ErrorAction Stop
    $method = 'reset'
}
[ordered]@{ state = [string] (Get-VM -Id $vm.Id).State; method = $method }
