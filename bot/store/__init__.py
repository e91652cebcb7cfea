"""Session stores: one protocol, small backends (memory, SQLite, Redis) chosen by URL."""

from __future__ import annotations

from typing import Protocol

from bot.core.session import Session


class SessionStore(Protocol):
    """Where sessions live between updates. ``put`` is compare-and-set on ``version``."""

    def get(self, chat_id: str) -> Session | None:
        """Return the stored session for this chat, or None."""
        ...

    def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Store ``session`` if the stored version equals ``expected_version``.

        ``expected_version=None`` means "only if nothing is stored yet". Returns False, storing
        nothing, when another writer got there first.
        """
        ...

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...
