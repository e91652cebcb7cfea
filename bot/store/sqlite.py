"""SQLite session store: one local file in WAL mode, compare-and-set done in SQL (the default)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bot.core.session import Session, session_from_json, session_to_json
from bot.errors import StoreError
from bot.store.outbox import (
    ChatRecord,
    Incoming,
    outbox_from_json,
    outbox_to_json,
    seen_from_json,
    seen_to_json,
)
from bot.store.sqlite_records import RECORDS_SCHEMA, SqliteRecords

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    chat_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    update_id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    raw TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_key ON inbox (key, update_id);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    raw TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    update_id INTEGER PRIMARY KEY,
    raw TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
"""

# Columns added after the first release; a file written by it gets them on open.
_ADDED_COLUMNS = (
    ("revision", "INTEGER NOT NULL DEFAULT 0"),
    ("seen", "TEXT NOT NULL DEFAULT '[]'"),
    ("outbox", "TEXT NOT NULL DEFAULT '[]'"),
)


class SqliteStore(SqliteRecords):
    """Sessions in one SQLite file; safe to share across threads (one connection, one lock)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        connection: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so every statement is its own atomic transaction.
            connection = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA + RECORDS_SCHEMA)
            columns = {row[1] for row in connection.execute("PRAGMA table_info(sessions)")}
            for name, declaration in _ADDED_COLUMNS:
                if name not in columns:
                    connection.execute(f"ALTER TABLE sessions ADD COLUMN {name} {declaration}")
        except (OSError, sqlite3.Error) as err:
            if connection is not None:
                connection.close()
            raise StoreError(f"cannot open session store {self.path}: {err}") from err
        if mode != "wal":
            logger.warning("session store %s: journal mode is %s, not wal", self.path, mode)
        self._connection = connection
        logger.info("session store: SQLite file %s", self.path)

    @contextmanager
    def _locked(self, doing: str) -> Iterator[sqlite3.Connection]:
        """Hold the lock and turn SQLite errors into one StoreError naming the file."""
        with self._lock:
            try:
                yield self._connection
            except sqlite3.Error as err:
                raise StoreError(f"session store {self.path}: cannot {doing}: {err}") from err

    def get(self, chat_id: str) -> Session | None:
        """Return the stored session for this chat, or None."""
        with self._locked("read a session") as db:
            row = db.execute("SELECT data FROM sessions WHERE chat_id = ?", (chat_id,)).fetchone()
        if row is None:
            return None
        try:
            return session_from_json(row[0])
        except StoreError as err:
            raise StoreError(f"session store {self.path}: chat {chat_id}: {err}") from err

    def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Store ``session`` if the stored version equals ``expected_version`` (None: absent)."""
        raw = session_to_json(session)
        with self._locked("write a session") as db:
            if expected_version is None:
                cursor = db.execute(
                    "INSERT INTO sessions (chat_id, version, data, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (chat_id) DO NOTHING",
                    (session.chat_id, session.version, raw, session.updated_at),
                )
            else:
                cursor = db.execute(
                    "UPDATE sessions SET version = ?, data = ?, updated_at = ?,"
                    " revision = revision + 1 WHERE chat_id = ? AND version = ?",
                    (session.version, raw, session.updated_at, session.chat_id, expected_version),
                )
            return cursor.rowcount == 1

    # -- delivery: records with dedupe ids and outbox, the inbox, quarantine ---------------

    def load(self, key: str) -> ChatRecord:
        """The conversation's record; an unreadable row is quarantined and reads as absent."""
        with self._locked("read a session") as db:
            row = db.execute(
                "SELECT data, revision, seen, outbox FROM sessions WHERE chat_id = ?", (key,)
            ).fetchone()
        if row is None:
            return ChatRecord(key=key)
        data, revision, seen, outbox = row
        try:
            return ChatRecord(
                key=key,
                session=session_from_json(data),
                seen=seen_from_json(seen),
                outbox=outbox_from_json(outbox),
                revision=int(revision),
            )
        except StoreError as err:
            self._quarantine(key, str(data), str(err))
            return ChatRecord(key=key, quarantined=True, reason=str(err))

    def _quarantine(self, key: str, raw: str, reason: str) -> None:
        with self._locked("quarantine a session") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO quarantine (key, raw, reason, at) VALUES (?, ?, ?, ?)",
                    (key, raw, reason, time.time()),
                )
                db.execute("DELETE FROM sessions WHERE chat_id = ?", (key,))
                db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        """Write session, dedupe ids and outbox at once if the revision is still ``record``'s.

        ``done``: an inbox entry removed in the same transaction (the update just applied).
        """
        session = record.session
        assert session is not None, "a record is saved with a session"
        values = (
            session.version,
            session_to_json(session),
            session.updated_at,
            seen_to_json(record.seen),
            outbox_to_json(record.outbox),
        )
        with self._locked("write a session") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if record.revision is None:
                    cursor = db.execute(
                        "INSERT INTO sessions (version, data, updated_at, seen, outbox, revision,"
                        " chat_id) VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (chat_id) DO NOTHING",
                        (*values, record.key),
                    )
                else:
                    cursor = db.execute(
                        "UPDATE sessions SET version = ?, data = ?, updated_at = ?, seen = ?,"
                        " outbox = ?, revision = revision + 1 WHERE chat_id = ? AND revision = ?",
                        (*values, record.key, record.revision),
                    )
                stored = cursor.rowcount == 1
                if stored and done is not None:
                    db.execute("DELETE FROM inbox WHERE update_id = ?", (done,))
                db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        return stored

    def record_updates(self, updates: list[Incoming]) -> None:
        """Keep updates durably before they are confirmed; an update kept twice is kept once."""
        now = time.time()
        with self._locked("record updates") as db:
            db.executemany(
                "INSERT INTO inbox (update_id, key, raw, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (update_id) DO NOTHING",
                [(u.update_id, u.key, u.raw, now) for u in updates],
            )

    def inbox(self, key: str) -> list[Incoming]:
        """The recorded, not yet applied updates of one conversation, oldest first."""
        with self._locked("read the inbox") as db:
            rows = db.execute(
                "SELECT update_id, raw FROM inbox WHERE key = ? ORDER BY update_id", (key,)
            ).fetchall()
        return [Incoming(update_id=int(i), key=key, raw=str(raw)) for i, raw in rows]

    def forget_update(self, key: str, update_id: int) -> None:
        """Drop an inbox entry (handled without a session write, or not to be handled)."""
        with self._locked("update the inbox") as db:
            db.execute("DELETE FROM inbox WHERE update_id = ?", (update_id,))

    def pending_keys(self) -> list[str]:
        """Conversations with recorded updates or owed Bot API calls (work left by a crash)."""
        with self._locked("list pending work") as db:
            rows = db.execute(
                "SELECT key FROM (SELECT key, MIN(update_id) AS first FROM inbox GROUP BY key"
                " UNION ALL SELECT chat_id, 0 FROM sessions WHERE outbox != '[]')"
                " GROUP BY key ORDER BY MIN(first)"
            ).fetchall()
        return [str(k) for (k,) in rows]

    def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """Keep an update the bot cannot parse, for inspection; it is never handled."""
        with self._locked("set an update aside") as db:
            db.execute(
                "INSERT INTO set_aside (update_id, raw, reason, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (update_id) DO NOTHING",
                (update_id, raw, reason, time.time()),
            )

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        with self._locked("delete a session") as db:
            db.execute("DELETE FROM sessions WHERE chat_id = ?", (chat_id,))

    def close(self) -> None:
        """Close the database file (later calls raise StoreError)."""
        with self._lock:
            self._connection.close()
