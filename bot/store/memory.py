"""In-process session store: JSON strings in a dict behind a lock (tests, the console chat)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import NamedTuple

from bot.core.session import Session, session_from_json, session_to_json
from bot.errors import StoreError
from bot.store.records import (
    ChatRecord,
    Incoming,
    outbox_from_json,
    outbox_to_json,
    seen_from_json,
    seen_to_json,
)

EVENT_LIMIT = 10_000


class EventRecord(NamedTuple):
    """One entry of the event log kept for ``/stats``."""

    kind: str
    chat_id: str
    topic: str | None
    detail: str
    at: float


class _Row(NamedTuple):
    version: int
    data: str
    revision: int = 0
    seen: str = "[]"
    outbox: str = "[]"


class MemoryStore:
    """Sessions in a dict, kept as JSON so this store exercises serialisation like the others."""

    def __init__(self, *, event_limit: int = EVENT_LIMIT) -> None:
        self._sessions: dict[str, _Row] = {}
        self._events: deque[EventRecord] = deque(maxlen=event_limit)
        self._inbox: dict[int, Incoming] = {}
        self.quarantined: list[tuple[str, str, str]] = []  # (key, raw, reason), for inspection
        self.set_aside_updates: dict[int, tuple[str, str]] = {}  # update id: (raw, reason)
        self._lock = threading.Lock()

    def get(self, chat_id: str) -> Session | None:
        """Return the stored session for this chat, or None."""
        with self._lock:
            stored = self._sessions.get(chat_id)
        return None if stored is None else session_from_json(stored.data)

    def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Store ``session`` if the stored version equals ``expected_version`` (None: absent)."""
        raw = session_to_json(session)
        with self._lock:
            stored = self._sessions.get(session.chat_id)
            current = None if stored is None else stored.version
            if current != expected_version:
                return False
            if stored is None:
                self._sessions[session.chat_id] = _Row(session.version, raw)
            else:
                row = stored._replace(version=session.version, data=raw)
                self._sessions[session.chat_id] = row._replace(revision=stored.revision + 1)
            return True

    # -- delivery: records with dedupe ids and outbox, the inbox, quarantine ---------------

    def load(self, key: str) -> ChatRecord:
        """The conversation's record; an unreadable row is quarantined and reads as absent."""
        with self._lock:
            row = self._sessions.get(key)
        if row is None:
            return ChatRecord(key=key)
        try:
            return ChatRecord(
                key=key,
                session=session_from_json(row.data),
                seen=seen_from_json(row.seen),
                outbox=outbox_from_json(row.outbox),
                revision=row.revision,
            )
        except StoreError as err:
            with self._lock:
                self.quarantined.append((key, row.data, str(err)))
                self._sessions.pop(key, None)
            return ChatRecord(key=key, quarantined=True, reason=str(err))

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        """Write session, dedupe ids and outbox at once if the revision is still ``record``'s."""
        session = record.session
        assert session is not None, "a record is saved with a session"
        with self._lock:
            stored = self._sessions.get(record.key)
            if (None if stored is None else stored.revision) != record.revision:
                return False
            self._sessions[record.key] = _Row(
                version=session.version,
                data=session_to_json(session),
                revision=1 if stored is None else stored.revision + 1,
                seen=seen_to_json(record.seen),
                outbox=outbox_to_json(record.outbox),
            )
            if done is not None:
                self._inbox.pop(done, None)
            return True

    def write_raw(self, key: str, data: str) -> None:
        """Store raw session text as is (tests: corrupt rows, rows from a newer version)."""
        with self._lock:
            self._sessions[key] = _Row(version=0, data=data)

    def record_updates(self, updates: list[Incoming]) -> None:
        """Keep updates before they are confirmed; an update kept twice is kept once."""
        with self._lock:
            for update in updates:
                self._inbox.setdefault(update.update_id, update)

    def inbox(self, key: str) -> list[Incoming]:
        """The recorded, not yet applied updates of one conversation, oldest first."""
        with self._lock:
            return sorted(
                (u for u in self._inbox.values() if u.key == key), key=lambda u: u.update_id
            )

    def forget_update(self, key: str, update_id: int) -> None:
        """Drop an inbox entry."""
        with self._lock:
            self._inbox.pop(update_id, None)

    def pending_keys(self) -> list[str]:
        """Conversations with recorded updates or owed Bot API calls."""
        with self._lock:
            keys = [u.key for u in sorted(self._inbox.values(), key=lambda u: u.update_id)]
            keys += [k for k, row in self._sessions.items() if row.outbox != "[]"]
        return list(dict.fromkeys(keys))

    def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """Keep an update the bot cannot parse, for inspection."""
        with self._lock:
            self.set_aside_updates.setdefault(update_id, (raw, reason))

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        with self._lock:
            self._sessions.pop(chat_id, None)

    def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """Append one record to the bounded event log."""
        with self._lock:
            self._events.append(EventRecord(kind, chat_id, topic, detail, at))

    def event_counts(self, since: float = 0) -> dict[str, int]:
        """Count logged events by kind, from ``since`` (a Unix time) on."""
        with self._lock:
            return dict(Counter(event.kind for event in self._events if event.at >= since))

    def close(self) -> None:
        """Nothing to release."""
