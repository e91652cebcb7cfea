"""The update pipeline: fetch (or receive), record, confirm, schedule, handle, deliver.

Polling is ours, not python-telegram-bot's: a batch from ``getUpdates`` is recorded in the
store's inbox first, and only the *next* ``getUpdates`` (whose offset confirms it) tells
Telegram it arrived; PTB's own updater would confirm on fetch and lose what is in flight when
the process dies. A webhook update is answered 200 once it is recorded (503 if the store
cannot record it: Telegram sends it again). Recorded updates are handled per conversation by
``ChatScheduler`` and removed from the inbox in the same write that saves their effect; after
a crash, ``resume`` picks up every conversation with recorded updates or owed replies.

An update PTB cannot parse is set aside (kept in the store, one warning) and confirmed like
the rest, so it never blocks the ones behind it. A conversation with ``chat_queue_limit``
updates waiting gets no more until it drains: the excess is confirmed and dropped, with one
"slow down" notice. SIGTERM stops fetching, lets the workers finish the update each has in
hand, and leaves the rest recorded (or unconfirmed) for the next start.

Keyboard clean-ups wait for spare capacity (see ``delivery``): a conversation whose outbox
holds only clean-ups while other calls are being sent is noted here, and scheduled again, one
at a time, whenever the send policy is idle. They are in the outbox meanwhile, so a restart
still makes them; a stop gives them the same grace as the work in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections import Counter, OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from http import HTTPStatus
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.channels.telegram.delivery import _BotContext
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.keys import update_key
from bot.channels.telegram.scheduler import WORKERS, ChatScheduler
from bot.channels.telegram.webhook import WebhookServer
from bot.errors import StoreError, StoreUnavailable
from bot.store.aio import LEASE, AsyncStore
from bot.store.outbox import Incoming

logger = logging.getLogger(__name__)

CHAT_QUEUE_LIMIT = 20
BATCH = 4  # updates of one conversation per turn of a worker
POLL_TIMEOUT_SECONDS = 10
LEASE_RETRY_SECONDS = 0.2
STORE_RETRY_SECONDS = 2.0
STOP_GRACE_SECONDS = 8.0
CLEANUP_PACE_SECONDS = 1 / 30  # between two deferred clean-ups released while idle
DIRECT_MEMORY = 1_000
SLOW_DOWN = (
    "You're sending messages faster than I can read them, so I skipped some. "
    "Please wait for my answer, then go on."
)


class Runtime:
    """Owns the pipeline from Telegram to the channel's handlers; see the module docstring."""

    def __init__(
        self,
        application: Application,
        channel: TelegramChannel,
        store: AsyncStore,
        *,
        workers: int = WORKERS,
        chat_queue_limit: int = CHAT_QUEUE_LIMIT,
        on_done: Callable[[int], None] | None = None,
        store_retry_seconds: float = STORE_RETRY_SECONDS,
        observe: Callable[[Update], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.application = application
        # bot.ops: the per-update log line and counters, around every update handled.
        self.observe = observe or (lambda update: contextlib.nullcontext())
        self.channel = channel
        self.store = store
        self.chat_queue_limit = chat_queue_limit
        self.scheduler = ChatScheduler(self._work, workers=workers)
        channel.retry_later = self.scheduler.submit_later
        channel.clean_later = self._clean_later
        self._cleanups: OrderedDict[str, None] = OrderedDict()  # keys owing only clean-ups
        self._cleanups_waiting = asyncio.Event()
        self._cleaner: asyncio.Task[None] | None = None
        self.on_done = on_done
        self.store_retry_seconds = store_retry_seconds
        self.backlog: Counter[str] = Counter()
        self.slowed: set[str] = set()
        self.dropped = 0
        self.stopping = asyncio.Event()
        self._direct: set[asyncio.Task[None]] = set()
        self._direct_seen: OrderedDict[int, None] = OrderedDict()
        self._offset: int | None = None

    @property
    def bot(self) -> Any:
        """The PTB bot."""
        return self.application.bot

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialise PTB (getMe, post_init), start the workers, resume work left over."""
        await self.application.initialize()
        if self.application.post_init is not None:
            await self.application.post_init(self.application)
        self.scheduler.start()
        self._cleaner = asyncio.create_task(self._clean(), name="keyboard-cleaner")
        await self.resume()

    async def resume(self) -> None:
        """Schedule every conversation with recorded updates or owed calls."""
        try:
            keys = await self.store.pending_keys()
        except StoreUnavailable as err:
            logger.warning("cannot list pending work yet (%s); trying again soon", err)
            asyncio.get_running_loop().call_later(
                self.store_retry_seconds, lambda: asyncio.ensure_future(self.resume())
            )
            return
        if keys:
            logger.info("resuming %d conversations with pending work", len(keys))
        for key in keys:
            self.scheduler.submit(key)

    async def stop(self) -> None:
        """Finish what is in hand (bounded), then shut PTB down."""
        self.stopping.set()
        if self._cleanups:
            # Owed clean-ups get the grace too (they are kept in the outbox if it runs out).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cleaned(), STOP_GRACE_SECONDS)
        if self._cleaner is not None:
            self._cleaner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleaner
        await self.scheduler.stop(STOP_GRACE_SECONDS)
        if self._direct:
            await asyncio.wait(self._direct, timeout=STOP_GRACE_SECONDS)
        for task in self._direct:
            task.cancel()
        await self.application.shutdown()

    # -- keyboard clean-ups, when sending is idle ------------------------------------------

    def _clean_later(self, key: str) -> None:
        self._cleanups[key] = None
        self._cleanups_waiting.set()

    async def _clean(self) -> None:
        """Release deferred clean-ups one conversation at a time, while nothing else is sent."""
        policy = self.channel.policy
        while True:
            if not self._cleanups:
                self._cleanups_waiting.clear()
                await self._cleanups_waiting.wait()
                continue
            await policy.wait_spare()
            if self.scheduler.busy and not self.stopping.is_set():
                # Updates are being handled: their replies come first.
                await asyncio.sleep(CLEANUP_PACE_SECONDS)
                continue
            key, _ = self._cleanups.popitem(last=False)
            self.scheduler.submit(key)
            await asyncio.sleep(CLEANUP_PACE_SECONDS)

    async def _cleaned(self) -> None:
        """Wait until no clean-up is deferred and the scheduler is idle."""
        while True:
            await self.scheduler.wait_idle()
            if not self._cleanups:
                return
            await asyncio.sleep(CLEANUP_PACE_SECONDS)

    # -- intake --------------------------------------------------------------------------------

    async def accept(self, raws: list[Any]) -> None:
        """Record a batch of raw updates and schedule them; raise StoreUnavailable if the
        store could not record them (the chats have been told; nothing was confirmed)."""
        incoming: list[tuple[Incoming, Update]] = []
        direct: list[Update] = []
        overflow: list[tuple[str, Update]] = []
        aside: list[tuple[int, Any, str]] = []
        batch: Counter[str] = Counter()
        for raw in raws:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if type(update_id) is not int:
                logger.warning("an update without an update_id was ignored")
                continue
            try:
                update = Update.de_json(raw, self.bot)
                key = update_key(update)
            except Exception as err:  # any shape PTB cannot read, from any Bot API version
                aside.append((update_id, raw, f"{type(err).__name__}: {err}"))
                continue
            if key is None:
                direct.append(update)
            elif self.backlog[key] + batch[key] >= self.chat_queue_limit:
                overflow.append((key, update))
            else:
                batch[key] += 1
                raw_text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
                incoming.append((Incoming(update_id=update_id, key=key, raw=raw_text), update))
        for update in direct:  # no store needed: a store outage does not hold them up
            self._handle_direct(update)
        for update_id, raw, reason in aside:
            await self.store.set_aside(update_id, json.dumps(raw, default=str), reason)
            logger.warning(
                "update %s cannot be parsed; set aside, not handled: %s", update_id, reason
            )
        if incoming:
            try:
                await self.store.record_updates([entry for entry, _ in incoming])
            except StoreUnavailable:
                await asyncio.gather(
                    *(self.channel.notify_store_down(self.bot, u) for _, u in incoming),
                    return_exceptions=True,
                )
                raise
        for entry, _ in incoming:
            self.backlog[entry.key] += 1
            self.scheduler.submit(entry.key)
        for key, update in overflow:
            await self._slow_down(key, update)

    async def _slow_down(self, key: str, update: Update) -> None:
        self.dropped += 1
        query = update.callback_query
        if query is not None:
            await self.channel._answer_query(query, SLOW_DOWN)
        if key in self.slowed or update.effective_chat is None:
            return
        self.slowed.add(key)
        logger.info("conversation %s: %d updates waiting; skipping more", key, self.backlog[key])
        await self.channel._send_html(
            _BotContext(self.bot), update.effective_chat.id, SLOW_DOWN, None
        )

    def _handle_direct(self, update: Update) -> None:
        """Updates outside any conversation (inline queries): no store, handled at once."""
        if update.update_id in self._direct_seen:
            return
        self._direct_seen[update.update_id] = None
        while len(self._direct_seen) > DIRECT_MEMORY:
            self._direct_seen.popitem(last=False)
        task = asyncio.create_task(self._process_direct(update))
        self._direct.add(task)
        task.add_done_callback(self._direct.discard)

    async def _process_direct(self, update: Update) -> None:
        with self.observe(update):
            await self.application.process_update(update)
        if self.on_done is not None:
            self.on_done(update.update_id)

    # -- work on one conversation ----------------------------------------------------------

    async def _work(self, key: str) -> bool:
        """Handle a batch of one conversation's recorded updates; True if more are waiting."""
        try:
            token = await self.store.acquire(key)
        except StoreUnavailable as err:
            logger.warning("conversation %s waits for the store: %s", key, err)
            self.scheduler.submit_later(key, self.store_retry_seconds)
            return False
        if token is None:
            # Another replica is working on this conversation; look again shortly.
            self.scheduler.submit_later(key, LEASE_RETRY_SECONDS)
            return False
        reset = LEASE.set(token)
        try:
            items = await self.store.inbox(key)
            # The store knows how many are waiting (another replica may have recorded some).
            self._set_backlog(key, len(items))
            if not items:
                await self.channel.flush_owed(self.bot, key)
                return False
            for item in items[:BATCH]:
                if self.stopping.is_set():
                    return False
                if not await self._handle(item):
                    self.scheduler.submit_later(key, self.store_retry_seconds)
                    return False
            return len(items) > BATCH
        except StoreUnavailable as err:
            logger.warning("conversation %s waits for the store: %s", key, err)
            self.scheduler.submit_later(key, self.store_retry_seconds)
            return False
        finally:
            LEASE.reset(reset)
            with contextlib.suppress(StoreError):
                await self.store.release(key, token)

    def _set_backlog(self, key: str, waiting: int) -> None:
        if waiting > 0:
            self.backlog[key] = waiting
        else:
            self.backlog.pop(key, None)
            self.slowed.discard(key)

    async def _handle(self, item: Incoming) -> bool:
        """Run one recorded update through the handlers; False if it must be tried again."""
        try:
            update = Update.de_json(json.loads(item.raw), self.bot)
        except Exception as err:  # recorded by a version that could read it; this one cannot
            reason = f"{type(err).__name__}: {err}"
            await self.store.set_aside(item.update_id, item.raw, reason)
            await self.store.forget_update(item.key, item.update_id)
            logger.warning("update %s cannot be parsed; set aside: %s", item.update_id, reason)
            return True
        self.channel.failed.discard(item.update_id)
        with self.observe(update):
            await self.application.process_update(update)
        if item.update_id in self.channel.failed:
            self.channel.failed.discard(item.update_id)
            return False
        # Conversation updates left the inbox with their save; the others leave here.
        await self.store.forget_update(item.key, item.update_id)
        self._set_backlog(item.key, self.backlog[item.key] - 1)
        if self.on_done is not None:
            self.on_done(item.update_id)
        return True

    # -- polling -------------------------------------------------------------------------------

    async def poll(self) -> None:
        """Long-poll getUpdates until ``stopping``; confirm each batch only once recorded."""
        with contextlib.suppress(TelegramError):
            await self.bot.delete_webhook(drop_pending_updates=False)
        delay = 1.0
        while not self.stopping.is_set():
            raws = await self._fetch()
            if raws is None:
                await self._pause(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if not raws:
                continue
            try:
                await self.accept(raws)
            except StoreUnavailable as err:
                # Not confirmed: the same updates come back with the next getUpdates.
                logger.warning("cannot record updates (%s); fetching them again soon", err)
                await self._pause(self.store_retry_seconds)
                continue
            ids = [r["update_id"] for r in raws if type(r.get("update_id")) is int]
            if ids:
                self._offset = max(ids) + 1
        if self._offset is not None:
            # Confirm what was recorded without taking anything new (limit 1, not confirmed).
            with contextlib.suppress(TelegramError):
                await self.bot._post(
                    "getUpdates", {"offset": self._offset, "timeout": 0, "limit": 1}
                )

    async def _fetch(self) -> list[Any] | None:
        """One getUpdates (None after an error); abandoned as soon as we are stopping."""
        params: dict[str, Any] = {
            "timeout": POLL_TIMEOUT_SECONDS,
            "allowed_updates": list(Update.ALL_TYPES),
        }
        if self._offset is not None:
            params["offset"] = self._offset
        # Bot._post: the raw JSON, so that one update PTB cannot parse does not fail the batch.
        fetch = asyncio.ensure_future(
            self.bot._post("getUpdates", params, read_timeout=POLL_TIMEOUT_SECONDS + 10)
        )
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            return []
        try:
            result = fetch.result()
        except InvalidToken:
            raise
        except Conflict as err:
            logger.warning("getUpdates conflict (another poller, or a webhook is set): %s", err)
            return None
        except NetworkError as err:
            # DEBUG: an outage is one WARNING from the Bot API observer, not one per poll.
            logger.debug("getUpdates failed: %s", err)
            return None
        return list(result) if isinstance(result, list) else []

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    # -- webhook -------------------------------------------------------------------------------

    async def on_webhook_update(self, raw: dict[str, Any]) -> int:
        """200 once the update is recorded; 503 if the store cannot record it now."""
        try:
            await self.accept([raw])
        except StoreUnavailable as err:
            logger.warning("cannot record webhook update (%s); Telegram will resend it", err)
            return HTTPStatus.SERVICE_UNAVAILABLE
        return HTTPStatus.OK

    def webhook_server(self, *, path: str, secret: str | None) -> WebhookServer:
        """A webhook server that feeds this runtime."""
        return WebhookServer(path=path, secret=secret, on_update=self.on_webhook_update)

    def stop_on_signals(self) -> None:
        """SIGTERM and SIGINT stop fetching (and then the process, gracefully)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
