param($p)
# Small VM changes: $p.action is scale, suspend, resume or console.
$vm = Get-CsVm ([string] $p.vm)
switch ([string] $p.action) {
    'scale' {
        if ($null -ne $p.cpus -and [int] $p.cpus -ne $vm.ProcessorCount) {
            if ([string] $vm.State -ne 'Off') {
                Write-Error -Message 'the processor count changes only while the VM is off' -Category InvalidOperation `
                    -ErrorId 'cshyperv.InvalidVmState' -TargetObject $vm.Name -ErrorAction Stop
            }
            Set-VMProcessor -VM $vm -Count ([int] $p.cpus) -ErrorAction Stop
        }
        if ($null -ne $p.memory_bytes) { Set-VMMemory -VM $vm -StartupBytes ([int64] $p.memory_bytes) -ErrorAction Stop }
    }
    'suspend' { if ([string] $vm.State -ne 'Paused') { Suspend-VM -VM $vm -ErrorAction Stop } }
    'resume' { if ([string] $vm.State -eq 'Paused') { Resume-VM -VM $vm -ErrorAction Stop } }
    'console' { return [ordered]@{ vm_id = [string] $vm.Id; host = [string] $env:COMPUTERNAME; port = 2179 } }
    default {
        Write-Error -Message 'unknown action' -Category InvalidArgument -ErrorId 'cshyperv.InvalidArgument' -ErrorAction Stop
    }
}
ConvertTo-CsVmInfo (Get-VM -Id $vm.Id) -Full
