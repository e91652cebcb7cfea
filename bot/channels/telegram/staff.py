"""Helpdesk staff: forwarded questions as case cards, tickets in the staff chat, /stats."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.channels.render import render_parts
from bot.channels.telegram.delivery import _BotContext
from bot.channels.telegram.keyboards import card_keyboard
from bot.config import Settings
from bot.core import compose
from bot.core.dialogue import Outcome
from bot.core.events import Command
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.replies import Reply
from bot.store import SessionStore

logger = logging.getLogger(__name__)

TICKET_TAG = re.compile(r"#chat(-?\d+)\b")


class StaffMixin:
    """The helpdesk half of the channel (methods of ``TelegramChannel``)."""

    settings: Settings
    kb: KnowledgeBase
    matcher: Matcher
    store: SessionStore

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
