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
