"""The dispatcher never raises, maps failures to CloudStack answers, runs batches like DirectAgentAttache."""

from __future__ import annotations

import logging
import types

import pytest

from cshyperv import deadline
from cshyperv.commands import (
    Answer,
    CheckHealthAnswer,
    CheckHealthCommand,
    ReadyCommand,
    StopCommand,
    UnsupportedAnswer,
)
from cshyperv.dispatch import Dispatcher, logging_middleware
from cshyperv.errors import OperationTimeoutError, VmNotFoundError


def test_unknown_command_gets_unsupported_answer() -> None:
    answer = Dispatcher().dispatch(ReadyCommand())
    assert isinstance(answer, UnsupportedAnswer) and not answer.result
    assert answer.details == (
        "Unsupported command issued: com.cloud.agent.api.ReadyCommand.  Are you sure you got the right type of server?"
    )


def test_foreign_exceptions_become_failed_answers_without_their_text() -> None:
    def boom(cmd: object) -> Answer:
        raise RuntimeError("cifs://h/s?password=S3cret leaked")

    answer = Dispatcher({ReadyCommand: boom}).dispatch(ReadyCommand())
    assert not answer.result and answer.details == "internal error (RuntimeError)"


def test_cshyperv_errors_keep_their_message_with_secrets_redacted() -> None:
    def missing(cmd: object) -> Answer:
        raise VmNotFoundError("i-2-3-VM")

    def leaky(cmd: object) -> Answer:
        raise VmNotFoundError("cifs://h/s?password=S3cret")

    assert Dispatcher({ReadyCommand: missing}).dispatch(ReadyCommand()).details == "VM 'i-2-3-VM' not found"
    assert "S3cret" not in (Dispatcher({ReadyCommand: leaky}).dispatch(ReadyCommand()).details or "")


def test_handlers_are_found_up_the_class_hierarchy() -> None:
    from cshyperv.commands import RebootCommand

    dispatcher = Dispatcher({RebootCommand: lambda c: Answer(result=True, details="reboot handler")})
    assert dispatcher.dispatch(StopCommand()).details == "reboot handler"  # StopCommand extends RebootCommand


def test_wait_becomes_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock that does not move: the remaining time is exact, whatever the machine's load.
    monkeypatch.setattr(deadline, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    seen: list[float | None] = []

    def handler(cmd: object) -> Answer:
        seen.append(deadline.remaining())
        deadline.check()
        return CheckHealthAnswer()

    Dispatcher({CheckHealthCommand: handler}).dispatch(CheckHealthCommand())  # wait defaults to 50
    assert seen[0] == 50
    Dispatcher({ReadyCommand: handler}).dispatch(ReadyCommand())  # wait 0: no deadline
    assert seen[1] is None

    def slow(cmd: object) -> Answer:
        raise OperationTimeoutError("StartCommand did not finish before its deadline")

    answer = Dispatcher({ReadyCommand: slow}).dispatch(ReadyCommand())
    assert not answer.result and "deadline" in (answer.details or "")


def test_batches_stop_on_error_like_direct_agent_attache() -> None:
    ok = Dispatcher({CheckHealthCommand: lambda c: CheckHealthAnswer()})
    batch = [CheckHealthCommand(), ReadyCommand(), CheckHealthCommand()]
    assert [a.result for a in ok.dispatch_batch(batch)] == [True, False, True]
    assert [a.result for a in ok.dispatch_batch(batch, stop_on_error=True)] == [True, False]


def test_middleware_wraps_every_dispatch(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def outer(cmd: object, call_next: object) -> Answer:
        calls.append("outer")
        return call_next(cmd)  # type: ignore[operator,no-any-return]

    dispatcher = Dispatcher({CheckHealthCommand: lambda c: CheckHealthAnswer()}, middleware=[outer])
    dispatcher.add_middleware(logging_middleware(logging.getLogger("test.cmds")))
    with caplog.at_level(logging.INFO, logger="test.cmds"):
        assert dispatcher.dispatch(CheckHealthCommand()).result
    assert calls == ["outer"] and "CheckHealthCommand result=True" in caplog.text


def test_deadline_scopes_nest_and_never_extend() -> None:
    with deadline.deadline_scope(10):
        outer = deadline.current_deadline()
        with deadline.deadline_scope(100):
            assert deadline.current_deadline() == outer
        with deadline.deadline_scope(1):
            assert deadline.current_deadline() < outer  # type: ignore[operator]
    assert deadline.current_deadline() is None
