"""Several replicas share one store: a write that lost the compare-and-set is redone, not lost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.dialogue import Engine
from bot.core.events import UserText
from bot.core.session import State
from bot.store.memory import MemoryStore
from bot.store.outbox import ChatRecord
from bot.store.sqlite import SqliteStore
from tests.helpers.bot_process import running_bot
from tests.helpers.fake_bot_api import FakeBotApi

USER = 7401


class RacingStore(MemoryStore):
    """A store where another replica writes just before our next save, ``races`` times."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.races = 0
        self.lost = 0

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        if self.races and record.revision is not None and done is not None:
            self.races -= 1
            # The other replica handles a "done" of the same chat and saves first.
            current = self.load(record.key)
            assert current.session is not None
            theirs = self.engine.handle(
                current.session, UserText(text="done"), now=current.session.updated_at
            )
            assert super().save(replace(current, session=theirs.session))
        stored = super().save(record, done=done)
        self.lost += not stored
        return stored


@pytest.mark.asyncio
async def test_an_update_that_loses_the_race_is_applied_again_on_the_newer_session(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> None:
    store = RacingStore(engine_without_staff)
    async with running_bot(fake_bot_api, engine_without_staff, store=store) as bot:
        await bot.say(USER, "my mailbox is full")
        assert store.get(str(USER)).step == 0
        store.races = 1

        await bot.say(USER, "done")

    session = store.get(str(USER))
    assert session is not None
    assert store.lost == 1
    # Both "done"s count: the other replica's (step 1 -> 2) and ours, redone on top (-> 3).
    assert session.state is State.GUIDE
    assert session.step == 2
    assert fake_bot_api.last_message(USER).visible_text.startswith("Step 3 of 3")


def test_two_stores_on_one_sqlite_file_refuse_a_stale_write(
    tmp_path: Path, engine_without_staff: Engine
) -> None:
    path = tmp_path / "shared.db"
    first, second = SqliteStore(path), SqliteStore(path)
    try:
        start = engine_without_staff.new_session("9", now=1.0)
        assert first.put(start, expected_version=None)
        ours = replace(start, step=1, version=start.version + 1)
        theirs = replace(start, step=2, version=start.version + 1)
        assert second.put(theirs, expected_version=start.version)

        assert not first.put(ours, expected_version=start.version)
        assert first.get("9") == theirs
    finally:
        first.close()
        second.close()
