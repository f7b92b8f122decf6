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
        if ($null -ne $p.memory_bytes) {
            $bytes = [int64] $p.memory_bytes
            $memory = Get-VMMemory -VM $vm
            if ([bool] $memory.DynamicMemoryEnabled) {
                # create_vm pins the maximum to the memory size: it moves with the startup size, or
                # any increase would put Startup above Maximum, which Hyper-V refuses (A6). The
                # startup size of a dynamic-memory VM changes only while it is off.
                if ([string] $vm.State -ne 'Off') {
                    Write-Error -Message 'the memory of a dynamic-memory VM changes only while it is off' `
                        -Category InvalidOperation -ErrorId 'cshyperv.InvalidVmState' -TargetObject $vm.Name -ErrorAction Stop
                }
                $memoryArgs = @{ VM = $vm; StartupBytes = $bytes; MaximumBytes = $bytes }
                if ([int64] $memory.Minimum -gt $bytes) { $memoryArgs.MinimumBytes = ConvertTo-CsMemoryBytes $bytes }
                Set-VMMemory @memoryArgs -ErrorAction Stop
            } else {
                Set-VMMemory -VM $vm -StartupBytes $bytes -ErrorAction Stop
            }
        }
    }
    'suspend' { if ([string] $vm.State -ne 'Paused') { Suspend-VM -VM $vm -ErrorAction Stop } }
    'resume' { if ([string] $vm.State -eq 'Paused') { Resume-VM -VM $vm -ErrorAction Stop } }
    'console' {
        # The host's DNS name, fully qualified in a domain: the NetBIOS name may not resolve
        # where the console proxy runs (B7).
        $cs = Get-CimInstance -ClassName Win32_ComputerSystem
        $hostName = [string] $cs.DNSHostName
        if ([bool] $cs.PartOfDomain -and $cs.Domain) { $hostName = $hostName + '.' + [string] $cs.Domain }
        return [ordered]@{ vm_id = [string] $vm.Id; host = $hostName; port = 2179 }
    }
    default {
        Write-Error -Message 'unknown action' -Category InvalidArgument -ErrorId 'cshyperv.InvalidArgument' -ErrorAction Stop
    }
}
ConvertTo-CsVmInfo (Get-VM -Id $vm.Id) -Full
