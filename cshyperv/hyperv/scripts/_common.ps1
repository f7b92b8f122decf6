# Shared helpers, placed by the plug-in between an operation's param block and its body.
# Every value comes from $p (parsed from JSON); nothing here is ever built from a value.

function Find-CsVm([string] $Name) {
    # -Name takes wildcards: escape them, then insist on an exact, case-sensitive match, so a VM
    # named '*' or 'i-2-[1]-VM' cannot select other VMs.
    $pattern = [System.Management.Automation.WildcardPattern]::Escape($Name)
    @(Get-VM -Name $pattern -ErrorAction SilentlyContinue | Where-Object { $_.Name -ceq $Name })
}

function Get-CsVm([string] $Name) {
    $found = Find-CsVm $Name
    if ($found.Count -eq 0) {
        Write-Error -Message 'VM not found' -Category ObjectNotFound -ErrorId 'cshyperv.VmNotFound' `
            -TargetObject $Name -ErrorAction Stop
    }
    if ($found.Count -gt 1) {
        Write-Error -Message 'more than one VM has this name' -Category InvalidData `
            -ErrorId 'cshyperv.DuplicateVm' -TargetObject $Name -ErrorAction Stop
    }
    $found[0]
}

function ConvertTo-CsVmInfo($Vm, [switch] $Full) {
    $info = [ordered]@{
        name       = $Vm.Name
        state      = [string] $Vm.State
        id         = [string] $Vm.Id
        cpus       = [int] $Vm.ProcessorCount
        memory     = [int64] $(if ($Vm.MemoryAssigned -gt 0) { $Vm.MemoryAssigned } else { $Vm.MemoryStartup })
        generation = [int] $Vm.Generation
        notes      = [string] $Vm.Notes
        host       = [string] $Vm.ComputerName
    }
    if ($Full) {
        $info.disks = @(Get-VMHardDiskDrive -VM $Vm | ForEach-Object { [string] $_.Path })
        $info.isos = @(Get-VMDvdDrive -VM $Vm | Where-Object { $_.Path } | ForEach-Object { [string] $_.Path })
        $info.nics = @(Get-VMNetworkAdapter -VM $Vm | ForEach-Object {
            $vlan = Get-VMNetworkAdapterVlan -VMNetworkAdapter $_
            [ordered]@{
                mac       = ($_.MacAddress -replace '(..)(?!$)', '$1:').ToLowerInvariant()
                switch    = [string] $_.SwitchName
                vlan      = $(if ([string] $vlan.OperationMode -eq 'Access') { [int] $vlan.AccessVlanId } else { $null })
                connected = [bool] $_.Connected
            }
        })
    }
    $info
}

function Get-CsVhdPaths($Vm) {
    # Every disk file the VM owns, checkpoint differencing disks included.
    $paths = @(Get-VMHardDiskDrive -VM $Vm | ForEach-Object { $_.Path })
    foreach ($snapshot in @(Get-VMSnapshot -VM $Vm -ErrorAction SilentlyContinue)) {
        $paths += @(Get-VMHardDiskDrive -VMSnapshot $snapshot | ForEach-Object { $_.Path })
    }
    $paths | Where-Object { $_ } | Sort-Object -Unique
}
