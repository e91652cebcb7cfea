"""The Bot API seen by operations: calls observed, and a patient start-up with one line per try."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.errors import ConfigError
from bot.ops.bot_api import ApiObserver, ObservedRequest, api_origin, wait_for_bot_api
from bot.ops.health import Health
from bot.ops.metrics import Metrics
from tests.helpers.fake_bot_api import FakeBotApi
from tests.ops.test_metrics import value

os.environ["PTB_TIMEDELTA"] = "true"


class Probe:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "me"


def test_start_up_retries_with_backoff_and_one_warning_line_per_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    probe = Probe(*(NetworkError("httpx.ConnectError: All connection attempts failed"),) * 4)
    caplog.set_level(logging.INFO, logger="bot.bot_api")

    result = asyncio.run(
        wait_for_bot_api(probe, where="http://127.0.0.1:9", sleep=sleep, backoff=1, max_backoff=4)
    )

    assert result == "me"
    assert slept == [1, 2, 4, 4]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert warnings[0].getMessage() == (
        "Bot API at http://127.0.0.1:9 unreachable (NetworkError: httpx.ConnectError: All "
        "connection attempts failed); start-up attempt 1, retrying in 1s"
    )
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
    assert caplog.records[-1].getMessage().endswith("reachable after 5 attempts")


def test_a_rejected_token_stops_start_up_at_once_with_a_config_error() -> None:
    probe = Probe(TimedOut(), InvalidToken("Unauthorized: 123:SECRET"))

    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN was rejected") as caught:
        asyncio.run(wait_for_bot_api(probe, where="https://api.telegram.org", sleep=sleep))

    assert "SECRET" not in str(caught.value)
    assert probe.calls == 2


def test_start_up_can_give_up_after_a_bounded_number_of_attempts() -> None:
    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(ConfigError, match="unreachable after 3 attempts"):
        asyncio.run(
            wait_for_bot_api(Probe(*[OSError("down")] * 5), where="x", sleep=sleep, max_attempts=3)
        )


def test_api_origin_never_contains_the_token() -> None:
    assert api_origin("https://api.telegram.org/bot") == "https://api.telegram.org"
    assert api_origin("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081"


def test_observed_requests_count_429s_and_mark_the_api_reachable(
    fake_bot_api: FakeBotApi,
) -> None:
    metrics = Metrics(process=False)
    health = Health()
    request = ObservedRequest(ApiObserver(metrics=metrics, health=health))
    fake_bot_api.fail_next("sendMessage", status=429, retry_after=0.01)
    fake_bot_api.add_chat(1)

    async def scenario() -> None:
        async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url, request=request) as bot:
            with pytest.raises(RetryAfter):
                await bot.send_message(1, "hi")
            await bot.send_message(1, "hi")

    asyncio.run(scenario())

    assert value(metrics, "alimail_bot_rate_limited_total") == 1
    assert value(metrics, "alimail_bot_api_requests_total", result="rate_limited") == 1
    assert value(metrics, "alimail_bot_api_requests_total", result="ok") >= 2  # getMe, send
    assert health.report().checks["bot_api"] is True


def test_an_unreachable_bot_api_is_one_warning_and_not_ready(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(process=False)
    health = Health()
    request = ObservedRequest(ApiObserver(metrics=metrics, health=health))
    caplog.set_level(logging.DEBUG, logger="bot.bot_api")

    async def scenario() -> None:
        await request.initialize()
        try:
            for _ in range(3):
                with pytest.raises(NetworkError):
                    await request.post("http://127.0.0.1:9/bot1:x/getMe")
        finally:
            await request.shutdown()

    asyncio.run(scenario())

    assert value(metrics, "alimail_bot_api_requests_total", result="network_error") == 3
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["WARNING"]
    assert health.report().details["bot_api"].endswith("All connection attempts failed")
