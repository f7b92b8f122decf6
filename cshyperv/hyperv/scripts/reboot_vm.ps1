param($p)
# A guest reboot through the integration services where the host supports it; a reset otherwise.
$vm = Get-CsVm ([string] $p.name)
if ([string] $vm.State -ne 'Running') {
    Write-Error -Message 'VM is not running' -Category InvalidOperation -ErrorId 'cshyperv.InvalidVmState' `
        -TargetObject $vm.Name -ErrorAction Stop
}
$restart = Get-Command Restart-VM
if ($restart.Parameters.ContainsKey('Type')) { Restart-VM -VM $vm -Type Reboot -Force -ErrorAction Stop }
else { Restart-VM -VM $vm -Force -ErrorAction Stop }
[ordered]@{ state = [string] (Get-VM -Id $vm.Id).State }
