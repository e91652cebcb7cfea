"""Hand-off tickets: the record and the rules (open, relay, close, rate). Pure, no Telegram.

A ticket is opened when a conversation is handed to a person. It remembers the bot's own
messages in the staff chat (and, in a forum supergroup, its topic), because only those count:
a staff message goes to the user when it is in the ticket's forum topic, or a reply to one of
the bot's messages of that ticket, and only while the ticket is open. A ``#chat123`` written by
anyone means nothing. The channel looks tickets up, asks these rules what to do and delivers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.core import language
from bot.core.i18n import _
from bot.core.replies import Action, Button
from bot.errors import StoreError

SCHEMA = 1
TRANSCRIPT_LINES = 12
MAX_STAFF_MESSAGES = 200
STARS = (1, 2, 3, 4, 5)
RATING_PREFIX = "t"


class TicketState(StrEnum):
    """Whether staff can still answer."""

    OPEN = "open"
    CLOSED = "closed"


class Closure(StrEnum):
    """Who or what ended a ticket."""

    STAFF = "staff"  # a staff member sent /close
    USER = "user"  # the user sent /cancel
    BLOCKED = "blocked"  # the user blocked the bot: nobody to deliver to
    FORGOTTEN = "forgotten"  # the user sent /forget
    UNREACHABLE = "unreachable"  # the staff chat could not be reached when it opened


class StaffMode(StrEnum):
    """How tickets appear in the staff chat."""

    TOPIC = "topic"  # a forum supergroup: one forum topic per ticket
    REPLY = "reply"  # any group: a root message per ticket; staff reply to the bot's messages


class Verdict(StrEnum):
    """What to do with a staff member's message."""

    DELIVER = "deliver"  # relay it to the user
    CLOSE = "close"  # /close on an open ticket
    CLOSED_NOTICE = "closed"  # the ticket is closed: tell the staff chat, deliver nothing
    IGNORE = "ignore"  # not about a ticket: staff talking among themselves


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """One hand-off, as stored; ``version`` grows on every change (compare-and-set)."""

    number: int
    chat_id: str
    user: str
    language: str = "en"
    topic: str | None = None
    place: str = ""  # how far the walkthrough got, e.g. "guide step 2"
    state: TicketState = TicketState.OPEN
    mode: StaffMode = StaffMode.REPLY
    thread_id: int | None = None
    staff_messages: tuple[int, ...] = ()
    transcript: tuple[str, ...] = ()
    opened_at: float = 0.0
    first_reply_at: float | None = None
    closed_at: float | None = None
    closure: Closure | None = None
    assignee: str | None = None
    rating: int | None = None
    version: int = 0

    @property
    def is_open(self) -> bool:
        """True while staff can answer."""
        return self.state is TicketState.OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffPost:
    """A message in the staff chat, reduced to what the relay rules look at."""

    thread_id: int | None = None  # forum topic it was posted in
    reply_to: int | None = None  # the message it replies to
    reply_to_bot: bool = False  # whether that message is the bot's own
    command: str | None = None  # "close" for /close, else None


def open_ticket(
    *,
    number: int,
    chat_id: str,
    user: str,
    transcript: tuple[str, ...],
    topic: str | None,
    place: str,
    now: float,
    mode: StaffMode,
    language: str = "en",
) -> Ticket:
    """A new open ticket carrying the last lines of this conversation's transcript."""
    return Ticket(
        number=number,
        chat_id=chat_id,
        user=user,
        language=language,
        topic=topic,
        place=place,
        mode=mode,
        transcript=tuple(transcript[-TRANSCRIPT_LINES:]),
        opened_at=now,
    )


def addressed_ticket(
    post: StaffPost, *, by_thread: Ticket | None, by_message: Ticket | None
) -> Ticket | None:
    """The ticket a staff message is about, or None.

    ``by_thread`` is the ticket whose forum topic the post is in; ``by_message`` the ticket
    whose record holds the replied-to message id. Both come from the store; this checks them.
    """
    if (
        by_thread is not None
        and post.thread_id is not None
        and by_thread.thread_id == (post.thread_id)
    ):
        return by_thread
    if (
        by_message is not None
        and post.reply_to_bot
        and post.reply_to is not None
        and post.reply_to in by_message.staff_messages
    ):
        return by_message
    return None


