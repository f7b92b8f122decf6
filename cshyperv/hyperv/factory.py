"""The Hyper-V plug-in factory (entry point ``hyperv``): string settings -> :class:`HyperVSettings`
-> a :class:`~cshyperv.hyperv.plugin.HyperVHypervisor` on the chosen runner.

Settings are parsed here, once: the connection (:class:`~cshyperv.hyperv.connection.HostConnection`,
from the settings, or from the ``CSHYPERV_WINRM_*`` environment when they name no ``url``),
``runner`` (``winrm`` or ``psrp``), ``one_shot`` (the process runs one action: the Extensions
executable) and ``config_drive``. The storage settings go to
:func:`~cshyperv.hyperv.storage.storage_access_from_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from cshyperv.errors import PluginError
from cshyperv.hyperv.connection import HostConnection, parse_flag
from cshyperv.hyperv.plugin import HyperVHypervisor, ScriptRunner

__all__ = ["HyperVSettings", "create"]

RUNNERS = ("winrm", "psrp")


@attrs.frozen(kw_only=True)
class HyperVSettings:
    """The plug-in's settings, typed. ``repr`` never shows a password."""

    connection: HostConnection
    runner: Literal["winrm", "psrp"] = "winrm"
    one_shot: bool = False
    config_drive: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> HyperVSettings:
        """From string settings; without a ``url`` the connection comes from the environment,
        the settings given overriding it."""
        if config.get("url"):
            connection = HostConnection.from_mapping(config)
        else:
            connection = HostConnection.from_env(environ, **dict(config))
        kind = str(config.get("runner") or "winrm").strip().lower()
        if kind == "winrm":
            runner: Literal["winrm", "psrp"] = "winrm"
        elif kind == "psrp":
            runner = "psrp"
        else:
            raise PluginError(f"unknown runner {kind!r} (use {' or '.join(RUNNERS)})")
        return cls(
            connection=connection,
            runner=runner,
            one_shot=parse_flag(config.get("one_shot"), name="one_shot", default=False),
            config_drive=parse_flag(config.get("config_drive"), name="config_drive", default=True),
        )

    def make_runner(self) -> ScriptRunner:
        if self.runner == "psrp":
            from cshyperv.hyperv.psrp import PSRPRunner

            return PSRPRunner(self.connection)
        from cshyperv.hyperv.winrm import WinRMRunner

        return WinRMRunner(self.connection, one_shot=self.one_shot)


def create(config: Mapping[str, str]) -> HyperVHypervisor:
    """Plug-in factory (entry point ``hyperv``): settings url/username/password/transport/...,
    defaulting to the CSHYPERV_WINRM_* environment variables."""
    from cshyperv.hyperv.storage import storage_access_from_settings

    settings = HyperVSettings.from_config(config)
    connection = settings.connection
    storage = storage_access_from_settings(
        config, host=connection.host, winrm_username=connection.username, winrm_password=connection.password
    )
    return HyperVHypervisor(settings.make_runner(), storage=storage, config_drive=settings.config_drive)
