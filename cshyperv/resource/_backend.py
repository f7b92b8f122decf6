"""What a transport needs from the agent: the contract between frontends and the resource layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from cshyperv.commands import PowerState
from cshyperv.wire import Answer, Command

__all__ = ["AgentBackend"]


@runtime_checkable
class AgentBackend(Protocol):
    """The agent behind a transport (:class:`cshyperv.resource.ServerResource` implements it).

    :meth:`execute` never raises: bad commands and hypervisor failures are failed Answers.
    :meth:`startup` and :meth:`host_vm_states` may raise a
    :class:`~cshyperv.errors.CSHyperVError`; :func:`cshyperv.resource.handle_request` turns it
    into a failed Answer.
    """

    def execute(self, command: Command) -> Answer:
        """Run one command and return its Answer (a failed one on error; never raises)."""

    def startup(self, commands: Sequence[Command]) -> list[Command]:
        """StartupCommand: the management server's wrapped array in, the filled-in array out
        (the StartupRoutingCommand, plus a StartupStorageCommand for local storage)."""

    def host_vm_states(self) -> Mapping[str, PowerState]:
        """HostVmStateReportCommand: every VM on the host and its power state."""
