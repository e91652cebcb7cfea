"""The per-update line: one INFO line per update, what an operator needs, never user text."""

from __future__ import annotations

import logging

import pytest

from bot.ops.logging import Pseudonyms
from bot.ops.metrics import Metrics, UpdateKind
from bot.ops.updates import UpdateObserver, current_trace
from tests.ops.test_metrics import value


@pytest.fixture
def observer() -> UpdateObserver:
    metrics = Metrics(topics=["mailbox-full", "pop-deletion"], process=False)
    return UpdateObserver(
        pseudonyms=Pseudonyms("salt-of-the-test-run"), metrics=metrics, clock=lambda: 1000.0
    )


def update_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.updates"]


def test_one_info_line_with_kind_chat_decision_topic_state_and_time(
    observer: UpdateObserver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    with observer.observe(kind=UpdateKind.TEXT, chat_id=555, sent_at=997.0) as trace:
        trace.note_decision("answer", "mailbox-full")
        trace.note_state("idle", "guide")

    [record] = update_lines(caplog)
    message = record.getMessage()
    assert record.levelno == logging.INFO
    assert message.startswith(f"update kind=text chat={Pseudonyms('salt-of-the-test-run')(555)} ")
    assert "decision=answer topic=mailbox-full state=idle->guide ms=" in message
    assert "555" not in message
    assert record.kind == "text"
    assert record.state_to == "guide"
    assert isinstance(record.handling_ms, float)


def test_code_deeper_down_annotates_the_current_trace(
    observer: UpdateObserver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    def conversation() -> None:
        trace = current_trace()
        assert trace is not None
        trace.note_decision("none", None)

    with observer.observe(kind=UpdateKind.TEXT, chat_id=1):
        conversation()

    assert current_trace() is None
    assert "decision=none" in update_lines(caplog)[0].getMessage()


def test_each_kind_and_decision_is_counted_with_lag_and_time(observer: UpdateObserver) -> None:
    metrics = observer.metrics
    assert metrics is not None

    with observer.observe(kind=UpdateKind.COMMAND, chat_id=1, sent_at=940.0) as trace:
        trace.note_command("stats")
    with observer.observe(kind=UpdateKind.TEXT, chat_id=1) as trace:
        trace.note_decision("clarify", "pop-deletion")
        trace.note_state("idle", "clarify")
    with observer.observe(kind=UpdateKind.INLINE_QUERY, chat_id=None):
        pass

    assert value(metrics, "alimail_bot_updates_total", kind="command") == 1
    assert value(metrics, "alimail_bot_updates_total", kind="text") == 1
    assert value(metrics, "alimail_bot_updates_total", kind="inline_query") == 1
    assert value(metrics, "alimail_bot_commands_total", command="stats") == 1
    assert (
        value(metrics, "alimail_bot_decisions_total", decision="clarify", topic="pop-deletion")
        == 1
    )
    assert (
        value(metrics, "alimail_bot_state_changes_total", from_state="idle", to_state="clarify")
        == 1
    )
    assert value(metrics, "alimail_bot_update_lag_seconds_count") == 1
    assert value(metrics, "alimail_bot_update_lag_seconds_sum") == 60.0
    assert value(metrics, "alimail_bot_handle_seconds_count", kind="text") == 1


def test_a_failing_update_still_logs_its_line_and_counts_the_error(
    observer: UpdateObserver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    with pytest.raises(RuntimeError), observer.observe(kind=UpdateKind.BUTTON, chat_id=2):
        raise RuntimeError("bug")

    assert "error=RuntimeError" in update_lines(caplog)[0].getMessage()
    assert observer.metrics is not None
    assert value(observer.metrics, "alimail_bot_update_errors_total") == 1
