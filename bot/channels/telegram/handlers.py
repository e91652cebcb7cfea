"""The Telegram channel: thin handlers around the core engine.

Each handler turns an update into an engine event, holds the chat's lock, loads the session,
calls the engine, saves the new session *before* sending anything (a crash after the save
loses no progress), renders the replies as HTML and sends them with a bounded retry. No
conversation logic lives here; that is ``bot.core.dialogue``'s job.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot.channels.telegram.delivery import Delivery, DeliveryMixin, _together
from bot.channels.telegram.inline import InlineMixin
from bot.channels.telegram.keyboards import CARD
from bot.channels.telegram.staff import ADMIN_COMMANDS, StaffMixin, masked_text
from bot.config import Settings
from bot.core.callback import unpack
from bot.core.dialogue import Engine, Outcome
from bot.core.events import Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.replies import Reply
from bot.core.session import Session
from bot.core.tickets import StaffMode
from bot.errors import StoreError
from bot.helpdesk import Helpdesk, HelpdeskSettings
from bot.ops.metrics import Metrics
from bot.ops.updates import note_outcome
from bot.store import SessionStore

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 3
STALE_BUTTON = "This button is out of date: use the buttons on my latest message."
DESCRIBE_IN_WORDS = (
    "I can only read text. Please describe the problem in words, or paste the error message."
)


class TelegramChannel(StaffMixin, InlineMixin, DeliveryMixin):
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
        self.helpdesk = Helpdesk(
            store,
            HelpdeskSettings(retention_days=settings.retention_days, salt=settings.salt),
            clock=clock,
        )
        self._staff_mode_known: StaffMode | None = None

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
            await self._converse(update, context, Command(name=name, arg=arg))

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
        await self._converse(update, context, UserText(text=text))

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

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log first; then tell the user something went wrong, without a traceback."""
        if update is None and isinstance(context.error, NetworkError):
            # Polling trouble: the Bot API observer logs one WARNING per outage, not per retry.
            logger.debug("polling: %s", context.error)
            return
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
        note_outcome(before.state.value, outcome.session.state.value, outcome.log)
        # Masked, pseudonymised, with walkthrough progress (bot.core.journal).
        await self.helpdesk.journal(chat_id, before, outcome)
        outcome = await self._helpdesk_turn(context, update, event, before, outcome)
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
                self._count(outcome)
                return outcome, session
            expected = None if current is None else current.version
            if self.store.put(outcome.session, expected_version=expected):
                self._count(outcome)
                return outcome, session
            logger.info("chat %s changed under us; retrying", chat_id)
        raise StoreError(f"could not save chat {chat_id} after {CAS_ATTEMPTS} attempts")

    def _remember_prompt(self, session: Session, prompt: str | None) -> None:
        # Compare-and-set on the version just saved: if the chat moved on meanwhile (another
        # replica), its newer prompt wins and this put changes nothing.
        self.store.put(replace(session, prompt_ref=prompt), expected_version=session.version)

    def _count(self, outcome: Outcome) -> None:
        # The event log itself is written by the caller (helpdesk.journal), off the loop.
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
