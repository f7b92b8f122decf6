param($p)
# Define a VM from a neutral spec, in one invocation. Idempotent: an existing VM of that name is
# returned (existed = true) for the caller to compare, unchanged but for its config drive, which
# is refreshed while the VM is off. On failure everything this call made (the VM, new disk files,
# the config drive) is removed and the ORIGINAL error is rethrown.
function Sync-CsConfigDrive($Vm, $Image) {
    # The config drive (ISO 9660, label config-2) built by the plug-in: written beside the VM's
    # configuration and named by the VM's id, never by its name (a name may hold '..\'). The
    # bytes are deterministic, so writing them again on a retried create changes nothing. Only
    # called while the VM is off: a running guest holds the file open. Without $Image (nothing to
    # pass, or config_drive=false) an earlier drive is detached and deleted: it holds old user data.
    $isoPath = Join-Path ([string] $Vm.Path) ('config-drive-' + [string] $Vm.Id + '.iso')
    $attached = @(Get-VMDvdDrive -VM $Vm | Where-Object { $_.Path -eq $isoPath })
    if (-not $Image) {
        foreach ($dvd in $attached) { Remove-VMDvdDrive -VMDvdDrive $dvd -ErrorAction Stop }
        if (Test-CsPath $isoPath) { Remove-Item -LiteralPath $isoPath -Force -ErrorAction Stop }
        return $null
    }
    [System.IO.File]::WriteAllBytes($isoPath, [Convert]::FromBase64String([string] $Image.iso_base64))
    if ($attached.Count -eq 0) {
        # A drive of its own, clear of CloudStack's ISO (attach_disk.ps1 fills an EMPTY drive,
        # else adds one at the next free slot): Generation 1 at IDE 1:1, beside the DVD drive
        # New-VM puts at IDE 1:0; Generation 2 at the next free SCSI location. Should IDE 1:1 be
        # taken already, the next free slot is as good: the guest finds the drive by its label.
        $slot = @{}
        if ([int] $Vm.Generation -eq 1) {
            $taken = @(@(Get-VMDvdDrive -VM $Vm) + @(Get-VMHardDiskDrive -VM $Vm) | Where-Object {
                [string] $_.ControllerType -eq 'IDE' -and $_.ControllerNumber -eq 1 -and $_.ControllerLocation -eq 1 })
            if ($taken.Count -eq 0) { $slot = @{ ControllerNumber = 1; ControllerLocation = 1 } }
        }
        Add-VMDvdDrive -VM $Vm -Path $isoPath @slot -ErrorAction Stop
    }
    $isoPath
}

