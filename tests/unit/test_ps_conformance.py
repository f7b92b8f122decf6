"""Static conformance of the Hyper-V scripts with Microsoft's docs (see tests/ps_conformance.py)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tree_sitter")
pytest.importorskip("tree_sitter_powershell")

from tests import ps_conformance as psc


def _errors(text: str, path: str = "scripts/x.ps1") -> list[psc.Finding]:
    return [f for f in psc.check_script(path, text) if f.severity == "error"]


def test_the_reference_is_microsofts_docs_and_cited() -> None:
    data = json.loads(psc.REFERENCE.read_text(encoding="utf-8"))
    assert "MicrosoftDocs/windows-powershell-docs" in data["_sources"]["windows-powershell-docs"]["repo"]
    assert "MicrosoftDocs/PowerShell-Docs" in data["_sources"]["PowerShell-Docs"]["repo"]
    readme = (psc.REFERENCE.parent / "README.md").read_text(encoding="utf-8")
    assert "powershell-cmdlets.json" in readme and "MicrosoftDocs/windows-powershell-docs" in readme


@pytest.mark.parametrize(
    ("snippet", "rule", "fragment"),
    [
        # Windows PowerShell 5.1 has none of PowerShell 7's operators.
        ("$a = $b ?? 1\n", "ps7", ""),
        ("$a = $b ? 1 : 2\n", "ps7", ""),
        ("$a = $b?.Name\n", "ps7", ""),
        ("Get-VMHost && Get-VMHost\n", "ps7", "&&"),
        ("Get-VMHost || Get-VMHost\n", "ps7", "||"),
        # ... nor its cmdlets, parameters, type accelerators or .NET members.
        ("$e = Get-Error\n", "ps7", "Get-Error"),
        ("$h = '{}' | ConvertFrom-Json -AsHashtable\n", "ps7", "AsHashtable"),
        ("$v = [semver] '1.0.0'\n", "ps7", "semver"),
        ("$p = [System.IO.Path]::Join('a', 'b')\n", "ps7", "Join"),
        # Parameter sets, per platform: GuestStateIsolationType is documented for 2025 only.
        ("$vm = New-VM -Name x -NoVHD -GuestStateIsolationType TrustedLaunch\n", "parameter-set", "2016"),
        ("$p = Split-Path -LiteralPath $x -Parent\n", "parameter-set", "Split-Path"),
        ("$vm = Get-VM -Name a -Id $i\n", "parameter-set", "Get-VM"),
        ("Remove-VMSnapshot\n", "parameter-set", "Remove-VMSnapshot"),
        ("$x = Get-VMHost -NoSuchThing 1\n", "", "no such parameter"),
        ("$x = Get-Frobnicator\n", "", "no such cmdlet"),
        ("Set-VM -VM $vm -CheckpointType Sometimes\n", "", "not one of"),
        # Splatting is resolved: a key the cmdlet does not take is found in the hashtable.
        ("$a = @{ VM = $vm; Colour = 1 }\nMove-VM @a -DestinationHost h\n", "", "Colour"),
        ("$a = @{ VM = $vm }\n$a.Teleport = $true\nMove-VM @a -DestinationHost h\n", "", "Teleport"),
        # Output rules.
        ("@(Get-VM)\n", "unrolled-array", ""),
        ("return @(1, 2)\n", "unrolled-array", ""),
        ("if ($p.x) { @(Get-VM) }\n", "unrolled-array", ""),
        ("function F { @(Get-VM) }\n", "unrolled-array", "function F"),
        ("Add-VMNetworkAdapter -VM $vm -Passthru\n[ordered]@{ ok = 1 }\n", "passthru-leak", ""),
    ],
)
def test_the_checker_finds_what_breaks_on_windows(snippet: str, rule: str, fragment: str) -> None:
    found = _errors(snippet)
    assert found, f"no error for {snippet!r}"
    if rule:
        assert any(f.rule == rule for f in found), [str(f) for f in found]
    assert any(fragment in str(f) for f in found), [str(f) for f in found]


@pytest.mark.parametrize(
    "snippet",
    [
        "return ,@(Get-VM | ForEach-Object { $_.Name })\n",
        ",@()\n",
        "$adapter = Add-VMNetworkAdapter -VM $vm -Passthru\n",
        "Add-VMNetworkAdapter -VM $vm -Passthru | Out-Null\n",
        "[void] (Add-VMNetworkAdapter -VM $vm -Passthru)\n",
        "foreach ($d in @(Get-VMDvdDrive -VM $vm)) { Remove-VMDvdDrive -VMDvdDrive $d -ErrorAction Stop }\n",
        "$h = [ordered]@{ a = @(1) }\n$h\n",
        "$a = @{ VM = $vm; DestinationHost = 'h' }\nif ($x) { $a.IncludeStorage = $true }\nMove-VM @a\n",
        "$r = Split-Path -LiteralPath $x\n",
        "$n = Get-ChildItem -LiteralPath $f -Recurse -File\n",
        "$x = '?? and ?. and && inside a string'\n# and ?? in a comment\n",
        "$x = $y | ConvertFrom-Json\n",
    ],
)
def test_the_checker_passes_what_windows_accepts(snippet: str) -> None:
    assert _errors(snippet) == []


def test_every_script_fits_the_docs_on_every_windows_server_version() -> None:
    findings = psc.check_all()
    assert [str(f) for f in findings if f.severity == "error"] == []
    # Every operation script and helper was read (the check cannot pass by finding nothing).
    assert len(list(psc.SCRIPTS.glob("*.ps1"))) >= 22


# Each fix, reverted by hand: (script, the fixed text, what it was before the fix, the rule that
# must then fail). The before-texts are the defects of the review (A1-A8, B1-B10).
REVERTS = [
    ("list_vms.ps1", ",@(Get-VM -ErrorAction Stop | ForEach-Object", "@(Get-VM | ForEach-Object", "unrolled-array"),
    (
        "path_capacity.ps1",
        "$path = [System.IO.Path]::GetDirectoryName($path)",
        "$path = Split-Path -LiteralPath $path -Parent",
        "parameter-set",
    ),
    (
        "host_info.ps1",
        "$usage = Get-CsDiskSpace $vhdPath",
        "$usage = New-Object System.IO.DriveInfo($vhdPath)",
        "A3",
    ),
    ("migrate_vm.ps1", "if (-not [bool] $vmHost.VirtualMachineMigrationEnabled)", "if ($false)", "A4"),
    (
        "destroy_vm.ps1",
        "foreach ($root in $roots) { Remove-VMSnapshot -VMSnapshot $root -IncludeAllChildSnapshots -ErrorAction Stop }",
        "",
        "A5",
    ),
    ("vm_control.ps1", "StartupBytes = $bytes; MaximumBytes = $bytes", "StartupBytes = $bytes", "A6"),
    (
        "_common.ps1",
        ",@(Get-VM -ErrorAction Stop | Where-Object",
        ",@(Get-VM -Name ([System.Management.Automation.WildcardPattern]::Escape($Name)) -ErrorAction Stop"
        " | Where-Object",
        "A7",
    ),
    (
        "_common.ps1",
        ",@(Get-VM -ErrorAction Stop | Where-Object",
        ",@(Get-VM -ErrorAction SilentlyContinue | Where-Object",
        "B3",
    ),
    (
        "_common.ps1",
        ",@(Get-VM -ErrorAction Stop | Where-Object",
        "@(Get-VM -ErrorAction Stop | Where-Object",
        "unrolled",
    ),
    (
        "create_vm.ps1",
        "-MinimumBytes (ConvertTo-CsMemoryBytes ([int64] $p.min_memory_bytes))",
        "-MinimumBytes ([int64] $p.min_memory_bytes)",
        "A8",
    ),
    (
        "reboot_vm.ps1",
        "$result = Invoke-CimMethod -InputObject $component -MethodName InitiateReboot -ErrorAction Stop `",
        "$result = Restart-VM -VM $vm -Force -ErrorAction Stop `",
        "B1",
    ),
    ("stop_vm.ps1", "Stop-VM -VM $current -TurnOff -Force", "Stop-VM -VM $current -Force", "B2"),
    ("stop_vm.ps1", "-MethodName InitiateShutdown", "-MethodName RequestStateChange", "B2"),
    ("create_vm.ps1", "Wait-CsMethodResult $result $name", "$null = $result", "B4"),
    ("create_vm.ps1", "if ($bootArgs.Length -le 1023) {", "if ($bootArgs) {", "B4"),
    (
        "host_stats.ps1",
        "$cpu = if ($total) { [double] $total.PercentTotalRunTime } else { [double] 0 }",
        "$cpu = (Get-CimInstance -ClassName Win32_Processor | Measure-Object LoadPercentage -Average).Average",
        "B5",
    ),
    ("attach_disk.ps1", "if (-not (Test-CsPath $path)) {", "if (-not (Test-Path -LiteralPath $path)) {", "B6"),
    ("volume.ps1", "if (-not (Test-CsPath $source)) {", "if (-not (Test-Path -LiteralPath $source)) {", "B6"),
    ("vm_control.ps1", "host = $hostName;", "host = [string] $env:COMPUTERNAME;", "B7"),
    (
        "destroy_vm.ps1",
        "$shared = @([string] $vmHost.VirtualMachinePath, [string] $vmHost.VirtualHardDiskPath)",
        "$shared = @()",
        "B8",
    ),
    ("checkpoint.ps1", "else { 'ProductionOnly' }", "else { 'Production' }", "B9"),
    (
        "volume.ps1",
        "if ($path -match '\\.vhdx$') { Set-VHD -Path $path -ResetDiskIdentifier -Force -ErrorAction Stop }",
        "",
        "B10",
    ),
    ("nic.ps1", "$adapter = Add-VMNetworkAdapter @adapterArgs", "Add-VMNetworkAdapter @adapterArgs", "passthru-leak"),
    ("checkpoint.ps1", "return ,@($all | ForEach-Object", "return @($all | ForEach-Object", "unrolled-array"),
]


@pytest.mark.parametrize(("script", "fixed", "before", "rule"), REVERTS)
def test_reverting_a_fix_turns_the_check_red(script: str, fixed: str, before: str, rule: str) -> None:
    text = (psc.SCRIPTS / script).read_text(encoding="utf-8")
    assert fixed in text, f"{script} no longer holds the fix this mutant reverts"
    assert _errors(text, f"scripts/{script}") == []
    found = _errors(text.replace(fixed, before), f"scripts/{script}")
    assert any(rule in f.rule or rule in f.message for f in found), [str(f) for f in found]
