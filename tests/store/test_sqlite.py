"""SQLite store specifics: persistence, WAL, clear errors for bad files, the default path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.core.session import Session, State, session_to_json
from bot.errors import StoreError
from bot.store import default_sqlite_path, default_store_url, open_store
from bot.store.sqlite import SqliteStore

from .conftest import assert_exactly_one_writer_wins


def sample_session(*, chat_id: str = "42", version: int = 3) -> Session:
    """A small session with a unicode transcript."""
    return Session(
        chat_id=chat_id,
        state=State.GUIDE,
        topic="mailbox-full",
        step=1,
        version=version,
        transcript=("user: ящик полон",),
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database file goes (in a folder that does not exist yet)."""
    return tmp_path / "state" / "alimail-bot" / "sessions.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    """An open SQLite store, closed after the test."""
    opened = SqliteStore(db_path)
    yield opened
    opened.close()


def write_raw(path: Path, chat_id: str, data: str) -> None:
    """Put a raw ``data`` value in the sessions table, bypassing the store."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO sessions (chat_id, version, data, updated_at) VALUES (?, 1, ?, 0)",
            (chat_id, data),
        )


def test_opening_creates_the_parent_folders(store: SqliteStore, db_path: Path) -> None:
    assert db_path.is_file()


def test_sessions_and_events_survive_reopening_the_file(db_path: Path) -> None:
    session = sample_session()
    first = SqliteStore(db_path)
    first.put(session, expected_version=None)
    first.log_event("dialogue.resolved", "42", "mailbox-full", "", 10.0)
    first.close()

    reopened = SqliteStore(db_path)
    try:
        assert reopened.get("42") == session
        assert reopened.event_counts() == {"dialogue.resolved": 1}
        assert reopened.put(session.advance(step=2), expected_version=3) is True
    finally:
        reopened.close()


def test_the_journal_is_wal_and_sync_is_normal(store: SqliteStore, db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as db:
        (journal_mode,) = db.execute("PRAGMA journal_mode").fetchone()
    (synchronous,) = store._connection.execute("PRAGMA synchronous").fetchone()

    assert journal_mode == "wal"
    assert synchronous == 1  # NORMAL


def test_sessions_are_stored_as_json(store: SqliteStore, db_path: Path) -> None:
    session = sample_session()
    store.put(session, expected_version=None)

    with closing(sqlite3.connect(db_path)) as db:
        row = db.execute("SELECT chat_id, version, data FROM sessions").fetchone()

    assert row == ("42", 3, session_to_json(session))


def test_two_stores_on_one_file_let_exactly_one_competing_writer_win(db_path: Path) -> None:
    stores = [SqliteStore(db_path) for _ in range(4)]
    assert_exactly_one_writer_wins(stores, sample_session(version=0))


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)

    with pytest.raises(StoreError, match="not a database") as caught:
        SqliteStore(path)

    assert str(caught.value).startswith(f"cannot open session store {path}: ")


def test_a_path_under_a_regular_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    path = blocker / "sessions.db"

    with pytest.raises(StoreError, match="cannot open session store") as caught:
        SqliteStore(path)

    assert str(path) in str(caught.value)


def test_a_directory_as_the_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open session store"):
        SqliteStore(tmp_path)


def test_an_unknown_session_schema_is_a_store_error(store: SqliteStore, db_path: Path) -> None:
    write_raw(db_path, "42", '{"schema": null, "chat_id": "42", "state": "idle", "version": 1}')

    with pytest.raises(StoreError, match=r"chat 42: stored session has schema None") as caught:
        store.get("42")

    assert str(db_path) in str(caught.value)


def test_a_corrupt_session_row_is_a_store_error(store: SqliteStore, db_path: Path) -> None:
    write_raw(db_path, "42", "\x80\x04 not json")

    with pytest.raises(StoreError, match="not valid JSON"):
        store.get("42")


def test_using_a_closed_store_is_a_store_error(db_path: Path) -> None:
    closed = SqliteStore(db_path)
    closed.close()

    with pytest.raises(StoreError, match="cannot read a session"):
        closed.get("42")


def test_the_default_path_follows_xdg_state_home(tmp_path: Path) -> None:
    environ = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": "/srv/people/someone"}

    path = default_sqlite_path(environ)

    assert path == tmp_path / "state" / "alimail-bot" / "sessions.db"


@pytest.mark.parametrize("xdg_state_home", [None, "", "relative/state"])
def test_the_default_path_falls_back_to_local_state_in_home(xdg_state_home: str | None) -> None:
    environ = {"HOME": "/srv/people/someone"}
    if xdg_state_home is not None:
        environ["XDG_STATE_HOME"] = xdg_state_home

    path = default_sqlite_path(environ)

    assert path == Path("/srv/people/someone/.local/state/alimail-bot/sessions.db")


def test_the_default_path_without_home_uses_the_account_home() -> None:
    path = default_sqlite_path({})

    assert path.is_absolute()
    assert path.parts[-4:] == (".local", "state", "alimail-bot", "sessions.db")


def test_the_default_store_url_opens_the_default_file(tmp_path: Path) -> None:
    environ = {"XDG_STATE_HOME": str(tmp_path)}

    url = default_store_url(environ)
    store = open_store(url)

    try:
        assert url == f"sqlite:///{tmp_path}/alimail-bot/sessions.db"
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "alimail-bot" / "sessions.db"
    finally:
        store.close()