def verdict(post: StaffPost, ticket: Ticket | None) -> Verdict:
    """Relay, close, tell staff it is closed, or ignore."""
    if ticket is None:
        return Verdict.IGNORE
    if not ticket.is_open:
        return Verdict.CLOSED_NOTICE
    if post.command == "close":
        return Verdict.CLOSE
    return Verdict.DELIVER


def with_staff_message(ticket: Ticket, message_id: int | None) -> Ticket:
    """Remember one more of the bot's messages in the staff chat for this ticket."""
    if message_id is None or message_id in ticket.staff_messages:
        return ticket
    kept = (*ticket.staff_messages, message_id)[-MAX_STAFF_MESSAGES:]
    return replace(ticket, staff_messages=kept, version=ticket.version + 1)


def with_thread(ticket: Ticket, thread_id: int) -> Ticket:
    """The ticket's forum topic, once created."""
    return replace(ticket, thread_id=thread_id, version=ticket.version + 1)


def in_reply_mode(ticket: Ticket) -> Ticket:
    """The ticket as a root message after all (its forum topic could not be created)."""
    return replace(ticket, mode=StaffMode.REPLY, thread_id=None, version=ticket.version + 1)


def staff_replied(ticket: Ticket, *, now: float, staff: str) -> Ticket:
    """A staff answer was delivered: the first one sets the reply time and the assignee."""
    if ticket.first_reply_at is not None:
        return ticket
    return replace(ticket, first_reply_at=now, assignee=staff, version=ticket.version + 1)


def close(ticket: Ticket, *, now: float, closure: Closure) -> Ticket:
    """The ticket closed (idempotent: a closed ticket stays as it was)."""
    if not ticket.is_open:
        return ticket
    return replace(
        ticket,
        state=TicketState.CLOSED,
        closed_at=now,
        closure=closure,
        version=ticket.version + 1,
    )


def rate(ticket: Ticket, stars: int) -> Ticket | None:
    """The ticket with the user's 1-5 rating, or None when it can't be rated (again)."""
    if ticket.is_open or ticket.closure is not Closure.STAFF or ticket.rating is not None:
        return None
    if stars not in STARS:
        return None
    return replace(ticket, rating=stars, version=ticket.version + 1)


def forget_user_text(ticket: Ticket) -> Ticket:
    """The ticket without anything the user wrote (for ``/forget``); figures stay."""
    return replace(ticket, user="(forgotten)", transcript=(), version=ticket.version + 1)


def rating_buttons(number: int) -> tuple[Button, ...]:
    """One button per star count; the argument names the ticket (``t12:4``)."""
    return tuple(
        Button(label="⭐" * n, action=Action.RATE, arg=f"{RATING_PREFIX}{number}:{n}")
        for n in STARS
    )


def parse_rating(arg: str) -> tuple[int, int] | None:
    """``t12:4`` -> (ticket 12, 4 stars); None for anything else (the bot's own 👍/👎)."""
    head, _, stars = arg.partition(":")
    if not head.startswith(RATING_PREFIX) or not head[1:].isdigit() or not stars.isdigit():
        return None
    return int(head[1:]), int(stars)


# -- what is said where ----------------------------------------------------------------------


def opening_text(ticket: Ticket, *, topic_title: str | None) -> str:
    """The ticket's first message in the staff chat (core markup)."""
    how = (
        "Write in this topic to answer the user; /close ends the ticket."
        if ticket.mode is StaffMode.TOPIC
        else "Reply to this message (or any message of this ticket) to answer the user; "
        "reply /close to end the ticket."
    )
    lines = [
        f"🎫 **Ticket {ticket.number}** from {ticket.user}",
        *language_line(ticket),
        f"Topic tried: {topic_title or 'no topic yet'}"
        + (f" ({ticket.place})" if ticket.place else ""),
    ]
    if ticket.transcript:
        lines += ["Transcript:", *ticket.transcript]
    lines += ["", how]
    return "\n".join(lines)


