param([string] $Envelope)
# The one script the PSRP runner ever sends (after _envelope.ps1): the JSON envelope arrives as a
# serialized string parameter of the pipeline, never inside script text; ONE marker line goes to
# the output stream.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Invoke-CsEnvelope $Envelope
