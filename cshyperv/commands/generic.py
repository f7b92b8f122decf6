"""The generic answers every agent may return, whatever the command."""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.wire import Answer, Command

__all__ = ["Answer", "Command", "UnsupportedAnswer"]


@attrs.frozen(kw_only=True, slots=False)
class UnsupportedAnswer(Answer):
    """The reply to a command the agent has no handler for (result is False).

    CloudStack's own text: ``Unsupported command issued: <FQCN>.  Are you sure you got the right
    type of server?`` (two spaces after the period, as Java writes it).
    """

    FQCN: ClassVar[str] = "com.cloud.agent.api.UnsupportedAnswer"
    # ``result`` keeps Answer's default (True), as Java's no-arg constructor does; build instances
    # with for_command(), which sets it False like every Java constructor that takes a command.

    @classmethod
    def for_command(cls, fqcn: str) -> UnsupportedAnswer:
        """The answer Java's ``Answer.createUnsupportedCommandAnswer`` builds for ``fqcn``."""
        details = f"Unsupported command issued: {fqcn}.  Are you sure you got the right type of server?"
        return cls(result=False, details=details)
