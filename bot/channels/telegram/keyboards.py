"""Inline keyboards and reply grouping for Telegram."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.callback import pack
from bot.core.knowledge import KnowledgeBase
from bot.core.replies import Button, Reply

CARD = "card"


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
