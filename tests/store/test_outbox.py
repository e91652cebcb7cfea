"""The delivery half of the stores, as the event loop uses them: records, inbox, quarantine.

One suite for every backend: memory and SQLite behind ``ThreadedStore``, Redis through
``redis.asyncio``. Each call is bounded by a timeout; see ``test_unavailable.py`` for stores
that do not answer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core.session import Session, State, session_to_json
from bot.errors import StoreError
from bot.store.aio import AsyncStore, ThreadedStore
from bot.store.memory import MemoryStore
from bot.store.outbox import (
    ChatRecord,
    Incoming,
    Outgoing,
    OutKind,
    outbox_from_json,
    outbox_to_json,
)
from bot.store.redis_async import LEASE_PREFIX, SESSION_PREFIX, AsyncRedisStore
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.asyncio

KEY = "-100777:42"


def session(version: int = 3) -> Session:
    """A session mid-walkthrough."""
    return Session(chat_id=KEY, state=State.GUIDE, topic="mailbox-full", step=1, version=version)


OWED = (
    Outgoing(
        kind=OutKind.EDIT,
        chat_id=-100777,
        text="<b>Step 2 of 3</b>\nDelete old mail 📬",
        markup='{"inline_keyboard": [[{"text": "Done", "callback_data": "o42|v1:4:done:"}]]}',
        message_id=17,
        thread_id=5,
        prompt=True,
    ),
    Outgoing(kind=OutKind.CLEAR, chat_id=-100777, message_id=12, attempts=2),
)


@pytest_asyncio.fixture(
    params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncStore]:
    """An async store of one backend, closed afterwards."""
    opened: AsyncStore
    if request.param == "memory":
        opened = ThreadedStore(MemoryStore())
    elif request.param == "sqlite":
        opened = ThreadedStore(SqliteStore(tmp_path / "s.db"))
    else:
        opened = await AsyncRedisStore.open(request.getfixturevalue("redis_url"), call_timeout=3.0)
    yield opened
    await opened.close()


async def write_raw(store: AsyncStore, key: str, data: str) -> None:
    """Put raw session text in the store as is (a corrupt row, a row from a newer version)."""
    if isinstance(store, AsyncRedisStore):
        await store._client.hset(SESSION_PREFIX + key, mapping={"version": "1", "data": data})
    elif isinstance(store.sync, MemoryStore):
        store.sync.write_raw(key, data)
    else:
        path = store.sync.path
        with sqlite3.connect(path) as db:
            db.execute(
                "INSERT INTO sessions (chat_id, version, data, updated_at) VALUES (?, 1, ?, 0)",
                (key, data),
            )


async def test_a_conversation_never_saved_loads_empty(store: AsyncStore) -> None:
    assert await store.load(KEY) == ChatRecord(key=KEY)


async def test_session_update_ids_and_outbox_are_saved_together(store: AsyncStore) -> None:
    record = ChatRecord(key=KEY, session=session(), seen=(101, 102), outbox=OWED)

    assert await store.save(record)

    loaded = await store.load(KEY)
    assert (loaded.session, loaded.seen, loaded.outbox) == (session(), (101, 102), OWED)
    assert loaded.revision is not None


async def test_a_save_on_an_old_revision_is_refused(store: AsyncStore) -> None:
    assert await store.save(ChatRecord(key=KEY, session=session()))
    first = await store.load(KEY)
    assert await store.save(replace(first, session=session(4)).applied(7))

    assert not await store.save(replace(first, session=session(5)))
    assert not await store.save(ChatRecord(key=KEY, session=session(9)))  # "new" but exists
    loaded = await store.load(KEY)
    assert (loaded.session, loaded.seen) == (session(4), (7,))


async def test_recorded_updates_come_back_in_order_once_and_leave_with_their_save(
    store: AsyncStore,
) -> None:
    updates = [Incoming(update_id=i, key=KEY, raw=json.dumps({"update_id": i})) for i in (9, 3, 5)]
    await store.record_updates(updates)
    await store.record_updates(updates[:1])  # fetched again before it was confirmed

    assert [u.update_id for u in await store.inbox(KEY)] == [3, 5, 9]
    assert await store.inbox("other") == []

    await store.save(ChatRecord(key=KEY, session=session()).applied(3), done=3)
    await store.forget_update(KEY, 5)
    assert [u.update_id for u in await store.inbox(KEY)] == [9]


async def test_pending_work_lists_recorded_updates_and_owed_calls(store: AsyncStore) -> None:
    await store.record_updates([Incoming(update_id=1, key="a", raw="{}")])
    await store.save(ChatRecord(key="b", session=replace(session(), chat_id="b"), outbox=OWED))
    await store.save(ChatRecord(key="c", session=replace(session(), chat_id="c")))

    assert sorted(await store.pending_keys()) == ["a", "b"]

    await store.forget_update("a", 1)
    owed = await store.load("b")
    await store.save(replace(owed, outbox=()))
    assert await store.pending_keys() == []


@pytest.mark.parametrize("raw", ["\x80 not json", '{"schema": 1, "chat_id": "x"}', "[]"])
async def test_an_unreadable_row_is_quarantined_once_and_the_user_starts_fresh(
    store: AsyncStore, raw: str
) -> None:
    await write_raw(store, KEY, raw)

    first = await store.load(KEY)
    assert first.quarantined
    assert first.session is None
    assert first.reason
    again = await store.load(KEY)  # set aside, not read (and logged) again
    assert again == ChatRecord(key=KEY)
    assert await store.save(ChatRecord(key=KEY, session=session()))


async def test_a_row_from_a_newer_version_is_read_and_its_unknown_fields_ignored(
    store: AsyncStore,
) -> None:
    newer = json.loads(session_to_json(session()))
    newer |= {"schema": 2, "reply_style": "terse", "ticket": {"number": 12}}
    await write_raw(store, KEY, json.dumps(newer))

    loaded = await store.load(KEY)

    assert not loaded.quarantined
    assert loaded.session == session()


async def test_an_unparseable_update_is_kept_aside(store: AsyncStore) -> None:
    await store.set_aside(55, '{"update_id": 55, "message": {}}', "KeyError: 'date'")
    await store.set_aside(55, "again", "again")  # confirmed once, kept once

    assert await store.inbox(KEY) == []


@pytest.mark.redis
async def test_a_replica_whose_lease_expired_cannot_overwrite_the_new_holders_work(
    redis_url: str,
) -> None:
    first = await AsyncRedisStore.open(redis_url, call_timeout=3.0)
    second = await AsyncRedisStore.open(redis_url, call_timeout=3.0)
    try:
        await first.save(ChatRecord(key=KEY, session=session()))
        stalled = await first.acquire(KEY)
        assert stalled is not None
        assert await second.acquire(KEY) is None  # one replica per conversation
        # The first replica stalls past its lease; the second takes the conversation over.
        await first._client.delete(LEASE_PREFIX + KEY)
        current = await second.acquire(KEY)
        assert current is not None
        assert current > stalled
        loaded = await second.load(KEY)
        assert await second.save(replace(loaded, session=session(4)), token=current)

        late = replace(loaded, revision=(await first.load(KEY)).revision, session=session(9))
        assert not await first.save(late, token=stalled)
        await first.release(KEY, stalled)  # not its lease any more: changes nothing
        assert await first.acquire(KEY) is None
        assert (await first.load(KEY)).session == session(4)
    finally:
        await first.close()
        await second.close()


async def test_an_outbox_entry_from_a_newer_version_is_skipped_not_fatal() -> None:
    newer = [*json.loads(outbox_to_json(OWED)), {"kind": "react", "chat_id": 1, "emoji": "👍"}]

    assert outbox_from_json(json.dumps(newer)) == OWED


async def test_an_outbox_that_is_not_a_list_is_unreadable() -> None:
    with pytest.raises(StoreError, match="outbox"):
        outbox_from_json('{"kind": "send"}')
