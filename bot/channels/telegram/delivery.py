"""Sending to Telegram: one owner for retries, and the outbox flushed call by call.

Send policy (``SendPolicy.call``): a 429 pauses every send for its ``retry_after`` and is
retried here, and only here (PTB's rate limiter only paces, ``max_retries=0``). A failure
that proves the request never reached Telegram (connection refused or reset before writing,
connect or pool timeout) or that Telegram answered with a 5xx is retried with backoff, a
bounded number of times. A request that may have been received (read timeout, connection
dropped while waiting for the answer) is retried only if repeating it is harmless (edits,
callback answers); a ``sendMessage`` is then *not* repeated: ``MaybeDelivered``.

Outbox (``DeliveryMixin._flush``): the calls an update owes were saved with its session; each
is made in order, then removed from the record with its bookkeeping (the new live keyboard's
message id) in one store write. A crash between a call and that write repeats one call after
the restart: the "at most one duplicate" of the guarantees. A call that keeps failing stays
in the outbox and is retried later; after ``OUTBOX_ATTEMPTS`` it is given up, counted and
logged once.

Clean-ups (removing an old keyboard, ``OutKind.CLEAR``) come after replies: a chat's replies
are made first, and its clean-ups only when the send policy has spare capacity (no other call
in flight). Otherwise they stay in the outbox and the conversation is handed to
``clean_later``, which schedules it again once sending is idle; the chat's next update is not
held behind them. Before each call the outbox is tidied (``tidy``): a clean-up of the live
keyboard, or of a message a later call edits, is dropped, and two of one message become one.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ContextTypes

from bot.channels.render import render_parts
from bot.channels.telegram.keyboards import keyboard
from bot.core.replies import Reply
from bot.errors import StoreError
from bot.ops.metrics import Metrics, ReplyResult, RetryReason
from bot.store.aio import LEASE, AsyncStore
from bot.store.outbox import ChatRecord, Outgoing, OutKind

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEND_ATTEMPTS = 4  # per flush: quick retries of a call that surely did not arrive
BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 4.0
OUTBOX_ATTEMPTS = 5  # flushes of one outbox entry before it is given up
OUTBOX_RETRY_SECONDS = 2.0
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_FLOODS = 10  # 429 waits for one call before it is left in the outbox for later


# Causes that prove a request was never written to Telegram: safe to repeat anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class SendFailed(Exception):
    """The call did not get through after the quick retries; it can be tried again later."""


class MaybeDelivered(Exception):
    """A non-repeatable call may have reached Telegram; repeating it could duplicate it."""


@dataclass(slots=True)
class Delivery:
    """Counts of what happened to the bot's messages, for the log and the stop line."""

    sent: int = 0
    lost: int = 0  # given up after every retry
    uncertain: int = 0  # timed out after being written: probably delivered, not repeated


def tidy(outbox: tuple[Outgoing, ...], prompt_ref: str | None) -> tuple[Outgoing, ...]:
    """The outbox without clean-ups that must not (or need not) happen.

    A clean-up is dropped if its message carries the live keyboard (``prompt_ref``), if a later
    call edits the same message (the edit sets its keyboard), or if it repeats an earlier one.
    """
    kept: list[Outgoing] = []
    cleared: set[int] = set()
    for n, item in enumerate(outbox):
        if item.kind is OutKind.CLEAR and item.message_id is not None:
            target = item.message_id
            later_edit = any(
                o.kind is not OutKind.CLEAR and o.message_id == target for o in outbox[n + 1 :]
            )
            if target in cleared or str(target) == prompt_ref or later_edit:
                continue
            cleared.add(target)
        kept.append(item)
    return tuple(kept)


def next_call(outbox: tuple[Outgoing, ...]) -> int:
    """Index of the call to make next: the first reply, else the first clean-up."""
    for n, item in enumerate(outbox):
        if item.kind is not OutKind.CLEAR:
            return n
    return 0


def _crossed_off(record: ChatRecord, item: Outgoing, message_id: int | None) -> ChatRecord:
    """The record without the call just made, the live keyboard noted if it showed one."""
    assert record.session is not None
    session = record.session
    if item.prompt and message_id is not None:
        session = replace(session, prompt_ref=str(message_id))
    outbox = list(record.outbox)
    if item in outbox:
        outbox.remove(item)
    return replace(record, session=session, outbox=tuple(outbox))


