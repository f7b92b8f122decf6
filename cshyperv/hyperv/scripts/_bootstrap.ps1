# The one command line the WinRM runner ever runs (after _envelope.ps1). It reads ONE JSON
# envelope from stdin and writes ONE marker line with the outcome.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)
$reader = [System.IO.StreamReader]::new([Console]::OpenStandardInput(), [System.Text.UTF8Encoding]::new($false))
[Console]::Out.WriteLine((Invoke-CsEnvelope $reader.ReadToEnd()))
