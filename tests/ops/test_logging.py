"""Logging: JSON lines parse, libraries stay quiet, user text only when allowed, no tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import LogFormat
from bot.core.privacy import pseudonym
from bot.ops.logging import (
    NetworkEpisode,
    Pseudonyms,
    configure_logging,
    describe_error,
    log_user_text,
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Route the bot's log handler into a buffer; restore the loggers afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, {n: logging.getLogger(n).level for n in ("telegram", "httpx")})
    yield buffer
    for handler in [h for h in root.handlers if getattr(h, "_alimail_bot", False)]:
        root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger("bot.user_text").disabled = False
    logging.captureWarnings(False)


def configure(
    stream: io.StringIO, *, level: str = "INFO", fmt: LogFormat, user_text: bool = False
) -> None:
    configure_logging(
        level=level, log_format=fmt, user_text=user_text, handler=logging.StreamHandler(stream)
    )


def test_json_logs_parse_line_by_line_with_the_extra_fields(stream: io.StringIO) -> None:
    configure(stream, fmt=LogFormat.JSON)
    log = logging.getLogger("bot.test")

    log.info("update %s", "kind=text", extra={"kind": "text", "handling_ms": 12.5})
    log.warning('quotes " and newlines\nin a message')
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")

    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 3
    assert records[0]["message"] == "update kind=text"
    assert records[0]["kind"] == "text"
    assert records[0]["handling_ms"] == 12.5
    assert records[0]["level"] == "INFO"
    assert records[0]["logger"] == "bot.test"
    assert "time" in records[0]
    assert records[1]["message"] == 'quotes " and newlines\nin a message'
    assert "ValueError: boom" in records[2]["exc_info"]


def test_text_logs_are_one_line_per_record(stream: io.StringIO) -> None:
    configure(stream, fmt=LogFormat.TEXT)

    logging.getLogger("bot.test").info("hello %d", 3)

    assert stream.getvalue().endswith("INFO bot.test: hello 3\n")


def test_python_telegram_bots_debug_dumps_are_suppressed_even_at_debug(
    stream: io.StringIO,
) -> None:
    configure(stream, level="DEBUG", fmt=LogFormat.TEXT)

    logging.getLogger("telegram.ext.Application").debug("Processing update {'text': 'secret'}")
    logging.getLogger("telegram.Bot").debug("Calling Bot API endpoint `getUpdates`")
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:abc/x")
    logging.getLogger("bot.test").debug("our own debug line")

    assert "secret" not in stream.getvalue()
    assert "getUpdates" not in stream.getvalue()
    assert "bot123" not in stream.getvalue()
    assert "our own debug line" in stream.getvalue()


@pytest.mark.parametrize(
    ("level", "user_text", "logged"),
    [("DEBUG", True, True), ("DEBUG", False, False), ("INFO", True, False)],
    ids=["debug-and-on", "debug-but-off", "on-but-info"],
)
def test_user_text_is_logged_only_at_debug_with_the_switch_on(
    stream: io.StringIO, level: str, user_text: bool, logged: bool
) -> None:
    configure(stream, level=level, fmt=LogFormat.TEXT, user_text=user_text)

    log_user_text("3f2a", "my password is hunter2")

    assert ("hunter2" in stream.getvalue()) is logged


def test_a_network_outage_is_one_warning_and_one_recovery_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = iter([0.0, 95.0]).__next__
    episode = NetworkEpisode("Bot API", logger=logging.getLogger("bot.test"), clock=clock)
    caplog.set_level(logging.DEBUG, logger="bot.test")

    for _ in range(20):
        episode.failed(ConnectionError("connection refused"))
    episode.recovered()
    episode.recovered()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == (
        "Bot API unreachable (ConnectionError: connection refused); retrying quietly"
    )
    assert [r.getMessage() for r in infos] == [
        "Bot API reachable again after 95s (20 failed calls)"
    ]
    assert all(r.exc_info is None for r in caplog.records)


def test_describe_error_is_one_line_with_the_cause() -> None:
    try:
        try:
            raise OSError("[Errno 111] Connection refused")
        except OSError as inner:
            raise RuntimeError("httpx.ConnectError\nsecond line") from inner
    except RuntimeError as err:
        line = describe_error(err)

    assert line == (
        "RuntimeError: httpx.ConnectError second line (OSError: [Errno 111] Connection refused)"
    )


def test_log_pseudonyms_are_the_event_logs_and_never_the_chat_id() -> None:
    names = Pseudonyms("s" * 20, fallback_secret="123:token")

    assert names(42) == names("42") == pseudonym("42", "s" * 20)
    assert names(42) != names(43)
    assert names(42) != Pseudonyms("t" * 20)(42)
    assert Pseudonyms("", fallback_secret="123:token")(42).startswith("p")
    assert Pseudonyms("", fallback_secret="1:a")(42) != Pseudonyms("", fallback_secret="2:b")(42)