def _surely_not_sent(err: NetworkError) -> bool:
    """True when the request cannot have been acted on by Telegram."""
    cause = err.__cause__
    if isinstance(err, TimedOut):
        return isinstance(cause, _NOT_SENT)
    # No httpx cause: Telegram answered, with an error status (5xx): nothing was done.
    return cause is None or isinstance(cause, _NOT_SENT)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


class SendPolicy:
    """The one place that retries Bot API calls (see the module docstring)."""

    def __init__(
        self,
        *,
        attempts: int = SEND_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.metrics = metrics
        self._resume_at = 0.0  # monotonic time before which nothing is sent (after a 429)
        self._in_flight = 0  # calls under way (replies, edits, answers)
        self._cleanups = 0  # low-priority calls under way
        self._spare: asyncio.Event | None = None

    @property
    def spare(self) -> bool:
        """True when nothing is being sent: a low-priority call would wait for nobody."""
        return self._in_flight == 0 and self._cleanups == 0 and time.monotonic() >= self._resume_at

    async def wait_spare(self) -> None:
        """Wait until ``spare``."""
        while not self.spare:
            if self._spare is None:
                self._spare = asyncio.Event()
            self._spare.clear()
            delay = self._resume_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await self._spare.wait()

    async def _wait_for_flood_control(self) -> None:
        # A later 429 may push the resume time further while we sleep: check again after.
        delay = self._resume_at - time.monotonic()
        while delay > 0:
            await asyncio.sleep(delay)
            delay = self._resume_at - time.monotonic()

    async def call(
        self,
        make: Callable[[], Awaitable[T]],
        *,
        what: str,
        repeatable: bool = True,
        cleanup: bool = False,
    ) -> T:
        """Make one call; raise SendFailed, MaybeDelivered, BadRequest or Forbidden.

        ``cleanup``: a low-priority call (see ``spare``); it is counted apart from the rest.
        """
        if cleanup:
            self._cleanups += 1
        else:
            self._in_flight += 1
        try:
            return await self._call(make, what=what, repeatable=repeatable)
        finally:
            if cleanup:
                self._cleanups -= 1
            else:
                self._in_flight -= 1
            if self._spare is not None and self.spare:
                self._spare.set()

    async def _call(self, make: Callable[[], Awaitable[T]], *, what: str, repeatable: bool) -> T:
        delay = self.backoff
        failures = 0
        floods = 0
        while True:
            await self._wait_for_flood_control()
            try:
                return await make()
            except RetryAfter as err:
                # Flow control, not a failure: wait as told (bounded), then try again.
                floods += 1
                if floods > MAX_FLOODS:
                    self._count(given_up=True)
                    raise SendFailed(f"{what}: still rate limited after {floods} waits") from err
                wait = min(_seconds(err.retry_after), MAX_RETRY_AFTER_SECONDS)
                logger.warning("%s: rate limited, every send waits %.1fs", what, wait)
                self._count(retry=RetryReason.RATE_LIMITED)
                self._resume_at = max(self._resume_at, time.monotonic() + wait)
            except (BadRequest, Forbidden):
                raise
            except NetworkError as err:
                if not repeatable and not _surely_not_sent(err):
                    raise MaybeDelivered(f"{what}: {err}") from err
                failures += 1
                if failures >= self.attempts:
                    self._count(given_up=True)
                    raise SendFailed(f"{what}: {err}") from err
                # DEBUG: an outage is one WARNING from the Bot API observer, not one per retry.
                logger.debug("%s: %s; retry %d in %.2fs", what, err, failures, delay)
                self._count(retry=RetryReason.NETWORK)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    def _count(self, *, retry: RetryReason | None = None, given_up: bool = False) -> None:
        if self.metrics is None:
            return
        if retry is not None:
            self.metrics.send_retries.labels(reason=retry.value).inc()
        if given_up:
            self.metrics.sends_given_up.inc()


class DeliveryMixin:
    """The sending half of the channel: every Bot API call that delivers something."""

    delivery: Delivery
    metrics: Metrics | None
    policy: SendPolicy
    store: AsyncStore
    retry_later: Callable[[str, float], None]
    # Schedules a conversation's clean-ups for when sending is idle; None: make them at once.
    clean_later: Callable[[str], None] | None
    outbox_retry_seconds: float

    # -- the outbox --------------------------------------------------------------------------

    async def _flush(self, bot: Any, record: ChatRecord) -> ChatRecord:
        """Make the calls the record owes, in order, saving after each; return the record."""
        while record.outbox and record.session is not None:
            tidied = tidy(record.outbox, record.session.prompt_ref)
            if tidied != record.outbox:
                record = replace(record, outbox=tidied)
                if not tidied:
                    if await self._save_bookkeeping(record):
                        record = replace(record, revision=(record.revision or 0) + 1)
                    return record
            index = next_call(record.outbox)
            item = record.outbox[index]
            deferrable = item.kind is OutKind.CLEAR and self.clean_later is not None
            if deferrable and not self.policy.spare:
                # Only clean-ups are left: they wait for spare capacity, not this chat.
                assert self.clean_later is not None
                self.clean_later(record.key)
                return record
            try:
                message_id = await self._perform(bot, item)
            except SendFailed as err:
                failed = replace(item, attempts=item.attempts + 1)
                if failed.attempts < OUTBOX_ATTEMPTS:
                    logger.warning(
                        "%s; kept in the outbox (attempt %d of %d)",
                        err,
                        failed.attempts,
                        OUTBOX_ATTEMPTS,
                    )
                    outbox = list(record.outbox)
                    outbox[index] = failed
                    kept = replace(record, outbox=tuple(outbox))
                    if await self._save_bookkeeping(kept):
                        delay = self.outbox_retry_seconds * 2 ** (failed.attempts - 1)
                        self.retry_later(record.key, delay)
                    return kept
                self._tally("lost")
                logger.error(
                    "LOST %s to chat %s after %d attempts: %.200r",
                    item.kind.value,
                    item.chat_id,
                    failed.attempts,
                    item.text,
                )
                message_id = None
            except MaybeDelivered as err:
                # Probably delivered (Telegram got the request); repeating it could show
                # the user the same message twice.
                self._tally("uncertain")
                logger.warning("%s: may have been delivered; not repeated", err)
                message_id = None
            done = _crossed_off(record, item, message_id)
            if not await self._save_bookkeeping(done):
                # Changed meanwhile (a staff action, another write): cross it off the newer one.
                current = await self._reload(record.key)
                if current is None or current.session is None:
                    return record
                done = _crossed_off(current, item, message_id)
                if not await self._save_bookkeeping(done):
                    return current
                record = current
            record = replace(done, revision=(record.revision or 0) + 1)
        return record

    async def _reload(self, key: str) -> ChatRecord | None:
        try:
            return await self.store.load(key)
        except StoreError as err:
            logger.warning("chat %s: outbox not updated: %s", key, err)
            return None

    async def _save_bookkeeping(self, record: ChatRecord) -> bool:
        """Save a record after a call; False if it changed meanwhile or cannot be saved."""
        try:
            saved = await self.store.save(record, token=LEASE.get())
        except StoreError as err:
            # The call is made but not crossed off: it is repeated once the store is back.
            logger.warning("chat %s: outbox not updated: %s", record.key, err)
            return False
        if not saved:
            logger.info(
                "chat %s changed while its outbox was sent; the newer write wins", record.key
            )
        return saved

    async def _perform(self, bot: Any, item: Outgoing) -> int | None:
        """Make one outbox call; return the id of the message it showed, if any."""
        markup = None
        if item.markup is not None:
            markup = InlineKeyboardMarkup.de_json(json.loads(item.markup), bot)
        try:
            if item.kind is OutKind.CLEAR:
                assert item.message_id is not None
                await self.policy.call(
                    lambda: bot.edit_message_reply_markup(
                        chat_id=item.chat_id, message_id=item.message_id, reply_markup=None
                    ),
                    what=f"clear buttons in chat {item.chat_id}",
                    cleanup=True,
                )
                return None
            if item.kind is OutKind.EDIT:
                assert item.message_id is not None
                await self.policy.call(
                    lambda: bot.edit_message_text(
                        item.text,
                        chat_id=item.chat_id,
                        message_id=item.message_id,
                        parse_mode=ParseMode.HTML,
                        reply_markup=markup,
                    ),
                    what=f"edit in chat {item.chat_id}",
                )
                self._tally("sent")
                return item.message_id
            message = await self._send_message(
                bot, item.chat_id, item.text, markup, item.thread_id
            )
            return None if message is None else message.message_id
        except BadRequest as err:
            text = str(err).lower()
            if "not modified" in text:
                return item.message_id  # the edit was made before a crash: done
            if item.kind is OutKind.EDIT:
                # The message is gone or too old to edit: send the step as a new message.
                logger.info(
                    "chat %s: cannot edit %s (%s); sending anew",
                    item.chat_id,
                    item.message_id,
                    err,
                )
                return await self._perform(bot, replace(item, kind=OutKind.SEND, message_id=None))
            if item.kind is OutKind.CLEAR:
                logger.debug("clearing buttons in chat %s: %s", item.chat_id, err)
                return None
            self._tally("lost")
            logger.error("LOST reply to chat %s: Telegram refused it: %s", item.chat_id, err)
            return None
        except Forbidden:
            # Blocked by the user, or removed from the group: nobody to deliver to, no bug.
            logger.info("chat %s does not accept messages from the bot; dropped", item.chat_id)
            self._count_blocked()
            return None

    async def _send_message(
        self,
        bot: Any,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
        thread_id: int | None,
    ) -> Message | None:
        """sendMessage, never repeated once it may have arrived; plain text if HTML is refused."""
        try:
            message: Message = await self.policy.call(
                lambda: bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    message_thread_id=thread_id,
                ),
                what=f"reply to chat {chat_id}",
                repeatable=False,
            )
        except BadRequest as err:
            if "parse entities" in str(err):
                # Should never happen (everything is escaped); if it does, plain text helps.
                logger.error("Telegram refused our HTML (%s); sending plain text", err)
                plain = html.unescape(re.sub(r"<[^>]+>", "", text))
                return await self._send_message_plain(bot, chat_id, plain, markup, thread_id)
            if thread_id is not None and "thread" in str(err).lower():
                # The forum topic was closed or deleted: the chat itself still works.
                return await self._send_message(bot, chat_id, text, markup, None)
            raise
        self._tally("sent")
        return message

    async def _send_message_plain(
        self,
        bot: Any,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
        thread_id: int | None,
    ) -> Message:
        message: Message = await self.policy.call(
            lambda: bot.send_message(
                chat_id, text, reply_markup=markup, message_thread_id=thread_id
            ),
            what=f"plain reply to chat {chat_id}",
            repeatable=False,
        )
        self._tally("sent")
        return message

    def _tally(self, result: str) -> None:
        setattr(self.delivery, result, getattr(self.delivery, result) + 1)
        if self.metrics is not None:
            self.metrics.replies.labels(result=ReplyResult(result).value).inc()

    def _count_blocked(self) -> None:
        if self.metrics is not None:
            self.metrics.replies.labels(result=ReplyResult.BLOCKED.value).inc()

    # -- direct sends (notices, staff, cards): no session, so no outbox ----------------------

    async def _send(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        reply: Reply,
        *,
        version: int,
        thread_id: int | None = None,
    ) -> Message | None:
        """Send one reply now (split if long), buttons on the last part; log what's lost."""
        parts = render_parts(reply.text) or ["…"]
        message: Message | None = None
        for i, part in enumerate(parts):
            markup = keyboard(reply.buttons, version) if i == len(parts) - 1 else None
            message = await self._send_html(context, chat_id, part, markup, thread_id=thread_id)
            if message is None:
                return None
        return message

    async def _send_html(
        self,
        context: Any,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
        *,
        thread_id: int | None = None,
    ) -> Message | None:
        try:
            return await self._send_message(context.bot, chat_id, text, markup, thread_id)
        except Forbidden:
            logger.info("chat %s does not accept messages from the bot; reply dropped", chat_id)
            self._count_blocked()
        except SendFailed as err:
            self._tally("lost")
            logger.error("LOST reply to chat %s: %s: %.200r", chat_id, err, text)
        except MaybeDelivered as err:
            self._tally("uncertain")
            logger.warning("%s: may have been delivered; not repeated", err)
        return None

    async def _with_retry(
        self, call: Callable[[], Awaitable[T]], *, what: str, repeatable: bool = True
    ) -> T | None:
        """A call under the send policy; None (logged) if it did not get through."""
        try:
            return await self.policy.call(call, what=what, repeatable=repeatable)
        except SendFailed as err:
            logger.error("%s", err)
        except MaybeDelivered as err:
            logger.warning("%s: may have been delivered; not repeated", err)
        return None

    async def _clear_buttons(self, bot: Any, chat_id: int, message_id: int) -> None:
        """Remove a message's inline keyboard; 'not modified' and 'not found' are fine."""
        try:
            await self._with_retry(
                lambda: bot.edit_message_reply_markup(
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
