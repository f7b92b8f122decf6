"""What a frontend needs from the core: the contract between transports and the resource layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from cshyperv.commands.enums import PowerState
from cshyperv.wire._model import Answer, Command

__all__ = ["AgentBackend"]


@runtime_checkable
class AgentBackend(Protocol):
    """The agent behind a transport (``cshyperv.resource.ServerResource`` implements it).

    None of these methods raises for bad commands or hypervisor failures: they answer.
    """

    def execute(self, command: Command) -> Answer:
        """Run one command and return its Answer (a failed one on error; never raises)."""

    def startup(self, commands: Sequence[Command]) -> list[Command]:
        """StartupCommand: the management server's wrapped array in, the filled-in array out
        (the StartupRoutingCommand, plus a StartupStorageCommand for local storage)."""

    def host_vm_states(self) -> Mapping[str, PowerState]:
        """HostVmStateReportCommand: every VM on the host and its power state."""
