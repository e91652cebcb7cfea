"""Fair scheduling: per-conversation queues drained by a bounded pool of workers.

A conversation is "ready" at most once in the queue and worked on by at most one worker at a
time, so one chat's updates stay in order while different chats run in parallel. A worker
handles a small batch of one conversation and puts it back at the end of the queue if more
is waiting: a chat sending a thousand messages occupies one worker, never all of them, and
everyone else's turn comes round within a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

WORKERS = 16


class ChatScheduler:
    """Runs ``work(key)`` for submitted keys; ``work`` returns True if the key has more."""

    def __init__(self, work: Callable[[str], Awaitable[bool]], *, workers: int = WORKERS) -> None:
        self._work = work
        self._size = workers
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._idle = asyncio.Event()  # nothing running or waiting
        self._idle.set()
        self._quiet = asyncio.Event()  # nothing running
        self._quiet.set()
        self._closed = False

    def submit(self, key: str) -> None:
        """Make ``key`` ready (no-op if it is already waiting; noted if it is running)."""
        if self._closed:
            return
        if key in self._running:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._idle.clear()
            self._ready.put_nowait(key)

    def submit_later(self, key: str, delay: float) -> None:
        """Make ``key`` ready after ``delay`` seconds (a retry)."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.submit(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def start(self) -> None:
        """Start the workers."""
        self._workers = [
            asyncio.create_task(self._worker(), name=f"chat-worker-{i}") for i in range(self._size)
        ]

    @property
    def busy(self) -> int:
        """Conversations being worked on or waiting."""
        return len(self._running) + len(self._queued)

    async def _worker(self) -> None:
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._running.add(key)
            self._quiet.clear()
            more = False
            try:
                more = await self._work(key)
            except Exception:
                logger.exception("work on conversation %s failed", key)
            finally:
                self._running.discard(key)
                if more or key in self._again:
                    self._again.discard(key)
                    self.submit(key)
                if not self._running:
                    self._quiet.set()
                    if not self._queued:
                        self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until nothing is running or waiting."""
        await self._idle.wait()

    async def stop(self, grace: float) -> None:
        """Take no new work, let running work finish for up to ``grace`` seconds, then stop."""
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        # Waiting keys are dropped: their updates are recorded and resume at the next start.
        while not self._ready.empty():
            self._queued.discard(self._ready.get_nowait())
        if self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), grace)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
