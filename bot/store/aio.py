"""The stores as the event loop sees them: every call async and bounded by a timeout.

The Telegram channel never calls a store on the event loop directly: a hung Redis or a SQLite
file locked by another process would freeze every chat. ``ThreadedStore`` runs a synchronous
store (SQLite, memory) in one worker thread; ``bot.store.redis_async`` talks to Redis with
``redis.asyncio``. Either way a call that does not finish within ``timeout`` seconds raises
``StoreUnavailable``, which the channel turns into an honest "I can't reach my memory".
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

from bot.core.session import Session
from bot.core.tickets import Ticket
from bot.errors import StoreError, StoreUnavailable
from bot.store import SessionStore
from bot.store.helpdesk import EventRecord
from bot.store.outbox import ChatRecord, Incoming

logger = logging.getLogger(__name__)

T = TypeVar("T")

STORE_TIMEOUT = 3.0

# The fencing token of the lease the current task holds on the conversation it works on
# (None: no lease, e.g. one process on SQLite). Saves made by that task carry it.
LEASE: ContextVar[int | None] = ContextVar("LEASE", default=None)
RECORD_METHODS = frozenset(
    {
        "log_event",
        "events",
        "event_counts",
        "purge",
        "forget",
        "new_ticket_number",
        "put_ticket",
        "get_ticket",
        "open_ticket_of",
        "ticket_of_thread",
        "ticket_of_message",
        "count_open_tickets",
    }
)


class AsyncStore(Protocol):
    """What the Telegram channel needs from a store; every method may raise StoreUnavailable."""

    # The synchronous store behind it, for services that run their own worker threads on it
    # (the helpdesk: tickets and the event log).
    sync: Any

    async def load(self, key: str) -> ChatRecord:
        """The conversation's record (an unreadable row is quarantined and reads as absent)."""
        ...

    async def save(
        self, record: ChatRecord, *, done: int | None = None, token: int | None = None
    ) -> bool:
        """Compare-and-set on ``record.revision`` (and the lease ``token``, when given)."""
        ...

    async def record_updates(self, updates: list[Incoming]) -> None:
        """Keep updates durably before they are confirmed (idempotent)."""
        ...

    async def inbox(self, key: str) -> list[Incoming]:
        """One conversation's recorded updates not applied yet, oldest first."""
        ...

    async def forget_update(self, key: str, update_id: int) -> None:
        """Drop one inbox entry."""
        ...

    async def pending_keys(self) -> list[str]:
        """Conversations with recorded updates or owed calls."""
        ...

    async def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """Keep an unparseable update for inspection."""
        ...

    async def acquire(self, key: str) -> int | None:
        """A lease on one conversation with a fencing token, or None if another holds it."""
        ...

    async def release(self, key: str, token: int) -> None:
        """Give the lease back (only if it is still ours)."""
        ...

    async def get(self, key: str) -> Session | None:
        """The session alone."""
        ...

    async def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Compare-and-set on the session version."""
        ...

    async def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """Append one event-log record."""
        ...

    async def event_counts(self, since: float = 0) -> dict[str, int]:
        """Counts of event kinds since ``since``."""
        ...

    async def records(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Any other ``RecordStore`` method (tickets, events...) by name, bounded the same way."""
        ...

    async def close(self) -> None:
        """Release resources."""
        ...


