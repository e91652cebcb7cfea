"""What users send is not lost, repeated or held up: the delivery guarantees, end to end.

Each test runs the real application and runtime against the fake Bot API (``running_bot``)
and injects one kind of trouble: slow or failing Telegram, an update PTB cannot parse, a
flooding user, a store that hangs or is locked, unreadable session rows, group members
pressing each other's buttons. Process crashes (SIGKILL, SIGTERM) are in
``test_telegram_process.py``; replicas on Redis in ``test_telegram_redis.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.channels.telegram.delivery import OUTBOX_ATTEMPTS, SEND_ATTEMPTS
from bot.channels.telegram.handlers import FRESH_START, NOT_YOUR_BUTTON, STORE_DOWN
from bot.channels.telegram.runtime import SLOW_DOWN
from bot.core.dialogue import Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.session import State, session_to_json
from bot.store.memory import MemoryStore
from bot.store.outbox import ChatRecord
from bot.store.sqlite import SqliteStore
from tests.helpers.bot_process import Mirror, answering_example, play, running_bot, walkthrough
from tests.helpers.fake_bot_api import BOT_USERNAME, FakeBotApi

pytestmark = [pytest.mark.telegram, pytest.mark.asyncio]

USER = 8101
GROUP = -100300
ALICE = 8201
BOB = 8202


async def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait (never assert on time) until ``check()`` holds; fail after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            # Bot-internal state (counters, the store) has no event to await: look again soon.
            while not check():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def first_line(text: str) -> str:
    """The first line of a message ("Step 2 of 3")."""
    return text.split("\n", 1)[0]


# ------------------------------------------------------------------ keyboard clean-ups wait


async def test_clean_ups_wait_for_spare_capacity_without_holding_replies_then_all_happen(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    held = asyncio.Event()
    async with running_bot(fake_bot_api, engine_without_staff, rate_limit=True) as bot:
        (first,) = await bot.say(USER, "my mailbox is full")
        assert first.buttons
        # Another chat's reply is on its way (held here): no capacity to spare for clean-ups.
        busy = asyncio.create_task(bot.channel.policy.call(held.wait, what="a reply"))
        await asyncio.sleep(0)
        (second,) = await bot.say(USER, "done")
        (third,) = await bot.say(USER, "done")  # not held behind the first clean-up
        assert second.buttons
        assert third.buttons
        assert fake_bot_api.requests("editMessageReplyMarkup") == []
        assert bot.session(USER).prompt_ref == str(third.message_id)  # type: ignore[union-attr]

        held.set()
        await busy
        # Now idle: every old keyboard is removed, each once, and the live one stays.
        await fake_bot_api.wait_for_async(
            lambda: len(fake_bot_api.requests("editMessageReplyMarkup")) == 2,
            description="the two clean-ups",
        )
        await eventually(lambda: bot.channel.policy.spare, "sending idle")

    keyboards = [m.message_id for m in fake_bot_api.messages(USER) if m.buttons]
    assert keyboards == [third.message_id]
    clean_ups = fake_bot_api.requests("editMessageReplyMarkup")
    cleared = [int(r.params["message_id"]) for r in clean_ups]
    assert sorted(cleared) == sorted([first.message_id, second.message_id])


async def test_typing_users_under_the_rate_limit_each_end_with_one_live_keyboard(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, kb: KnowledgeBase, matcher: Matcher
) -> None:
    topic = "mailbox-full"
    moves = walkthrough(kb, topic, by="words", describe=answering_example(kb, matcher, topic))
    moves = moves[:4]  # ends on a step: its keyboard is the live one
    chats = [USER + n for n in range(12)]
    async with running_bot(fake_bot_api, engine_without_staff, rate_limit=True) as bot:
        # play() checks each answer, then waits for the old keyboards to go: one stays.
        await asyncio.gather(
            *(play(bot, Mirror(engine_without_staff, c), c, moves) for c in chats)
        )
        for chat_id in chats:
            session = bot.session(chat_id)
            assert session is not None
            live = [m.message_id for m in fake_bot_api.messages(chat_id) if m.buttons]
            assert [str(m) for m in live] == [session.prompt_ref]
    # Each replaced keyboard was removed exactly once.
    cleared = [
        (int(r.params["chat_id"]), int(r.params["message_id"]))
        for r in fake_bot_api.requests("editMessageReplyMarkup")
    ]
    assert len(cleared) == len(set(cleared)) == len(chats) * (len(moves) - 1)


# ------------------------------------------------------------------------------ slow Telegram


async def test_a_slow_send_that_succeeds_arrives_exactly_once(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    fake_bot_api.set_delay(1.0, methods=["sendMessage"])
    async with running_bot(fake_bot_api, engine_without_staff, read_timeout=5.0) as bot:
        (reply,) = await bot.say(USER, "my mailbox is full")

    assert reply.visible_text.startswith("Cannot Receive New Emails")
    assert len(fake_bot_api.requests("sendMessage")) == 1
    assert "LOST" not in caplog.text


async def test_a_send_that_timed_out_after_it_was_written_is_not_repeated(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    fake_bot_api.set_delay(1.0, methods=["sendMessage"])  # longer than the bot waits
    async with running_bot(fake_bot_api, engine_without_staff, read_timeout=0.3) as bot:
        update = fake_bot_api.send_text(USER, "my mailbox is full")
        await bot.processed(update)
        await fake_bot_api.wait_for_messages_async(USER, 1)  # Telegram did send it
        delivery = bot.channel.delivery

    assert len(fake_bot_api.messages(USER)) == 1
    assert len(fake_bot_api.requests("sendMessage")) == 1
    assert (delivery.uncertain, delivery.lost) == (1, 0)
    assert "may have been delivered; not repeated" in caplog.text
    assert "LOST" not in caplog.text


async def test_a_429_is_waited_out_once_by_one_owner(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    fake_bot_api.fail_next("sendMessage", 429, retry_after=0.2)
    async with running_bot(fake_bot_api, engine_without_staff, rate_limit=True) as bot:
        (reply,) = await bot.say(USER, "my mailbox is full")

    assert reply.visible_text.startswith("Cannot Receive New Emails")
    assert [r.status for r in fake_bot_api.requests("sendMessage")] == [429, 200]


async def test_a_reply_that_keeps_failing_is_retried_then_given_up_counted_and_logged_once(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    tries = OUTBOX_ATTEMPTS * SEND_ATTEMPTS
    fake_bot_api.fail_next("sendMessage", 502, count=tries)
    async with running_bot(fake_bot_api, engine_without_staff) as bot:
        await bot.processed(fake_bot_api.send_text(USER, "my mailbox is full"))
        await eventually(
            lambda: bot.channel.delivery.lost == 1 and bot.store.load(str(USER)).outbox == (),
            "the reply to be given up",
        )
        record = bot.store.load(str(USER))
        (later,) = await bot.say(USER, "done")  # Telegram is back: the chat goes on

    assert len(fake_bot_api.requests("sendMessage")) == tries + 1
    assert record.outbox == ()
    assert [r.message for r in caplog.records if "LOST" in r.getMessage()] != []
    assert len([r for r in caplog.records if "LOST" in r.getMessage()]) == 1
    assert first_line(later.visible_text) == "Step 2 of 3"


# ------------------------------------------------------------------------------ odd updates


async def test_an_update_that_cannot_be_parsed_is_set_aside_and_blocks_nothing(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    # A message without "date" or "chat": what another Bot API version might send.
    broken = fake_bot_api.inject_update({"message": {"message_id": 1, "text": "hi"}})
    async with running_bot(fake_bot_api, engine_without_staff, store=store) as bot:
        (reply,) = await bot.say(USER, "my mailbox is full")
        await eventually(
            lambda: all(u["update_id"] != broken for u in fake_bot_api.pending_updates),
            "the unparseable update to be confirmed",
        )

    assert reply.visible_text.startswith("Cannot Receive New Emails")
    assert list(store.set_aside_updates) == [broken]
    assert json.loads(store.set_aside_updates[broken][0])["message"]["text"] == "hi"
    warnings = [r for r in caplog.records if str(broken) in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "set aside" in warnings[0].getMessage()


async def test_one_user_flooding_occupies_one_worker_and_is_told_to_slow_down(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    flood = [fake_bot_api.send_text(USER, f"hello {i}") for i in range(60)]
    others = {
        USER + 1 + i: fake_bot_api.send_text(USER + 1 + i, "my mailbox is full") for i in range(5)
    }
    async with running_bot(
        fake_bot_api, engine_without_staff, workers=2, chat_queue_limit=20
    ) as bot:
        for update_id in others.values():
            await bot.processed(update_id)
        await bot.processed(flood[19])  # the 20 accepted; the other 40 were dropped

    sends = [r for r in fake_bot_api.requests("sendMessage") if r.ok]
    flooded = [i for i, r in enumerate(sends) if r.params["chat_id"] == str(USER)]
    notices = [i for i in flooded if sends[i].params["text"] == SLOW_DOWN]
    assert len(notices) == 1
    assert len(flooded) == 20 + 1
    served = [i for i, r in enumerate(sends) if int(r.params["chat_id"]) in others]
    assert len(served) == len(others)
    # Everyone else was answered while the flood still had most of its turns to go.
    assert max(served) < flooded[12]


# ------------------------------------------------------------------------------ the store


async def test_an_unreadable_session_is_quarantined_and_the_user_starts_fresh(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    store.write_raw(str(USER), '{"schema": 1, "state": "guide", "step": "\x80')
    async with running_bot(fake_bot_api, engine_without_staff, store=store) as bot:
        (fresh,) = await bot.say(USER, "/start")
        (cancelled,) = await bot.say(USER, "/cancel")
        (started,) = await bot.say(USER, "my mailbox is full")

    assert fresh.visible_text.startswith(FRESH_START)
    assert "Alibaba Mail support bot" in fresh.visible_text
    assert FRESH_START not in cancelled.visible_text
    assert started.visible_text.startswith("Cannot Receive New Emails")
    assert [key for key, _, _ in store.quarantined] == [str(USER)]
    assert len([r for r in caplog.records if "quarantined" in r.getMessage()]) == 1


async def test_a_session_from_a_newer_version_is_continued(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    store = MemoryStore()
    async with running_bot(fake_bot_api, engine_without_staff, store=store) as bot:
        await bot.say(USER, "my mailbox is full")
        session = bot.session(USER)
        assert session is not None
        newer = json.loads(session_to_json(session))
        newer |= {"schema": 2, "mood": "calm", "ticket": {"number": 4}}
        store.write_raw(str(USER), json.dumps(newer))  # the row's other columns stay as they are

        (step,) = await bot.say(USER, "done")

    assert first_line(step.visible_text) == "Step 2 of 3"


class HangingStore(MemoryStore):
    """A store whose every call blocks while ``hung`` is set (a server that stopped)."""

    def __init__(self) -> None:
        super().__init__()
        self.hung = threading.Event()
        self.released = threading.Event()

    def _wait(self) -> None:
        if self.hung.is_set():
            self.released.wait(timeout=30)

    def record_updates(self, updates: list) -> None:  # type: ignore[type-arg]
        self._wait()
        super().record_updates(updates)

    def load(self, key: str) -> ChatRecord:
        self._wait()
        return super().load(key)


async def test_a_hung_store_gets_an_honest_answer_within_seconds_and_loses_nothing(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    store = HangingStore()
    async with running_bot(
        fake_bot_api, engine_without_staff, store=store, store_timeout=1.0
    ) as bot:
        store.hung.set()
        update = fake_bot_api.send_text(USER, "my mailbox is full")
        (notice,) = await fake_bot_api.wait_for_messages_async(USER, 1, timeout=10)
        assert notice.visible_text == STORE_DOWN
        inline = fake_bot_api.inline_query(USER, "mailbox full")  # other work goes on
        await bot.processed(inline)

        store.hung.clear()
        store.released.set()
        await bot.processed(update, timeout=15)

    texts = [first_line(m.visible_text) for m in fake_bot_api.messages(USER)]
    assert texts == [STORE_DOWN, "Cannot Receive New Emails Due to Full Mailbox"]
    assert len(fake_bot_api.inline_answers) == 1


async def test_a_locked_sqlite_file_gets_an_honest_answer_and_loses_nothing(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sessions.db"
    store = SqliteStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        async with running_bot(fake_bot_api, engine_without_staff, store=store) as bot:
            other.execute("BEGIN EXCLUSIVE")  # another process holds the file
            update = fake_bot_api.send_text(USER, "my mailbox is full")
            (notice,) = await fake_bot_api.wait_for_messages_async(USER, 1, timeout=15)
            other.execute("COMMIT")
            await bot.processed(update, timeout=15)
    finally:
        other.close()

    assert notice.visible_text == STORE_DOWN
    texts = [first_line(m.visible_text) for m in fake_bot_api.messages(USER)]
    assert texts == [STORE_DOWN, "Cannot Receive New Emails Due to Full Mailbox"]


# ------------------------------------------------------------------------------ groups


async def test_group_members_have_their_own_conversations_and_cannot_press_each_others_buttons(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    def say(user: int, text: str) -> int:
        return fake_bot_api.send_text(GROUP, text, user_id=user, chat_type="supergroup")

    async with running_bot(fake_bot_api, engine_without_staff) as bot:
        (alice_step,) = await bot.turn(GROUP, say(ALICE, f"@{BOT_USERNAME} my mailbox is full"))
        before = bot.session(f"{GROUP}:{ALICE}")

        bobs_press = fake_bot_api.press_button(GROUP, "✅ Done", user_id=BOB)
        assert await bot.turn(GROUP, bobs_press) == []
        assert bot.session(f"{GROUP}:{ALICE}") == before
        assert bot.session(f"{GROUP}:{BOB}") is None

        (bob_topics,) = await bot.turn(GROUP, say(BOB, f"/topics@{BOT_USERNAME}"))
        (alice_next,) = await bot.turn(
            GROUP,
            fake_bot_api.press_button(
                GROUP, "✅ Done", user_id=ALICE, message_id=alice_step.message_id
            ),
        )
        answers = {a.query_id: a.text for a in fake_bot_api.callback_answers}

    assert answers[fake_bot_api.update(bobs_press)["callback_query"]["id"]] == NOT_YOUR_BUTTON
    assert first_line(alice_next.visible_text) == "Step 2 of 3"
    assert alice_next.message_id == alice_step.message_id
    assert "Here's what I can help with" in bob_topics.visible_text
    alice = bot.session(f"{GROUP}:{ALICE}")
    assert alice is not None
    assert (alice.state, alice.step) == (State.GUIDE, 1)


async def test_in_a_forum_topic_replies_go_to_the_topic_they_came_from(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    fake_bot_api.add_forum_topic(GROUP, 77)
    async with running_bot(fake_bot_api, engine_without_staff) as bot:
        update = fake_bot_api.send_text(
            GROUP,
            f"@{BOT_USERNAME} my mailbox is full",
            user_id=ALICE,
            chat_type="supergroup",
            thread_id=77,
        )
        (reply,) = await bot.turn(GROUP, update)
        sticker = fake_bot_api.send_text(
            GROUP, f"@{BOT_USERNAME} done", user_id=ALICE, chat_type="supergroup", thread_id=77
        )
        (step,) = await bot.turn(GROUP, sticker)

    assert reply.message_thread_id == 77
    assert step.message_thread_id == 77
    assert first_line(step.visible_text) == "Step 2 of 3"
