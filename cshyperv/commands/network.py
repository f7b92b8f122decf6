"""Network checks: physical-network check, periodic rule clean-up, site-to-site VPN status.

``CleanupNetworkRulesCmd`` was read off ``core/src/main/java/com/cloud/agent/api/CleanupNetworkRulesCmd.java``
and ``CheckS2SVpnConnectionsAnswer`` off ``core/src/main/java/com/cloud/agent/api/CheckS2SVpnConnectionsAnswer.java``
(neither is in reference §3a).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from cshyperv.wire import Answer, Command, JInt, JsonObject, jfield

__all__ = [
    "CheckNetworkAnswer",
    "CheckNetworkCommand",
    "CheckS2SVpnConnectionsAnswer",
    "CleanupNetworkRulesCmd",
]


@attrs.frozen(kw_only=True, slots=False)
class CheckNetworkCommand(Command):
    """Check that the host has the physical networks of its zone, sent on connect. Answer: CheckNetworkAnswer."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckNetworkCommand"

    network_info_list: list[JsonObject] | None = None


@attrs.frozen(kw_only=True, slots=False)
class CheckNetworkAnswer(Answer):
    """The agent's reply to CheckNetworkCommand."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckNetworkAnswer"

    # Declared here, as Java declares it (a boolean, so False when absent); Gson writes a
    # subclass's own fields first, so ``_reconnect`` leads the object.
    reconnect: bool = jfield("_reconnect", default=False)


@attrs.frozen(kw_only=True, slots=False)
class CleanupNetworkRulesCmd(Command):
    """Periodic security-group rule clean-up (a cron command) from the MS. Answer: Answer (C# sends result=false)."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CleanupNetworkRulesCmd"

    # Seconds; the field initialiser is 10 * 60.
    interval: JInt = 600


@attrs.frozen(kw_only=True, slots=False)
class CheckS2SVpnConnectionsAnswer(Answer):
    """Reply to CheckS2SVpnConnectionsCommand (a virtual-router command): per peer IP, connected and detail."""

    FQCN: ClassVar[str] = "com.cloud.agent.api.CheckS2SVpnConnectionsAnswer"

    ip_to_connected: dict[str, bool] | None = jfield(factory=dict)
    ip_to_detail: dict[str, str] | None = jfield(factory=dict)
