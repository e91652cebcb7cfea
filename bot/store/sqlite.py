"""SQLite session store: one local file in WAL mode, compare-and-set done in SQL (the default)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.core.session import Session, session_from_json, session_to_json
from bot.errors import StoreError
from bot.store.sqlite_records import RECORDS_SCHEMA, SqliteRecords

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    chat_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


class SqliteStore(SqliteRecords):
    """Sessions in one SQLite file; safe to share across threads (one connection, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        connection: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so every statement is its own atomic transaction.
            connection = sqlite3.connect(
                self.path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
            (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA + RECORDS_SCHEMA)
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
                    "UPDATE sessions SET version = ?, data = ?, updated_at = ?"
                    " WHERE chat_id = ? AND version = ?",
                    (session.version, raw, session.updated_at, session.chat_id, expected_version),
                )
            return cursor.rowcount == 1

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        with self._locked("delete a session") as db:
            db.execute("DELETE FROM sessions WHERE chat_id = ?", (chat_id,))

    def close(self) -> None:
        """Close the database file (later calls raise StoreError)."""
        with self._lock:
            self._connection.close()
