"""Telegram channel on python-telegram-bot 22: thin handlers around the core engine.

Each handler turns an update into an engine event, holds the chat's lock, loads the session,
calls the engine, saves the new session *before* sending anything (a crash after the save
loses no progress), renders the replies as HTML and sends them with a bounded retry. No
conversation logic lives here; that is ``bot.core.dialogue``'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.channels.render import render_parts
from bot.config import Settings
from bot.core import compose
from bot.core.callback import pack, unpack
from bot.core.dialogue import Engine, Outcome
from bot.core.events import Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.replies import Button, Reply
from bot.core.session import Session, State
from bot.errors import ConfigError, StoreError
from bot.ops.bot_api import api_origin, probe_get_me, wait_for_bot_api
from bot.ops.metrics import Metrics
from bot.ops.runtime import start_ops
from bot.store import SessionStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMMANDS = (
    ("start", "What I can help with"),
    ("topics", "Problems and questions I know"),
    ("help", "How to talk to me"),
    ("cancel", "Stop and start over"),
    ("human", "Talk to a person"),
)
ADMIN_COMMANDS = ("stats",)
SEND_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
CAS_ATTEMPTS = 3
MAX_CHAT_LOCKS = 10_000
INLINE_RESULTS = 10
CARD = "card"
TICKET_TAG = re.compile(r"#chat(-?\d+)\b")
STALE_BUTTON = "This button is out of date: use the buttons on my latest message."
DESCRIBE_IN_WORDS = (
    "I can only read text. Please describe the problem in words, or paste the error message."
)


# -- ordering: one update per chat at a time, different chats in parallel -------------------


class ChatLocks:
    """A bounded map of per-chat asyncio locks; idle locks are evicted oldest first.

    A lock is idle when no task holds it *or waits for it*: ``Lock.locked()`` alone is False
    for a moment between a release and the next waiter's wake-up, and evicting then would let
    a newcomer run beside that waiter.
    """

    def __init__(self, limit: int = MAX_CHAT_LOCKS) -> None:
        self._limit = limit
        self._locks: OrderedDict[str, asyncio.Lock] = OrderedDict()
        self._users: Counter[str] = Counter()  # tasks holding or waiting for each lock

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of one chat."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._locks.move_to_end(key)
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] <= 0:
                del self._users[key]
            self._evict()

    def _evict(self) -> None:
        if len(self._locks) <= self._limit:
            return
        for key in list(self._locks):
            if len(self._locks) <= self._limit:
                break
            if key not in self._users:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent updates across chats, strictly ordered within one chat."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self.locks = ChatLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers while holding its chat's lock."""
        async with self.locks.hold(_chat_key(update)):
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> str:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return f"c{update.effective_chat.id}"
        if update.effective_user is not None:
            return f"u{update.effective_user.id}"
    return "other"


# -- rendering ------------------------------------------------------------------------------


def keyboard(buttons: tuple[Button, ...], version: int) -> InlineKeyboardMarkup | None:
    """Inline keyboard, one button per row; callback data carries the session version."""
    if not buttons:
        return None
    rows = [
        [InlineKeyboardButton(b.label[:64], callback_data=pack(b.action, version, b.arg))]
        for b in buttons
    ]
    return InlineKeyboardMarkup(rows)


def card_keyboard(kb: KnowledgeBase, current: str | None) -> InlineKeyboardMarkup:
    """'Pick another topic' buttons under a case card."""
    rows = [
        [InlineKeyboardButton(f"↪ {kb.title_of(i)}"[:64], callback_data=f"{CARD}:{i}")]
        for i in kb.ids
        if kb.topic_of(i) == i and i != current
    ]
    return InlineKeyboardMarkup(rows)


