"""The operations layer: the only code that calls a hypervisor plug-in.

Frontends (the resource handlers behind the direct-connect agent, the Extensions executable,
yours) translate requests into :class:`Operations` calls, in the SDK's terms only; this layer
owns capability gates, per-VM locks, retry and clean-up rules, and the one place where a
plug-in's foreign exception is logged and turned into a typed error. See docs/architecture.md.
"""

from cshyperv.operations._operations import Operations

__all__ = ["Operations"]
