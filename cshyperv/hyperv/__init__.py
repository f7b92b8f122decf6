"""The Hyper-V plug-in: Hyper-V hosts driven over WinRM/PowerShell, one invocation per operation."""

from cshyperv.hyperv.plugin import HyperVHypervisor, PowerShellError, ScriptRunner, map_error_record

__all__ = ["HyperVHypervisor", "PowerShellError", "ScriptRunner", "map_error_record"]