def coalesce(replies: tuple[Reply, ...]) -> list[Reply]:
    """Join a reply without buttons to the next one: fewer messages, fewer API calls.

    "Here is the problem" and "Step 1 of 4" read as one message; long results are still split
    on paragraph boundaries when rendered.
    """
    merged: list[Reply] = []
    for reply in replies:
        if merged and not merged[-1].buttons:
            reply = Reply(text=f"{merged[-1].text}\n\n{reply.text}", buttons=reply.buttons)
            merged[-1] = reply
        else:
            merged.append(reply)
    return merged


@dataclass(slots=True)
class Delivery:
    """What the channel knows about sending: for retries and for the lost-reply log."""

    sent: int = 0
    lost: int = 0


# -- the channel ------------------------------------------------------------------------------


class TelegramChannel:
    """Holds the engine, the store and the locks; its methods are the PTB callbacks."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: SessionStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.kb: KnowledgeBase = engine.kb
        self.matcher: Matcher = engine.matcher
        self.store = store
        self.settings = settings
        self.clock = clock
        self.delivery = Delivery()
        self.bot_id: int | None = None
        self.bot_username: str = ""

    # handlers ------------------------------------------------------------------------------

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A slash command from a user."""
        message = update.effective_message
        if message is None or update.effective_chat is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        arg = message.text.partition(" ")[2].strip()
        if name == "stats":
            await self._stats(update, context)
            return
        await self._converse(update, context, Command(name=name, arg=arg))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text or a caption: a description, an answer to a step, or a forwarded question."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        text = message.text or message.caption or ""
        if self._is_staff_chat(chat.id):
            await self._staff_message(message, context)
            return
        if chat.type != ChatType.PRIVATE:
            if not self._addressed_to_me(message):
                return
            text = self._strip_mention(text)
        elif message.forward_origin is not None:
            await self._case_card(message, context, text)
            return
        await self._converse(update, context, UserText(text=text))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, voice, photos without a caption: ask for words."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        if chat.type != ChatType.PRIVATE and not self._addressed_to_me(message):
            return
        await self._send(context, chat.id, Reply(text=DESCRIBE_IN_WORDS), version=0)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A pressed inline button; every query is answered so the spinner never hangs."""
        query = update.callback_query
        if query is None:
            return
        data = query.data or ""
        if data.startswith(f"{CARD}:"):
            await self._answer_query(query)
            await self._show_card(query, data.partition(":")[2])
            return
        press = unpack(data)
        if press is None or query.message is None:
            await self._answer_query(query, "This button no longer works. Send /start.")
            return
        chat_id = query.message.chat.id
        stored = self.store.get(str(chat_id))
        stale = press.version != (stored.version if stored is not None else 0)
        answer = self._answer_query(query, STALE_BUTTON if stale else None)
        # The pressed message's buttons are used up either way: remove them.
        clear = self._clear_buttons(context, chat_id, query.message.message_id)
        if stale:
            # A double tap, or a keyboard left behind: the notice is the whole answer. The
            # current step is already the last message with buttons; repeating it is noise.
            await _together(answer, clear)
            return
        # Three independent round trips at once: the user waits for one, not three.
        converse = self._converse(
            update, context, press, pressed=query.message.message_id, stored=(stored,)
        )
        await _together(answer, clear, converse)

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Inline mode: matching articles to send into any chat."""
        query = update.inline_query
        if query is None:
            return
        text = query.query.strip()
        if text:
            result = self.matcher.match(text)
            ids = [c.id for c in result.candidates if c.score > 0][:INLINE_RESULTS]
        else:
            ids = list(self.kb.ids)[:INLINE_RESULTS]
        articles = [
            InlineQueryResultArticle(
                id=entry_id[:64],
                title=self.kb.title_of(entry_id)[:256],
                description=compose.summary_of(self.kb, entry_id)[:256],
                input_message_content=InputTextMessageContent(
                    render_parts(compose.article_text(self.kb, entry_id))[0],
                    parse_mode=ParseMode.HTML,
                ),
            )
            for entry_id in ids
        ]
        try:
            await self._with_retry(
                lambda: query.answer(articles, cache_time=60, is_personal=False),
                what=f"inline answer for user {query.from_user.id}",
            )
        except BadRequest as err:
            # Usually "query is too old": the user typed on; a newer query is on its way.
            logger.info("inline answer refused: %s", err)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log first; then tell the user something went wrong, without a traceback."""
        logger.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(
                    update.effective_chat.id,
                    "Sorry, something went wrong on my side. Please try again.",
                )

    # the conversation ------------------------------------------------------------------------

    async def _converse(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        event: Event,
        *,
        pressed: int | None = None,
        stored: tuple[Session | None] | tuple[()] = (),
    ) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        chat_id = str(chat.id)
        outcome, before = self._apply(chat_id, event, stored=stored)
        if outcome.escalated:
            await self._open_ticket(context, chat, outcome)
        if outcome.session.state is State.HANDOFF and isinstance(event, UserText):
            await self._relay_to_staff(context, chat.id, event.text)
        if not outcome.replies:
            return
        sending = self._send_all(context, chat.id, outcome)
        if before.prompt_ref and before.prompt_ref != str(pressed):
            # The old keyboard goes while the new messages are on their way (one round trip).
            clear = self._clear_buttons(context, chat.id, int(before.prompt_ref))
            prompt, _ = await _together(sending, clear)
        else:
            prompt = await sending
        if prompt != outcome.session.prompt_ref:
            self._remember_prompt(outcome.session, prompt)

    def _apply(
        self, chat_id: str, event: Event, *, stored: tuple[Session | None] | tuple[()] = ()
    ) -> tuple[Outcome, Session]:
        """Run the engine and save with compare-and-set, retrying on a concurrent write.

        ``stored``: ``(what the store held,)`` when the caller has just read it under this
        chat's lock, which saves a read; a retry reads again.
        """
        for attempt in range(CAS_ATTEMPTS):
            current = stored[0] if attempt == 0 and stored else self.store.get(chat_id)
            session = current or self.engine.new_session(chat_id, now=self.clock())
            outcome = self.engine.handle(session, event, now=self.clock())
            if outcome.session == session:
                self._log(chat_id, outcome)
                return outcome, session
            expected = None if current is None else current.version
            if self.store.put(outcome.session, expected_version=expected):
                self._log(chat_id, outcome)
                return outcome, session
            logger.info("chat %s changed under us; retrying", chat_id)
        raise StoreError(f"could not save chat {chat_id} after {CAS_ATTEMPTS} attempts")

    def _remember_prompt(self, session: Session, prompt: str | None) -> None:
        # Compare-and-set on the version just saved: if the chat moved on meanwhile (another
        # replica), its newer prompt wins and this put changes nothing.
        self.store.put(replace(session, prompt_ref=prompt), expected_version=session.version)

    def _log(self, chat_id: str, outcome: Outcome) -> None:
        now = self.clock()
        for record in outcome.log:
            if self.metrics is not None:
                self.metrics.events.labels(kind=record.kind).inc()
            try:
                self.store.log_event(record.kind, chat_id, record.topic, record.detail, now)
            except StoreError:
                logger.warning("event log write failed for %s", record.kind)

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
            self.metrics.replies.labels(result="lost" if message is None else "sent").inc()
        return message

    async def _with_retry(self, call: Callable[[], Awaitable[T]], *, what: str) -> T | None:
        """Retry 429s (after retry_after) and network errors/5xx (with backoff), bounded."""
        delay = BACKOFF_SECONDS
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await call()
            except RetryAfter as err:
                wait = _seconds(err.retry_after)
                logger.warning("%s: rate limited, retrying in %.1fs", what, wait)
                await asyncio.sleep(wait)
            except (BadRequest, Forbidden):
                raise
            except NetworkError as err:
                if attempt == SEND_ATTEMPTS:
                    logger.error("%s failed after %d attempts: %s", what, attempt, err)
                    return None
                logger.warning("%s: %s; retry %d in %.1fs", what, err, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        logger.error("%s failed after %d attempts", what, SEND_ATTEMPTS)
        return None

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

    # groups -----------------------------------------------------------------------------------

    def _addressed_to_me(self, message: Message) -> bool:
        reply_to = message.reply_to_message
        if reply_to is not None and reply_to.from_user is not None:
            return reply_to.from_user.id == self.bot_id or self._mentions_me(message)
        return self._mentions_me(message)

    def _mentions_me(self, message: Message) -> bool:
        kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        # parse_entities slices by UTF-16 offsets, as Telegram counts them.
        found = message.parse_entities(kinds) or message.parse_caption_entities(kinds)
        for entity, text in found.items():
            if entity.type == MessageEntity.MENTION:
                if text.lstrip("@").lower() == self.bot_username.lower():
                    return True
            elif entity.user is not None and entity.user.id == self.bot_id:
                return True
        return False

    def _strip_mention(self, text: str) -> str:
        if not self.bot_username:
            return text
        return re.sub(rf"@{re.escape(self.bot_username)}\b", " ", text, flags=re.IGNORECASE)

    # helpdesk staff ---------------------------------------------------------------------------

    def _is_staff_chat(self, chat_id: int) -> bool:
        return self.settings.staff_chat is not None and chat_id == self.settings.staff_chat

    async def _case_card(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, text: str
    ) -> None:
        """A forwarded question: the whole answer in one message, ready to copy."""
        result = self.matcher.match(text)
        origin = _origin_name(message)
        body = compose.case_card(self.kb, result)
        header = f"Forwarded from {origin}" if origin else "Forwarded message"
        if not text.strip():
            body = "The forwarded message has no text. Forward the user's words, not a file."
        current = result.candidates[0].topic if result.decision is not Decision.NONE else None
        markup = card_keyboard(self.kb, current)
        await self._send_card(context, message.chat.id, f"{header}\n{body}", markup)

    async def _show_card(self, query: Any, entry_id: str) -> None:
        if self.kb.entry(entry_id) is None or query.message is None:
            return
        text = f"**Case card**: {self.kb.title_of(entry_id)}\n\n" + compose.article_text(
            self.kb, entry_id
        )
        await self._send_card(
            _BotContext(query.get_bot()),
            query.message.chat.id,
            text,
            card_keyboard(self.kb, entry_id),
        )

    async def _send_card(
        self, context: Any, chat_id: int, text: str, markup: InlineKeyboardMarkup
    ) -> None:
        parts = render_parts(text)
        for i, part in enumerate(parts):
            await self._send_html(context, chat_id, part, markup if i == len(parts) - 1 else None)

    async def _open_ticket(
        self, context: ContextTypes.DEFAULT_TYPE, chat: Any, outcome: Outcome
    ) -> None:
        staff = self.settings.staff_chat
        if staff is None:
            return
        record = next(r for r in outcome.log if r.kind == "dialogue.escalated")
        who = html.escape(_display_name(chat))
        topic = self.kb.title_of(record.topic) if record.topic else "no topic yet"
        lines = [
            f"🎫 <b>New ticket</b> #chat{chat.id} from {who}",
            f"Topic tried: {html.escape(topic)}",
            "Transcript:",
            *(html.escape(line) for line in outcome.session.transcript[-10:]),
            "",
            "Reply to this message to answer the user; reply /close to end the ticket.",
        ]
        await self._send_staff(context, staff, "\n".join(lines))

    async def _relay_to_staff(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str
    ) -> None:
        staff = self.settings.staff_chat
        if staff is None or not text.strip():
            return
        body = f"💬 #chat{chat_id}: {html.escape(text[:3500])}"
        await self._send_staff(context, staff, body)

    async def _send_staff(self, context: ContextTypes.DEFAULT_TYPE, staff: int, text: str) -> None:
        try:
            await self._with_retry(
                lambda: context.bot.send_message(staff, text, parse_mode=ParseMode.HTML),
                what=f"ticket to staff chat {staff}",
            )
        except (BadRequest, Forbidden) as err:
            logger.error("cannot post to staff chat %s: %s", staff, err)

    async def _staff_message(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A staff reply to a ticket goes to the user; /close ends the hand-off."""
        reply_to = message.reply_to_message
        if reply_to is None or not (reply_to.text or ""):
            return
        found = TICKET_TAG.search(reply_to.text or "")
        if found is None:
            return
        user_chat = int(found.group(1))
        text = (message.text or message.caption or "").strip()
        if not text:
            return
        if text.split()[0].split("@")[0] == "/close":
            outcome, _ = self._apply(str(user_chat), Command(name="cancel"))
            await self._send(
                context,
                user_chat,
                Reply(text="The support team has closed this conversation. Write any time!"),
                version=outcome.session.version,
            )
            await self._send_staff(context, message.chat.id, f"Closed #chat{user_chat}.")
            return
        staff_name = message.from_user.first_name if message.from_user else "Support"
        await self._send(
            context,
            user_chat,
            Reply(text=f"**{staff_name} (support team):** {text}"),
            version=0,
        )

    async def _stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or user.id not in self.settings.admins:
            if chat is not None:
                refusal = Reply(text="Sorry, /stats is for admins.")
                await self._send(context, chat.id, refusal, version=0)
            return
        counts = self.store.event_counts(since=self.clock() - 7 * 24 * 3600)
        started = counts.get("dialogue.started", 0) + counts.get("dialogue.faq", 0)
        resolved = counts.get("dialogue.resolved", 0)
        rate = f"{resolved / started:.0%}" if started else "n/a"
        lines = [
            "**Last 7 days**",
            f"Questions matched: {counts.get('matcher.decision', 0)}",
            f"Walkthroughs and FAQ answers: {started}",
            f"Resolved: {resolved} ({rate})",
            f"Escalated to a person: {counts.get('dialogue.escalated', 0)}",
            f"Unanswered questions: {counts.get('dialogue.unanswered', 0)}",
            f"Feedback: {counts.get('dialogue.feedback', 0)}",
        ]
        await self._send(context, chat.id, Reply(text="\n".join(lines)), version=0)


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


