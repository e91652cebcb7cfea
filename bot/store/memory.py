"""In-process session store: JSON strings in a dict behind a lock (tests, the console chat)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import NamedTuple

from bot.core.session import Session, session_from_json, session_to_json

EVENT_LIMIT = 10_000


class EventRecord(NamedTuple):
    """One entry of the event log kept for ``/stats``."""

    kind: str
    chat_id: str
    topic: str | None
    detail: str
    at: float


class MemoryStore:
    """Sessions in a dict, kept as JSON so this store exercises serialisation like the others."""

    def __init__(self, *, event_limit: int = EVENT_LIMIT) -> None:
        self._sessions: dict[str, tuple[int, str]] = {}
        self._events: deque[EventRecord] = deque(maxlen=event_limit)
        self._lock = threading.Lock()

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
            return True

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
