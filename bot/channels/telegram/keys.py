"""Conversation keys: whose conversation a Telegram update belongs to."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType


def session_key(chat_id: int, chat_type: str | None, user_id: int | None) -> str:
    """Whose conversation an update belongs to: the chat, or in a group (chat, member)."""
    if chat_type in (None, ChatType.PRIVATE) or user_id is None or user_id == chat_id:
        return str(chat_id)
    return f"{chat_id}:{user_id}"


def update_key(update: Update) -> str | None:
    """The conversation key of an update, or None for updates outside any (inline queries)."""
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    return session_key(chat.id, chat.type, None if user is None else user.id)


def thread_of(message: Message | None) -> int | None:
    """The forum topic a message was posted in (None outside forum topics)."""
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


def chat_of(key: str) -> int:
    """The chat a conversation key belongs to."""
    return int(key.partition(":")[0])
