"""The Hyper-V plug-in: Hyper-V hosts driven over WinRM/PowerShell, one invocation per operation.

Layers, each importing only those above it: :mod:`~cshyperv.hyperv.plugin` (the Hypervisor over a
``ScriptRunner``), :mod:`~cshyperv.hyperv.connection` (naming a host),
:mod:`~cshyperv.hyperv.invocation` (what the runners share), the runners
:mod:`~cshyperv.hyperv.winrm` and :mod:`~cshyperv.hyperv.psrp`, and
:mod:`~cshyperv.hyperv.factory` (settings -> plug-in, the ``hyperv`` entry point).
"""

from cshyperv.hyperv.connection import HostConnection
from cshyperv.hyperv.factory import HyperVSettings, create
from cshyperv.hyperv.plugin import HyperVHypervisor, PowerShellError, ScriptRunner, map_error_record

__all__ = [
    "HostConnection",
    "HyperVHypervisor",
    "HyperVSettings",
    "PowerShellError",
    "ScriptRunner",
    "create",
    "map_error_record",
]