def language_line(ticket: Ticket) -> list[str]:
    """The user's language, marked when it is not the staff's English."""
    if ticket.language == "en":
        return []
    name = language.NAMES.get(ticket.language, ticket.language)
    return [f"🌐 Language: {name} ({ticket.language})"]


def topic_name(ticket: Ticket, *, topic_title: str | None) -> str:
    """The forum topic's name (Telegram allows 128 characters)."""
    return f"#{ticket.number} {ticket.user} · {topic_title or 'no topic'}"[:128]


def user_message_text(ticket: Ticket, text: str) -> str:
    """A user's message as posted in the staff chat."""
    return f"💬 Ticket {ticket.number}: {text}"


def staff_message_text(staff: str, text: str) -> str:
    """A staff answer as the user reads it."""
    return f"**{staff} (support team):** {text}" if text else f"**{staff} (support team)**"


def announcement(ticket: Ticket) -> str:
    """What the staff chat is told when a ticket closes, by whom or why."""
    closure = ticket.closure
    if closure is Closure.USER:
        return f"🚪 Ticket {ticket.number}: the user cancelled the conversation. Ticket closed."
    if closure is Closure.BLOCKED:
        return f"⛔ Ticket {ticket.number}: the user blocked the bot. Ticket closed."
    if closure is Closure.FORGOTTEN:
        return f"🗑 Ticket {ticket.number}: the user asked to be forgotten. Ticket closed."
    if closure is Closure.UNREACHABLE:
        return f"⚠️ Ticket {ticket.number} could not be posted here; the user was sent elsewhere."
    return f"✅ Ticket {ticket.number} closed. The user is asked to rate the help."


def closed_notice(ticket: Ticket) -> str:
    """Told to the staff chat when someone answers a closed ticket."""
    return (
        f"Ticket {ticket.number} is closed: that message was not delivered. The user can "
        "open a new ticket with /human."
    )


def closed_for_user() -> str:
    """Told to the user (in their language) when staff close the ticket, with rating buttons."""
    return _(
        "The support team has closed this conversation. How would you rate their help? "
        "(1 to 5 stars)"
    )


# -- storage -----------------------------------------------------------------------------------


def ticket_to_json(ticket: Ticket) -> str:
    """Serialise a ticket as versioned JSON."""
    return json.dumps(
        {
            "schema": SCHEMA,
            "number": ticket.number,
            "chat_id": ticket.chat_id,
            "user": ticket.user,
            "language": ticket.language,
            "topic": ticket.topic,
            "place": ticket.place,
            "state": ticket.state.value,
            "mode": ticket.mode.value,
            "thread_id": ticket.thread_id,
            "staff_messages": list(ticket.staff_messages),
            "transcript": list(ticket.transcript),
            "opened_at": ticket.opened_at,
            "first_reply_at": ticket.first_reply_at,
            "closed_at": ticket.closed_at,
            "closure": ticket.closure.value if ticket.closure else None,
            "assignee": ticket.assignee,
            "rating": ticket.rating,
            "version": ticket.version,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def ticket_from_json(raw: str | bytes) -> Ticket:
    """Parse a stored ticket; raise StoreError for anything malformed."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError("not a ticket record of schema 1")
        closure = data.get("closure")
        return Ticket(
            number=int(data["number"]),
            chat_id=str(data["chat_id"]),
            user=str(data.get("user", "")),
            language=str(data.get("language", "en")),
            topic=data.get("topic"),
            place=str(data.get("place", "")),
            state=TicketState(data["state"]),
            mode=StaffMode(data.get("mode", "reply")),
            thread_id=data.get("thread_id"),
            staff_messages=tuple(int(m) for m in data.get("staff_messages", ())),
            transcript=tuple(str(line) for line in data.get("transcript", ())),
            opened_at=float(data.get("opened_at", 0.0)),
            first_reply_at=data.get("first_reply_at"),
            closed_at=data.get("closed_at"),
            closure=Closure(closure) if closure else None,
            assignee=data.get("assignee"),
            rating=data.get("rating"),
            version=int(data.get("version", 0)),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise StoreError(f"stored ticket is malformed: {err}") from err
