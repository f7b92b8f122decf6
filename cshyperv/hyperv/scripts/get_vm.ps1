param($p)
$found = Find-CsVm ([string] $p.name)
if ($found.Count -eq 0) { $null } else { ConvertTo-CsVmInfo $found[0] -Full }
