"""Redis store specifics and ``open_store`` URL parsing (memory, SQLite, Redis, bad schemes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.session import Session, State
from bot.errors import ConfigError, StoreError
from bot.store import open_store
from bot.store.memory import MemoryStore
from bot.store.redis import SESSION_PREFIX, RedisStore, redact
from bot.store.sqlite import SqliteStore
from tests.helpers.redis_server import free_port, running_redis

from .conftest import assert_exactly_one_writer_wins

redis = pytest.importorskip(
    "redis", reason="redis package not installed (pip install -e '.[test]')"
)


@pytest.fixture
def raw_client(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client on the test server, for writing data behind the store's back."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def sample_session(*, version: int = 3) -> Session:
    """A small session with a unicode transcript."""
    return Session(chat_id="42", state=State.CLARIFY, version=version, transcript=("ящик",))


def test_an_unreachable_server_is_a_store_error_naming_the_url() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()

    with pytest.raises(StoreError, match="cannot open session store") as caught:
        RedisStore(url)

    assert url in str(caught.value)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:notaport/0", "Port could not be cast"),
        ("redis://127.0.0.1:70000/0", "Port out of range"),
        ("redis://127.0.0.1:6379/sessions", "database 'sessions' is not a number"),
        ("redis://[::1:6379/0", "Invalid IPv6 URL"),
    ],
)
def test_a_malformed_url_is_a_store_error_naming_it(url: str, problem: str) -> None:
    with pytest.raises(StoreError, match=problem) as caught:
        RedisStore(url)

    assert url in str(caught.value)


def test_a_password_never_appears_in_the_error() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"

    with pytest.raises(StoreError) as caught:
        RedisStore(url)

    assert "hunter2" not in str(caught.value)
    assert redact(url) in str(caught.value)


@pytest.mark.redis
def test_sessions_are_json_in_a_hash_per_chat(redis_url: str, raw_client: redis.Redis) -> None:
    store = RedisStore(redis_url)
    try:
        store.put(sample_session(), expected_version=None)
    finally:
        store.close()

    stored = raw_client.hgetall(f"{SESSION_PREFIX}42")

    assert stored["version"] == "3"
    assert stored["data"].startswith('{"schema":1,')


@pytest.mark.redis
def test_an_unknown_session_schema_is_a_store_error(
    redis_url: str, raw_client: redis.Redis
) -> None:
    raw_client.hset(
        f"{SESSION_PREFIX}42", mapping={"version": "1", "data": '{"schema":"2","chat_id":"42"}'}
    )
    store = RedisStore(redis_url)

    try:
        with pytest.raises(StoreError, match="chat 42: stored session has schema '2'"):
            store.get("42")
    finally:
        store.close()


@pytest.mark.redis
def test_two_stores_on_one_server_let_exactly_one_competing_writer_win(redis_url: str) -> None:
    stores = [RedisStore(redis_url) for _ in range(4)]
    assert_exactly_one_writer_wins(stores, sample_session(version=0))


@pytest.mark.redis
def test_a_server_that_goes_away_is_a_store_error(tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        store = RedisStore(url)
        store.put(sample_session(), expected_version=None)

    try:
        with pytest.raises(StoreError, match="cannot read a session") as caught:
            store.get("42")
        assert url in str(caught.value)
    finally:
        store.close()


def test_open_store_memory_url_opens_a_memory_store() -> None:
    store = open_store("memory://")

    assert isinstance(store, MemoryStore)


def test_open_store_three_slashes_is_a_path_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_store("sqlite:///data/sessions.db")

    try:
        assert isinstance(store, SqliteStore)
        assert store.path == Path("data/sessions.db")
        assert (tmp_path / "data" / "sessions.db").is_file()
    finally:
        store.close()


def test_open_store_four_slashes_is_an_absolute_path(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/sessions.db")

    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "sessions.db"
        assert store.path.is_absolute()
    finally:
        store.close()


@pytest.mark.redis
def test_open_store_redis_url_opens_a_redis_store(redis_url: str) -> None:
    store = open_store(redis_url)

    try:
        assert isinstance(store, RedisStore)
        assert store.get("42") is None
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x",
        "",
        "memory",
        "memory:///x",
        "sqlite://",
        "sqlite:///",
        "sqlite:x.db",
        "redis:/x",
    ],
)
def test_open_store_refuses_other_urls_naming_the_variable_and_value(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)

    expected = (
        f"BOT_STORE has value {url!r}; expected sqlite:///PATH, redis://HOST:PORT/DB or memory://"
    )
    assert str(caught.value) == expected


def test_open_store_message_matches_the_documented_example() -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("mysql://x")

    assert str(caught.value) == (
        "BOT_STORE has value 'mysql://x'; expected sqlite:///PATH, redis://HOST:PORT/DB or memory://"
    )
