# The one command line the WinRM runner ever runs (after _envelope.ps1). It reads ONE JSON
# envelope and writes ONE marker line with the outcome. The envelope comes from the shell's
# environment when the runner put it there (a one-shot shell: CSHYPERV_ENVELOPE_PARTS variables
# CSHYPERV_ENVELOPE_0..n-1, each under the 32,767-character limit of one variable), else from stdin.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)
$parts = [Environment]::GetEnvironmentVariable('CSHYPERV_ENVELOPE_PARTS')
if ($parts) {
    $text = [System.Text.StringBuilder]::new()
    for ($n = 0; $n -lt [int] $parts; $n++) {
        [void] $text.Append([Environment]::GetEnvironmentVariable('CSHYPERV_ENVELOPE_' + $n))
    }
    [Console]::Out.WriteLine((Invoke-CsEnvelope $text.ToString()))
} else {
    $reader = [System.IO.StreamReader]::new([Console]::OpenStandardInput(), [System.Text.UTF8Encoding]::new($false))
    [Console]::Out.WriteLine((Invoke-CsEnvelope $reader.ReadToEnd()))
}
