"""What the engine reacts to: typed text, a pressed button, a command, or a clock tick."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.replies import Action


@dataclass(frozen=True, slots=True, kw_only=True)
class UserText:
    """Free text the user typed (or a caption)."""

    text: str
    # The channel's guess at the user's language (Telegram's language_code), for a new session.
    language_hint: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonPress:
    """A pressed button; ``version`` is the session version the button was made for."""

    action: Action
    version: int
    arg: str = ""
    language_hint: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A slash command: start, help, topics, cancel, human."""

    name: str
    arg: str = ""
    language_hint: str | None = None


Event = UserText | ButtonPress | Command
