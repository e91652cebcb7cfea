"""One contract suite, run against every session store backend (memory, SQLite, Redis)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from bot.core.session import Session, State
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

AnyStore = MemoryStore | SqliteStore | RedisStore
MakeStore = Callable[..., AnyStore]

WRITERS = 8
ROUNDS = 10


def full_session(*, chat_id: str = "-100123", version: int = 7) -> Session:
    """A session with a non-default value in every field and a hostile unicode transcript."""
    return Session(
        chat_id=chat_id,
        state=State.GUIDE,
        topic="mailbox-full",
        step=2,
        candidates=("mailbox-full", "send-limit"),
        tried=("imap-login",),
        offer="smtp-auth",
        misses=1,
        resume="guide:mailbox-full:1",
        version=version,
        updated_at=1_700_000_000.25,
        transcript=(
            "user: Почтовый ящик переполнен 📬",
            "bot: **Mailbox full**: 邮箱已满",
            'user: quote " backslash \\ newline \n tab \t nul \x00 end',
        ),
        prompt_ref="4711",
        asked="why:mailbox-full",
        language="zh",
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A factory for stores of one backend sharing one backing; every store is closed after."""
    opened: list[AnyStore] = []
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def make(**options: Any) -> AnyStore:
        store: AnyStore
        if request.param == "memory":
            store = MemoryStore(**options)
        elif request.param == "sqlite":
            store = SqliteStore(tmp_path / "sessions.db", **options)
        else:
            store = RedisStore(redis_url, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> AnyStore:
    """One open store of the backend under test."""
    return make_store()


def test_the_sample_session_has_no_default_field() -> None:
    defaults = Session(chat_id="")
    sample = full_session()
    same = [
        f.name for f in fields(Session) if getattr(sample, f.name) == getattr(defaults, f.name)
    ]
    assert same == []


def test_get_of_an_unknown_chat_is_none(store: AnyStore) -> None:
    assert store.get("nobody") is None


def test_put_then_get_round_trips_every_field(store: AnyStore) -> None:
    session = full_session()

    stored = store.put(session, expected_version=None)

    assert stored is True
    assert store.get(session.chat_id) == session


def test_put_expecting_nothing_fails_when_a_session_is_stored(store: AnyStore) -> None:
    first = full_session(version=1)
    store.put(first, expected_version=None)

    stored = store.put(replace(first, version=2, topic="other"), expected_version=None)

    assert stored is False
    assert store.get(first.chat_id) == first


def test_put_with_a_stale_version_fails_and_keeps_the_stored_session(store: AnyStore) -> None:
    first = full_session(version=1)
    store.put(first, expected_version=None)
    second = first.advance(step=3)
    store.put(second, expected_version=1)

    stored = store.put(first.advance(step=9), expected_version=1)

    assert stored is False
    assert store.get(first.chat_id) == second


def test_put_with_a_version_for_an_unknown_chat_fails(store: AnyStore) -> None:
    stored = store.put(full_session(version=4), expected_version=3)

    assert stored is False
    assert store.get(full_session().chat_id) is None


def test_put_with_the_stored_version_succeeds(store: AnyStore) -> None:
    first = full_session(version=1)
    store.put(first, expected_version=None)
    second = first.advance(state=State.VERIFY, misses=0).remember("user: done ✅")

    stored = store.put(second, expected_version=1)

    assert stored is True
    assert store.get(first.chat_id) == second


def test_competing_writers_with_the_same_expected_version_exactly_one_wins(
    store: AnyStore,
) -> None:
    base = full_session(version=0)
    store.put(base, expected_version=None)
    barrier = threading.Barrier(WRITERS)

    def write(writer: int, current: Session) -> bool:
        barrier.wait(timeout=5)
        return store.put(current.advance(step=writer), expected_version=current.version)

    current = base
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for _ in range(ROUNDS):
            results = list(pool.map(write, range(WRITERS), [current] * WRITERS))
            winners = [writer for writer, won in enumerate(results) if won]
            assert len(winners) == 1
            stored = store.get(base.chat_id)
            assert stored == current.advance(step=winners[0])
            current = stored


def test_chats_are_stored_independently(store: AnyStore) -> None:
    alice = full_session(chat_id="1")
    bob = replace(full_session(chat_id="2"), topic="imap-login")
    store.put(alice, expected_version=None)
    store.put(bob, expected_version=None)

    store.delete("1")

    assert store.get("1") is None
    assert store.get("2") == bob


def test_delete_forgets_the_session_and_allows_a_fresh_start(store: AnyStore) -> None:
    session = full_session(version=5)
    store.put(session, expected_version=None)

    store.delete(session.chat_id)

    assert store.get(session.chat_id) is None
    assert store.put(replace(session, version=0), expected_version=None) is True


def test_delete_of_an_unknown_chat_does_nothing(store: AnyStore) -> None:
    store.delete("nobody")

    assert store.get("nobody") is None


def test_event_counts_group_by_kind_from_a_given_time(store: AnyStore) -> None:
    store.log_event("matcher.decision", "1", "mailbox-full", "answer 92.0", 100.0)
    store.log_event("matcher.decision", "2", None, "none 31.5", 200.0)
    store.log_event("dialogue.resolved", "1", "mailbox-full", "", 300.0)
    store.log_event("dialogue.handoff", "3", "imap-login", "Ящик — 邮箱", 400.0)

    assert store.event_counts() == {
        "matcher.decision": 2,
        "dialogue.resolved": 1,
        "dialogue.handoff": 1,
    }
    assert store.event_counts(since=200.0) == {
        "matcher.decision": 1,
        "dialogue.resolved": 1,
        "dialogue.handoff": 1,
    }
    assert store.event_counts(since=1000.0) == {}
