# Shared helpers, placed by the plug-in between an operation's param block and its body.
# Every value comes from $p (parsed from JSON); nothing here is ever built from a value.

function Find-CsVm([string] $Name) {
    # Every VM, then an exact, case-sensitive name match. Not Get-VM -Name: it takes wildcards,
    # and an escaped one ('i-2-`[1`]-VM') is compared literally, so it never matches (A7). Without
    # -Name, Get-VM never reports "not found": any error it reports (access denied, VMMS down) is
    # a real one and stops the operation instead of reading as "no such VM" (B3). Returned with
    # the unary comma: a caller always gets an array, even of one VM or none.
    ,@(Get-VM -ErrorAction Stop | Where-Object { $_.Name -ceq $Name })
}

function Test-CsPath([string] $Path) {
    # Whether a file or folder exists. Test-Path answers $false for ANY failure, so a share the
    # session cannot reach (access denied, a double hop) would read as "missing" (B6); here only
    # "no such file or folder" is $false, access denied is a PermissionDenied error and any other
    # failure (no such server, network down) stays an error.
    try {
        $null = [System.IO.File]::GetAttributes($Path)
        return $true
    } catch [System.IO.FileNotFoundException], [System.IO.DirectoryNotFoundException] {
        return $false
    } catch [System.UnauthorizedAccessException] {
        Write-Error -Message 'access to the path is denied' -Category PermissionDenied -ErrorId 'cshyperv.AccessDenied' `
            -TargetObject $Path -ErrorAction Stop
    }
}

function ConvertTo-CsMemoryBytes([int64] $Bytes) {
    # Hyper-V takes memory sizes in whole multiples of 2 MB: round down, so a CloudStack minimum
    # such as 1 GiB / 1.5 (715,827,882 bytes) is accepted and still below the startup size (A8).
    # 2097152 is 2MB (the grammar the parse test uses knows no multiplier suffixes).
    [int64] [math]::Floor($Bytes / 2097152) * 2097152
}

function Wait-CsMethodResult($Result, [string] $Target, [double] $TimeoutS = 60) {
    # The outcome of an Msvm_* method: 0 is done, 4096 a CIM_ConcreteJob to wait for (JobState 7
    # is Completed, anything above it failed, with ErrorCode), anything else failed. A failure
    # is the error cshyperv.JobFailed.<code>; a job still running at the deadline, OperationTimeout.
    $code = [int] $Result.ReturnValue
    if ($code -eq 4096) {
        $job = $Result.Job
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutS)
        while ([int] $job.JobState -lt 7) {
            if ([DateTime]::UtcNow -gt $deadline) {
                Write-Error -Message 'the host job did not finish in time' -Category OperationTimeout `
                    -ErrorId 'cshyperv.JobTimeout' -TargetObject $Target -ErrorAction Stop
            }
            Start-Sleep -Milliseconds 200
            $job = Get-CimInstance -InputObject $job -ErrorAction Stop
        }
        $code = [int] $job.ErrorCode
        # A job that ended in any state but Completed failed, error code or not.
        if ([int] $job.JobState -ne 7 -and $code -eq 0) { $code = 32768 }
    }
    if ($code -ne 0) {
        Write-Error -Message 'the host job failed' -Category InvalidResult -ErrorId ('cshyperv.JobFailed.' + $code) `
            -TargetObject $Target -ErrorAction Stop
    }
}

function Get-CsShutdownComponent($Vm) {
    # The VM's shutdown integration service (Msvm_ShutdownComponent, SystemName = the VM's id)
    # when it is enabled (EnabledState 2) and in contact with the guest (OperationalStatus OK, 2),
    # else $null (not running, still booting, no hv_utils). Every instance is read and compared
    # here: no value is ever part of a WQL text.
    $id = [string] $Vm.Id
    Get-CimInstance -Namespace root\virtualization\v2 -ClassName Msvm_ShutdownComponent -ErrorAction Stop |
        Where-Object { [string] $_.SystemName -eq $id -and [int] $_.EnabledState -eq 2 -and
            [int] @($_.OperationalStatus)[0] -eq 2 } | Select-Object -First 1
}

function Get-CsDiskSpace([string] $Path, [string] $Target) {
    # Total and free bytes of the volume holding the folder $Path, a UNC path (\\server\share\dir)
    # or a local one: Win32's GetDiskFreeSpaceEx answers for both, where [IO.DriveInfo] throws on
    # UNC paths (A3). The C# signature is constant text; the path reaches it only as a .NET
    # string argument. Failures are classified by the Win32 error code, never by its text.
    # Errors name $Target (the path the caller was asked about), else $Path.
    if (-not $Target) { $Target = $Path }
    if (-not $Path.EndsWith('\')) { $Path = $Path + '\' }  # UNC roots need the trailing backslash
    if (-not ('CsHyperV.DiskSpace' -as [type])) {
        Add-Type -Namespace CsHyperV -Name DiskSpace -MemberDefinition @'
[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
[return: MarshalAs(UnmanagedType.Bool)]
public static extern bool GetDiskFreeSpaceEx(string directory, out ulong freeToCaller, out ulong total, out ulong totalFree);
'@
    }
    $free = [uint64] 0; $total = [uint64] 0; $totalFree = [uint64] 0
    if (-not [CsHyperV.DiskSpace]::GetDiskFreeSpaceEx($Path, [ref] $free, [ref] $total, [ref] $totalFree)) {
        # Not found: no such file (2), path (3) or drive (15), no such server (53) or share (67).
        $code = [System.Runtime.InteropServices.Marshal]::GetLastWin32Error()
        if (@(2, 3, 15, 53, 67) -contains $code) {
            Write-Error -Message 'path not found' -Category ObjectNotFound -ErrorId 'cshyperv.PathNotFound' `
                -TargetObject $Target -ErrorAction Stop
        }
        $category = if ($code -eq 5) { 'PermissionDenied' } else { 'ReadError' }
        Write-Error -Message 'GetDiskFreeSpaceEx failed' -Category $category -ErrorId ('cshyperv.Win32Error.' + $code) `
            -TargetObject $Target -ErrorAction Stop
    }
    [ordered]@{ total_bytes = [int64] $total; free_bytes = [int64] $free }
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
    foreach ($snapshot in @(Get-VMSnapshot -VM $Vm -ErrorAction Stop)) {
        $paths += @(Get-VMHardDiskDrive -VMSnapshot $snapshot | ForEach-Object { $_.Path })
    }
    $paths | Where-Object { $_ } | Sort-Object -Unique
}
