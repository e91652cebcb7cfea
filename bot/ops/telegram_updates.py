"""What kind of Telegram update this is, for the per-update line and the ``kind`` label.

Decided once, where updates are dispatched, from the update alone (and which chat is the
staff chat), so every update is counted, handled or not: commands (``/stats`` included),
staff-chat messages, inline queries, forwards, button presses, text and media.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import MessageEntity, Update

from bot.ops.metrics import UpdateKind


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFacts:
    """The operator-facing facts of one update (no user text)."""

    kind: UpdateKind
    chat_id: int | None
    command: str | None
    sent_at: float | None


def update_facts(update: object, *, staff_chat: int | None) -> UpdateFacts:
    """Classify one update."""
    if not isinstance(update, Update):
        return UpdateFacts(kind=UpdateKind.OTHER, chat_id=None, command=None, sent_at=None)
    chat = update.effective_chat
    chat_id = chat.id if chat is not None else None
    if update.inline_query is not None:
        user = update.inline_query.from_user
        return UpdateFacts(
            kind=UpdateKind.INLINE_QUERY, chat_id=user.id, command=None, sent_at=None
        )
    if update.callback_query is not None:
        # A press carries no date of its own (the message's date is when the bot sent it).
        return UpdateFacts(kind=UpdateKind.BUTTON, chat_id=chat_id, command=None, sent_at=None)
    if update.my_chat_member is not None or update.chat_member is not None:
        return UpdateFacts(kind=UpdateKind.MEMBER, chat_id=chat_id, command=None, sent_at=None)
    if update.edited_message is not None or update.edited_channel_post is not None:
        return UpdateFacts(kind=UpdateKind.EDITED, chat_id=chat_id, command=None, sent_at=None)
    message = update.message or update.channel_post
    if message is None:
        return UpdateFacts(kind=UpdateKind.OTHER, chat_id=chat_id, command=None, sent_at=None)
    sent_at = message.date.timestamp() if message.date else None
    command = _command(message.text or "", message.entities)
    if staff_chat is not None and chat_id == staff_chat:
        kind = UpdateKind.STAFF_MESSAGE
    elif command is not None:
        kind = UpdateKind.COMMAND
    elif message.forward_origin is not None:
        kind = UpdateKind.FORWARD
    elif message.text or message.caption:
        kind = UpdateKind.TEXT
    else:
        kind = UpdateKind.MEDIA
    return UpdateFacts(kind=kind, chat_id=chat_id, command=command, sent_at=sent_at)


def _command(text: str, entities: tuple[MessageEntity, ...]) -> str | None:
    """``stats`` for ``/stats@mybot 7``: a bot_command entity at offset 0, as PTB requires."""
    if not any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in entities):
        return None
    return text.split()[0].lstrip("/").split("@")[0].lower() or None
