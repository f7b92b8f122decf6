# Shared by both runners' entry scripts: run ONE envelope {"script": <operation script text>,
# "params": {...}} — the script with the parameters as a parsed object — and return ONE marker
# line with the outcome. No value is ever part of a command line or of script text.
function Invoke-CsEnvelope([string] $Text) {
    $marker = '#cshyperv-result:'
    try {
        $envelope = $Text | ConvertFrom-Json
        $block = [ScriptBlock]::Create([string] $envelope.script)
        $result = & $block $envelope.params
        return $marker + (ConvertTo-Json -InputObject @{ ok = $result } -Depth 20 -Compress)
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
        return $marker + (ConvertTo-Json -InputObject @{ error = $failure } -Depth 5 -Compress)
    }
}
