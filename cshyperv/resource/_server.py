"""ServerResource: CloudStack's agent-side "resource", built on the operations layer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cshyperv.commands import (
    Answer,
    CheckVirtualMachineCommand,
    Command,
    CopyCmdAnswer,
    CopyCommand,
    PowerState,
    StartCommand,
)
from cshyperv.dispatch import Dispatcher, Middleware
from cshyperv.hypervisor import HostCapacity, Hypervisor, Plugin, StorageAccess, as_plugin
from cshyperv.operations import Operations
from cshyperv.resource import _host, _storage, _vm
from cshyperv.resource._context import ResourceContext, ResourceSettings
from cshyperv.wire import Registry, builtin_registry

__all__ = ["ServerResource", "answer_class_for"]

# Answers whose Java class does not follow the "<X>Command -> <X>Answer" naming.
_ANSWER_EXCEPTIONS: dict[type[Command], type[Answer]] = {CopyCommand: CopyCmdAnswer}


def answer_class_for(command_type: type[Command], registry: Registry) -> type[Answer]:
    """The Answer class CloudStack expects back for ``command_type`` (plain Answer if unsure).

    Failed answers use it too: the management server casts some answers (VM snapshots) and would
    fail on a plain Answer.
    """
    if command_type in _ANSWER_EXCEPTIONS:
        return _ANSWER_EXCEPTIONS[command_type]
    fqcn = command_type.FQCN
    if fqcn.endswith("Command"):
        candidate = registry.get(fqcn[: -len("Command")] + "Answer")
        if candidate is not None and issubclass(candidate, Answer):
            return candidate
    return Answer


# Commands execute_quickly() may try: their handlers do nothing but translate before their first
# call into Operations, so one given up at a call that would wait can be run again from the start.
_QUICK_COMMANDS: frozenset[type[Command]] = frozenset({StartCommand, CheckVirtualMachineCommand})
_QUICK_FQCNS: frozenset[str] = frozenset(c.FQCN for c in _QUICK_COMMANDS)
_NONE: frozenset[str] = frozenset()


def _bind(ctx: ResourceContext, handler: Callable[[ResourceContext, Any], Answer]) -> Callable[[Any], Answer]:
    def run(command: Any) -> Answer:
        return handler(ctx, command)

    return run


def _operations(plugin: Plugin | Hypervisor | Operations, storage: StorageAccess | None) -> Operations:
    if isinstance(plugin, Operations):
        return plugin
    if storage is None:
        return Operations(as_plugin(plugin))
    if isinstance(plugin, Plugin):
        return Operations(Plugin(plugin.hypervisor, storage=storage, host_capacity=plugin.host_capacity))
    capacity = plugin if isinstance(plugin, HostCapacity) else None
    return Operations(Plugin(plugin, storage=storage, host_capacity=capacity))


class ServerResource:
    """Every CloudStack command this agent handles, over one plug-in. Thread-safe.

    ``plugin`` is what a factory returned (a :class:`~cshyperv.hypervisor.Plugin` or a bare
    hypervisor) or ready :class:`~cshyperv.operations.Operations`; ``storage``, when given,
    replaces the plug-in's own storage access. Implements :class:`AgentBackend`, so any frontend
    can drive it (:func:`cshyperv.resource.handle_request`).
    """

    def __init__(
        self,
        plugin: Plugin | Hypervisor | Operations,
        storage: StorageAccess | None = None,
        *,
        settings: ResourceSettings | None = None,
        middleware: Sequence[Middleware] = (),
        registry: Registry | None = None,
    ) -> None:
        self.ops = _operations(plugin, storage)
        self.context = ResourceContext(self.ops, settings or ResourceSettings())
        self.registry = registry if registry is not None else builtin_registry()
        self.dispatcher = Dispatcher(middleware=middleware)
        tables: list[Mapping[type[Command], Callable[[ResourceContext, Any], Answer]]] = [
            _host.HANDLERS,  # type: ignore[list-item]
            _vm.HANDLERS,  # type: ignore[list-item]
            _storage.HANDLERS,  # type: ignore[list-item]
        ]
        for table in tables:
            for command_type, handler in table.items():
                self.dispatcher.register(
                    command_type,
                    _bind(self.context, handler),
                    answer_type=answer_class_for(command_type, self.registry),
                )

    @property
    def hypervisor(self) -> Hypervisor:
        """The plug-in's hypervisor (for inspection; calls go through :attr:`ops`)."""
        return self.ops.plugin.hypervisor

    def execute(self, command: Command) -> Answer:
        """Run one command; never raises (see :class:`cshyperv.dispatch.Dispatcher`)."""
        return self.dispatcher.dispatch(command)

    @property
    def quick_commands(self) -> frozenset[str]:
        """FQCNs :meth:`execute_quickly` may answer now: none unless the plug-in declares quick
        reads (``quick_reads``)."""
        return _QUICK_FQCNS if self.ops.quick_reads() else _NONE

    def execute_quickly(self, command: Command) -> Answer | None:
        """:meth:`execute`'s Answer when it can be made without waiting for anything (a host, a
        network, a file server, a VM lock another thread holds), or None: then call
        :meth:`execute` where waiting is allowed. Nothing is changed before None is returned.
        For event loops (:mod:`cshyperv.frontends.direct_connect`); see
        :meth:`Operations.without_waiting`."""
        if type(command) not in _QUICK_COMMANDS:
            return None
        return self.ops.without_waiting(lambda: self.dispatcher.dispatch(command))

    def startup(self, commands: Sequence[Command]) -> list[Command]:
        return _host.startup(self.context, list(commands))

    def host_vm_states(self) -> dict[str, PowerState]:
        return _host.host_vm_states(self.context)

    def supported_commands(self) -> list[str]:
        """FQCNs of every command this resource answers (beyond UnsupportedAnswer)."""
        found = []
        for fqcn, cls in self.registry.items():
            if issubclass(cls, Command) and not issubclass(cls, Answer) and self.dispatcher.supports(cls):
                found.append(fqcn)
        return found

    def close(self) -> None:
        """Close the plug-in (idempotent)."""
        self.ops.close()
