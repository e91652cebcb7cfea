"""The shape of an event-log record as reports read it (any store's records fit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DAY = 24 * 3600.0


class EventLike(Protocol):
    """One event-log record: dotted ``kind``, (pseudonymised) chat, topic, detail, Unix time."""

    @property
    def kind(self) -> str: ...

    @property
    def chat_id(self) -> str: ...

    @property
    def topic(self) -> str | None: ...

    @property
    def detail(self) -> str: ...

    @property
    def at(self) -> float: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A plain event record, for tests and for stores that have no record type of their own."""

    kind: str
    chat_id: str
    topic: str | None = None
    detail: str = ""
    at: float = 0.0
