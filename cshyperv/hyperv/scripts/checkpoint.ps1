param($p)
# Checkpoints of one VM: $p.action is create, list, revert (with $p.restart: running again if it
# ran before) or delete. Names are matched exactly.
$vm = Get-CsVm ([string] $p.vm)
$name = [string] $p.checkpoint
function ConvertTo-CsCheckpoint($Snapshot) {
    [ordered]@{
        name        = $Snapshot.Name
        vm          = $Snapshot.VMName
        created     = $Snapshot.CreationTime.ToUniversalTime().ToString('o')
        parent      = [string] $Snapshot.ParentSnapshotName
        with_memory = ([string] $Snapshot.SnapshotType -eq 'Standard' -and [string] $Snapshot.State -ne 'Off')
    }
}
$all = @(Get-VMSnapshot -VM $vm -ErrorAction Stop | Sort-Object CreationTime)
$match = @($all | Where-Object { $_.Name -ceq $name })
switch ([string] $p.action) {
    'list' { return ,@($all | ForEach-Object { ConvertTo-CsCheckpoint $_ }) }
    'create' {
        if ($match.Count -gt 0) { return ConvertTo-CsCheckpoint $match[0] }
        # ProductionOnly: without memory means a production checkpoint or none; 'Production'
        # silently falls back to a standard one with memory. The VM's own setting is put back
        # afterwards: the type is asked for per checkpoint, not changed for good (B9).
        $type = if ([bool] $p.with_memory) { 'Standard' } else { 'ProductionOnly' }
        $previous = [string] $vm.CheckpointType
        Set-VM -VM $vm -CheckpointType $type -ErrorAction Stop
        try {
            $snapshot = Checkpoint-VM -VM $vm -SnapshotName $name -Passthru -ErrorAction Stop
        } finally {
            if ($previous -and $previous -ne $type) { Set-VM -VM $vm -CheckpointType $previous -ErrorAction Stop }
        }
        return ConvertTo-CsCheckpoint $snapshot
    }
    'revert' {
        if ($match.Count -eq 0) {
            Write-Error -Message 'checkpoint not found' -Category ObjectNotFound -ErrorId 'cshyperv.CheckpointNotFound' `
                -TargetObject $name -ErrorAction Stop
        }
        # With $p.restart, a VM that ran before the revert runs after it: Hyper-V brings it back
        # Off (production checkpoint) or Saved (standard), and the caller should not need a second
        # invocation (a second round trip) to start it again.
        $wasRunning = [string] $vm.State -eq 'Running'
        Restore-VMSnapshot -VMSnapshot $match[0] -Confirm:$false -ErrorAction Stop
        $after = Get-VM -Id $vm.Id -ErrorAction Stop
        if ([bool] $p.restart -and $wasRunning -and [string] $after.State -ne 'Running') {
            Start-VM -VM $after -ErrorAction Stop
            $after = Get-VM -Id $vm.Id -ErrorAction Stop
        }
        return ConvertTo-CsVmInfo $after -Full
    }
    'delete' {
        if ($match.Count -eq 0) { return [ordered]@{ deleted = $false } }
        Remove-VMSnapshot -VMSnapshot $match[0] -ErrorAction Stop
        return [ordered]@{ deleted = $true }
    }
}
Write-Error -Message 'unknown checkpoint action' -Category InvalidArgument -ErrorId 'cshyperv.InvalidArgument' -ErrorAction Stop
