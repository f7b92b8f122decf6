# The one command line the WinRM runner ever runs. It reads ONE JSON document from stdin,
# {"script": <operation script text>, "params": {...}}, runs the script with the parameters as a
# parsed object, and writes ONE marker line with the outcome. No value is ever part of a command
# line or of script text.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)
$marker = '#cshyperv-result:'
try {
    $reader = [System.IO.StreamReader]::new([Console]::OpenStandardInput(), [System.Text.UTF8Encoding]::new($false))
    $envelope = $reader.ReadToEnd() | ConvertFrom-Json
    $block = [ScriptBlock]::Create([string] $envelope.script)
    $result = & $block $envelope.params
    $json = ConvertTo-Json -InputObject @{ ok = $result } -Depth 20 -Compress
    [Console]::Out.WriteLine($marker + $json)
} catch {
    $record = $_
    $failure = [ordered]@{
        category                 = [string] $record.CategoryInfo.Category
        fully_qualified_error_id = [string] $record.FullyQualifiedErrorId
        target                   = [string] $record.TargetObject
        message                  = [string] $record.Exception.Message
        exception_type           = [string] $record.Exception.GetType().FullName
        hresult                  = [int] $record.Exception.HResult
    }
    $json = ConvertTo-Json -InputObject @{ error = $failure } -Depth 5 -Compress
    [Console]::Out.WriteLine($marker + $json)
}