class ThreadedStore:
    """A synchronous store run in one worker thread, each call bounded by ``timeout``.

    One thread because SQLite has one connection behind one lock anyway. A call that times
    out keeps its thread busy until SQLite's own busy timeout ends it; calls queued behind it
    time out too, which is the truth: the store is not answering.
    """

    def __init__(self, store: SessionStore, *, timeout: float = STORE_TIMEOUT) -> None:
        self.sync: Any = store
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._tokens = itertools.count(1)

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(function, *args, **kwargs)
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, call), self.timeout)
        except TimeoutError as err:
            raise StoreUnavailable(
                f"the session store did not answer within {self.timeout:g}s"
            ) from err
        except StoreUnavailable:
            raise
        except StoreError as err:  # "database is locked", a closed file...
            raise StoreUnavailable(str(err)) from err

    async def load(self, key: str) -> ChatRecord:
        """See AsyncStore."""
        return await self._call(self.sync.load, key)

    async def save(
        self, record: ChatRecord, *, done: int | None = None, token: int | None = None
    ) -> bool:
        """See AsyncStore; one process owns the file, so there is no lease to check."""
        return await self._call(self.sync.save, record, done=done)

    async def record_updates(self, updates: list[Incoming]) -> None:
        """See AsyncStore."""
        await self._call(self.sync.record_updates, updates)

    async def inbox(self, key: str) -> list[Incoming]:
        """See AsyncStore."""
        return await self._call(self.sync.inbox, key)

    async def forget_update(self, key: str, update_id: int) -> None:
        """See AsyncStore."""
        await self._call(self.sync.forget_update, key, update_id)

    async def pending_keys(self) -> list[str]:
        """See AsyncStore."""
        return await self._call(self.sync.pending_keys)

    async def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """See AsyncStore."""
        await self._call(self.sync.set_aside, update_id, raw, reason)

    async def acquire(self, key: str) -> int | None:
        """In one process the scheduler already runs one conversation at a time."""
        return next(self._tokens)

    async def release(self, key: str, token: int) -> None:
        """Nothing to release in one process."""

    async def get(self, key: str) -> Session | None:
        """See AsyncStore."""
        return await self._call(self.sync.get, key)

    async def put(self, session: Session, *, expected_version: int | None) -> bool:
        """See AsyncStore."""
        return await self._call(self.sync.put, session, expected_version=expected_version)

    async def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """See AsyncStore."""
        await self._call(self.sync.log_event, kind, chat_id, topic, detail, at)

    async def event_counts(self, since: float = 0) -> dict[str, int]:
        """See AsyncStore."""
        return await self._call(self.sync.event_counts, since)

    async def records(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """See AsyncStore: e.g. ``await store.records("open_ticket_of", chat_id)``."""
        if method not in RECORD_METHODS:
            raise AttributeError(f"{method!r} is not a RecordStore method")
        return await self._call(getattr(self.sync, method), *args, **kwargs)

    async def events(self, since: float = 0) -> list[EventRecord]:
        """The event log from ``since`` on."""
        return await self._call(self.sync.events, since)

    async def open_ticket_of(self, chat_id: str) -> Ticket | None:
        """The chat's open ticket, or None."""
        return await self._call(self.sync.open_ticket_of, chat_id)

    async def close(self) -> None:
        """Close the store in its thread and stop the thread (best effort if it hangs)."""
        try:
            await self._call(self.sync.close)
        except StoreUnavailable as err:
            logger.warning("session store not closed cleanly: %s", err)
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)


def as_async(store: SessionStore | AsyncStore) -> AsyncStore:
    """The store as the event loop should use it: async stores as they are, others threaded.

    An async store is recognised by the synchronous store it carries (``sync``), so a
    transparent proxy around one (metrics) is recognised too.
    """
    if isinstance(store, ThreadedStore) or hasattr(store, "sync"):
        return store  # type: ignore[return-value]
    return ThreadedStore(store)  # type: ignore[arg-type]


async def open_async_store(url: str, *, call_timeout: float = STORE_TIMEOUT) -> AsyncStore:
    """Open the store a ``BOT_STORE`` URL names, for use on an event loop."""
    if url.startswith(("redis://", "rediss://")):
        from bot.store.redis_async import AsyncRedisStore

        return await AsyncRedisStore.open(url, call_timeout=call_timeout)
    from bot.store import open_store

    return ThreadedStore(await asyncio.to_thread(open_store, url), timeout=call_timeout)
