param($p)
# NIC changes on one VM: $p.action is add, remove or vlan; MACs compared without separators.
$vm = Get-CsVm ([string] $p.vm)
$mac = (([string] $p.mac) -replace '[:-]', '').ToUpperInvariant()
$adapter = Get-VMNetworkAdapter -VM $vm | Where-Object { $_.MacAddress -eq $mac } | Select-Object -First 1
switch ([string] $p.action) {
    'add' {
        if ($adapter) { return [ordered]@{ changed = $false } }
        $adapterArgs = @{ VM = $vm; StaticMacAddress = $mac; Passthru = $true }
        if ($p.switch) { $adapterArgs.SwitchName = [string] $p.switch }
        $adapter = Add-VMNetworkAdapter @adapterArgs -ErrorAction Stop
    }
    'remove' {
        if (-not $adapter) { return [ordered]@{ changed = $false } }
        Remove-VMNetworkAdapter -VMNetworkAdapter $adapter -ErrorAction Stop
        return [ordered]@{ changed = $true }
    }
    'vlan' {
        if (-not $adapter) {
            Write-Error -Message 'no network adapter with this MAC' -Category ObjectNotFound `
                -ErrorId 'cshyperv.NicNotFound' -TargetObject $mac -ErrorAction Stop
        }
    }
    default {
        Write-Error -Message 'unknown NIC action' -Category InvalidArgument -ErrorId 'cshyperv.InvalidArgument' -ErrorAction Stop
    }
}
if ($null -ne $p.vlan) { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter -Access -VlanId ([int] $p.vlan) -ErrorAction Stop }
else { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter -Untagged -ErrorAction Stop }
[ordered]@{ changed = $true }
