"""Event log and tickets in the SQLite file, beside the sessions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from bot.core import tickets as rules
from bot.core.tickets import Ticket, TicketState
from bot.store.helpdesk import EventRecord

RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    topic TEXT,
    detail TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_chat ON events (chat_id);
CREATE TABLE IF NOT EXISTS tickets (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'new',
    thread_id INTEGER,
    closed_at REAL,
    version INTEGER,
    data TEXT
);
CREATE INDEX IF NOT EXISTS tickets_chat ON tickets (chat_id, state);
CREATE INDEX IF NOT EXISTS tickets_thread ON tickets (thread_id);
CREATE TABLE IF NOT EXISTS ticket_messages (
    message_id INTEGER PRIMARY KEY,
    number INTEGER NOT NULL
);
"""


class SqliteRecords:
    """Mixed into ``SqliteStore``; needs its ``_locked`` context manager."""

    _locked: Callable[[str], AbstractContextManager[sqlite3.Connection]]

    def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """Append one record to the event log (kept by age: see ``purge``)."""
        with self._locked("log an event") as db:
            db.execute(
                "INSERT INTO events (kind, chat_id, topic, detail, at) VALUES (?, ?, ?, ?, ?)",
                (kind, chat_id, topic, detail, at),
            )

    def events(self, since: float = 0) -> list[EventRecord]:
        """Every record from ``since`` on, oldest first."""
        with self._locked("read events") as db:
            rows = db.execute(
                "SELECT kind, chat_id, topic, detail, at FROM events WHERE at >= ?"
                " ORDER BY at, id",
                (since,),
            ).fetchall()
        return [EventRecord(*row) for row in rows]

    def event_counts(self, since: float = 0) -> dict[str, int]:
        """Count logged events by kind, from ``since`` (a Unix time) on."""
        with self._locked("count events") as db:
            rows = db.execute(
                "SELECT kind, COUNT(*) FROM events WHERE at >= ? GROUP BY kind", (since,)
            ).fetchall()
        return dict(rows)

    def purge(self, before: float) -> int:
        """Delete events, closed tickets and idle sessions older than ``before``."""
        with self._locked("purge old records") as db:
            removed = db.execute("DELETE FROM events WHERE at < ?", (before,)).rowcount
            old = "SELECT number FROM tickets WHERE state = 'closed' AND closed_at < ?"
            db.execute(f"DELETE FROM ticket_messages WHERE number IN ({old})", (before,))
            removed += db.execute(
                "DELETE FROM tickets WHERE state = 'closed' AND closed_at < ?", (before,)
            ).rowcount
            removed += db.execute("DELETE FROM sessions WHERE updated_at < ?", (before,)).rowcount
        return removed

    def forget(self, chat_id: str, pseudonym: str) -> int:
        """Delete the chat's session and events; strip its tickets of the user's text."""
        with self._locked("forget a chat") as db:
            removed = db.execute("DELETE FROM sessions WHERE chat_id = ?", (chat_id,)).rowcount
            removed += db.execute(
                "DELETE FROM events WHERE chat_id IN (?, ?)", (chat_id, pseudonym)
            ).rowcount
            rows = db.execute(
                "SELECT data FROM tickets WHERE chat_id = ? AND data IS NOT NULL", (chat_id,)
            ).fetchall()
            for (raw,) in rows:
                ticket = rules.forget_user_text(rules.ticket_from_json(raw))
                db.execute(
                    "UPDATE tickets SET data = ?, version = ? WHERE number = ?",
                    (rules.ticket_to_json(ticket), ticket.version, ticket.number),
                )
            return removed + len(rows)

    def count_open_tickets(self) -> int:
        """How many tickets are open now."""
        with self._locked("count open tickets") as db:
            return int(
                db.execute("SELECT COUNT(*) FROM tickets WHERE state = 'open'").fetchone()[0]
            )

    def new_ticket_number(self) -> int:
        """The next ticket number: a placeholder row reserves it."""
        with self._locked("number a ticket") as db:
            cursor = db.execute("INSERT INTO tickets (state) VALUES ('new')")
            return int(cursor.lastrowid or 0)

    def put_ticket(self, ticket: Ticket, *, expected_version: int | None) -> bool:
        """Compare-and-set on the ticket's version; keeps the lookups up to date."""
        raw = rules.ticket_to_json(ticket)
        columns = (
            ticket.chat_id,
            ticket.state.value,
            ticket.thread_id,
            ticket.closed_at,
            ticket.version,
            raw,
            ticket.number,
        )
        with self._locked("write a ticket") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT version, data FROM tickets WHERE number = ?", (ticket.number,)
                ).fetchone()
                current = None if row is None or row[1] is None else row[0]
                if current != expected_version:
                    db.execute("ROLLBACK")
                    return False
                db.execute(
                    "INSERT INTO tickets (chat_id, state, thread_id, closed_at, version, data,"
                    " number) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET"
                    " chat_id = excluded.chat_id, state = excluded.state,"
                    " thread_id = excluded.thread_id, closed_at = excluded.closed_at,"
                    " version = excluded.version, data = excluded.data",
                    columns,
                )
                db.executemany(
                    "INSERT OR IGNORE INTO ticket_messages (message_id, number) VALUES (?, ?)",
                    [(m, ticket.number) for m in ticket.staff_messages],
                )
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
        return True

    def get_ticket(self, number: int) -> Ticket | None:
        """The ticket with this number, or None."""
        return self._ticket_where("number = ?", number)

    def open_ticket_of(self, chat_id: str) -> Ticket | None:
        """The chat's open ticket (the newest), or None."""
        return self._ticket_where("chat_id = ? AND state = ?", chat_id, TicketState.OPEN.value)

    def ticket_of_thread(self, thread_id: int) -> Ticket | None:
        """The ticket whose forum topic this is, or None."""
        return self._ticket_where("thread_id = ?", thread_id)

    def ticket_of_message(self, message_id: int) -> Ticket | None:
        """The ticket that holds this staff-chat message id, or None."""
        return self._ticket_where(
            "number = (SELECT number FROM ticket_messages WHERE message_id = ?)", message_id
        )

    def _ticket_where(self, condition: str, *arguments: object) -> Ticket | None:
        with self._locked("read a ticket") as db:
            row = db.execute(
                f"SELECT data FROM tickets WHERE {condition} AND data IS NOT NULL"
                " ORDER BY number DESC LIMIT 1",
                arguments,
            ).fetchone()
        return None if row is None else rules.ticket_from_json(row[0])