$name = [string] $p.name
$existing = Find-CsVm $name
if ($existing.Count -gt 0) {
    # A retried create, or a stopped VM started again: refresh its config drive while it is off
    # (boot args and user data may have changed since), then, with $p.start (deploy), start it.
    # The caller compares the spec.
    if ([string] $existing[0].State -eq 'Off') { Sync-CsConfigDrive $existing[0] $p.config_drive | Out-Null }
    if ([bool] $p.start -and [string] $existing[0].State -ne 'Running') { Start-VM -VM $existing[0] -ErrorAction Stop }
    $info = ConvertTo-CsVmInfo (Get-VM -Id $existing[0].Id) -Full
    $info.existed = $true
    return $info
}
$createdDisks = New-Object System.Collections.Generic.List[string]
$vm = $null
try {
    $newVm = @{ Name = $name; Generation = [int] $p.generation; MemoryStartupBytes = [int64] $p.memory_bytes; NoVHD = $true }
    if ($p.vm_path) { $newVm.Path = [string] $p.vm_path }
    $vm = New-VM @newVm -ErrorAction Stop
    Set-VM -VM $vm -Notes ([string] $p.notes) -AutomaticStopAction ShutDown -ErrorAction Stop
    Set-VMProcessor -VM $vm -Count ([int] $p.cpus) -ErrorAction Stop
    if ($p.min_memory_bytes) {
        # The minimum in whole 2 MB: CloudStack's minRam is RAM / overcommit, any byte count (A8).
        Set-VMMemory -VM $vm -DynamicMemoryEnabled $true -MinimumBytes (ConvertTo-CsMemoryBytes ([int64] $p.min_memory_bytes)) `
            -StartupBytes ([int64] $p.memory_bytes) -MaximumBytes ([int64] $p.memory_bytes) -ErrorAction Stop
    }
    if ([int] $p.generation -eq 2) {
        if ($null -ne $p.secure_boot) {
            $state = if ([bool] $p.secure_boot) { 'On' } else { 'Off' }
            Set-VMFirmware -VM $vm -EnableSecureBoot $state -ErrorAction Stop
        }
        if ($p.secure_boot_template) {
            Set-VMFirmware -VM $vm -SecureBootTemplate ([string] $p.secure_boot_template) -ErrorAction Stop
        }
    }
    # New VMs come with one network adapter; ours are added explicitly below.
    Get-VMNetworkAdapter -VM $vm | Remove-VMNetworkAdapter -ErrorAction Stop

    $bootDisk = $null
    foreach ($disk in @($p.disks | Sort-Object { [int] $_.position })) {
        $path = [string] $disk.path
        if ([int] $p.generation -eq 2 -and [string] $disk.kind -eq 'root' -and $path -match '\.vhd$') {
            # Generation 2 boots only from VHDX (B12); the plug-in refuses this before sending it.
            Write-Error -Message 'a Generation 2 VM cannot boot from a .vhd disk' -Category InvalidArgument `
                -ErrorId 'cshyperv.UnsupportedDiskFormat' -TargetObject $path -ErrorAction Stop
        }
        if ([string] $disk.kind -eq 'iso') {
            # As attach_disk.ps1: an empty DVD drive first (Generation 1 VMs come with one at
            # IDE 1:0), so IDE 1:1 stays free for the config drive.
            $empty = Get-VMDvdDrive -VM $vm | Where-Object { -not $_.Path } | Select-Object -First 1
            if ($empty) { Set-VMDvdDrive -VMDvdDrive $empty -Path $path -ErrorAction Stop }
            else { Add-VMDvdDrive -VM $vm -Path $path -ErrorAction Stop }
            continue
        }
        if (-not (Test-CsPath $path)) {
            if (-not $disk.template_path) {
                Write-Error -Message 'disk not found' -Category ObjectNotFound -ErrorId 'cshyperv.VolumeNotFound' `
                    -TargetObject $path -ErrorAction Stop
            }
            if ([bool] $disk.differencing) {
                New-VHD -Path $path -ParentPath ([string] $disk.template_path) -Differencing -ErrorAction Stop | Out-Null
            } else {
                Copy-Item -LiteralPath ([string] $disk.template_path) -Destination $path -ErrorAction Stop
                # Every copy of a template would share its disk identifier (B10).
                if ($path -match '\.vhdx$') { Set-VHD -Path $path -ResetDiskIdentifier -Force -ErrorAction Stop }
            }
            $createdDisks.Add($path)
            if ($disk.size_bytes -and [int64] $disk.size_bytes -gt (Get-VHD -Path $path).Size) {
                Resize-VHD -Path $path -SizeBytes ([int64] $disk.size_bytes) -ErrorAction Stop
            }
        }
        # Generation 1 boots from IDE; data disks go on SCSI either way.
        $controller = if ($disk.controller) { [string] $disk.controller }
                      elseif ([int] $p.generation -eq 1 -and [string] $disk.kind -eq 'root') { 'IDE' }
                      else { 'SCSI' }
        $drive = Add-VMHardDiskDrive -VM $vm -ControllerType $controller -Path $path -Passthru -ErrorAction Stop
        if ([string] $disk.kind -eq 'root' -and -not $bootDisk) { $bootDisk = $drive }
    }
    foreach ($nic in @($p.nics | Sort-Object { [int] $_.device_id })) {
        $adapterArgs = @{ VM = $vm; StaticMacAddress = (([string] $nic.mac) -replace '[:-]', ''); Passthru = $true }
        if ($nic.switch) { $adapterArgs.SwitchName = [string] $nic.switch }
        $adapter = Add-VMNetworkAdapter @adapterArgs -ErrorAction Stop
        if ($null -ne $nic.vlan) {
            Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter -Access -VlanId ([int] $nic.vlan) -ErrorAction Stop
        } else {
            Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter -Untagged -ErrorAction Stop
        }
        if ($nic.rate_mbps) {
            Set-VMNetworkAdapter -VMNetworkAdapter $adapter -MaximumBandwidth ([int64] $nic.rate_mbps * 1000000) -ErrorAction Stop
        }
    }
    if ($p.config_drive) {
        # After the disks, so that on Generation 2 it follows them on SCSI.
        $createdDisks.Add((Join-Path ([string] $vm.Path) ('config-drive-' + [string] $vm.Id + '.iso')))
        Sync-CsConfigDrive $vm $p.config_drive | Out-Null
    }
    if ([int] $p.generation -eq 2 -and $bootDisk) { Set-VMFirmware -VM $vm -FirstBootDevice $bootDisk -ErrorAction Stop }
    if ($p.boot_args) {
        # Boot arguments for system VMs travel as a KVP item the guest reads at boot. A KVP value
        # holds at most 1023 characters (2048 bytes of UTF-16 with its terminator; Hyper-V fails
        # the job with 32773 beyond): longer ones travel in the config drive alone, and without
        # one the create fails rather than boot a system VM without its arguments (B4).
        $bootArgs = [string] $p.boot_args
        if ($bootArgs.Length -le 1023) {
            $service = Get-CimInstance -Namespace root\virtualization\v2 -ClassName Msvm_VirtualSystemManagementService
            $system = Get-CimInstance -Namespace root\virtualization\v2 -ClassName Msvm_ComputerSystem -Filter ("Name='" + $vm.Id + "'")
            $item = ([WMIClass] '\\.\root\virtualization\v2:Msvm_KvpExchangeDataItem').CreateInstance()
            $item.Name = 'cloudstack-vm-userdata'; $item.Data = $bootArgs; $item.Source = 0
            $result = Invoke-CimMethod -InputObject $service -MethodName AddKvpItems -Arguments @{
                TargetSystem = $system; DataItems = @($item.PSBase.GetText(1)) }
            # 4096 is a job started, not a success: waited for, its error code checked.
            Wait-CsMethodResult $result $name
        } elseif (-not $p.config_drive) {
            Write-Error -Message 'the boot arguments are longer than the 1023 characters a KVP value holds' `
                -Category InvalidArgument -ErrorId 'cshyperv.KvpValueTooLong' -TargetObject $name -ErrorAction Stop
        }
    }
    # Started inside the try: a VM that cannot start is removed like any failed create.
    if ([bool] $p.start) { Start-VM -VM $vm -ErrorAction Stop }
    $info = ConvertTo-CsVmInfo (Get-VM -Id $vm.Id) -Full
    $info.existed = $false
    $info
} catch {
    $original = $_
    if ($vm) {
        # Started already (the last step) and failing after: turned off first, or it would stay.
        if ([bool] $p.start) { Stop-VM -VM $vm -TurnOff -Force -ErrorAction SilentlyContinue }
        Remove-VM -VM $vm -Force -ErrorAction SilentlyContinue
    }
    foreach ($path in $createdDisks) { Remove-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue }
    throw $original
}
