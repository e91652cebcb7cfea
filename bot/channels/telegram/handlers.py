"""The Telegram channel: thin handlers around the core engine, with exactly-once effect.

A conversation update (text, command, button press) is handled by ``_converse`` through the
conversation service (``bot.conversation``): load the conversation's record, skip it if its
``update_id`` was applied already (a redelivery or a replay), run the engine, and save the new
session, the update id and the rendered replies (the outbox) in one compare-and-set write;
only then are the replies sent, each crossed off the outbox as it goes (``delivery``). A
crash at any point loses nothing and skips nothing: the update is still in the inbox (not
applied) or its replies are still owed (applied).

A button press edits the pressed message into the next step (one call instead of a new
message plus a keyboard removal). In groups each member has their own conversation
(``session_key``), and a keyboard names its owner: others get a short notice. Replies to a
forum topic go to that topic. No conversation logic lives here: that is ``bot.core``'s job.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.channels.render import render_parts
from bot.channels.telegram.delivery import (
    OUTBOX_RETRY_SECONDS,
    Delivery,
    DeliveryMixin,
    SendPolicy,
    _BotContext,
    _together,
)
from bot.channels.telegram.inline import InlineMixin
from bot.channels.telegram.keyboards import CARD, coalesce, keyboard, split_owner
from bot.channels.telegram.keys import chat_of, session_key, thread_of
from bot.channels.telegram.staff import ADMIN_COMMANDS, StaffMixin, masked_text
from bot.config import Settings
from bot.conversation import Conversation
from bot.core import language
from bot.core.callback import unpack
from bot.core.dialogue import Engine, Outcome
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.replies import Reply
from bot.core.session import Session
from bot.core.tickets import StaffMode
from bot.errors import StoreError, StoreUnavailable
from bot.helpdesk import Helpdesk, HelpdeskSettings
from bot.ops.metrics import Metrics
from bot.ops.updates import note_outcome
from bot.store.aio import LEASE, AsyncStore
from bot.store.outbox import ChatRecord, Outgoing, OutKind

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 3
NOTICE_INTERVAL_SECONDS = 60.0  # one "can't reach my memory" per chat per minute
MAX_NOTICED_CHATS = 10_000
STALE_BUTTON = "This button is out of date: use the buttons on my latest message."
NOT_YOUR_BUTTON = (
    "These buttons belong to another member's conversation. Mention me to start yours."
)
DESCRIBE_IN_WORDS = (
    "I can only read text. Please describe the problem in words, or paste the error message."
)
STORE_DOWN = "I can't reach my memory right now, try again in a minute."
FRESH_START = "I couldn't read where we were in our conversation, so we're starting fresh. Sorry!"


class TelegramChannel(StaffMixin, InlineMixin, DeliveryMixin):
    """Holds the engine, the store and the send policy; its methods are the PTB callbacks."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: AsyncStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        policy: SendPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.kb: KnowledgeBase = engine.kb
        self.matcher: Matcher = engine.matcher
        self.store = store
        self.settings = settings
        self.clock = clock
        self.delivery = Delivery()
        self.policy = policy or SendPolicy(metrics=metrics)
        self.bot_id: int | None = None
        self.bot_username: str = ""
        # Set by the runtime: run a conversation's pending work again after a delay.
        self.retry_later: Callable[[str, float], None] = lambda key, delay: None
        self.clean_later: Callable[[str], None] | None = None
        self.outbox_retry_seconds = OUTBOX_RETRY_SECONDS
        # Updates whose handling met a store outage: they stay recorded and are retried.
        self.failed: set[int] = set()
        self._noticed: OrderedDict[int, float] = OrderedDict()
        # Tickets and the event log run their own worker threads on the synchronous store.
        self.helpdesk = Helpdesk(
            store.sync,
            HelpdeskSettings(retention_days=settings.retention_days, salt=settings.salt),
            clock=clock,
        )
        self._staff_mode_known: StaffMode | None = None
        # Load, apply once, save with the outbox, journal: the channel-neutral service.
        self.conversation = Conversation(engine, store, journal=self._journal)
        # Staff actions (``_apply``) are journalled by the staff code itself, once.
        self._staff_conversation = Conversation(engine, store, journal=_journalled_elsewhere)

    # handlers ------------------------------------------------------------------------------

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A slash command from a user."""
        message = update.effective_message
        if message is None or update.effective_chat is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        arg = message.text.partition(" ")[2].strip()
        if self._is_staff_chat(update.effective_chat.id):
            await self._staff_message(message, context)
        elif name in ADMIN_COMMANDS:
            await self._admin_command(update, context, name, arg)
        elif name == "forget" and update.effective_chat.type == ChatType.PRIVATE:
            await self._forget(update, context)
        else:
            hint = _language_hint(update)
            await self._converse(update, context, Command(name=name, arg=arg, language_hint=hint))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text or a caption: a description, an answer to a step, or a forwarded question."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        # Passwords and card numbers never reach the engine, the store or the staff.
        text = masked_text(message)
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
        await self._converse(
            update, context, UserText(text=text, language_hint=_language_hint(update))
        )

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, voice, photos without a caption: ask for words."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        if self._is_staff_chat(chat.id):
            await self._staff_message(message, context)
            return
        if chat.type != ChatType.PRIVATE and not self._addressed_to_me(message):
            return
        if chat.type == ChatType.PRIVATE and await self._user_media(context, message):
            return  # on its way to the person handling the ticket
        await self._send(
            context,
            chat.id,
            Reply(text=DESCRIBE_IN_WORDS),
            version=0,
            thread_id=thread_of(message),
        )

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
        owner, packed = split_owner(data)
        press = unpack(packed)
        if press is None or query.message is None:
            await self._answer_query(query, "This button no longer works. Send /start.")
            return
        if owner is not None and owner != query.from_user.id:
            await self._answer_query(query, NOT_YOUR_BUTTON)
            return
        await self._converse(update, context, press, pressed=query.message.message_id, query=query)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log first; then tell the user what happened, without a traceback."""
        error = context.error
        if isinstance(update, Update) and isinstance(error, StoreUnavailable):
            # Nothing is lost: the update stays recorded and is handled once the store is back.
            logger.warning("update %s waits for the store: %s", update.update_id, error)
            self.failed.add(update.update_id)
            await self.notify_store_down(context.bot, update)
            return
        logger.error("error while handling an update", exc_info=error)
        if isinstance(update, Update) and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(
                    update.effective_chat.id,
                    "Sorry, something went wrong on my side. Please try again.",
                    message_thread_id=thread_of(update.effective_message),
                )

    async def notify_store_down(self, bot: Any, update: Update) -> None:
        """An honest "I can't reach my memory", at most once a minute per chat."""
        chat = update.effective_chat
        if chat is None:
            return
        now = time.monotonic()
        last = self._noticed.get(chat.id)
        query = update.callback_query
        if query is not None:
            await self._answer_query(query, STORE_DOWN)
            return
        if last is not None and now - last < NOTICE_INTERVAL_SECONDS:
            return
        self._noticed[chat.id] = now
        self._noticed.move_to_end(chat.id)
        while len(self._noticed) > MAX_NOTICED_CHATS:
            self._noticed.popitem(last=False)
        await self._send_html(
            _BotContext(bot),
            chat.id,
            STORE_DOWN,
            None,
            thread_id=thread_of(update.effective_message),
        )

    # the conversation ------------------------------------------------------------------------

    async def _converse(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        event: Event,
        *,
        pressed: int | None = None,
        query: Any = None,
    ) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        user = update.effective_user
        key = session_key(chat.id, chat.type, None if user is None else user.id)
        owner = user.id if user is not None and key != str(chat.id) else None
        thread = thread_of(update.effective_message)
        bot = context.bot

        def render(
            before: Session, after: Session, replies: tuple[Reply, ...]
        ) -> tuple[Session, tuple[Outgoing, ...]]:
            return self._plan(
                before, after, replies, chat.id, thread, pressed=pressed, owner=owner
            )

        def fresh(session: Session) -> bool:
            return not (
                isinstance(event, ButtonPress) and self._is_stale(event, session, pressed, owner)
            )

        turn = await self.conversation.handle(
            key,
            event,
            now=self.clock(),
            update_id=update.update_id,
            render=render,
            accept=fresh,
            notice=Reply(text=FRESH_START),
        )
        assert turn.record is not None
        if turn.duplicate:
            # Applied before a crash, or a replayed update: send only what is still owed.
            await self._finish(bot, turn.record, query)
            return
        if turn.refused:
            await self._stale_press(bot, query, chat.id, pressed, turn.before)
            return
        outcome, before, saved, owed = turn.outcome, turn.before, turn.record, turn.owed
        self._count(outcome)
        note_outcome(before.state.value, outcome.session.state.value, outcome.log)
        # Tickets: open, relay, close. This may apply more to the session (and owe more).
        final = await self._helpdesk_turn(context, update, event, before, outcome)
        if final is not outcome:
            # Replaced (nobody can take the ticket): only the replacement's replies are sent.
            saved = await self._superseded(key, owed)
        await self._finish(bot, saved, query)

    async def _finish(self, bot: Any, record: ChatRecord, query: Any) -> None:
        """Answer the press (if any) while the owed calls go out."""
        if query is None:
            await self._flush(bot, record)
        else:
            await _together(self._answer_query(query), self._flush(bot, record))

    @staticmethod
    def _is_stale(
        press: ButtonPress, session: Session, pressed: int | None, owner: int | None
    ) -> bool:
        if press.version != session.version:
            return True
        # In a group, versions of different members' conversations can coincide: only the
        # message that shows this member's live keyboard counts.
        return owner is not None and session.prompt_ref != str(pressed)

    async def _stale_press(
        self, bot: Any, query: Any, chat_id: int, pressed: int | None, session: Session
    ) -> None:
        # A double tap, or a keyboard left behind: the notice is the whole answer. The
        # current step is already the last message with buttons; repeating it is noise.
        calls = [self._answer_query(query, STALE_BUTTON)]
        if pressed is not None and session.prompt_ref != str(pressed):
            calls.append(self._clear_buttons(bot, chat_id, pressed))
        await _together(*calls)

    def _plan(
        self,
        before: Session,
        after: Session,
        replies: tuple[Reply, ...],
        chat_id: int,
        thread: int | None,
        *,
        pressed: int | None,
        owner: int | None,
    ) -> tuple[Session, tuple[Outgoing, ...]]:
        """The calls that show ``replies``: the pressed message edited into the first one,
        the rest sent, and the keyboard they replace removed. Returns the session to save."""
        if not replies:
            return after, ()
        old_prompt = before.prompt_ref
        edit = pressed if pressed is not None and old_prompt == str(pressed) else None
        messages: list[tuple[str, str | None]] = []
        for reply in coalesce(replies):
            parts = render_parts(reply.text) or ["…"]
            for i, part in enumerate(parts):
                markup = None
                if i == len(parts) - 1:
                    markup = keyboard(reply.buttons, after.version, owner=owner)
                messages.append((part, None if markup is None else markup.to_json()))
        owed: list[Outgoing] = []
        for n, (text, markup) in enumerate(messages):
            kind = OutKind.EDIT if n == 0 and edit is not None else OutKind.SEND
            owed.append(
                Outgoing(
                    kind=kind,
                    chat_id=chat_id,
                    text=text,
                    markup=markup,
                    message_id=edit if kind is OutKind.EDIT else None,
                    thread_id=thread,
                    prompt=markup is not None,
                )
            )
        # Keyboards the new messages replace: the live one (unless edited) and the pressed one.
        used_up = {old_prompt, None if pressed is None else str(pressed)} - {None, str(edit)}
        for ref in sorted(r for r in used_up if r is not None and r.isdigit()):
            owed.append(Outgoing(kind=OutKind.CLEAR, chat_id=chat_id, message_id=int(ref)))
        # The live keyboard is recorded again once the message that carries it is shown.
        return replace(after, prompt_ref=None), tuple(owed)

    async def flush_owed(self, bot: Any, key: str) -> None:
        """Make the calls a conversation still owes (after a crash, or a failed send)."""
        record = await self.store.load(key)
        if record.outbox:
            await self._flush(bot, record)

    async def _apply(self, chat_id: str, event: Event) -> tuple[Outcome, Session]:
        """Apply an event to a conversation outside its own updates (staff actions,
        hand-backs); its replies are owed in the outbox (``flush_owed`` sends them)."""

        def render(
            before: Session, after: Session, replies: tuple[Reply, ...]
        ) -> tuple[Session, tuple[Outgoing, ...]]:
            return self._plan(
                before, after, replies, chat_of(chat_id), None, pressed=None, owner=None
            )

        turn = await self._staff_conversation.handle(
            chat_id, event, now=self.clock(), render=render
        )
        self._count(turn.outcome)
        return turn.outcome, turn.before

    async def _superseded(self, key: str, dropped: tuple[Outgoing, ...]) -> ChatRecord:
        """The record as it is now, without the calls of an outcome that was replaced."""
        for _attempt in range(CAS_ATTEMPTS):
            record = await self.store.load(key)
            if not dropped or record.session is None:
                return record
            kept = tuple(o for o in record.outbox if o not in dropped)
            if await self.store.save(replace(record, outbox=kept), token=LEASE.get()):
                return replace(record, outbox=kept, revision=(record.revision or 0) + 1)
        return await self.store.load(key)

    async def _journal(self, key: str, before: Session, outcome: Outcome) -> None:
        """The event log (masked, pseudonymised); losing a record never fails the update."""
        try:
            await self.helpdesk.journal(key, before, outcome)
        except StoreError as err:
            logger.warning("event log write failed for %s: %s", key, err)

    def _count(self, outcome: Outcome) -> None:
        # The event log itself is written by the helpdesk (``_journal``), off the loop.
        if self.metrics is not None:
            for record in outcome.log:
                self.metrics.events.labels(kind=record.kind).inc()

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


def _language_hint(update: Update) -> str | None:
    """Telegram's language_code as a first guess at the user's language (a new session's)."""
    user = update.effective_user
    return language.from_telegram(user.language_code) if user is not None else None


async def _journalled_elsewhere(key: str, before: Session, outcome: Outcome) -> None:
    """A journal that writes nothing: the caller journals this turn itself."""
