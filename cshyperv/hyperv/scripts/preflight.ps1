param($p)
# Preflight for `cshyperv agent check`: is this host ready for CloudStack? One row per check, in
# one invocation; a failed check is a row (ok = $false, what was found, what to change), never a
# thrown error, so the operator sees every problem at once. The rows travel inside a hashtable,
# which PowerShell does not unroll. Folders are tested by writing a file, not with Test-Path,
# which answers $false for "access denied" as well as for "absent".
$rows = New-Object System.Collections.Generic.List[object]
function Add-CsCheck([string] $Name, [bool] $Ok, [string] $Detail, [string] $Fix) {
    $rows.Add([ordered]@{ name = $Name; ok = $Ok; detail = $Detail; fix = $(if ($Ok) { '' } else { $Fix }) })
}

function Test-CsWritable([string] $Folder) {
    # $null when a file can be created and deleted in $Folder, else why not. The probe's name
    # is made here; the folder is only ever a .NET string argument.
    $probe = [System.IO.Path]::Combine($Folder, '.cshyperv-preflight-' + [guid]::NewGuid().ToString('N') + '.tmp')
    try {
        [System.IO.File]::WriteAllBytes($probe, [byte[]] @(0))
        [System.IO.File]::Delete($probe)
        return $null
    } catch {
        $cause = $_.Exception
        if ($cause.InnerException) { $cause = $cause.InnerException }
        if ($cause -is [System.UnauthorizedAccessException]) { return 'access denied' }
        if ($cause -is [System.IO.DirectoryNotFoundException]) { return 'does not exist' }
        return [string] $cause.Message
    }
}

$version = $PSVersionTable.PSVersion
$ok = ($version.Major -gt 5) -or ($version.Major -eq 5 -and $version.Minor -ge 1)
Add-CsCheck 'powershell' $ok ('Windows PowerShell ' + [string] $version) 'install Windows Management Framework 5.1'

$module = @(Get-Module -ListAvailable -Name 'Hyper-V')
Add-CsCheck 'hyperv_module' ($module.Count -gt 0) $(if ($module.Count) { 'Hyper-V module ' + [string] $module[0].Version } else { 'not installed' }) `
    'Install-WindowsFeature -Name Hyper-V, Hyper-V-PowerShell -Restart'
if ($module.Count -eq 0) { return [ordered]@{ checks = $rows.ToArray() } }

$service = @(Get-Service -Name 'vmms' -ErrorAction SilentlyContinue)
$running = $service.Count -gt 0 -and [string] $service[0].Status -eq 'Running'
Add-CsCheck 'hyperv_service' $running $(if ($service.Count) { 'vmms ' + [string] $service[0].Status } else { 'vmms not found' }) `
    'Start-Service -Name vmms (and check the Hyper-V role is installed)'

$vmHost = $null
try { $vmHost = Get-VMHost -ErrorAction Stop } catch {
    Add-CsCheck 'hyperv_host' $false ([string] $_.Exception.Message) 'add the WinRM account to the Hyper-V Administrators group'
}
if ($vmHost) {
    if ($p.switch) {
        $name = [string] $p.switch
        $pattern = [System.Management.Automation.WildcardPattern]::Escape($name)
        $found = @(Get-VMSwitch -Name $pattern -ErrorAction SilentlyContinue | Where-Object { $_.Name -eq $name })
        $detail = $(if ($found.Count) { [string] $found[0].SwitchType + ' switch' } else { 'no such vSwitch' })
        Add-CsCheck ('switch ' + $name) ($found.Count -eq 1) $detail `
            'create it (New-VMSwitch) or name an existing one (Get-VMSwitch) as the default switch'
    }
    foreach ($entry in @(@('vm_path', $p.vm_path, [string] $vmHost.VirtualMachinePath),
                         @('vhd_path', $p.vhd_path, [string] $vmHost.VirtualHardDiskPath))) {
        $folder = $(if ($entry[1]) { [string] $entry[1] } else { $entry[2] })
        $problem = Test-CsWritable $folder
        Add-CsCheck ($entry[0] + ' ' + $folder) ($null -eq $problem) $(if ($problem) { $problem } else { 'writable' }) `
            'create the folder and give the WinRM account modify rights on it'
    }
    if ($p.live_migration) {
        $enabled = [bool] $vmHost.VirtualMachineMigrationEnabled
        $auth = [string] $vmHost.VirtualMachineMigrationAuthenticationType
        Add-CsCheck 'live_migration' $enabled ('enabled: ' + [string] $enabled + ', authentication: ' + $auth) `
            'Enable-VMMigration; Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos (with constrained delegation) or CredSSP'
    }
}
foreach ($share in @($p.shares)) {
    if (-not $share) { continue }
    # From the host itself: the second hop, with the host's own rights on the share.
    $problem = Test-CsWritable ([string] $share)
    Add-CsCheck ('host share ' + [string] $share) ($null -eq $problem) $(if ($problem) { $problem } else { 'writable from the host' }) `
        "give the host's computer account (or the delegated WinRM account) modify rights on the share"
}
[ordered]@{ checks = $rows.ToArray() }
