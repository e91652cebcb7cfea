"""Per-chat ordering: one update per chat at a time, different chats in parallel."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CHAT_LOCKS = 10_000


class ChatLocks:
    """A bounded map of per-chat asyncio locks; idle locks are evicted oldest first.

    A lock is idle when no task holds it *or waits for it*: ``Lock.locked()`` alone is False
    for a moment between a release and the next waiter's wake-up, and evicting then would let
    a newcomer run beside that waiter.
    """

    def __init__(self, limit: int = MAX_CHAT_LOCKS) -> None:
        self._limit = limit
        self._locks: OrderedDict[str, asyncio.Lock] = OrderedDict()
        self._users: Counter[str] = Counter()  # tasks holding or waiting for each lock

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of one chat."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._locks.move_to_end(key)
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] <= 0:
                del self._users[key]
            self._evict()

    def _evict(self) -> None:
        if len(self._locks) <= self._limit:
            return
        for key in list(self._locks):
            if len(self._locks) <= self._limit:
                break
            if key not in self._users:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent updates across chats, strictly ordered within one chat.

    ``observe`` (from ``bot.ops``) wraps the handling of each update: every update passes
    here, handled or not, so this is where the per-update log line and counters live.
    """

    def __init__(
        self,
        max_concurrent_updates: int = 256,
        *,
        observe: Callable[[object], AbstractContextManager[Any]] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.locks = ChatLocks()
        self.observe = observe

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers while holding its chat's lock."""
        async with self.locks.hold(_chat_key(update)):
            with self.observe(update) if self.observe else contextlib.nullcontext():
                await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> str:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return f"c{update.effective_chat.id}"
        if update.effective_user is not None:
            return f"u{update.effective_user.id}"
    return "other"
