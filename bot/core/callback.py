"""Callback data codec: ``v1:<version>:<action>:<arg>``, checked against Telegram's 64 bytes."""

from __future__ import annotations

from bot.core.events import ButtonPress
from bot.core.replies import Action

PREFIX = "v1"
MAX_BYTES = 64
# The staff case card's "show this topic" buttons: ``card:<entry id>``.
CARD = "card"
# Room left for the session version in the worst case the loader checks ids against.
VERSION_DIGITS = 10


def fits(action: Action, arg: str) -> bool:
    """True when a button with this action and arg packs within 64 bytes at any version."""
    worst = f"{PREFIX}:{'9' * VERSION_DIGITS}:{action.value}:{arg}"
    return len(worst.encode("utf-8")) <= MAX_BYTES


def card_fits(entry_id: str) -> bool:
    """True when a case-card button for this entry fits in 64 bytes."""
    return len(f"{CARD}:{entry_id}".encode()) <= MAX_BYTES


def pack(action: Action, version: int, arg: str = "") -> str:
    """Encode a button; raise ValueError when the result exceeds 64 bytes."""
    data = f"{PREFIX}:{version}:{action.value}:{arg}"
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def unpack(data: str | None) -> ButtonPress | None:
    """Decode callback data; None for anything malformed or from another format."""
    if not data:
        return None
    parts = data.split(":", 3)
    if len(parts) != 4 or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    try:
        action = Action(parts[2])
    except ValueError:
        return None
    return ButtonPress(action=action, version=int(parts[1]), arg=parts[3])
