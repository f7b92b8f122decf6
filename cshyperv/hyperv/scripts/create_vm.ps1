param($p)
# Define a VM from a neutral spec, in one invocation. Idempotent: an existing VM of that name is
# returned as it is (existed = true) for the caller to compare. On failure everything this call
# made (the VM, new disk files) is removed and the ORIGINAL error is rethrown.
$name = [string] $p.name
$existing = Find-CsVm $name
if ($existing.Count -gt 0) {
    # With $p.start (deploy) an existing VM is started too; the caller compares the spec.
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
        Set-VMMemory -VM $vm -DynamicMemoryEnabled $true -MinimumBytes ([int64] $p.min_memory_bytes) `
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
        if ([string] $disk.kind -eq 'iso') {
            $drive = Add-VMDvdDrive -VM $vm -Path $path -Passthru -ErrorAction Stop
            continue
        }
        if (-not (Test-Path -LiteralPath $path)) {
            if (-not $disk.template_path) {
                Write-Error -Message 'disk not found' -Category ObjectNotFound -ErrorId 'cshyperv.VolumeNotFound' `
                    -TargetObject $path -ErrorAction Stop
            }
            if ([bool] $disk.differencing) {
                New-VHD -Path $path -ParentPath ([string] $disk.template_path) -Differencing -ErrorAction Stop | Out-Null
            } else {
                Copy-Item -LiteralPath ([string] $disk.template_path) -Destination $path -ErrorAction Stop
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
        # The config drive (ISO 9660, label config-2) built by the plug-in, beside the VM's
        # configuration and named by the VM's id, never by its name (a name may hold '..\').
        # It takes the next free DVD slot (Gen1: IDE 0:1 after the root disk; Gen2: SCSI), so a
        # CloudStack ISO attached later gets a drive of its own.
        $isoPath = Join-Path ([string] $vm.Path) ('config-drive-' + [string] $vm.Id + '.iso')
        [System.IO.File]::WriteAllBytes($isoPath, [Convert]::FromBase64String([string] $p.config_drive.iso_base64))
        $createdDisks.Add($isoPath)
        Add-VMDvdDrive -VM $vm -Path $isoPath -ErrorAction Stop
    }
    if ([int] $p.generation -eq 2 -and $bootDisk) { Set-VMFirmware -VM $vm -FirstBootDevice $bootDisk -ErrorAction Stop }
    if ($p.boot_args) {
        # Boot arguments for system VMs travel as a KVP item the guest reads at boot.
        $service = Get-CimInstance -Namespace root\virtualization\v2 -ClassName Msvm_VirtualSystemManagementService
        $system = Get-CimInstance -Namespace root\virtualization\v2 -ClassName Msvm_ComputerSystem -Filter ("Name='" + $vm.Id + "'")
        $item = ([WMIClass] '\\.\root\virtualization\v2:Msvm_KvpExchangeDataItem').CreateInstance()
        $item.Name = 'cloudstack-vm-userdata'; $item.Data = [string] $p.boot_args; $item.Source = 0
        $result = Invoke-CimMethod -InputObject $service -MethodName AddKvpItems -Arguments @{
            TargetSystem = $system; DataItems = @($item.PSBase.GetText(1)) }
        if ($result.ReturnValue -ne 0 -and $result.ReturnValue -ne 4096) {
            Write-Error -Message 'adding the boot arguments failed' -Category InvalidResult `
                -ErrorId ('cshyperv.JobFailed.' + $result.ReturnValue) -TargetObject $name -ErrorAction Stop
        }
    }
    # Started inside the try: a VM that cannot start is removed like any failed create.
    if ([bool] $p.start) { Start-VM -VM $vm -ErrorAction Stop }
    $info = ConvertTo-CsVmInfo (Get-VM -Id $vm.Id) -Full
    $info.existed = $false
    $info
} catch {
    $original = $_
    if ($vm) { Remove-VM -VM $vm -Force -ErrorAction SilentlyContinue }
    foreach ($path in $createdDisks) { Remove-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue }
    throw $original
}
