"""The ops runtime: gauges sampled from the store, readiness when a real Redis goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import Settings
from bot.core import tickets as rules
from bot.core.tickets import StaffMode
from bot.ops.runtime import start_ops
from bot.store.aio import ThreadedStore
from bot.store.memory import MemoryStore
from bot.store.outbox import Incoming
from bot.store.redis import RedisStore
from tests.helpers.redis_server import running_redis
from tests.ops.test_metrics import value

SETTINGS = Settings(token="123456789:" + "A" * 35)


def open_ticket(store: MemoryStore, chat_id: str) -> None:
    ticket = rules.open_ticket(
        number=store.new_ticket_number(),
        chat_id=chat_id,
        user="Ann",
        transcript=(),
        topic=None,
        place="",
        now=1.0,
        mode=StaffMode.REPLY,
    )
    assert store.put_ticket(ticket, expected_version=None)


def test_open_tickets_and_pending_work_come_from_the_async_store() -> None:
    ops = start_ops(SETTINGS, topics=("mailbox-full",), knowledge="kb")
    memory = MemoryStore()
    open_ticket(memory, "1")
    open_ticket(memory, "2")
    store = ThreadedStore(memory)
    updates = [Incoming(update_id=i, key=key, raw="{}") for i, key in enumerate("aab", 1)]

    async def scenario() -> None:
        await store.record_updates(updates)
        await ops.sample_gauges(ops.wrap_store(store))
        await store.close()

    asyncio.run(scenario())

    assert value(ops.metrics, "alimail_bot_open_tickets") == 2
    assert value(ops.metrics, "alimail_bot_outbox_depth") == 2  # conversations a and b
    assert value(ops.metrics, "alimail_bot_store_seconds_count", operation="records") == 1
    assert value(ops.metrics, "alimail_bot_store_seconds_count", operation="pending_keys") == 1


def test_a_plain_store_tells_its_open_tickets() -> None:
    ops = start_ops(SETTINGS, topics=(), knowledge="kb")
    store = MemoryStore()
    open_ticket(store, "1")

    asyncio.run(ops.sample_gauges(ops.wrap_store(store)))

    assert value(ops.metrics, "alimail_bot_open_tickets") == 1


def test_readiness_goes_false_when_redis_stops(tmp_path: Path) -> None:
    ops = start_ops(SETTINGS, topics=(), knowledge="kb")
    ops.health.api_ok()
    with running_redis(tmp_path) as url:
        store = ops.wrap_store(RedisStore(url))
        asyncio.run(ops.health.probe_once(store=lambda: store.get("probe"), bot_api=None))
        assert ops.health.report().ready is True
    # The server is gone now.
    asyncio.run(ops.health.probe_once(store=lambda: store.get("probe"), bot_api=None))
    store.close()

    report = ops.health.report()
    assert report.ready is False
    assert report.checks == {"store": False, "knowledge": True, "bot_api": True}
