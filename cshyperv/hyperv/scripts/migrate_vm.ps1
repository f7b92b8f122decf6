param($p)
# Live migration to another Hyper-V host; with $p.storage_path the disks move too. A preflight
# first (A4): Move-VM with Hyper-V's defaults fails late and obscurely, so what the source host
# lacks is named up front, as cshyperv.MigrationPrerequisite with the missing item as the target:
#   VirtualMachineMigrationEnabled  live migration is off on this host (Enable-VMMigration);
#   PartOfDomain                    the host is in no domain (live migration without a cluster
#                                   needs both hosts in the same or trusting domains);
#   CredentialDelegation            the host authenticates migrations with CredSSP, which needs
#                                   the user's credentials in this session, and an NTLM logon
#                                   carries none (use the credssp transport, or Kerberos with
#                                   constrained delegation and protocol transition).
$vm = Get-CsVm ([string] $p.vm)
$vmHost = Get-VMHost
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$missing = $null
if (-not [bool] $vmHost.VirtualMachineMigrationEnabled) { $missing = 'VirtualMachineMigrationEnabled' }
elseif (-not [bool] $cs.PartOfDomain) { $missing = 'PartOfDomain' }
elseif ([string] $vmHost.VirtualMachineMigrationAuthenticationType -eq 'CredSSP' -and
        [string] [System.Security.Principal.WindowsIdentity]::GetCurrent().AuthenticationType -eq 'NTLM') {
    $missing = 'CredentialDelegation'
}
if ($missing) {
    Write-Error -Message 'this host cannot live-migrate from this session' -Category InvalidOperation `
        -ErrorId 'cshyperv.MigrationPrerequisite' -TargetObject $missing -ErrorAction Stop
}
$moveArgs = @{ VM = $vm; DestinationHost = [string] $p.destination }
if ($p.storage_path) { $moveArgs.IncludeStorage = $true; $moveArgs.DestinationStoragePath = [string] $p.storage_path }
Move-VM @moveArgs -ErrorAction Stop
[ordered]@{ moved = $true }
