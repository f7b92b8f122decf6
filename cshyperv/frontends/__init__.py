"""Frontends that embed the core: the direct-connect HTTPS agent (and the Extensions executable).

The agent needs the ``agent`` extra (uvicorn, cryptography); importing this package does not.
"""

from cshyperv.frontends._backend import AgentBackend

__all__ = ["AgentBackend"]
