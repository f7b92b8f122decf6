"""Command -> handler -> Answer, and the one place where exceptions become failed Answers.

:meth:`Dispatcher.dispatch` never raises. An unknown command gets CloudStack's own
``UnsupportedAnswer``; a handler that raises gets a failed Answer of the class registered with
the handler (``answer_type``: CloudStack casts some answers and would fail on a plain one) whose
``details`` is the error's own message (``cshyperv`` errors are written to be shown) or, for
anything else, the exception's class name only, with credentials redacted either way. A foreign
exception is a bug in a handler: it is logged here with its traceback (a plug-in's foreign
exceptions were already logged and typed by :mod:`cshyperv.operations`, so each failure is
logged once). The command's ``wait``, when positive, becomes the deadline of the call
(:mod:`cshyperv.deadline`).

Middleware wraps every dispatch (logging, metrics, tracing): a callable
``(command, call_next) -> Answer``, outermost first.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from cshyperv import deadline
from cshyperv._redact import redact_text
from cshyperv.commands.generic import UnsupportedAnswer
from cshyperv.errors import CSHyperVError, OperationTimeoutError
from cshyperv.wire import Answer, Command, redact_secrets

__all__ = ["Dispatcher", "Handler", "Middleware", "failed_answer", "failure_text", "logging_middleware"]

log = logging.getLogger("cshyperv.dispatch")

C = TypeVar("C", bound=Command)
Handler = Callable[[Any], Answer]
"""Takes one command (of the class it is registered for) and returns its Answer."""
Middleware = Callable[[Command, Callable[[Command], Answer]], Answer]


A = TypeVar("A", bound=Answer)


def failure_text(exc: BaseException) -> str:
    """What a failed Answer says about ``exc``: its message for cshyperv's own errors (written
    to be shown), the class name only for anything else; credentials redacted either way."""
    if isinstance(exc, CSHyperVError):
        text = str(exc)
    elif isinstance(exc, TimeoutError):
        text = "operation timed out"
    else:
        # Foreign exceptions may carry anything (paths, payload fragments): name the type only.
        text = f"internal error ({type(exc).__name__})"
    return redact_text(text)


def failed_answer(exc: BaseException, *, prefix: str = "", answer_type: type[A] = Answer) -> A:  # type: ignore[assignment]
    """``answer_type(result=False)`` describing ``exc`` without leaking secrets or internals."""
    return answer_type(result=False, details=redact_text(prefix) + failure_text(exc))


class Dispatcher:
    """Routes commands to handlers by class (walking up the class hierarchy, as CloudStack's
    RequestWrapper does). Safe to call from many threads at once; registration is not meant to
    race with dispatching."""

    def __init__(
        self,
        handlers: Mapping[type[Command], Handler] | None = None,
        *,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self._handlers: dict[type[Command], tuple[Handler, type[Answer]]] = {
            command_type: (handler, Answer) for command_type, handler in (handlers or {}).items()
        }
        self._middleware = list(middleware)
        self._chain = self._build_chain()

    def register(
        self, command_type: type[C], handler: Callable[[C], Answer], *, answer_type: type[Answer] = Answer
    ) -> None:
        """Route ``command_type`` (and its subclasses) to ``handler``; a handler that raises gets
        a failed ``answer_type``."""
        self._handlers[command_type] = (handler, answer_type)

    def add_middleware(self, middleware: Middleware) -> None:
        self._middleware.append(middleware)
        self._chain = self._build_chain()

    def _entry(self, command_type: type[Command]) -> tuple[Handler, type[Answer]] | None:
        for klass in command_type.__mro__:
            entry = self._handlers.get(klass)
            if entry is not None:
                return entry
            if klass is Command:
                break
        return None

    def handler_for(self, command_type: type[Command]) -> Handler | None:
        entry = self._entry(command_type)
        return None if entry is None else entry[0]

    def supports(self, command_type: type[Command]) -> bool:
        return self.handler_for(command_type) is not None

    def _build_chain(self) -> Callable[[Command], Answer]:
        call: Callable[[Command], Answer] = self._invoke
        for middleware in reversed(self._middleware):
            call = _wrap(middleware, call)
        return call

    def _invoke(self, command: Command) -> Answer:
        handler = self.handler_for(type(command))
        if handler is None:
            fqcn = type(command).FQCN or type(command).__name__
            return UnsupportedAnswer.for_command(fqcn)
        with deadline.deadline_scope(command.wait if command.wait > 0 else None):
            answer = handler(command)
        if not isinstance(answer, Answer):
            raise TypeError(f"handler for {type(command).__name__} returned {type(answer).__name__}, not an Answer")
        return answer

    def dispatch(self, command: Command) -> Answer:
        """Run ``command``'s handler and return its Answer; never raises."""
        try:
            return redact_secrets(self._chain(command))  # answers echo what came in: no secret goes back
        except OperationTimeoutError as exc:
            return failed_answer(exc)
        except Exception as exc:
            if not isinstance(exc, CSHyperVError):
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                log.error("handler for %s failed:\n%s", type(command).__name__, redact_text(text).rstrip())
            entry = self._entry(type(command))
            return failed_answer(exc, answer_type=Answer if entry is None else entry[1])

    def dispatch_batch(self, commands: Iterable[Command], *, stop_on_error: bool = False) -> list[Answer]:
        """Run commands in order, as DirectAgentAttache does: one answer each, and with
        ``stop_on_error`` nothing after the first failed answer (the list is shorter)."""
        answers = []
        for command in commands:
            answer = self.dispatch(command)
            answers.append(answer)
            if stop_on_error and not answer.result:
                break
        return answers


def _wrap(middleware: Middleware, call_next: Callable[[Command], Answer]) -> Callable[[Command], Answer]:
    def call(command: Command) -> Answer:
        return middleware(command, call_next)

    return call


def logging_middleware(logger: logging.Logger | None = None) -> Middleware:
    """Log each command's class, result and duration (never its contents: they hold secrets)."""
    target = logger or logging.getLogger("cshyperv.commands")

    def middleware(command: Command, call_next: Callable[[Command], Answer]) -> Answer:
        started = time.perf_counter()
        answer = call_next(command)
        target.info(
            "%s result=%s %.1f ms", type(command).__name__, answer.result, (time.perf_counter() - started) * 1000
        )
        return answer

    return middleware
