"""The conversation service: load, engine, compare-and-set save (redone on conflict), journal,
replies. Every channel goes through it, so its guarantees are tested here once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.conversation import CAS_ATTEMPTS, Conversation, Turn
from bot.core.dialogue import Engine, Outcome
from bot.core.events import Command, UserText
from bot.core.replies import Reply
from bot.core.session import Session, State
from bot.errors import StoreError
from bot.store.memory import MemoryStore
from bot.store.outbox import ChatRecord, Outgoing, OutKind

NOW = 1_000_000.0
CHAT = "chat-1"


def run(service: Conversation, text: str, *, now: float = NOW) -> Turn:
    """One typed line through the service."""
    return asyncio.run(service.handle(CHAT, UserText(text=text), now=now))


class LosingStore(MemoryStore):
    """A store where another replica writes first, ``losses`` times in a row."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses
        self.puts = 0

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        """Lose the compare-and-set while losses remain, writing the rival's session instead."""
        self.puts += 1
        if self.losses > 0:
            self.losses -= 1
            current = self.load(record.key)
            assert record.session is not None
            rival = (current.session or record.session).advance()
            super().save(replace(current, session=rival))
            return False
        return super().save(record, done=done)


class BrokenStore(MemoryStore):
    """A store whose writes fail, as a full disk or a lost Redis connection would."""

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        """Always fail."""
        raise StoreError("disk full")


def test_a_turn_is_saved_and_its_replies_returned(engine: Engine) -> None:
    store = MemoryStore()
    service = Conversation(engine, store)

    turn = run(service, "552")

    assert turn.session.state == State.GUIDE
    assert store.get(CHAT) == turn.session
    assert "Step 1 of 3" in "\n".join(r.text for r in turn.replies)
    assert turn.before.state == State.IDLE


def test_the_event_log_gets_the_outcome_records_without_a_journal(engine: Engine) -> None:
    store = MemoryStore()

    run(Conversation(engine, store), "552")

    assert store.event_counts()["dialogue.started"] == 1


def test_a_journal_replaces_the_plain_event_log(engine: Engine) -> None:
    store = MemoryStore()
    seen: list[tuple[str, State, list[str]]] = []

    async def journal(key: str, before: Session, outcome: Outcome) -> None:
        seen.append((key, before.state, [r.kind for r in outcome.log]))

    run(Conversation(engine, store, journal=journal), "552")

    assert seen == [(CHAT, State.IDLE, ["matcher.decision", "dialogue.started"])]
    assert store.event_counts() == {}


def test_a_lost_compare_and_set_is_redone_on_the_newer_session(engine: Engine) -> None:
    store = LosingStore(losses=2)
    service = Conversation(engine, store)

    turn = run(service, "552")

    assert store.puts == 3
    saved = store.get(CHAT)
    assert saved == turn.session
    assert saved is not None
    assert saved.version > 2  # built on the rival's newer versions, not over them


def test_a_save_that_keeps_losing_raises_instead_of_being_ignored(engine: Engine) -> None:
    store = LosingStore(losses=CAS_ATTEMPTS)

    with pytest.raises(StoreError, match="could not save"):
        run(Conversation(engine, store), "552")


def test_a_failing_store_raises_instead_of_being_ignored(engine: Engine) -> None:
    with pytest.raises(StoreError, match="disk full"):
        run(Conversation(engine, BrokenStore()), "552")


def test_an_event_that_changes_nothing_is_not_saved_but_answered(engine: Engine) -> None:
    store = BrokenStore()

    turn = asyncio.run(Conversation(engine, store).handle(CHAT, Command(name="help"), now=NOW))

    assert turn.replies


def test_the_update_id_is_kept_on_the_turn(engine: Engine) -> None:
    turn = asyncio.run(
        Conversation(engine, MemoryStore()).handle(
            CHAT, UserText(text="hi"), now=NOW, update_id=4711
        )
    )

    assert turn.update_id == 4711


def test_an_update_applied_before_changes_nothing_the_second_time(engine: Engine) -> None:
    store = MemoryStore()
    service = Conversation(engine, store)

    async def twice() -> tuple[Turn, Turn]:
        first = await service.handle(CHAT, UserText(text="552"), now=NOW, update_id=7)
        again = await service.handle(CHAT, UserText(text="552"), now=NOW, update_id=7)
        return first, again

    first, again = asyncio.run(twice())

    assert not first.duplicate
    assert again.duplicate
    assert again.replies == ()
    assert store.get(CHAT) == first.session
    assert store.event_counts()["dialogue.started"] == 1


def test_rendered_replies_are_saved_with_the_session_in_one_write(engine: Engine) -> None:
    store = MemoryStore()

    def render(
        before: Session, after: Session, replies: tuple[Reply, ...]
    ) -> tuple[Session, tuple[Outgoing, ...]]:
        return after, tuple(Outgoing(kind=OutKind.SEND, chat_id=1, text=r.text) for r in replies)

    turn = asyncio.run(
        Conversation(engine, store).handle(
            CHAT, UserText(text="552"), now=NOW, update_id=8, render=render
        )
    )

    record = store.load(CHAT)
    assert record.session == turn.session
    assert record.seen == (8,)
    assert [o.text for o in record.outbox] == [r.text for r in turn.replies]
    assert turn.owed == record.outbox


def test_a_refused_event_changes_nothing(engine: Engine) -> None:
    store = MemoryStore()

    turn = asyncio.run(
        Conversation(engine, store).handle(
            CHAT, UserText(text="552"), now=NOW, update_id=9, accept=lambda session: False
        )
    )

    assert turn.refused
    assert store.get(CHAT) is None


def test_an_unreadable_session_is_quarantined_and_the_user_told(engine: Engine) -> None:
    store = MemoryStore()
    store.write_raw(CHAT, "{not json")
    notice = Reply(text="Starting fresh.")

    turn = asyncio.run(
        Conversation(engine, store).handle(CHAT, Command(name="start"), now=NOW, notice=notice)
    )

    assert turn.quarantined
    assert turn.replies[0] == notice
    assert [key for key, _, _ in store.quarantined] == [CHAT]
    assert store.get(CHAT) == turn.session


def test_secrets_typed_on_any_channel_are_masked_before_the_engine_and_the_store(
    engine: Engine,
) -> None:
    store = MemoryStore()
    service = Conversation(engine, store)

    turn = run(service, "password: Hunter22! and card 4111 1111 1111 1111, mailbox full")

    saved = store.get(CHAT)
    assert saved is not None
    assert "Hunter22" not in repr(saved)
    assert "4111" not in repr(saved)
    assert "password: [hidden]" in saved.transcript[0]
    assert "Hunter22" not in repr(turn.outcome)
