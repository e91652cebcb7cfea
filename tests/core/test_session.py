"""Sessions: immutable, versioned, stored as JSON with a schema number."""

from __future__ import annotations

import json

import pytest

from bot.core.session import (
    SCHEMA,
    TRANSCRIPT_LIMIT,
    Session,
    State,
    session_from_json,
    session_to_json,
)
from bot.errors import StoreError

FULL = Session(
    chat_id="-100123",
    state=State.VERIFY,
    topic="missing-email",
    step=1,
    candidates=("mailbox-full", "faq-imap"),
    tried=("missing-email",),
    offer="mailbox-full",
    misses=2,
    version=41,
    updated_at=1_700_000_000.5,
    transcript=("user: 邮箱满了 📧", 'bot: "guide" missing-email'),
)


@pytest.mark.parametrize("session", [Session(chat_id="1"), FULL], ids=["fresh", "every-field-set"])
def test_json_round_trip_gives_the_same_session(session: Session) -> None:
    assert session_from_json(session_to_json(session)) == session


def test_json_round_trip_from_bytes() -> None:
    assert session_from_json(session_to_json(FULL).encode("utf-8")) == FULL


def test_the_state_is_stored_by_value_with_the_schema_number() -> None:
    stored = json.loads(session_to_json(FULL))

    assert stored["schema"] == SCHEMA
    assert stored["state"] == "verify"
    assert stored["version"] == 41


def test_a_newer_schema_is_read_for_the_known_fields_and_unknown_ones_are_ignored() -> None:
    stored = json.loads(session_to_json(FULL))
    stored["schema"] = SCHEMA + 1
    stored["mood"] = {"added": "in a later version"}

    assert session_from_json(json.dumps(stored)) == FULL


@pytest.mark.parametrize("schema", [None, 0, True, "1"])
def test_an_unknown_schema_is_refused(schema: object) -> None:
    stored = json.loads(session_to_json(FULL))
    stored["schema"] = schema

    with pytest.raises(StoreError, match="schema"):
        session_from_json(json.dumps(stored))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        "null",
        b"\xff\xfe",
        '{"schema": 1}',
        '{"schema": 1, "chat_id": "1", "state": "dancing", "version": 1}',
        '{"schema": 1, "chat_id": "1", "state": "idle", "version": "many"}',
    ],
)
def test_corrupt_data_raises_store_error(raw: str | bytes) -> None:
    with pytest.raises(StoreError):
        session_from_json(raw)


def test_advance_bumps_the_version_and_applies_changes() -> None:
    session = Session(chat_id="1", version=3)

    advanced = session.advance(state=State.GUIDE, topic="mailbox-full")

    assert (advanced.version, advanced.state, advanced.topic) == (4, State.GUIDE, "mailbox-full")
    assert session.version == 3


def test_remember_keeps_a_bounded_transcript_without_a_new_version() -> None:
    session = Session(chat_id="1", version=3)
    for i in range(TRANSCRIPT_LIMIT + 5):
        session = session.remember(f"user: line {i}")

    assert len(session.transcript) == TRANSCRIPT_LIMIT
    assert session.transcript[-1] == f"user: line {TRANSCRIPT_LIMIT + 4}"
    assert session.version == 3


def test_remember_cuts_long_lines() -> None:
    session = Session(chat_id="1").remember("x" * 10_000)

    assert len(session.transcript[0]) == 500


def test_sessions_are_immutable() -> None:
    session = Session(chat_id="1")

    with pytest.raises(AttributeError):
        session.step = 2  # type: ignore[misc]
