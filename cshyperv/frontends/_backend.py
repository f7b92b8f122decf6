"""The contract between transports and the agent (defined in :mod:`cshyperv.resource`)."""

from cshyperv.resource import AgentBackend

__all__ = ["AgentBackend"]
