"""What the store keeps per conversation besides the session: dedupe ids and the outbox.

A ``ChatRecord`` is one row (SQLite) or one hash (Redis): the session, the ids of the updates
already applied to it (``seen``), and the Bot API calls it still owes (``outbox``). All three
are written together in one compare-and-set on ``revision``, so an update's effect and the
replies it produced are saved at once or not at all. ``Incoming`` is an update recorded
before it is confirmed to Telegram (the inbox).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.core.session import Session
from bot.errors import StoreError

logger = logging.getLogger(__name__)

SEEN_LIMIT = 200  # update ids kept per conversation for dedupe (Telegram redelivers recent ones)


class OutKind(StrEnum):
    """The kinds of Bot API call an outbox entry stands for."""

    SEND = "send"  # sendMessage
    EDIT = "edit"  # editMessageText of ``message_id`` (a pressed message becomes the next step)
    CLEAR = "clear"  # editMessageReplyMarkup: remove an old keyboard


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """One Bot API call owed to a chat, saved with the session before it is made."""

    kind: OutKind
    chat_id: int
    text: str = ""  # Telegram HTML, already rendered and escaped
    markup: str | None = None  # reply_markup as JSON text; None: no keyboard
    message_id: int | None = None  # the message an EDIT or CLEAR changes
    thread_id: int | None = None  # forum topic the reply belongs in
    prompt: bool = False  # this message carries the conversation's live keyboard
    attempts: int = 0  # failed tries so far (bounded; then given up, counted, logged)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "kind": self.kind.value,
            "chat_id": self.chat_id,
            "text": self.text,
            "markup": self.markup,
            "message_id": self.message_id,
            "thread_id": self.thread_id,
            "prompt": self.prompt,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outgoing:
        """Parse one entry; raise KeyError/ValueError/TypeError on garbage."""
        return cls(
            kind=OutKind(data["kind"]),
            chat_id=int(data["chat_id"]),
            text=str(data.get("text", "")),
            markup=data.get("markup"),
            message_id=None if data.get("message_id") is None else int(data["message_id"]),
            thread_id=None if data.get("thread_id") is None else int(data["thread_id"]),
            prompt=bool(data.get("prompt", False)),
            attempts=int(data.get("attempts", 0)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRecord:
    """A conversation as stored: session, applied update ids, owed calls, row revision."""

    key: str
    session: Session | None = None
    seen: tuple[int, ...] = ()
    outbox: tuple[Outgoing, ...] = ()
    revision: int | None = None  # None: no row yet; compare-and-set compares this
    quarantined: bool = False  # the stored row was unreadable and was set aside just now
    reason: str = ""  # why it was unreadable

    def applied(self, update_id: int) -> ChatRecord:
        """A copy that remembers ``update_id`` as applied (bounded)."""
        return replace(self, seen=(*self.seen, update_id)[-SEEN_LIMIT:])


@dataclass(frozen=True, slots=True, kw_only=True)
class Incoming:
    """An update recorded before it is confirmed: its id, conversation key and raw JSON."""

    update_id: int
    key: str
    raw: str


def seen_to_json(seen: tuple[int, ...]) -> str:
    """The dedupe ids as JSON text."""
    return json.dumps(list(seen), separators=(",", ":"))


def outbox_to_json(outbox: tuple[Outgoing, ...]) -> str:
    """The outbox as JSON text."""
    return json.dumps([o.to_dict() for o in outbox], ensure_ascii=False, separators=(",", ":"))


def seen_from_json(raw: str | bytes | None) -> tuple[int, ...]:
    """Parse the dedupe ids; raise StoreError on garbage."""
    if not raw:
        return ()
    try:
        return tuple(int(i) for i in json.loads(raw))
    except (ValueError, TypeError) as err:
        raise StoreError(f"stored update ids are malformed: {err!r}") from err


def outbox_from_json(raw: str | bytes | None) -> tuple[Outgoing, ...]:
    """Parse the outbox; raise StoreError if it is not a list.

    An entry this version cannot read (a kind added by a newer version, during a rolling
    upgrade) is skipped with a warning rather than making the whole conversation unreadable.
    """
    if not raw:
        return ()
    try:
        entries = json.loads(raw)
    except ValueError as err:
        raise StoreError(f"stored outbox is malformed: {err!r}") from err
    if not isinstance(entries, list):
        raise StoreError("stored outbox is not a list")
    owed = []
    for entry in entries:
        try:
            owed.append(Outgoing.from_dict(entry))
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            logger.warning("an outbox entry this version cannot read was skipped: %r", err)
    return tuple(owed)
