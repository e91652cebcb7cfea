"""Event log and tickets in process memory (tests, the console chat)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

from bot.core import tickets as rules
from bot.core.tickets import Ticket
from bot.store.helpdesk import EventRecord


class MemoryRecords:
    """Mixed into ``MemoryStore``; needs ``_lock`` and ``_sessions`` from it."""

    _lock: threading.Lock
    _sessions: dict[str, tuple[int, str]]

    def _init_records(self) -> None:
        self._events: list[EventRecord] = []
        self._tickets: dict[int, str] = {}
        self._ticket_seq = 0

    def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """Append one record to the event log."""
        with self._lock:
            self._events.append(EventRecord(kind, chat_id, topic, detail, at))

    def events(self, since: float = 0) -> list[EventRecord]:
        """Every record from ``since`` on, oldest first."""
        with self._lock:
            return sorted((e for e in self._events if e.at >= since), key=lambda e: e.at)

    def event_counts(self, since: float = 0) -> dict[str, int]:
        """Count logged events by kind, from ``since`` (a Unix time) on."""
        with self._lock:
            return dict(Counter(event.kind for event in self._events if event.at >= since))

    def purge(self, before: float) -> int:
        """Delete events, closed tickets and idle sessions older than ``before``."""
        with self._lock:
            kept = [e for e in self._events if e.at >= before]
            removed = len(self._events) - len(kept)
            self._events = kept
            for number, raw in list(self._tickets.items()):
                ticket = rules.ticket_from_json(raw)
                if not ticket.is_open and (ticket.closed_at or 0) < before:
                    del self._tickets[number]
                    removed += 1
            for chat_id, (_, raw) in list(self._sessions.items()):
                if _updated_at(raw) < before:
                    del self._sessions[chat_id]
                    removed += 1
            return removed

    def forget(self, chat_id: str, pseudonym: str) -> int:
        """Delete the chat's session and events; strip its tickets of the user's text."""
        with self._lock:
            removed = int(self._sessions.pop(chat_id, None) is not None)
            kept = [e for e in self._events if e.chat_id not in (chat_id, pseudonym)]
            removed += len(self._events) - len(kept)
            self._events = kept
            for number, raw in list(self._tickets.items()):
                ticket = rules.ticket_from_json(raw)
                if ticket.chat_id == chat_id:
                    forgotten = rules.forget_user_text(ticket)
                    self._tickets[number] = rules.ticket_to_json(forgotten)
                    removed += 1
            return removed

    def count_open_tickets(self) -> int:
        """How many tickets are open now."""
        with self._lock:
            return sum(rules.ticket_from_json(raw).is_open for raw in self._tickets.values())

    def new_ticket_number(self) -> int:
        """The next ticket number."""
        with self._lock:
            self._ticket_seq += 1
            return self._ticket_seq

    def put_ticket(self, ticket: Ticket, *, expected_version: int | None) -> bool:
        """Compare-and-set on the ticket's version."""
        raw = rules.ticket_to_json(ticket)
        with self._lock:
            stored = self._tickets.get(ticket.number)
            current = None if stored is None else rules.ticket_from_json(stored).version
            if current != expected_version:
                return False
            self._tickets[ticket.number] = raw
            return True

    def get_ticket(self, number: int) -> Ticket | None:
        """The ticket with this number, or None."""
        with self._lock:
            raw = self._tickets.get(number)
        return None if raw is None else rules.ticket_from_json(raw)

    def open_ticket_of(self, chat_id: str) -> Ticket | None:
        """The chat's open ticket (the newest), or None."""
        return self._find(lambda t: t.chat_id == chat_id and t.is_open)

    def ticket_of_thread(self, thread_id: int) -> Ticket | None:
        """The ticket whose forum topic this is, or None."""
        return self._find(lambda t: t.thread_id == thread_id)

    def ticket_of_message(self, message_id: int) -> Ticket | None:
        """The ticket that holds this staff-chat message id, or None."""
        return self._find(lambda t: message_id in t.staff_messages)

    def _find(self, wanted: Callable[[Ticket], bool]) -> Ticket | None:
        with self._lock:
            raws = [self._tickets[n] for n in sorted(self._tickets, reverse=True)]
        for raw in raws:
            ticket = rules.ticket_from_json(raw)
            if wanted(ticket):
                return ticket
        return None


def _updated_at(raw: str) -> float:
    try:
        return float(json.loads(raw).get("updated_at", 0.0))
    except (ValueError, TypeError, AttributeError):
        return 0.0
