param($p)
# Total and free bytes of the volume holding $p.path, seen from the host: a UNC path
# (\\server\share\dir, an SMB pool) or a local one (C:\ClusterStorage\Volume1). Win32's
# GetDiskFreeSpaceEx answers for UNC paths, where Get-Volume and [IO.DriveInfo] cannot. The C#
# signature below is constant text; the path reaches it only as a .NET string argument.
$path = [string] $p.path
# A file: measure the folder holding it (the API takes directories only).
if (Test-Path -LiteralPath $path -PathType Leaf) { $path = Split-Path -LiteralPath $path -Parent }
# The API wants a trailing backslash on UNC roots; it is harmless elsewhere.
if (-not $path.EndsWith('\')) { $path = $path + '\' }
if (-not ('CsHyperV.DiskSpace' -as [type])) {
    Add-Type -Namespace CsHyperV -Name DiskSpace -MemberDefinition @'
[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
[return: MarshalAs(UnmanagedType.Bool)]
public static extern bool GetDiskFreeSpaceEx(string directory, out ulong freeToCaller, out ulong total, out ulong totalFree);
'@
}
$free = [uint64] 0; $total = [uint64] 0; $totalFree = [uint64] 0
if (-not [CsHyperV.DiskSpace]::GetDiskFreeSpaceEx($path, [ref] $free, [ref] $total, [ref] $totalFree)) {
    # Classified by the Win32 error code, never by its (localised) text. Not found: no such file
    # (2), path (3) or drive (15), no such server (53) or share (67). No Test-Path beforehand:
    # it answers false on access denied too, which would turn a rights problem into "missing".
    $code = [System.Runtime.InteropServices.Marshal]::GetLastWin32Error()
    if (@(2, 3, 15, 53, 67) -contains $code) {
        Write-Error -Message 'path not found' -Category ObjectNotFound -ErrorId 'cshyperv.PathNotFound' `
            -TargetObject ([string] $p.path) -ErrorAction Stop
    }
    $category = if ($code -eq 5) { 'PermissionDenied' } else { 'ReadError' }
    Write-Error -Message 'GetDiskFreeSpaceEx failed' -Category $category -ErrorId ('cshyperv.Win32Error.' + $code) `
        -TargetObject ([string] $p.path) -ErrorAction Stop
}
[ordered]@{ total_bytes = [int64] $total; free_bytes = [int64] $free }
