param($p)
# Total and free bytes of the volume holding $p.path, seen from the host: a UNC path
# (\\server\share\dir, an SMB pool) or a local one (C:\ClusterStorage\Volume1).
$path = [string] $p.path
# A file: measure the folder holding it (the API takes directories only). Any failure to read
# the attributes is left to GetDiskFreeSpaceEx, which classifies it by its Win32 error code; no
# Test-Path, which answers false on access denied too. (Not Split-Path -LiteralPath -Parent: no
# parameter set takes both, A2.)
$attributes = $null
try { $attributes = [System.IO.File]::GetAttributes($path) } catch { $attributes = $null }
if ($null -ne $attributes -and -not ($attributes -band [System.IO.FileAttributes]::Directory)) {
    $path = [System.IO.Path]::GetDirectoryName($path)
}
$usage = Get-CsDiskSpace $path ([string] $p.path)
[ordered]@{ total_bytes = $usage.total_bytes; free_bytes = $usage.free_bytes }
