"""Event log and tickets in Redis, shared by every replica.

Events are a sorted set scored by time (so retention is one ``ZREMRANGEBYSCORE``); each member
carries a random id so identical records stay distinct. A ticket is a hash (version, data)
written with the same compare-and-set script as sessions; the lookups (a chat's open ticket, a
forum topic's ticket, a staff message's ticket) are plain keys and hashes updated after it.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from bot.core import tickets as rules
from bot.core.tickets import Ticket
from bot.errors import StoreError
from bot.store.helpdesk import EventRecord

EVENTS_KEY = "alimail:events:v2"
TICKET_PREFIX = "alimail:ticket:"
TICKET_SEQ = "alimail:ticket-seq"
OPEN_TICKET_PREFIX = "alimail:ticket-open:"
THREADS_KEY = "alimail:ticket-threads"
MESSAGES_KEY = "alimail:ticket-messages"
CLOSED_KEY = "alimail:tickets-closed"  # sorted set: closed ticket numbers by closing time
SESSION_PREFIX = "alimail:session:"


class RedisRecords:
    """Mixed into ``RedisStore``; needs its ``_talking`` context manager and CAS script."""

    _talking: Callable[[str], AbstractContextManager[Any]]
    _cas: Any
    _shown_url: str

    def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """Add one record to the event log (kept by age: see ``purge``)."""
        record = json.dumps(
            {
                "id": secrets.token_hex(6),
                "kind": kind,
                "chat_id": chat_id,
                "topic": topic,
                "detail": detail,
                "at": at,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        with self._talking("log an event") as client:
            client.zadd(EVENTS_KEY, {record: at})

    def events(self, since: float = 0) -> list[EventRecord]:
        """Every record from ``since`` on, oldest first."""
        with self._talking("read events") as client:
            members: Any = client.zrangebyscore(EVENTS_KEY, since, "+inf")
        return [self._event(line) for line in members]

    def event_counts(self, since: float = 0) -> dict[str, int]:
        """Count logged events by kind, from ``since`` (a Unix time) on."""
        return dict(Counter(event.kind for event in self.events(since)))

    def _event(self, line: str) -> EventRecord:
        try:
            data = json.loads(line)
            return EventRecord(
                str(data["kind"]),
                str(data["chat_id"]),
                data.get("topic"),
                str(data.get("detail", "")),
                float(data["at"]),
            )
        except (ValueError, KeyError, TypeError) as err:
            message = f"session store {self._shown_url}: bad event record {line!r}: {err}"
            raise StoreError(message) from err

    def purge(self, before: float) -> int:
        """Delete events, closed tickets and idle sessions older than ``before``."""
        with self._talking("purge old records") as client:
            removed = int(client.zremrangebyscore(EVENTS_KEY, "-inf", f"({before}"))
            old: Any = client.zrangebyscore(CLOSED_KEY, "-inf", f"({before}")
            for number in old:
                self._drop_ticket(client, int(number))
                removed += 1
            for key in client.scan_iter(match=f"{SESSION_PREFIX}*", count=500):
                updated: Any = client.hget(key, "updated_at")
                if updated is not None and float(updated) < before:
                    removed += int(client.delete(key))
        return removed

    def _drop_ticket(self, client: Any, number: int) -> None:
        raw: Any = client.hget(f"{TICKET_PREFIX}{number}", "data")
        pipeline = client.pipeline(transaction=True)
        if raw is not None:
            ticket = rules.ticket_from_json(raw)
            if ticket.thread_id is not None:
                pipeline.hdel(THREADS_KEY, str(ticket.thread_id))
            if ticket.staff_messages:
                pipeline.hdel(MESSAGES_KEY, *[str(m) for m in ticket.staff_messages])
        pipeline.delete(f"{TICKET_PREFIX}{number}")
        pipeline.zrem(CLOSED_KEY, str(number))
        pipeline.execute()

    def forget(self, chat_id: str, pseudonym: str) -> int:
        """Delete the chat's session and events; strip its tickets of the user's text."""
        with self._talking("forget a chat") as client:
            removed = int(client.delete(f"{SESSION_PREFIX}{chat_id}"))
            members: Any = client.zrange(EVENTS_KEY, 0, -1)
            mine = [m for m in members if self._event(m).chat_id in (chat_id, pseudonym)]
            if mine:
                removed += int(client.zrem(EVENTS_KEY, *mine))
            for key in client.scan_iter(match=f"{TICKET_PREFIX}*", count=500):
                raw: Any = client.hget(key, "data")
                if raw is None:
                    continue
                ticket = rules.ticket_from_json(raw)
                if ticket.chat_id == chat_id:
                    forgotten = rules.forget_user_text(ticket)
                    client.hset(
                        key,
                        mapping={
                            "version": str(forgotten.version),
                            "data": rules.ticket_to_json(forgotten),
                        },
                    )
                    removed += 1
        return removed

    def count_open_tickets(self) -> int:
        """How many tickets are open now (one lookup key per open ticket)."""
        with self._talking("count open tickets") as client:
            return sum(1 for _ in client.scan_iter(match=f"{OPEN_TICKET_PREFIX}*", count=500))

    def new_ticket_number(self) -> int:
        """The next ticket number (INCR: unique across replicas)."""
        with self._talking("number a ticket") as client:
            return int(client.incr(TICKET_SEQ))

    def put_ticket(self, ticket: Ticket, *, expected_version: int | None) -> bool:
        """Compare-and-set on the ticket's version, then the lookups."""
        key = f"{TICKET_PREFIX}{ticket.number}"
        expected = "" if expected_version is None else str(expected_version)
        arguments = [expected, str(ticket.version), rules.ticket_to_json(ticket), "0"]
        with self._talking("write a ticket") as client:
            if self._cas(keys=[key], args=arguments, client=client) != 1:
                return False
            pipeline = client.pipeline(transaction=True)
            open_key = f"{OPEN_TICKET_PREFIX}{ticket.chat_id}"
            if ticket.is_open:
                pipeline.set(open_key, str(ticket.number))
            else:
                pipeline.zadd(CLOSED_KEY, {str(ticket.number): ticket.closed_at or 0.0})
            if ticket.thread_id is not None:
                pipeline.hset(THREADS_KEY, str(ticket.thread_id), str(ticket.number))
            if ticket.staff_messages:
                pipeline.hset(
                    MESSAGES_KEY,
                    mapping={str(m): str(ticket.number) for m in ticket.staff_messages},
                )
            pipeline.execute()
            if not ticket.is_open and client.get(open_key) == str(ticket.number):
                client.delete(open_key)
        return True

    def get_ticket(self, number: int) -> Ticket | None:
        """The ticket with this number, or None."""
        with self._talking("read a ticket") as client:
            raw: Any = client.hget(f"{TICKET_PREFIX}{number}", "data")
        return None if raw is None else rules.ticket_from_json(raw)

    def open_ticket_of(self, chat_id: str) -> Ticket | None:
        """The chat's open ticket, or None."""
        with self._talking("read a ticket") as client:
            number: Any = client.get(f"{OPEN_TICKET_PREFIX}{chat_id}")
        ticket = None if number is None else self.get_ticket(int(number))
        return ticket if ticket is not None and ticket.is_open else None

    def ticket_of_thread(self, thread_id: int) -> Ticket | None:
        """The ticket whose forum topic this is, or None."""
        return self._via(THREADS_KEY, thread_id)

    def ticket_of_message(self, message_id: int) -> Ticket | None:
        """The ticket that holds this staff-chat message id, or None."""
        return self._via(MESSAGES_KEY, message_id)

    def _via(self, index: str, field: int) -> Ticket | None:
        with self._talking("read a ticket") as client:
            number: Any = client.hget(index, str(field))
        return None if number is None else self.get_ticket(int(number))
