"""The Bot API seen from operations: every HTTP call observed, and a patient start-up.

``ObservedRequest`` is python-telegram-bot's HTTPX request with one hook: each call's outcome
feeds the metrics (results, 429s), the readiness check (Bot API reachable recently) and the
network-episode log (one WARNING per outage instead of a traceback per retry).

``wait_for_bot_api`` runs before the application starts: with the Bot API unreachable it
retries ``getMe`` with backoff, one log line per attempt; a rejected token is a ConfigError
(exit code 2, one line).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.request import HTTPXRequest

from bot.errors import ConfigError
from bot.ops.health import Health
from bot.ops.logging import NetworkEpisode, describe_error
from bot.ops.metrics import ApiResult, Metrics

logger = logging.getLogger("bot.bot_api")

START_BACKOFF_SECONDS = 1.0
MAX_START_BACKOFF_SECONDS = 60.0


class ApiObserver:
    """Where the outcome of each Bot API call goes: metrics, health and the episode log."""

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        health: Health | None = None,
        episode: NetworkEpisode | None = None,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.episode = episode or NetworkEpisode("Bot API", logger=logger)

    def answered(self, status: int) -> None:
        """The Bot API answered with this HTTP status."""
        if status == 429:
            result = ApiResult.RATE_LIMITED
        elif status >= 500:
            result = ApiResult.SERVER_ERROR
        elif status >= 400:
            result = ApiResult.CLIENT_ERROR
        else:
            result = ApiResult.OK
        if self.metrics is not None:
            self.metrics.api_requests.labels(result=result.value).inc()
            if result is ApiResult.RATE_LIMITED:
                self.metrics.rate_limited.inc()
        if result is ApiResult.SERVER_ERROR:
            # A 502 from Telegram's front is an outage as much as a refused connection.
            self._unreachable(f"HTTP {status}")
            return
        if self.health is not None:
            self.health.api_ok()
        self.episode.recovered()

    def failed(self, err: BaseException) -> None:
        """The call never got an HTTP answer (connection refused, timeout...)."""
        if self.metrics is not None:
            self.metrics.api_requests.labels(result=ApiResult.NETWORK_ERROR.value).inc()
        self._unreachable(describe_error(err))

    def _unreachable(self, reason: str) -> None:
        if self.health is not None:
            self.health.api_failed(reason)
        self.episode.failed(reason)


class ObservedRequest(HTTPXRequest):
    """PTB's HTTPX request, reporting every call's outcome to an ``ApiObserver``."""

    def __init__(self, observer: ApiObserver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.observer = observer

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Make the call; tell the observer how it went."""
        try:
            status, payload = await super().do_request(*args, **kwargs)
        except (NetworkError, OSError) as err:
            self.observer.failed(err)
            raise
        self.observer.answered(status)
        return status, payload


async def wait_for_bot_api(
    probe: Callable[[], Awaitable[Any]],
    *,
    where: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    backoff: float = START_BACKOFF_SECONDS,
    max_backoff: float = MAX_START_BACKOFF_SECONDS,
    max_attempts: int | None = None,
) -> Any:
    """Call ``probe`` (``getMe``) until it succeeds; one WARNING line per failed attempt.

    A rejected token raises ConfigError at once; ``max_attempts`` (None: forever) bounds the
    wait for callers that prefer to give up.
    """
    attempt = 0
    delay = backoff
    while True:
        attempt += 1
        try:
            result = await probe()
        except InvalidToken:
            # PTB's message quotes the token: say which variable is wrong, not what it holds.
            raise ConfigError(
                f"TELEGRAM_BOT_TOKEN was rejected by the Bot API at {where}; check the token "
                "from @BotFather"
            ) from None
        except (NetworkError, OSError) as err:
            if max_attempts is not None and attempt >= max_attempts:
                raise ConfigError(
                    f"the Bot API at {where} is unreachable after {attempt} attempts "
                    f"({describe_error(err)})"
                ) from None
            logger.warning(
                "Bot API at %s unreachable (%s); start-up attempt %d, retrying in %.0fs",
                where,
                describe_error(err),
                attempt,
                delay,
            )
            await sleep(delay)
            delay = min(delay * 2, max_backoff)
            continue
        except TelegramError as err:
            raise ConfigError(f"the Bot API at {where} refused getMe: {err}") from None
        if attempt > 1:
            logger.info("Bot API at %s reachable after %d attempts", where, attempt)
        return result


def probe_get_me(token: str, base_url: str) -> Callable[[], Awaitable[Any]]:
    """A start-up probe: ``getMe`` with a throwaway client (the application makes its own)."""

    async def get_me() -> Any:
        async with Bot(token, base_url=base_url, request=HTTPXRequest()) as bot:
            return bot.bot

    return get_me


def api_origin(api_url: str) -> str:
    """The Bot API URL without the token or path, safe to log (``https://api.telegram.org``)."""
    scheme, _, rest = api_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
