"""In-process session store: JSON strings in a dict behind a lock (tests, the console chat)."""

from __future__ import annotations

import threading

from bot.core.session import Session, session_from_json, session_to_json
from bot.store.helpdesk import EventRecord
from bot.store.memory_records import MemoryRecords

__all__ = ["EventRecord", "MemoryStore"]


class MemoryStore(MemoryRecords):
    """Sessions in a dict, kept as JSON so this store exercises serialisation like the others."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[int, str]] = {}
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
            return True

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        with self._lock:
            self._sessions.pop(chat_id, None)

    def close(self) -> None:
        """Nothing to release."""
