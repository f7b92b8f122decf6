"""ServerResource: CloudStack's agent-side "resource", built on a hypervisor plug-in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cshyperv.commands import Answer, Command, CopyCmdAnswer, CopyCommand, PowerState
from cshyperv.dispatch import Dispatcher, Middleware, failed_answer
from cshyperv.hypervisor import Hypervisor
from cshyperv.resource import _host, _storage, _vm
from cshyperv.resource._context import ResourceContext, ResourceSettings
from cshyperv.resource._storage_access import StorageAccess
from cshyperv.wire._registry import Registry, builtin_registry

__all__ = ["ServerResource"]

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


def _guard(
    ctx: ResourceContext, handler: Callable[[ResourceContext, Any], Answer], answer_type: type[Answer]
) -> Callable[[Any], Answer]:
    def run(command: Any) -> Answer:
        try:
            return handler(ctx, command)
        except Exception as exc:
            failed = failed_answer(exc)
            if answer_type is Answer:
                return failed
            return answer_type(result=False, details=failed.details)

    return run


class ServerResource:
    """Every CloudStack command this agent handles, on one hypervisor plug-in and storage access.

    Implements :class:`cshyperv.frontends._backend.AgentBackend`, so any frontend (the HTTPS
    direct-connect agent, a test) can drive it. Thread-safe.
    """

    def __init__(
        self,
        hypervisor: Hypervisor,
        storage: StorageAccess,
        *,
        settings: ResourceSettings | None = None,
        middleware: Sequence[Middleware] = (),
        registry: Registry | None = None,
    ) -> None:
        self.context = ResourceContext(hypervisor, storage, settings or ResourceSettings())
        self.registry = registry if registry is not None else builtin_registry()
        self.dispatcher = Dispatcher(middleware=middleware)
        tables: list[Mapping[type[Command], Callable[[ResourceContext, Any], Answer]]] = [
            _host.HANDLERS,  # type: ignore[list-item]
            _vm.HANDLERS,  # type: ignore[list-item]
            _storage.HANDLERS,  # type: ignore[list-item]
        ]
        for table in tables:
            for command_type, handler in table.items():
                answer_type = answer_class_for(command_type, self.registry)
                self.dispatcher.register(command_type, _guard(self.context, handler, answer_type))

    @property
    def hypervisor(self) -> Hypervisor:
        return self.context.hypervisor

    def execute(self, command: Command) -> Answer:
        """Run one command; never raises (see :class:`cshyperv.dispatch.Dispatcher`)."""
        return self.dispatcher.dispatch(command)

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
