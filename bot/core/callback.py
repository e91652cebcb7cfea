"""Callback data codec: ``v1:<version>:<action>:<arg>``, checked against Telegram's 64 bytes."""

from __future__ import annotations

from bot.core.events import ButtonPress
from bot.core.replies import Action

PREFIX = "v1"
MAX_BYTES = 64


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
