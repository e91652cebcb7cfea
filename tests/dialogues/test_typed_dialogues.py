"""Typed-only conversations written as data (``tests/dialogues/*.yaml``), each run through the
console channel exactly as ``alimail-bot chat`` runs it: every line is typed, none is a number
that stands for a button. Together they must cover every state and every dialogue act.

A dialogue file::

    name: "yes at 'Switch to it?' switches"
    staff: false            # optional: is a support team connected (hand-off possible)?
    turns:
      - user: "sent items on web missing client mails"
        bot: ["Step 1 of 4"]         # fragments the bot's answer to this line must contain
        not: ["couldn't match"]      # fragments it must not contain
      - wait: 3600                   # seconds of silence before the next line
      - user: "done"
        bot: ["Welcome back"]
    end: {state: "guide", events: ["dialogue.started"]}   # optional checks at the end
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from bot.channels.console import PROMPT, run_console
from bot.core.acts import Act, ActReader, ActReading, act_reader
from bot.core.dialogue import DialogueSettings, Engine, descriptions
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.session import State
from bot.locale import load_translators
from bot.store.memory import MemoryStore
from bot.store.outbox import ChatRecord

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*.yaml"))
START = 1_000_000.0


@dataclass(slots=True)
class Seen:
    """What the dialogues exercised, for the coverage tests."""

    acts: set[Act] = field(default_factory=set)
    states: set[State] = field(default_factory=set)


SEEN = Seen()
RUN: set[str] = set()


class RecordingActs:
    """The real (shared, cached) act reader, noting every act it reads."""

    def __init__(self, reader: ActReader) -> None:
        self.reader = reader

    def read(self, text: str, **kwargs: Any) -> ActReading:
        """Read as usual and remember the act."""
        reading = self.reader.read(text, **kwargs)
        if reading.act is not None:
            SEEN.acts.add(reading.act)
        return reading

    def is_upset(self, text: str) -> bool:
        """As the real reader."""
        return self.reader.is_upset(text)


class RecordingStore(MemoryStore):
    """A memory store that notes every state it saves."""

    def save(self, record: ChatRecord, *, done: int | None = None) -> bool:
        """Save as usual (the conversation service's write) and remember the state."""
        if record.session is not None:
            SEEN.states.add(record.session.state)
        return super().save(record, done=done)


class Clock:
    """A clock that moves one second per reading, and jumps on a ``wait`` turn."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class TypedInput(io.StringIO):
    """Stdin for the console: the dialogue's lines, applying each ``wait`` to the clock."""

    def __init__(self, turns: list[dict[str, Any]], clock: Clock) -> None:
        super().__init__()
        self.turns = list(turns)
        self.clock = clock

    def readline(self, size: int | None = -1) -> str:
        """The next typed line ('' at the end)."""
        while self.turns:
            turn = self.turns.pop(0)
            if "wait" in turn:
                self.clock.now += float(turn["wait"])
                continue
            return str(turn["user"]) + "\n"
        return ""


@pytest.fixture(scope="module")
def engines(kb: KnowledgeBase, matcher: Matcher) -> dict[bool, Engine]:
    """Engines with and without a support team, sharing one recording act reader."""
    acts = cast("ActReader", RecordingActs(act_reader(kb.dialogue, descriptions(kb))))
    return {
        staff: Engine(
            kb,
            matcher,
            DialogueSettings(staff_available=staff),
            acts=acts,
            translators=load_translators(),
        )
        for staff in (False, True)
    }


def load(path: Path) -> dict[str, Any]:
    """One dialogue file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    assert data.get("turns"), f"{path.name}: no turns"
    return data


def answers(output: str) -> list[str]:
    """The bot's answer to each typed line, in order (the greeting before the first is dropped)."""
    return [part.partition("\n")[2] for part in output.split(PROMPT)[1:]]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_typed_dialogue(path: Path, engines: dict[bool, Engine]) -> None:
    RUN.add(path.stem)
    dialogue = load(path)
    turns = dialogue["turns"]
    typed = [t for t in turns if "user" in t]
    # A short number would press a shown button in the console: these dialogues only type.
    assert all(not re.fullmatch(r"\d{1,2}", str(t["user"]).strip()) for t in typed)
    clock = Clock()
    store = RecordingStore()
    stdout = io.StringIO()

    run_console(
        engines[bool(dialogue.get("staff", False))],
        store,
        stdin=TypedInput(turns, clock),
        stdout=stdout,
        clock=clock,
    )

    said = answers(stdout.getvalue().removesuffix("bye\n"))
    assert len(said) == len(typed)
    for turn, answer in zip(typed, said, strict=True):
        for fragment in turn.get("bot", []):
            assert fragment in answer, f"{turn['user']!r}: expected {fragment!r} in:\n{answer}"
        for fragment in turn.get("not", []):
            assert fragment not in answer, f"{turn['user']!r}: unexpected {fragment!r}:\n{answer}"
    end = dialogue.get("end", {})
    session = store.get("console")
    if "state" in end:
        assert session is not None
        assert session.state == State(end["state"])
    for kind in end.get("events", []):
        assert store.event_counts().get(kind, 0) > 0, f"no {kind} event logged"


def test_there_are_at_least_40_dialogues() -> None:
    assert len(FILES) >= 40


def test_the_dialogues_cover_every_state_and_every_act(engines: dict[bool, Engine]) -> None:
    for path in FILES:
        if path.stem not in RUN:
            test_typed_dialogue(path, engines)
    assert set(State) - SEEN.states == set()
    assert set(Act) - SEEN.acts == set()
