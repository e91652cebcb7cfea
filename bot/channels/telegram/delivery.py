"""Sending replies to Telegram: rendering, splitting, bounded retry, the lost-reply log."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import ContextTypes

from bot.channels.render import render_parts
from bot.channels.telegram.keyboards import coalesce, keyboard
from bot.core.dialogue import Outcome
from bot.core.replies import Reply
from bot.ops.metrics import Metrics, ReplyResult, RetryReason

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEND_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0


@dataclass(slots=True)
class Delivery:
    """What the channel knows about sending: for retries and for the lost-reply log."""

    sent: int = 0
    lost: int = 0


class DeliveryMixin:
    """The sending half of the channel: every Bot API call that delivers something."""

    delivery: Delivery
    metrics: Metrics | None

    async def _send_all(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, outcome: Outcome
    ) -> str | None:
        """Send every reply; return the id of the last message that carries buttons."""
        prompt: str | None = None
        for reply in coalesce(outcome.replies):
            message = await self._send(context, chat_id, reply, version=outcome.session.version)
            if message is not None and reply.buttons:
                prompt = str(message.message_id)
        return prompt

    async def _send(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        reply: Reply,
        *,
        version: int,
    ) -> Message | None:
        """Send one reply (split if long), buttons on the last part; retry; log what's lost."""
        parts = render_parts(reply.text) or ["…"]
        message: Message | None = None
        for i, part in enumerate(parts):
            markup = keyboard(reply.buttons, version) if i == len(parts) - 1 else None
            message = await self._send_html(context, chat_id, part, markup)
            if message is None:
                return None
        return message

    async def _send_html(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> Message | None:
        try:
            message = await self._with_retry(
                lambda: context.bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
                ),
                what=f"reply to chat {chat_id}",
            )
        except Forbidden:
            # Blocked by the user, or removed from the group: nobody to deliver to, no bug.
            logger.info("chat %s does not accept messages from the bot; reply dropped", chat_id)
            if self.metrics is not None:
                self.metrics.replies.labels(result=ReplyResult.BLOCKED.value).inc()
            return None
        except BadRequest as err:
            if "parse entities" not in str(err):
                raise
            # Should never happen (everything is escaped); if it does, plain text still helps.
            logger.error("Telegram refused our HTML (%s); sending plain text", err)
            message = await self._with_retry(
                lambda: context.bot.send_message(
                    chat_id, html.unescape(re.sub(r"<[^>]+>", "", text)), reply_markup=markup
                ),
                what=f"plain reply to chat {chat_id}",
            )
        if message is None:
            self.delivery.lost += 1
            logger.error("LOST reply to chat %s: %.200r", chat_id, text)
        else:
            self.delivery.sent += 1
        if self.metrics is not None:
            result = ReplyResult.LOST if message is None else ReplyResult.SENT
            self.metrics.replies.labels(result=result.value).inc()
        return message

    async def _with_retry(self, call: Callable[[], Awaitable[T]], *, what: str) -> T | None:
        """Retry 429s (after retry_after) and network errors/5xx (with backoff), bounded."""
        delay = BACKOFF_SECONDS
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await call()
            except RetryAfter as err:
                wait = _seconds(err.retry_after)
                logger.info("%s: rate limited, retrying in %.1fs", what, wait)
                self._count_retry(RetryReason.RATE_LIMITED)
                await asyncio.sleep(wait)
            except (BadRequest, Forbidden):
                raise
            except NetworkError as err:
                if attempt == SEND_ATTEMPTS:
                    logger.error("%s failed after %d attempts: %s", what, attempt, err)
                    self._count_given_up()
                    return None
                # DEBUG: an outage is one WARNING from the Bot API observer, not one per retry.
                logger.debug("%s: %s; retry %d in %.1fs", what, err, attempt, delay)
                self._count_retry(RetryReason.NETWORK)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        logger.error("%s failed after %d attempts", what, SEND_ATTEMPTS)
        self._count_given_up()
        return None

    def _count_retry(self, reason: RetryReason) -> None:
        if self.metrics is not None:
            self.metrics.send_retries.labels(reason=reason.value).inc()

    def _count_given_up(self) -> None:
        if self.metrics is not None:
            self.metrics.sends_given_up.inc()

    async def _clear_buttons(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int
    ) -> None:
        """Remove a message's inline keyboard; 'not modified' and 'not found' are fine."""
        try:
            await self._with_retry(
                lambda: context.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message_id, reply_markup=None
                ),
                what=f"clear buttons in chat {chat_id}",
            )
        except BadRequest as err:
            logger.debug("clearing buttons in chat %s: %s", chat_id, err)
        except Forbidden:
            logger.info("chat %s blocked the bot", chat_id)

    async def _answer_query(self, query: Any, text: str | None = None) -> None:
        try:
            await self._with_retry(lambda: query.answer(text), what="callback answer")
        except BadRequest as err:
            logger.debug("callback answer refused: %s", err)


@dataclass(slots=True)
class _BotContext:
    """The one attribute of a PTB context that sending needs, for code paths without one."""

    bot: Any


async def _together(*calls: Awaitable[Any]) -> list[Any]:
    """Await independent calls concurrently; once all are done, raise the first error."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
