"""Conversation state: one ``State`` enum and an immutable, JSON-serialisable ``Session``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.errors import StoreError

SCHEMA = 1
TRANSCRIPT_LIMIT = 20


class State(StrEnum):
    """Where a conversation is; stored by value."""

    IDLE = "idle"
    CLARIFY = "clarify"
    GUIDE = "guide"
    VERIFY = "verify"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One chat's conversation. ``version`` grows on every change; buttons carry it."""

    chat_id: str
    state: State = State.IDLE
    topic: str | None = None
    step: int = 0
    candidates: tuple[str, ...] = ()
    tried: tuple[str, ...] = ()
    offer: str | None = None
    misses: int = 0
    # A walkthrough put aside by the timeout ("guide:mailbox-full:1"), offered back to the user.
    resume: str | None = None
    version: int = 0
    updated_at: float = 0.0
    transcript: tuple[str, ...] = ()
    # The language the bot answers in ("en", "zh"); None until a message or the channel says.
    language: str | None = None
    # Opaque to the core: the channel's handle on the message that shows the current buttons,
    # so it can remove them when the conversation moves on.
    prompt_ref: str | None = None
    # A question the bot asked that the next typed text answers ("why:<topic>" after a 👎).
    asked: str | None = None

    def advance(self, **changes: Any) -> Session:
        """A copy with ``changes`` applied and the version bumped."""
        return replace(self, version=self.version + 1, **changes)

    def reset(self, *, keep: Iterable[str] = (), **changes: Any) -> Session:
        """A copy back at a fresh idle conversation (fields in ``keep`` kept), version bumped."""
        fresh: dict[str, Any] = {
            name: value for name, value in _CONVERSATION_DEFAULTS.items() if name not in keep
        }
        fresh.update(changes)
        return self.advance(**fresh)

    def remember(self, line: str) -> Session:
        """A copy with ``line`` appended to the bounded transcript (for hand-off tickets)."""
        transcript = (*self.transcript, line[:500])[-TRANSCRIPT_LIMIT:]
        return replace(self, transcript=transcript)


# What a conversation resets to; transcript, chat and channel fields are not conversation.
_CONVERSATION_DEFAULTS: dict[str, Any] = {
    "state": State.IDLE,
    "topic": None,
    "step": 0,
    "candidates": (),
    "tried": (),
    "offer": None,
    "misses": 0,
    "resume": None,
    "asked": None,
}


def session_to_json(session: Session) -> str:
    """Serialise a session as versioned JSON (never pickle)."""
    return json.dumps(
        {
            "schema": SCHEMA,
            "chat_id": session.chat_id,
            "state": session.state.value,
            "topic": session.topic,
            "step": session.step,
            "candidates": list(session.candidates),
            "tried": list(session.tried),
            "offer": session.offer,
            "misses": session.misses,
            "resume": session.resume,
            "version": session.version,
            "updated_at": session.updated_at,
            "transcript": list(session.transcript),
            "prompt_ref": session.prompt_ref,
            "asked": session.asked,
            "language": session.language,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def session_from_json(raw: str | bytes) -> Session:
    """Parse a stored session; raise StoreError for corrupt data or an unknown schema."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise StoreError(f"stored session is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise StoreError("stored session is not a JSON object")
    schema = data.get("schema")
    # A newer schema is read for the fields this version knows and its other fields are
    # ignored: during a rolling upgrade old and new replicas share one store.
    if type(schema) is not int or schema < 1:
        raise StoreError(f"stored session has schema {schema!r}; this version reads {SCHEMA}")
    try:
        return Session(
            chat_id=str(data["chat_id"]),
            state=State(data["state"]),
            topic=data.get("topic"),
            step=int(data.get("step", 0)),
            candidates=tuple(data.get("candidates", ())),
            tried=tuple(data.get("tried", ())),
            offer=data.get("offer"),
            misses=int(data.get("misses", 0)),
            resume=data.get("resume"),
            version=int(data["version"]),
            updated_at=float(data.get("updated_at", 0.0)),
            transcript=tuple(data.get("transcript", ())),
            prompt_ref=data.get("prompt_ref"),
            asked=data.get("asked"),
            language=data.get("language"),
        )
    except (KeyError, ValueError, TypeError) as err:
        raise StoreError(f"stored session is malformed: {err!r}") from err
