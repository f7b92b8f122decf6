param($p)
$vm = Get-CsVm ([string] $p.name)
if ([string] $vm.State -eq 'Paused') { Resume-VM -VM $vm -ErrorAction Stop }
elseif ([string] $vm.State -ne 'Running') { Start-VM -VM $vm -ErrorAction Stop }
ConvertTo-CsVmInfo (Get-VM -Id $vm.Id) -Full
