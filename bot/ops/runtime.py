"""The operations side of ``alimail-bot run``, assembled once: health, metrics, logs, Bot API.

A channel calls ``start_ops`` at start-up and then only touches what it needs: ``wrap_store``
for the session store, ``request()`` for python-telegram-bot's HTTP client, ``updates.observe``
around each update, ``health.answer`` for ``/healthz`` and ``/readyz`` on its own server, and
``watch`` as a background task.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.ops.bot_api import ApiObserver, ObservedRequest
from bot.ops.health import Health
from bot.ops.logging import Pseudonyms
from bot.ops.metrics import Metrics
from bot.ops.server import OpsServer
from bot.ops.store import instrument_store
from bot.ops.updates import UpdateObserver

STORE_PROBE_CHAT = "readyz-probe"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ops:
    """Health, metrics, the per-update observer and the Bot API observer of one process."""

    health: Health
    metrics: Metrics
    updates: UpdateObserver
    api: ApiObserver
    server: OpsServer | None

    def wrap_store(self, store: Any) -> Any:
        """The store with every call timed, errors counted, and readiness told."""
        return instrument_store(store, self.metrics, self.health)

    def request(self, *, get_updates: bool = False, **timeouts: float) -> ObservedRequest:
        """An HTTP client for python-telegram-bot whose calls feed metrics, health and logs."""
        # Long polling holds one connection at a time; sends may run in parallel.
        pool = 1 if get_updates else 256
        return ObservedRequest(self.api, connection_pool_size=pool, **timeouts)

    async def watch(self, *, store: Any, bot_api: Callable[[], Awaitable[Any]] | None) -> None:
        """Probe the store (and the Bot API when it has been quiet) until cancelled."""
        probe = getattr(store, "ping", None) or (lambda: store.get(STORE_PROBE_CHAT))
        await self.health.watch(
            store=probe, bot_api=bot_api, extra=(lambda: self.sample_gauges(store),)
        )

    async def sample_gauges(self, store: Any) -> None:
        """Set the gauges only the store can tell: open tickets, and the outbox.

        An async store (``bot.store.aio``) answers ``records("count_open_tickets")`` and
        ``pending_keys()`` (conversations with owed replies or unhandled updates); a plain
        store answers ``count_open_tickets()``. What a store cannot tell stays at 0.
        """
        records = getattr(store, "records", None)
        if records is not None:
            self.metrics.open_tickets.set(await records("count_open_tickets"))
        else:
            count = getattr(store, "count_open_tickets", None)
            if count is not None:
                self.metrics.open_tickets.set(await _resolve(count()))
        pending = getattr(store, "pending_keys", None)
        if pending is not None:
            self.metrics.outbox_depth.set(len(await _resolve(pending())))

    def stop(self) -> None:
        """Stop the metrics server, if one runs."""
        if self.server is not None:
            self.server.stop()


def start_ops(settings: Settings, *, topics: tuple[str, ...], knowledge: str) -> Ops:
    """Create everything and start the metrics server when ``BOT_METRICS`` says where."""
    health = Health()
    health.knowledge_loaded(knowledge)
    metrics = Metrics(topics=topics)
    assert settings.token is not None
    names = Pseudonyms(settings.salt, fallback_secret=settings.token)
    updates = UpdateObserver(pseudonyms=names, metrics=metrics)
    api = ApiObserver(metrics=metrics, health=health)
    server = None
    if settings.metrics is not None:
        host, port = settings.metrics
        server = OpsServer(host=host, port=port, health=health, metrics=metrics)
        server.start()
    return Ops(health=health, metrics=metrics, updates=updates, api=api, server=server)


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
