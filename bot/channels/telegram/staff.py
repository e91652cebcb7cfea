"""Helpdesk staff on Telegram: case cards, tickets in the staff chat, admin reports.

Ticket rules are in ``bot.core.tickets`` and ticket records in ``bot.helpdesk``; this module
only talks to Telegram. When ``BOT_STAFF_CHAT`` is a forum supergroup every ticket gets its own
forum topic and whatever staff write in it goes to the user; otherwise a ticket is a root
message, the user's messages are posted as replies to it, and a staff reply to any of the bot's
messages of the ticket goes to the user. Photos, documents, voice and stickers travel both ways
with ``copyMessage``. A staff chat that can't be reached hands the user back, honestly.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.channels.render import render_parts
from bot.channels.telegram.delivery import _BotContext
from bot.channels.telegram.keyboards import card_keyboard
from bot.channels.telegram.keys import update_key
from bot.config import Settings
from bot.core import compose, i18n, language
from bot.core import tickets as rules
from bot.core.dialogue import Engine, Outcome
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.privacy import mask_secrets
from bot.core.replies import Reply
from bot.core.session import Session, State
from bot.core.tickets import Closure, StaffMode, StaffPost, Ticket, Verdict
from bot.helpdesk import Helpdesk
from bot.reports.inbox import build_inbox
from bot.reports.inbox import format_text as inbox_text
from bot.reports.report import build_report
from bot.reports.report import format_text as report_text
from bot.store.aio import AsyncStore

logger = logging.getLogger(__name__)

STAFF_COMMANDS = ("close",)
ADMIN_COMMANDS = ("stats", "inbox")
MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)
MAX_STATS_DAYS = 365
INBOX_DAYS = 30
INBOX_GROUPS = 5
RELAY_LIMIT = 3500
DAY = 86_400.0


class StaffMixin:
    """The helpdesk half of the channel (methods of ``TelegramChannel``)."""

    settings: Settings
    kb: KnowledgeBase
    matcher: Matcher
    engine: Engine
    store: AsyncStore
    helpdesk: Helpdesk
    clock: Callable[[], float]
    bot_id: int | None
    _staff_mode_known: StaffMode | None
    _apply: Callable[..., Awaitable[tuple[Outcome, Session]]]
    _send: Callable[..., Awaitable[Message | None]]
    _send_html: Callable[..., Awaitable[Message | None]]
    flush_owed: Callable[..., Awaitable[None]]  # DeliveryMixin: send what the outbox holds
    _converse: Callable[..., Awaitable[None]]
    _with_retry: Callable[..., Awaitable[Any]]  # DeliveryMixin's bounded retry

    def _is_staff_chat(self, chat_id: int) -> bool:
        return self.settings.staff_chat is not None and chat_id == self.settings.staff_chat

    # forwarded questions ---------------------------------------------------------------------

    async def _case_card(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, text: str
    ) -> None:
        """A forwarded question: the whole answer in one message, ready to copy."""
        result = self.matcher.match(text)
        origin = _origin_name(message)
        # The card speaks the staff member's language, whatever the forwarded message's.
        reader = self._reader_language(message.from_user)
        kb = self.kb.in_language(reader)
        with i18n.speaking(self.engine.translator(reader)):
            body = compose.case_card(kb, result)
            if origin:
                header = i18n._("Forwarded from {origin}").format(origin=origin)
            else:
                header = i18n._("Forwarded message")
            written = language.detect(text)
            if written is not None and written != reader:
                name = language.NAMES.get(written, written)
                header += "\n" + i18n._("The user writes in {language}.").format(language=name)
            if not text.strip():
                body = i18n._(
                    "The forwarded message has no text. Forward the user's words, not a file."
                )
        current = result.candidates[0].topic if result.decision is not Decision.NONE else None
        markup = card_keyboard(kb, current)
        await self._send_card(context, message.chat.id, f"{header}\n{body}", markup)

    def _reader_language(self, user: Any) -> str:
        """The language a staff member reads: Telegram's language_code, when the bot speaks it."""
        code = language.from_telegram(getattr(user, "language_code", None))
        return code if code in self.kb.languages else self.kb.language

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

    # the user's side of a ticket -------------------------------------------------------------

    async def _helpdesk_turn(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        update: Update,
        event: Event,
        before: Session,
        outcome: Outcome,
    ) -> Outcome:
        """What a user's turn means for tickets; returns the outcome whose replies to send."""
        chat = update.effective_chat
        if chat is None:
            return outcome
        chat_id = str(chat.id)
        kinds = {record.kind for record in outcome.log}
        if outcome.escalated and outcome.session.state is State.HANDOFF:
            if await self._open_ticket(context, chat, before, outcome):
                return outcome
            # Nobody would read it: hand back at once, with the configured contact.
            key = update_key(update) or chat_id  # a group member's own conversation
            failed, handed = await self._apply(key, Command(name="unreachable"))
            await self.helpdesk.journal(key, handed, failed)
            return failed
        if before.state is State.HANDOFF and "dialogue.cancelled" in kinds:
            ticket = await self.helpdesk.open_ticket_of(chat_id)
            if ticket is not None:
                await self._end_ticket(context, ticket, Closure.USER)
        elif outcome.session.state is State.HANDOFF and isinstance(event, UserText):
            ticket = await self.helpdesk.open_ticket_of(chat_id)
            message = update.effective_message
            if ticket is not None and message is not None:
                await self._relay_to_staff(context, ticket, message, event.text)
        if isinstance(event, ButtonPress) and "ticket.rated" in kinds:
            rating = rules.parse_rating(event.arg)
            if rating is not None:
                await self.helpdesk.rate(*rating)
        return outcome

    async def _user_media(self, context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
        """A photo, sticker, voice note... from a user with an open ticket goes to the staff."""
        ticket = await self.helpdesk.open_ticket_of(str(message.chat.id))
        if ticket is None:
            return False
        await self._relay_to_staff(context, ticket, message, "")
        return True

    async def _staff_mode(self, context: ContextTypes.DEFAULT_TYPE) -> StaffMode | None:
        """Forum topics or replies, read once from the staff chat; None when unreachable."""
        staff = self.settings.staff_chat
        if staff is None:
            return None
        if self._staff_mode_known is not None:
            return self._staff_mode_known
        try:
            chat = await self._with_retry(lambda: context.bot.get_chat(staff), what="staff chat")
        except TelegramError as err:
            logger.error("staff chat %s cannot be reached: %s", staff, err)
            return None
        if chat is None:
            return None
        self._staff_mode_known = StaffMode.TOPIC if chat.is_forum else StaffMode.REPLY
        return self._staff_mode_known

    async def _open_ticket(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat: Any,
        before: Session,
        outcome: Outcome,
    ) -> bool:
        """Open a ticket and post it; False when the staff chat can't be reached."""
        mode = await self._staff_mode(context)
        if mode is None:
            return False
        chat_id = str(chat.id)
        ticket = await self.helpdesk.open_ticket(
            chat_id=chat_id,
            user=_display_name(chat),
            before=before,
            outcome=outcome,
            mode=mode,
        )
        await self.helpdesk.clear_transcript(chat_id)
        title = self.kb.title_of(ticket.topic) if ticket.topic else None
        posted = None
        if mode is StaffMode.TOPIC:
            thread = await self._create_topic(context, rules.topic_name(ticket, topic_title=title))
            if thread is not None:
                ticket = await self.helpdesk.set_thread(ticket.number, thread) or ticket
            else:
                # No right to manage topics, say: the ticket still reaches the staff, as a
                # root message in the General topic.
                ticket = await self.helpdesk.fall_back_to_replies(ticket.number) or ticket
        posted = await self._post_staff(
            context, ticket, rules.opening_text(ticket, topic_title=title)
        )
        if posted is None:
            await self.helpdesk.close(ticket, Closure.UNREACHABLE)
            return False
        return True

    async def _create_topic(self, context: ContextTypes.DEFAULT_TYPE, name: str) -> int | None:
        staff = self.settings.staff_chat
        assert staff is not None
        try:
            topic = await self._with_retry(
                lambda: context.bot.create_forum_topic(staff, name), what="forum topic"
            )
        except (BadRequest, Forbidden) as err:
            logger.error("cannot create a forum topic in staff chat %s: %s", staff, err)
            return None
        return None if topic is None else topic.message_thread_id

    async def _post_staff(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        ticket: Ticket,
        text: str,
        *,
        parts: list[str] | None = None,
    ) -> int | None:
        """Post core-markup ``text`` (or ready HTML ``parts``) into the ticket: its forum
        topic, or under its root message. Returns the last message id, None on failure."""
        staff = self.settings.staff_chat
        assert staff is not None
        posted: int | None = None
        for part in parts or render_parts(text) or ["…"]:
            try:
                message = await self._with_retry(
                    lambda part=part: context.bot.send_message(  # type: ignore[misc]
                        staff, part, parse_mode=ParseMode.HTML, **self._placement(ticket)
                    ),
                    what=f"ticket {ticket.number} to staff chat",
                )
            except (BadRequest, Forbidden) as err:
                logger.error("cannot post to staff chat %s: %s", staff, err)
                return None
            if message is None:
                return None
            posted = message.message_id
            await self.helpdesk.remember_message(ticket.number, posted)
        return posted

    def _placement(self, ticket: Ticket) -> dict[str, Any]:
        """Where a ticket's messages go: its forum topic, or as replies to its first message."""
        if ticket.thread_id is not None:
            return {"message_thread_id": ticket.thread_id}
        if ticket.staff_messages:
            return {
                "reply_parameters": ReplyParameters(
                    ticket.staff_messages[0], allow_sending_without_reply=True
                )
            }
        return {}

    async def _relay_to_staff(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        ticket: Ticket,
        message: Message,
        text: str,
    ) -> None:
        """The user's message, masked, into the ticket: text as text, media as a copy."""
        if not _has_media(message):
            if text.strip():
                # The user's words exactly as typed: escaped, never read as markup.
                body = html.escape(rules.user_message_text(ticket, text[:RELAY_LIMIT]))
                await self._post_staff(context, ticket, "", parts=[body])
            return
        staff = self.settings.staff_chat
        assert staff is not None
        caption = None
        if message.sticker is None:
            label = f"💬 Ticket {ticket.number}"
            caption = html.escape(f"{label}: {text}" if text else label)[:1000]
        try:
            copied = await self._with_retry(
                lambda: context.bot.copy_message(
                    staff,
                    message.chat.id,
                    message.message_id,
                    caption=caption,
                    parse_mode=ParseMode.HTML if caption else None,
                    **self._placement(ticket),
                ),
                what=f"user's file to ticket {ticket.number}",
            )
        except (BadRequest, Forbidden) as err:
            logger.error("cannot copy a user's file to staff chat %s: %s", staff, err)
            return
        if copied is not None:
            await self.helpdesk.remember_message(ticket.number, copied.message_id)

    async def _end_ticket(
        self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket, closure: Closure
    ) -> Ticket | None:
        """Close a ticket and announce it in the staff chat."""
        closed = await self.helpdesk.close(ticket, closure)
        if closed is None:
            return None
        await self.helpdesk.clear_transcript(ticket.chat_id)
        await self._post_staff(context, closed, rules.announcement(closed))
        if closed.thread_id is not None and self.settings.staff_chat is not None:
            staff = self.settings.staff_chat
            try:
                await self._with_retry(
                    lambda: context.bot.close_forum_topic(staff, closed.thread_id),
                    what="close forum topic",
                )
            except (BadRequest, Forbidden) as err:
                logger.info("forum topic of ticket %s not closed: %s", closed.number, err)
        return closed

    # the staff's side ------------------------------------------------------------------------

    async def _staff_message(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message in the staff chat: a ticket answer, /close, or staff talking (ignored)."""
        post = self._staff_post(message)
        ticket = await self.helpdesk.ticket_for(post)
        verdict = rules.verdict(post, ticket)
        if verdict is Verdict.IGNORE or ticket is None:
            return
        if post.command is not None and not await self._is_member(context, message):
            return  # staff commands are for members of the staff chat
        if verdict is Verdict.CLOSED_NOTICE:
            await self._post_staff(context, ticket, rules.closed_notice(ticket))
        elif verdict is Verdict.CLOSE:
            await self._close_by_staff(context, ticket)
        else:
            await self._deliver_to_user(context, ticket, message)

    def _staff_post(self, message: Message) -> StaffPost:
        text = (message.text or message.caption or "").strip()
        first = text.split()[0].split("@")[0].lower() if text else ""
        command = first[1:] if first.startswith("/") and first[1:] in STAFF_COMMANDS else None
        thread = message.message_thread_id if message.is_topic_message else None
        replied = message.reply_to_message
        reply_to = None
        reply_to_bot = False
        if replied is not None and replied.forum_topic_created is None:
            # A plain message in a topic "replies" to the topic's creation: not a reply.
            reply_to = replied.message_id
            reply_to_bot = replied.from_user is not None and replied.from_user.id == self.bot_id
        return StaffPost(
            thread_id=thread, reply_to=reply_to, reply_to_bot=reply_to_bot, command=command
        )

    async def _is_member(self, context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
        """Whether the sender is a member of the staff chat (asked, never assumed)."""
        staff = self.settings.staff_chat
        user = message.from_user
        if staff is None or user is None:
            return False
        try:
            member = await self._with_retry(
                lambda: context.bot.get_chat_member(staff, user.id), what="staff membership"
            )
        except (BadRequest, Forbidden) as err:
            logger.info("membership of %s in the staff chat unknown: %s", user.id, err)
            return False
        if member is None:
            return False
        return member.status in MEMBER_STATUSES or (
            member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", 0))
        )

    async def _close_by_staff(self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket) -> None:
        closed = await self._end_ticket(context, ticket, Closure.STAFF)
        if closed is None:
            return
        event = Command(name="closed", arg=str(ticket.number))
        outcome, before = await self._apply(ticket.chat_id, event)
        await self.helpdesk.journal(ticket.chat_id, before, outcome)
        await self.flush_owed(context.bot, ticket.chat_id)

    async def _deliver_to_user(
        self, context: ContextTypes.DEFAULT_TYPE, ticket: Ticket, message: Message
    ) -> None:
        """A staff answer to the user: text signed, files copied; a block closes the ticket."""
        staff_name = message.from_user.first_name if message.from_user else "Support"
        text = (message.text or message.caption or "").strip()
        user_chat = int(ticket.chat_id)
        try:
            if _has_media(message):
                signature = None
                if message.sticker is None:
                    signature = render_parts(rules.staff_message_text(staff_name, text))[0]
                delivered = await self._with_retry(
                    lambda: context.bot.copy_message(
                        user_chat,
                        message.chat.id,
                        message.message_id,
                        caption=signature,
                        parse_mode=ParseMode.HTML if signature else None,
                    ),
                    what=f"staff file to chat {user_chat}",
                )
            else:
                delivered = None
                for part in render_parts(rules.staff_message_text(staff_name, text)):
                    delivered = await self._with_retry(
                        lambda part=part: context.bot.send_message(  # type: ignore[misc]
                            user_chat, part, parse_mode=ParseMode.HTML
                        ),
                        what=f"staff answer to chat {user_chat}",
                    )
        except Forbidden:
            await self._end_ticket(context, ticket, Closure.BLOCKED)
            return
        except BadRequest as err:
            logger.error("staff answer to chat %s refused: %s", user_chat, err)
            return
        if delivered is not None:
            await self.helpdesk.staff_replied(ticket, staff=staff_name)

    # admins and privacy ----------------------------------------------------------------------

    def _is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admins

    async def _admin_command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, name: str, arg: str
    ) -> None:
        """/stats [days] and /inbox for BOT_ADMINS; anyone else gets the unknown-command reply."""
        chat = update.effective_chat
        if chat is None:
            return
        if not self._is_admin(update):
            await self._converse(update, context, Command(name=name, arg=arg))
            return
        if name == "inbox":
            events = await self.helpdesk.events(self.clock() - INBOX_DAYS * DAY)
            groups = build_inbox(events, self.matcher, self.kb)
            text = inbox_text(groups, days=INBOX_DAYS, limit=INBOX_GROUPS)
        else:
            days = int(arg) if arg.isdigit() and 1 <= int(arg) <= MAX_STATS_DAYS else 7
            now = self.clock()
            events = await self.helpdesk.events(now - days * DAY)
            groups = build_inbox(events, self.matcher, self.kb)
            text = report_text(build_report(events, self.kb, days=days, until=now, inbox=groups))
        await self._send(context, chat.id, Reply(text=text), version=0)

    async def _forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/forget: delete everything stored about this chat, and say what went."""
        chat = update.effective_chat
        if chat is None:
            return
        chat_id = str(chat.id)
        ticket = await self.helpdesk.open_ticket_of(chat_id)
        if ticket is not None:
            await self._end_ticket(context, ticket, Closure.FORGOTTEN)
        removed = await self.helpdesk.forget(chat_id)
        text = (
            "Done: I've deleted everything I stored about you: our conversation, its records "
            "in my statistics and what you wrote in tickets to the support team "
            f"({removed} records). Write any time to start afresh."
        )
        await self._send(context, chat.id, Reply(text=text), version=0)


def masked_text(message: Message) -> str:
    """A message's text or caption with secrets masked, as everything downstream must see it."""
    return mask_secrets(message.text or message.caption or "")


def _has_media(message: Message) -> bool:
    kinds = ("document", "sticker", "voice", "video", "audio", "animation", "video_note")
    return bool(message.photo) or any(getattr(message, kind) is not None for kind in kinds)


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
