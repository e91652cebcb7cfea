"""The Telegram channel under load and faults: nothing lost, nothing doubled, no cross-talk.

Many users walk through their problems at once while the fake answers some calls with 429
(``retry_after``) or 502. Each chat's transcript must equal, message for message, what the
pure engine says for the same events: every reply exactly once, in order, and only that
chat's own topic.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.core.dialogue import Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.session import State
from tests.helpers.bot_process import (
    Mirror,
    RunningBot,
    answering_example,
    play,
    running_bot,
    visible_texts,
    walkthrough,
)
from tests.helpers.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.telegram, pytest.mark.asyncio]

PROBLEMS = ("pop-deletion", "sent-not-saved", "missing-email", "mailbox-full")
FIRST_CHAT = 8000


async def walk_many(
    bot: RunningBot, engine: Engine, kb: KnowledgeBase, matcher: Matcher, users: int
) -> dict[int, tuple[str, list[str]]]:
    """``users`` chats walk through a problem each at once; returns chat -> (topic, texts)."""
    examples = {topic: answering_example(kb, matcher, topic) for topic in PROBLEMS}

    async def one(index: int) -> tuple[int, str, list[str]]:
        chat_id = FIRST_CHAT + index
        topic = PROBLEMS[index % len(PROBLEMS)]
        by = "buttons" if index % 2 == 0 else "words"
        moves = walkthrough(kb, topic, by=by, describe=examples[topic])
        messages = await play(bot, Mirror(engine, chat_id), chat_id, moves)
        return chat_id, topic, visible_texts(messages)

    results = await asyncio.gather(*(one(i) for i in range(users)))
    return {chat_id: (topic, texts) for chat_id, topic, texts in results}


def assert_no_cross_talk(kb: KnowledgeBase, transcripts: dict[int, tuple[str, list[str]]]) -> None:
    """Each chat saw its own problem's title and steps and no other problem's."""
    for chat_id, (topic, texts) in transcripts.items():
        seen = "\n".join(texts)
        assert kb.title_of(topic) in seen, chat_id
        for other in PROBLEMS:
            if other != topic:
                assert kb.title_of(other) not in seen, (chat_id, topic, other)


async def test_50_users_at_once_each_get_only_their_own_walkthrough_in_order(
    fake_bot_api: FakeBotApi,
    engine_without_staff: Engine,
    kb: KnowledgeBase,
    matcher: Matcher,
) -> None:
    async with running_bot(fake_bot_api, engine_without_staff) as bot:
        transcripts = await walk_many(bot, engine_without_staff, kb, matcher, users=50)
        bot.assert_every_press_answered()
        for chat_id in transcripts:
            session = bot.session(chat_id)
            assert session is not None
            assert session.state is State.IDLE
    assert len(transcripts) == 50
    assert_no_cross_talk(kb, transcripts)
    assert bot.channel.delivery.lost == 0
    assert all(r.ok for r in fake_bot_api.requests("sendMessage"))


async def test_20_percent_429_and_502_lose_no_reply_and_double_none(
    fake_bot_api: FakeBotApi,
    engine_without_staff: Engine,
    kb: KnowledgeBase,
    matcher: Matcher,
) -> None:
    fake_bot_api.set_fault_rate(0.2, statuses=(429, 502), seed=20, retry_after=0.05)
    async with running_bot(fake_bot_api, engine_without_staff, rate_limit=True) as bot:
        transcripts = await walk_many(bot, engine_without_staff, kb, matcher, users=8)
        bot.assert_every_press_answered()
    failed = [r for r in fake_bot_api.requests() if r.status in (429, 502)]
    assert {r.status for r in failed} == {429, 502}  # both kinds were really injected
    assert len(failed) >= 10
    # play() compared every chat, move by move, with the engine: each reply once, in order.
    assert_no_cross_talk(kb, transcripts)
    assert bot.channel.delivery.lost == 0
    shown = [
        r
        for r in fake_bot_api.requests()
        if r.ok and r.method in ("sendMessage", "editMessageText")
    ]
    assert len(shown) == sum(len(texts) for _, texts in transcripts.values())


async def test_a_burst_from_one_chat_is_handled_in_order_while_other_chats_run(
    fake_bot_api: FakeBotApi,
    engine_without_staff: Engine,
    kb: KnowledgeBase,
    matcher: Matcher,
) -> None:
    """Users who type ahead: every message of a chat is sent before the bot answers any."""
    chats = {FIRST_CHAT + i: PROBLEMS[i % len(PROBLEMS)] for i in range(8)}
    expected: dict[int, list[str]] = {}
    last_update: dict[int, int] = {}
    async with running_bot(fake_bot_api, engine_without_staff) as bot:
        for chat_id, topic in chats.items():
            moves = walkthrough(
                kb, topic, by="words", describe=answering_example(kb, matcher, topic)
            )
            mirror = Mirror(engine_without_staff, chat_id)
            expected[chat_id] = [text for move in moves for text in move.expected(mirror)]
            for move in moves:
                last_update[chat_id] = fake_bot_api.send_text(chat_id, move.text)
        for update_id in last_update.values():
            await bot.processed(update_id)
    for chat_id in chats:
        assert visible_texts(fake_bot_api.messages(chat_id)) == expected[chat_id], chat_id