def _display_name(chat: Any) -> str:
    parts = [getattr(chat, "first_name", None), getattr(chat, "last_name", None)]
    name = " ".join(p for p in parts if p) or getattr(chat, "title", None) or ""
    username = getattr(chat, "username", None)
    return f"{name} (@{username})" if username else name or str(chat.id)


def _origin_name(message: Message) -> str:
    """Who a forwarded message came from; every origin kind, including hidden users."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or "a group"
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title or "a channel"
    return ""


# -- wiring -----------------------------------------------------------------------------------


def build_application(
    settings: Settings, engine: Engine, store: SessionStore, *, metrics: Metrics | None = None
) -> tuple[Application, TelegramChannel]:
    """The PTB application with our handlers, rate limiter, ordering and error handler."""
    channel = TelegramChannel(engine=engine, store=store, settings=settings, metrics=metrics)
    assert settings.token is not None
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_url)
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(_post_init(channel))
    )
    if settings.rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    application = builder.build()
    command_names = [name for name, _ in COMMANDS] + list(ADMIN_COMMANDS)
    application.add_handler(
        CommandHandler(command_names, channel.on_command, filters=~filters.UpdateType.EDITED)
    )
    application.add_handler(CallbackQueryHandler(channel.on_button))
    application.add_handler(InlineQueryHandler(channel.on_inline))
    application.add_handler(
        MessageHandler(
            (filters.TEXT | filters.CAPTION) & ~filters.UpdateType.EDITED, channel.on_text
        )
    )
    application.add_handler(
        MessageHandler(
            ~filters.TEXT
            & ~filters.CAPTION
            & ~filters.UpdateType.EDITED
            & ~filters.StatusUpdate.ALL,
            channel.on_other,
        )
    )
    application.add_error_handler(channel.on_error)
    return application, channel


def _post_init(channel: TelegramChannel) -> Callable[[Application], Awaitable[None]]:
    async def post_init(application: Application) -> None:
        me = application.bot
        channel.bot_id = me.id
        channel.bot_username = me.username or ""
        await set_commands(application)

    return post_init


async def set_commands(application: Application) -> None:
    """Register the command menu with setMyCommands."""
    await application.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS])


class _RedactToken(logging.Filter):
    """Replaces the bot token in a log record: message, arguments and traceback text."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        self.redact(record)
        return True

    def redact(self, record: logging.LogRecord) -> None:
        """Replace the token wherever the record would show it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return  # a broken format string: the handler reports it as usual
        if self.token in message:
            record.msg = message.replace(self.token, "<token>")
            record.args = ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is redacted too.
            text = logging.Formatter().formatException(record.exc_info)
            if self.token in text:
                record.exc_text = text.replace(self.token, "<token>")


class _RedactingRecordFactory:
    """Wraps the log record factory: every record is redacted once, as it is created."""

    def __init__(self, base: Callable[..., logging.LogRecord], redactor: _RedactToken) -> None:
        self.base = base
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self.redactor.redact(record)
        return record


def quiet_logging(token: str) -> None:
    """Turn httpx's per-request logging down and redact the token everywhere.

    A filter on handlers would miss handlers added later (and records that reach them by
    other routes), and a filter on a logger sees only records logged on that very logger, not
    its children (``telegram.ext.Updater``...). So the record factory redacts every record
    when it is made; the ``httpx``/``httpcore`` loggers, which log request URLs, get a filter
    as well in case something replaces the factory later.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    redactor = _RedactToken(token)
    factory = logging.getLogRecordFactory()
    installed = factory
    while isinstance(installed, _RedactingRecordFactory):
        if installed.redactor.token == token:
            break
        installed = installed.base
    else:
        logging.setLogRecordFactory(_RedactingRecordFactory(factory, redactor))
    for name in ("httpx", "httpcore"):
        source = logging.getLogger(name)
        if not any(isinstance(f, _RedactToken) and f.token == token for f in source.filters):
            source.addFilter(redactor)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Where the webhook server listens and what it tells Telegram (PTB's keyword names).

    The local path is the path of ``BOT_WEBHOOK_URL``, so a reverse proxy can forward as is.
    """
    assert settings.webhook_url is not None
    host, port = settings.listen
    path = urlsplit(settings.webhook_url).path.strip("/") or "telegram"
    return {
        "listen": host,
        "port": port,
        "url_path": path,
        "webhook_url": settings.webhook_url,
        "secret_token": settings.webhook_secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def run_telegram(core: Any, settings: Settings) -> int:
    """Run the bot (polling, or a webhook when BOT_WEBHOOK_URL is set) until SIGINT/SIGTERM."""
    from bot.store import open_store

    assert settings.token is not None
    quiet_logging(settings.token)
    store = open_store(settings.store_url or settings.default_store_url)
    ops = start_ops(
        settings,
        topics=tuple({core.kb.topic_of(i) for i in core.kb.ids}),
        knowledge=f"{len(core.kb.ids)} entries",
    )
    store = ops.wrap_store(store)
    where = api_origin(settings.api_url)
    # One line per failed attempt while the Bot API is unreachable; exit 2 on a rejected token.
    asyncio.run(wait_for_bot_api(probe_get_me(settings.token, settings.api_url), where=where))
    application, channel = build_application(settings, core.engine, store, metrics=ops.metrics)
    try:
        if settings.webhook_url:
            application.run_webhook(**webhook_options(settings))
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        # PTB's message quotes the token: say which variable is wrong, not what it holds.
        raise ConfigError(
            f"TELEGRAM_BOT_TOKEN was rejected by the Bot API at {settings.api_url}; check the "
            "token from @BotFather"
        ) from None
    finally:
        store.close()
        ops.stop()
        logger.info(
            "stopped: %d replies sent, %d lost", channel.delivery.sent, channel.delivery.lost
        )
    return 0
