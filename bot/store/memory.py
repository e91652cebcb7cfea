"""In-process session store: JSON strings in a dict behind a lock (tests, the console chat)."""

from __future__ import annotations

import threading
from typing import NamedTuple

from bot.core.session import Session, session_from_json, session_to_json
from bot.errors import StoreError
from bot.store.helpdesk import EventRecord
from bot.store.memory_records import MemoryRecords
from bot.store.outbox import (
    ChatRecord,
    Incoming,
    outbox_from_json,
    outbox_to_json,
    seen_from_json,
    seen_to_json,
)

__all__ = ["EventRecord", "MemoryStore"]


class _Delivery(NamedTuple):
    """What a conversation's row holds besides the session (see ``bot.store.outbox``)."""

    revision: int = 0
    seen: str = "[]"
    outbox: str = "[]"


class MemoryStore(MemoryRecords):
    """Sessions in a dict, kept as JSON so this store exercises serialisation like the others."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[int, str]] = {}
        self._delivery: dict[str, _Delivery] = {}
        self._inbox: dict[int, Incoming] = {}
        self.quarantined: list[tuple[str, str, str]] = []  # (key, raw, reason), for inspection
        self.set_aside_updates: dict[int, tuple[str, str]] = {}  # update id: (raw, reason)
        self._lock = threading.Lock()
        self._init_records()

    def get(self, chat_id: str) -> Session | None:
        """Return the stored session for this chat, or None."""
        with self._lock:
            stored = self._sessions.get(chat_id)
        return None if stored is None else session_from_json(stored[1])

    def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Store ``session`` if the stored version equals ``expected_version`` (None: absent)."""
        raw = session_to_json(session)
        with self._lock:
            stored = self._sessions.get(session.chat_id)
            current = None if stored is None else stored[0]
            if current != expected_version:
                return False
            self._sessions[session.chat_id] = (session.version, raw)
            delivery = self._delivery_of(session.chat_id)
            self._delivery[session.chat_id] = delivery._replace(revision=delivery.revision + 1)
            return True

    def _delivery_of(self, key: str) -> _Delivery:
        """The delivery part of a row that exists (a fresh one if it was never written)."""
        return self._delivery.get(key) or _Delivery()

    # -- delivery: records with dedupe ids and outbox, the inbox, quarantine ---------------

    def load(self, key: str) -> ChatRecord:
        """The conversation's record; an unreadable row is quarantined and reads as absent."""
        with self._lock:
            stored = self._sessions.get(key)
            delivery = self._delivery_of(key)
        if stored is None:
            return ChatRecord(key=key)
        try:
            return ChatRecord(
                key=key,
                session=session_from_json(stored[1]),
                seen=seen_from_json(delivery.seen),
                outbox=outbox_from_json(delivery.outbox),
                revision=delivery.revision,
            )
        except StoreError as err:
            with self._lock:
                self.quarantined.append((key, stored[1], str(err)))
                self._sessions.pop(key, None)
                self._delivery.pop(key, None)
            return ChatRecord(key=key, quarantined=True, reason=str(err))

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        """Write session, dedupe ids and outbox at once if the revision is still ``record``'s."""
        session = record.session
        assert session is not None, "a record is saved with a session"
        with self._lock:
            exists = record.key in self._sessions
            current = self._delivery_of(record.key).revision if exists else None
            if current != record.revision:
                return False
            self._sessions[record.key] = (session.version, session_to_json(session))
            self._delivery[record.key] = _Delivery(
                revision=1 if current is None else current + 1,
                seen=seen_to_json(record.seen),
                outbox=outbox_to_json(record.outbox),
            )
            if done is not None:
                self._inbox.pop(done, None)
            return True

    def write_raw(self, key: str, data: str) -> None:
        """Store raw session text as is (tests: corrupt rows, rows from a newer version)."""
        with self._lock:
            self._sessions[key] = (0, data)

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
            keys += [
                k for k, d in self._delivery.items() if d.outbox != "[]" and k in self._sessions
            ]
        return list(dict.fromkeys(keys))

    def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """Keep an update the bot cannot parse, for inspection."""
        with self._lock:
            self.set_aside_updates.setdefault(update_id, (raw, reason))

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        with self._lock:
            self._sessions.pop(chat_id, None)
            self._delivery.pop(chat_id, None)

    def close(self) -> None:
        """Nothing to release."""
