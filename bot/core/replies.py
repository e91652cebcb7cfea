"""What the engine says: replies in a tiny markup (``**bold**``, `` `code` ``) plus buttons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What a button (or its free-text equivalent) asks for; short values fit callback data."""

    DONE = "done"
    STUCK = "stuck"
    BACK = "back"
    YES = "yes"
    NO = "no"
    CANCEL = "cancel"
    CHOOSE = "pick"
    NONE_OF_THESE = "nota"
    WALK = "walk"
    HELPED = "helped"
    NOT_MY_QUESTION = "notq"
    HUMAN = "human"
    TOPICS = "topics"
    SWITCH = "switch"
    STAY = "stay"
    RATE = "rate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """A choice offered with a reply; channels render it as a key or a numbered line."""

    label: str
    action: Action
    arg: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One message to the user, in the core markup, with optional buttons."""

    text: str
    buttons: tuple[Button, ...] = ()
