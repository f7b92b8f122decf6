param($p)
# Disk files: $p.action is create, clone, resize, delete or info. Only Hyper-V writes VHDX.
$path = [string] $p.path
function ConvertTo-CsVolume([string] $Path) {
    $vhd = Get-VHD -Path $Path -ErrorAction Stop
    [ordered]@{ path = $Path; size_bytes = [int64] $vhd.Size; physical_bytes = [int64] $vhd.FileSize
                parent = [string] $vhd.ParentPath; format = [string] $vhd.VhdFormat }
}
switch ([string] $p.action) {
    'info' {
        if (-not (Test-CsPath $path)) { return $null }
        return ConvertTo-CsVolume $path
    }
    'create' {
        if (-not (Test-CsPath $path)) {
            if ($p.parent) { New-VHD -Path $path -ParentPath ([string] $p.parent) -Differencing -ErrorAction Stop | Out-Null }
            else { New-VHD -Path $path -SizeBytes ([int64] $p.size_bytes) -Dynamic -ErrorAction Stop | Out-Null }
        }
        return ConvertTo-CsVolume $path
    }
    'clone' {
        $source = [string] $p.source
        if (-not (Test-CsPath $source)) {
            Write-Error -Message 'disk not found' -Category ObjectNotFound -ErrorId 'cshyperv.VolumeNotFound' `
                -TargetObject $source -ErrorAction Stop
        }
        $partial = $path + '.partial'
        Copy-Item -LiteralPath $source -Destination $partial -Force -ErrorAction Stop
        Move-Item -LiteralPath $partial -Destination $path -Force -ErrorAction Stop
        # A copy keeps the source's disk identifier (the SCSI VPD page 0x83 id): a new one, so
        # the clone and its source can be attached side by side (B10). VHDX only.
        if ($path -match '\.vhdx$') { Set-VHD -Path $path -ResetDiskIdentifier -Force -ErrorAction Stop }
        if ($p.size_bytes -and [int64] $p.size_bytes -gt (Get-VHD -Path $path).Size) {
            Resize-VHD -Path $path -SizeBytes ([int64] $p.size_bytes) -ErrorAction Stop
        }
        return ConvertTo-CsVolume $path
    }
    'resize' {
        Resize-VHD -Path $path -SizeBytes ([int64] $p.size_bytes) -ErrorAction Stop
        return ConvertTo-CsVolume $path
    }
    'delete' {
        if (Test-CsPath $path) { Remove-Item -LiteralPath $path -Force -ErrorAction Stop }
        return [ordered]@{ deleted = $true }
    }
}
Write-Error -Message 'unknown volume action' -Category InvalidArgument -ErrorId 'cshyperv.InvalidArgument' -ErrorAction Stop
