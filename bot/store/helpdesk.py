"""Event-log and ticket records: the part of every store that the helpdesk and reports use.

Each backend mixes in its own class (``memory_records``, ``sqlite_records``, ``redis_records``);
this module holds what they share: the record type and the protocol, run by one contract suite.
Events are kept by age (``purge``), never by count, so "the last 7 days" means seven days.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from bot.core.tickets import Ticket


class EventRecord(NamedTuple):
    """One entry of the event log; ``chat_id`` is pseudonymised unless configured otherwise."""

    kind: str
    chat_id: str
    topic: str | None
    detail: str
    at: float


class RecordStore(Protocol):
    """The event log and the tickets, beside the sessions."""

    def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """Append one event-log record."""
        ...

    def events(self, since: float = 0) -> list[EventRecord]:
        """Every record logged at or after ``since``, oldest first."""
        ...

    def event_counts(self, since: float = 0) -> dict[str, int]:
        """How many records of each kind were logged at or after ``since``."""
        ...

    def purge(self, before: float) -> int:
        """Delete events, closed tickets and idle sessions older than ``before``; say how many."""
        ...

    def forget(self, chat_id: str, pseudonym: str) -> int:
        """Delete everything about one chat: session, its events, its tickets' user text."""
        ...

    def new_ticket_number(self) -> int:
        """The next ticket number (1, 2, ...), unique across replicas."""
        ...

    def put_ticket(self, ticket: Ticket, *, expected_version: int | None) -> bool:
        """Store a ticket if its stored version equals ``expected_version`` (None: new)."""
        ...

    def get_ticket(self, number: int) -> Ticket | None:
        """The ticket with this number, or None."""
        ...

    def open_ticket_of(self, chat_id: str) -> Ticket | None:
        """The chat's open ticket, or None."""
        ...

    def ticket_of_thread(self, thread_id: int) -> Ticket | None:
        """The ticket whose forum topic this is, or None."""
        ...

    def ticket_of_message(self, message_id: int) -> Ticket | None:
        """The ticket one of whose staff-chat messages (by the bot) has this id, or None."""
        ...

    def count_open_tickets(self) -> int:
        """How many tickets are open now (the ``alimail_bot_open_tickets`` gauge)."""
        ...
