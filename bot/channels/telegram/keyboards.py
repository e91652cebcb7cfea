"""Inline keyboards and reply grouping for Telegram."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.callback import pack
from bot.core.knowledge import KnowledgeBase
from bot.core.replies import Button, Reply

CARD = "card"
MAX_CALLBACK_BYTES = 64
OWNER_MARK = "o"  # "o<user id>|<packed>": in groups, whose conversation a keyboard belongs to


def keyboard(
    buttons: tuple[Button, ...], version: int, *, owner: int | None = None
) -> InlineKeyboardMarkup | None:
    """Inline keyboard, one button per row; callback data carries the session version.

    ``owner``: in a group, the member whose conversation this is; only they may press it.
    """
    if not buttons:
        return None
    rows = [
        [
            InlineKeyboardButton(
                b.label[:64], callback_data=_owned(pack(b.action, version, b.arg), owner)
            )
        ]
        for b in buttons
    ]
    return InlineKeyboardMarkup(rows)


def _owned(data: str, owner: int | None) -> str:
    if owner is None:
        return data
    owned = f"{OWNER_MARK}{owner}|{data}"
    if len(owned.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {owned!r}")
    return owned


def split_owner(data: str) -> tuple[int | None, str]:
    """The owner a group keyboard names (None if it names none) and the packed button."""
    head, bar, rest = data.partition("|")
    if bar and head.startswith(OWNER_MARK) and head[1:].lstrip("-").isdigit():
        return int(head[1:]), rest
    return None, data


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
