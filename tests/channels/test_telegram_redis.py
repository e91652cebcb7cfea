"""Replicas on one Redis, and a Redis that stops answering.

Two runtimes (two "replicas", each with its own PTB application and Redis connections) share
one ``redis-server``; updates reach them as a webhook would deliver them, alternating between
the two. A per-conversation lease with a fencing token keeps each chat's updates in order.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.channels.telegram import Runtime, build_application
from bot.channels.telegram.handlers import STORE_DOWN
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.store.redis_async import AsyncRedisStore
from tests.helpers.bot_process import Mirror, answering_example, running_bot, walkthrough
from tests.helpers.fake_bot_api import FakeBotApi
from tests.helpers.redis_server import running_redis_process

pytestmark = [pytest.mark.telegram, pytest.mark.asyncio, pytest.mark.redis]

FIRST_CHAT = 9300
PROBLEMS = ("pop-deletion", "sent-not-saved", "missing-email", "mailbox-full")


class Replicas:
    """Two runtimes on one Redis; ``done`` counts finished updates across both."""

    def __init__(self) -> None:
        self.runtimes: list[Runtime] = []
        self.done: Counter[int] = Counter()
        self.changed = asyncio.Event()

    def finished(self, update_id: int) -> None:
        self.done[update_id] += 1
        self.changed.set()

    async def handled(self, update_ids: list[int], timeout: float = 30.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while any(self.done[u] == 0 for u in update_ids):
                self.changed.clear()
                await self.changed.wait()


@pytest_asyncio.fixture
async def replicas(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, redis_url: str
) -> AsyncIterator[Replicas]:
    """Two replicas of the bot on one Redis."""
    settings = Settings(token=fake_bot_api.token, api_url=fake_bot_api.base_url, rate_limit=False)
    group = Replicas()
    stores = []
    for _ in range(2):
        store = await AsyncRedisStore.open(redis_url, call_timeout=3.0)
        stores.append(store)
        application, channel = build_application(settings, engine_without_staff, store)
        runtime = Runtime(
            application, channel, store, on_done=group.finished, store_retry_seconds=0.2
        )
        await runtime.start()
        group.runtimes.append(runtime)
    try:
        yield group
    finally:
        for runtime in group.runtimes:
            await runtime.stop()
        for store in stores:
            await store.close()


async def test_two_replicas_in_a_burst_keep_each_chat_in_order_with_one_keyboard(
    fake_bot_api: FakeBotApi,
    replicas: Replicas,
    engine_without_staff: Engine,
    kb: KnowledgeBase,
    matcher: Matcher,
) -> None:
    expected: dict[int, list[str]] = {}
    plans: dict[int, list[int]] = {}
    for i in range(30):
        chat_id = FIRST_CHAT + i
        topic = PROBLEMS[i % len(PROBLEMS)]
        moves = walkthrough(kb, topic, by="words", describe=answering_example(kb, matcher, topic))
        moves = moves[:6]
        mirror = Mirror(engine_without_staff, chat_id)
        expected[chat_id] = [text for move in moves for text in move.expected(mirror)]
        plans[chat_id] = [fake_bot_api.send_text(chat_id, move.text) for move in moves]

    async def deliver(chat_id: int) -> None:
        # Telegram posts one chat's updates one after another, each to whichever replica.
        for n, update_id in enumerate(plans[chat_id]):
            status = await replicas.runtimes[n % 2].on_webhook_update(
                fake_bot_api.update(update_id)
            )
            assert status == 200

    await asyncio.gather(*(deliver(chat_id) for chat_id in plans))
    await replicas.handled([u for ids in plans.values() for u in ids])

    for chat_id, texts in expected.items():
        await fake_bot_api.wait_for_async(
            lambda c=chat_id, t=texts: (
                [m.visible_text for m in fake_bot_api.messages(c)] == t or None
            ),
            timeout=10,
            description=f"chat {chat_id}'s transcript",
        )
        # Old keyboards are removed once replies are out (clean-ups yield to them): one left.
        await fake_bot_api.wait_for_async(
            lambda c=chat_id: sum(1 for m in fake_bot_api.messages(c) if m.buttons) <= 1,
            timeout=30,
            description=f"chat {chat_id}: one keyboard",
        )


async def test_a_hung_redis_gets_an_honest_answer_and_loses_nothing(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, tmp_path: Path
) -> None:
    with running_redis_process(tmp_path) as (url, server):
        store = await AsyncRedisStore.open(url, call_timeout=1.0)
        try:
            async with running_bot(fake_bot_api, engine_without_staff, async_store=store) as bot:
                server.send_signal(signal.SIGSTOP)  # Redis stops answering, connections stay
                try:
                    update = fake_bot_api.send_text(FIRST_CHAT, "my mailbox is full")
                    (notice,) = await fake_bot_api.wait_for_messages_async(
                        FIRST_CHAT, 1, timeout=10
                    )
                finally:
                    server.send_signal(signal.SIGCONT)
                await bot.processed(update, timeout=20)
        finally:
            await store.close()

    assert notice.visible_text == STORE_DOWN
    texts = [m.visible_text.split("\n")[0] for m in fake_bot_api.messages(FIRST_CHAT)]
    assert texts == [STORE_DOWN, "Cannot Receive New Emails Due to Full Mailbox"]
