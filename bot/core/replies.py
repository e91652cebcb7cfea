"""What the engine says: replies in a tiny markup (``**bold**``, `` `code` ``) plus buttons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """Every trigger of the transition table: buttons, commands, typed acts and free text.

    Short values: a button's action travels in its 64-byte callback data.
    """

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
    RESUME = "resume"
    CLIENT = "client"
    WORKS = "works"
    REPEAT = "repeat"
    NUMBER = "num"
    THANKS = "thanks"
    GOODBYE = "bye"
    START = "start"
    HELP = "help"
    LANGUAGE = "lang"
    # Free text that is no act where it was typed: a description to match.
    TEXT = "text"
    # Sent by the channel: staff closed the hand-off; the staff chat could not be reached.
    CLOSED = "closed"
    UNREACHABLE = "unreachable"


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
