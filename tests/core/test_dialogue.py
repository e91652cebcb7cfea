"""The conversation engine, table first: one test per row of ``TRANSITIONS``, then the table's
properties (reachability, no traps, cancel and timeout everywhere), bad input, and complete
conversations for every documented problem, driven by buttons and by typed words."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.core.callback import MAX_BYTES, pack, unpack
from bot.core.dialogue import (
    CLOSED,
    HELP,
    SAME,
    START,
    TEXT,
    TRANSITIONS,
    UNREACHABLE,
    DialogueSettings,
    Engine,
    Outcome,
)
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.loader import load_knowledge
from bot.core.matching import Matcher
from bot.core.replies import Action, Button
from bot.core.session import Session, State
from bot.core.settings import MatchSettings

# The engine is tested on a knowledge base of its own (tests/data/kb): adding a step to the
# shipped guide must not break these tests. Knowledge fidelity is tested on the shipped one.
TEST_KB = Path(__file__).resolve().parents[1] / "data" / "kb"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The engine tests' own small knowledge base."""
    return load_knowledge(TEST_KB)


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase) -> Matcher:
    """A matcher over the test knowledge base."""
    return Matcher.from_knowledge(kb)


@pytest.fixture(scope="module")
def engine(kb: KnowledgeBase, matcher: Matcher) -> Engine:
    """An engine on the test knowledge base whose deployment has a staff chat."""
    return Engine(kb, matcher, DialogueSettings(staff_available=True))


@pytest.fixture(scope="module")
def engine_without_staff(kb: KnowledgeBase, matcher: Matcher) -> Engine:
    """An engine on the test knowledge base with no staff chat."""
    return Engine(kb, matcher, DialogueSettings(staff_available=False))


NOW = 1_000_000.0
VERSION = 7
CHAT = "42"
TIMEOUT = DialogueSettings().timeout_seconds

# One representative session per state; every table row is exercised from these.
SESSIONS: dict[State, Session] = {
    # Right after the FAQ answer "how do I keep a copy on the server".
    State.IDLE: Session(
        chat_id=CHAT, state=State.IDLE, topic="faq-keep-copy", version=VERSION, updated_at=NOW
    ),
    State.CLARIFY: Session(
        chat_id=CHAT,
        state=State.CLARIFY,
        candidates=("pop-deletion", "mailbox-full"),
        version=VERSION,
        updated_at=NOW,
    ),
    # Step 2 of 3 of the full-mailbox fix.
    State.GUIDE: Session(
        chat_id=CHAT,
        state=State.GUIDE,
        topic="mailbox-full",
        step=1,
        tried=("mailbox-full",),
        version=VERSION,
        updated_at=NOW,
    ),
    # Check 1 of 2 of the missing-email fix.
    State.VERIFY: Session(
        chat_id=CHAT,
        state=State.VERIFY,
        topic="missing-email",
        step=0,
        tried=("missing-email",),
        version=VERSION,
        updated_at=NOW,
    ),
    State.HANDOFF: Session(
        chat_id=CHAT, state=State.HANDOFF, topic="sent-not-saved", version=VERSION, updated_at=NOW
    ),
}


def press(action: Action, arg: str = "", *, version: int = VERSION) -> ButtonPress:
    """A button press made for ``version`` (the representative sessions' version)."""
    return ButtonPress(action=action, version=version, arg=arg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """What one table row must do from its representative session."""

    event: Event
    goes_to: State
    says: str  # a fragment of the replies' text; "" when the row answers nothing


SWITCH_TEXT = "my sent folder doesn't show outlook mails"

EXPECTED: dict[tuple[State, str], Row] = {
    # idle (after a FAQ answer)
    (State.IDLE, TEXT): Row(event=UserText(text="552"), goes_to=State.GUIDE, says="Step 1 of 3"),
    (State.IDLE, Action.WALK): Row(
        event=press(Action.WALK, "pop-deletion"), goes_to=State.GUIDE, says="Step 1 of 4"
    ),
    (State.IDLE, Action.HELPED): Row(
        event=press(Action.HELPED), goes_to=State.IDLE, says="Glad it helped"
    ),
    (State.IDLE, Action.YES): Row(
        event=UserText(text="that helped"), goes_to=State.IDLE, says="Glad it helped"
    ),
    (State.IDLE, Action.NOT_MY_QUESTION): Row(
        event=press(Action.NOT_MY_QUESTION), goes_to=State.IDLE, says="Sorry about that"
    ),
    (State.IDLE, Action.NO): Row(
        event=UserText(text="no"), goes_to=State.IDLE, says="Sorry about that"
    ),
    (State.IDLE, Action.RATE): Row(
        event=press(Action.RATE, "up"), goes_to=State.IDLE, says="Thanks for the feedback"
    ),
    (State.IDLE, Action.CHOOSE): Row(
        event=press(Action.CHOOSE, "mailbox-full"), goes_to=State.GUIDE, says="Step 1 of 3"
    ),
    (State.IDLE, Action.CANCEL): Row(
        event=press(Action.CANCEL), goes_to=State.IDLE, says="OK, stopped"
    ),
    (State.IDLE, Action.HUMAN): Row(
        event=Command(name="human"), goes_to=State.HANDOFF, says="asked a person"
    ),
    (State.IDLE, Action.TOPICS): Row(
        event=Command(name="topics"), goes_to=State.IDLE, says="what I can help with"
    ),
    (State.IDLE, START): Row(
        event=Command(name="start"), goes_to=State.IDLE, says="Alibaba Mail support bot"
    ),
    (State.IDLE, HELP): Row(
        event=Command(name="help"), goes_to=State.IDLE, says="in your own words"
    ),
    # clarify (pop-deletion or mailbox-full?)
    (State.CLARIFY, TEXT): Row(
        event=UserText(text="senders get error 552, my mailbox is full"),
        goes_to=State.GUIDE,
        says="Full Mailbox",
    ),
    (State.CLARIFY, Action.NUMBER): Row(
        event=UserText(text="2"), goes_to=State.GUIDE, says="Full Mailbox"
    ),
    (State.IDLE, Action.NUMBER): Row(
        event=UserText(text="4"), goes_to=State.GUIDE, says="Step 1 of 3"
    ),
    (State.IDLE, Action.RESUME): Row(
        event=press(Action.RESUME), goes_to=State.IDLE, says="in your own words"
    ),
    (State.GUIDE, Action.CLIENT): Row(
        event=press(Action.CLIENT, "Outlook"), goes_to=State.GUIDE, says="doesn't apply"
    ),
    (State.VERIFY, Action.CLIENT): Row(
        event=press(Action.CLIENT, ""), goes_to=State.VERIFY, says="doesn't apply"
    ),
    (State.GUIDE, Action.WORKS): Row(
        event=UserText(text="it already works"), goes_to=State.IDLE, says="solved"
    ),
    (State.CLARIFY, Action.NONE_OF_THESE): Row(
        event=press(Action.NONE_OF_THESE), goes_to=State.IDLE, says="other words"
    ),
    (State.CLARIFY, Action.NO): Row(
        event=UserText(text="no"), goes_to=State.IDLE, says="other words"
    ),
    (State.CLARIFY, Action.YES): Row(
        event=UserText(text="yes"), goes_to=State.CLARIFY, says="Which of these is it?"
    ),
    (State.CLARIFY, Action.CHOOSE): Row(
        event=press(Action.CHOOSE, "pop-deletion"), goes_to=State.GUIDE, says="Step 1 of 4"
    ),
    (State.CLARIFY, Action.CANCEL): Row(
        event=UserText(text="start over"), goes_to=State.IDLE, says="OK, stopped"
    ),
    (State.CLARIFY, Action.HUMAN): Row(
        event=press(Action.HUMAN), goes_to=State.HANDOFF, says="asked a person"
    ),
    (State.CLARIFY, Action.TOPICS): Row(
        event=press(Action.TOPICS), goes_to=State.CLARIFY, says="what I can help with"
    ),
    (State.CLARIFY, START): Row(
        event=Command(name="start"), goes_to=State.CLARIFY, says="middle of something"
    ),
    (State.CLARIFY, HELP): Row(
        event=Command(name="help"), goes_to=State.CLARIFY, says="Which of these is it?"
    ),
    # guide (mailbox-full, step 2 of 3)
    (State.GUIDE, Action.DONE): Row(
        event=press(Action.DONE), goes_to=State.GUIDE, says="Step 3 of 3"
    ),
    (State.GUIDE, Action.YES): Row(
        event=UserText(text="yes"), goes_to=State.GUIDE, says="Step 3 of 3"
    ),
    (State.GUIDE, Action.BACK): Row(
        event=press(Action.BACK), goes_to=State.GUIDE, says="Step 1 of 3"
    ),
    (State.GUIDE, Action.STUCK): Row(
        event=press(Action.STUCK), goes_to=State.GUIDE, says="Step 2 of 3"
    ),
    (State.GUIDE, Action.NO): Row(
        event=UserText(text="no"), goes_to=State.GUIDE, says="Step 2 of 3"
    ),
    (State.GUIDE, TEXT): Row(
        event=UserText(text=SWITCH_TEXT), goes_to=State.GUIDE, says="Switch to it?"
    ),
    (State.GUIDE, Action.SWITCH): Row(
        event=press(Action.SWITCH, "sent-not-saved"), goes_to=State.GUIDE, says="Step 1 of 4"
    ),
    (State.GUIDE, Action.STAY): Row(
        event=press(Action.STAY), goes_to=State.GUIDE, says="Step 2 of 3"
    ),
    (State.GUIDE, Action.CHOOSE): Row(
        event=press(Action.CHOOSE, "pop-deletion"), goes_to=State.GUIDE, says="Step 1 of 4"
    ),
    (State.GUIDE, Action.CANCEL): Row(
        event=Command(name="cancel"), goes_to=State.IDLE, says="OK, stopped"
    ),
    (State.GUIDE, Action.HUMAN): Row(
        event=UserText(text="talk to a person"), goes_to=State.HANDOFF, says="asked a person"
    ),
    (State.GUIDE, Action.TOPICS): Row(
        event=Command(name="topics"), goes_to=State.GUIDE, says="what I can help with"
    ),
    (State.GUIDE, START): Row(
        event=Command(name="start"), goes_to=State.GUIDE, says="Step 2 of 3"
    ),
    (State.GUIDE, HELP): Row(event=Command(name="help"), goes_to=State.GUIDE, says="Step 2 of 3"),
    # verify (missing-email, check 1 of 2)
    (State.VERIFY, Action.DONE): Row(
        event=press(Action.DONE), goes_to=State.VERIFY, says="Check 2 of 2"
    ),
    (State.VERIFY, Action.YES): Row(
        event=UserText(text="it works now"), goes_to=State.IDLE, says="solved"
    ),
    (State.VERIFY, Action.NO): Row(
        event=press(Action.NO), goes_to=State.CLARIFY, says="Due to Full Mailbox"
    ),
    (State.VERIFY, Action.BACK): Row(
        event=UserText(text="back"), goes_to=State.GUIDE, says="Step 3 of 3"
    ),
    (State.VERIFY, Action.STUCK): Row(
        event=press(Action.STUCK), goes_to=State.VERIFY, says="Check 1 of 2"
    ),
    (State.VERIFY, TEXT): Row(
        event=UserText(text="my mailbox storage is full, 10GB used"),
        goes_to=State.VERIFY,
        says="Switch to it?",
    ),
    (State.VERIFY, Action.SWITCH): Row(
        event=press(Action.SWITCH, "mailbox-full"), goes_to=State.GUIDE, says="Step 1 of 3"
    ),
    (State.VERIFY, Action.STAY): Row(
        event=press(Action.STAY), goes_to=State.VERIFY, says="Check 1 of 2"
    ),
    (State.VERIFY, Action.CHOOSE): Row(
        event=press(Action.CHOOSE, "mailbox-full"), goes_to=State.GUIDE, says="Step 1 of 3"
    ),
    (State.VERIFY, Action.CANCEL): Row(
        event=press(Action.CANCEL), goes_to=State.IDLE, says="OK, stopped"
    ),
    (State.VERIFY, Action.HUMAN): Row(
        event=Command(name="human"), goes_to=State.HANDOFF, says="asked a person"
    ),
    (State.VERIFY, Action.TOPICS): Row(
        event=press(Action.TOPICS), goes_to=State.VERIFY, says="what I can help with"
    ),
    (State.VERIFY, START): Row(
        event=Command(name="start"), goes_to=State.VERIFY, says="Check 1 of 2"
    ),
    (State.VERIFY, HELP): Row(
        event=Command(name="help"), goes_to=State.VERIFY, says="Check 1 of 2"
    ),
    # hand-off
    (State.HANDOFF, TEXT): Row(
        event=UserText(text="any news on my ticket?"), goes_to=State.HANDOFF, says=""
    ),
    (State.HANDOFF, Action.CHOOSE): Row(
        event=press(Action.CHOOSE, "mailbox-full"), goes_to=State.GUIDE, says="Step 1 of 3"
    ),
    (State.HANDOFF, Action.CANCEL): Row(
        event=UserText(text="cancel"), goes_to=State.IDLE, says="OK, stopped"
    ),
    (State.HANDOFF, Action.HUMAN): Row(
        event=Command(name="human"), goes_to=State.HANDOFF, says="support team"
    ),
    (State.HANDOFF, Action.TOPICS): Row(
        event=Command(name="topics"), goes_to=State.HANDOFF, says="what I can help with"
    ),
    (State.HANDOFF, START): Row(
        event=Command(name="start"), goes_to=State.HANDOFF, says="support team"
    ),
    (State.HANDOFF, HELP): Row(event=Command(name="help"), goes_to=State.HANDOFF, says="/human"),
    **{
        (state, Action.REPEAT): Row(event=press(Action.REPEAT), goes_to=state, says="")
        for state in State
    },
    **{
        (state, Action.THANKS): Row(
            event=press(Action.THANKS), goes_to=state, says="You're welcome"
        )
        for state in State
    },
    **{
        (state, Action.GOODBYE): Row(
            event=press(Action.GOODBYE),
            goes_to=state,
            says="Bye for now" if state in (State.GUIDE, State.VERIFY) else "Goodbye",
        )
        for state in State
        if state is not State.IDLE
    },
    (State.IDLE, Action.GOODBYE): Row(
        event=UserText(text="thanks, bye"), goes_to=State.IDLE, says="Goodbye"
    ),
    **{
        (state, Action.LANGUAGE): Row(
            event=Command(name="language", arg="english"), goes_to=state, says="From now on"
        )
        for state in State
    },
    (State.HANDOFF, CLOSED): Row(
        event=Command(name="closed", arg="7"), goes_to=State.IDLE, says="How would you rate"
    ),
    (State.HANDOFF, UNREACHABLE): Row(
        event=Command(name="unreachable"), goes_to=State.IDLE, says="couldn't reach"
    ),
}


# -- helpers ---------------------------------------------------------------------------------


def all_text(outcome: Outcome) -> str:
    """Every reply of an outcome as one string."""
    return "\n".join(reply.text for reply in outcome.replies)


def buttons_of(outcome: Outcome) -> tuple[Button, ...]:
    """Every button offered by an outcome, in order."""
    return tuple(button for reply in outcome.replies for button in reply.buttons)


def assert_buttons_pack(outcome: Outcome) -> None:
    """Every button must survive Telegram's 64-byte callback data limit and round-trip."""
    for button in buttons_of(outcome):
        data = pack(button.action, outcome.session.version, button.arg)
        assert len(data.encode("utf-8")) <= MAX_BYTES
        assert unpack(data) == ButtonPress(
            action=button.action, version=outcome.session.version, arg=button.arg
        )


def handle(engine: Engine, session: Session, event: Event, *, now: float = NOW) -> Outcome:
    """``engine.handle`` plus the checks every outcome must pass."""
    outcome = engine.handle(session, event, now=now)
    assert_buttons_pack(outcome)
    assert outcome.session.chat_id == session.chat_id
    assert outcome.session.version >= session.version
    return outcome


def kinds(outcome: Outcome) -> list[str]:
    """The event-log kinds of an outcome."""
    return [record.kind for record in outcome.log]


def button_for(outcome: Outcome, action: Action, arg: str | None = None) -> Button:
    """The offered button with this action (and arg); fails the test when it is not offered."""
    for button in buttons_of(outcome):
        if button.action is action and (arg is None or button.arg == arg):
            return button
    offered = [(b.action.value, b.arg) for b in buttons_of(outcome)]
    raise AssertionError(f"no {action.value!r} button offered; offered: {offered}")


def press_offered(
    engine: Engine, outcome: Outcome, action: Action, arg: str | None = None
) -> Outcome:
    """Press a button the last outcome actually showed."""
    button = button_for(outcome, action, arg)
    session = outcome.session
    return handle(engine, session, press(button.action, button.arg, version=session.version))


Script = Sequence[tuple[str, str]]


def play(engine: Engine, script: Script, *, session: Session | None = None) -> list[Outcome]:
    """Run a dialogue written as data: ("user", text), ("press", action value), ("command",
    name) and ("bot", fragment expected in the last answer). Returns every outcome."""
    outcome = Outcome(session=session or engine.new_session(CHAT, now=NOW), replies=())
    outcomes: list[Outcome] = []
    now = NOW
    for who, what in script:
        now += 1.0
        if who == "bot":
            assert what in all_text(outcome), f"expected {what!r} in:\n{all_text(outcome)}"
            continue
        if who == "user":
            outcome = handle(engine, outcome.session, UserText(text=what), now=now)
        elif who == "command":
            outcome = handle(engine, outcome.session, Command(name=what), now=now)
        elif who == "press":
            button = button_for(outcome, Action(what))
            event = press(button.action, button.arg, version=outcome.session.version)
            outcome = handle(engine, outcome.session, event, now=now)
        else:
            raise ValueError(f"unknown script line {who!r}")
        outcomes.append(outcome)
    return outcomes


def logged(outcomes: Iterable[Outcome]) -> list[tuple[str, str | None]]:
    """(kind, topic) of every log record of a conversation."""
    return [(record.kind, record.topic) for o in outcomes for record in o.log]


def unchanged(before: Session, after: Session) -> bool:
    """Equal apart from the activity time and the hand-off transcript, which always follow
    what the user does."""
    return replace(after, updated_at=before.updated_at, transcript=before.transcript) == before


# -- the table, row by row -------------------------------------------------------------------


@pytest.mark.parametrize("row", list(TRANSITIONS), ids=lambda key: f"{key[0].value}-{key[1]}")
def test_each_transition_row_goes_where_the_table_says(
    engine: Engine, row: tuple[State, str]
) -> None:
    assert row in EXPECTED, f"new TRANSITIONS row {row} has no expectation in EXPECTED"
    expected = EXPECTED[row]
    state, _ = row

    outcome = handle(engine, SESSIONS[state], expected.event)

    assert outcome.session.state == expected.goes_to
    assert expected.says in all_text(outcome)
    if expected.says == "" and state is State.HANDOFF and row[1] is TEXT:
        assert outcome.replies == ()
    # The table's target-state column is true for this row.
    rule = TRANSITIONS[row]
    targets = {state if target == SAME else target for target in rule.goes_to}
    assert outcome.session.state in targets


def test_every_expectation_names_a_row_of_the_table() -> None:
    assert sorted(set(EXPECTED) - set(TRANSITIONS)) == []


@pytest.mark.parametrize("row", list(TRANSITIONS), ids=lambda key: f"{key[0].value}-{key[1]}")
def test_the_same_session_and_event_give_the_same_outcome(
    engine: Engine, row: tuple[State, str]
) -> None:
    event = EXPECTED[row].event
    session = SESSIONS[row[0]]

    first = engine.handle(session, event, now=NOW)
    second = engine.handle(session, event, now=NOW)

    assert first == second


# -- properties of the table -----------------------------------------------------------------

EVENT_ARGS = {
    Action.RATE: ("up",),
    Action.WALK: ("",),
}
TEXTS = ("552", "2", "done", "no", SWITCH_TEXT)


def real_events(kb: KnowledgeBase, session: Session) -> list[Event]:
    """Events a user can really send in this session's state, one or more per table row."""
    events: list[Event] = []
    for state, action in TRANSITIONS:
        if state is not session.state:
            continue
        if action == TEXT:
            events.extend(UserText(text=t) for t in TEXTS)
        elif action in (START, HELP):
            events.append(Command(name=action))
        elif action in (CLOSED, UNREACHABLE):
            events.append(Command(name=action, arg="7"))
        else:
            act = Action(action)
            if act in (Action.CHOOSE, Action.SWITCH):
                args: Sequence[str] = kb.ids
            else:
                args = EVENT_ARGS.get(act, ("",))
            events.extend(press(act, arg, version=session.version) for arg in args)
    return events


def explore(engine: Engine, *, limit: int = 400) -> list[Session]:
    """Breadth-first search over sessions reachable from a fresh idle one with real events."""
    start = engine.new_session(CHAT, now=NOW)
    seen = {(start.state, start.topic, start.step, start.candidates)}
    queue, found = deque([start]), [start]
    while queue and len(found) < limit:
        session = queue.popleft()
        for event in real_events(engine.kb, session):
            outcome = engine.handle(session, event, now=NOW)
            assert_buttons_pack(outcome)
            nxt = outcome.session
            key = (nxt.state, nxt.topic, nxt.step, nxt.candidates)
            if key not in seen:
                seen.add(key)
                found.append(nxt)
                queue.append(nxt)
    return found


@pytest.fixture(scope="module")
def linked_engine(kb: KnowledgeBase, matcher: Matcher) -> Engine:
    """An engine whose knowledge links missing-email to mailbox-full as the next cause.

    The shipped guide names no such link (it tells the two apart by the sender's bounce);
    this one exists only to exercise the engine's "next likely cause" path.
    """
    problems = tuple(
        replace(p, related=("mailbox-full",)) if p.id == "missing-email" else p
        for p in kb.problems
    )
    linked = replace(kb, problems=problems)
    return Engine(linked, matcher, DialogueSettings(staff_available=True))


@pytest.fixture(scope="module")
def reachable(linked_engine: Engine) -> list[Session]:
    """Every session found by exploring from idle (explored once per module)."""
    return explore(linked_engine)


def test_every_state_is_reachable_from_idle(reachable: list[Session]) -> None:
    assert {s.state for s in reachable} == set(State)


def test_no_state_is_a_trap_cancel_always_returns_to_idle(
    engine: Engine, reachable: list[Session]
) -> None:
    for session in reachable:
        for event in (Command(name="cancel"), press(Action.CANCEL, version=session.version)):
            outcome = handle(engine, session, event)
            assert outcome.session.state == State.IDLE, (session, event)
            assert outcome.session.topic is None


@pytest.mark.parametrize("state", list(State), ids=str)
@pytest.mark.parametrize("words", ["cancel", "stop", "Start over", "cancle", "/cancel"])
def test_cancel_in_plain_words_works_in_every_state(
    engine: Engine, state: State, words: str
) -> None:
    event: Event = Command(name="cancel") if words == "/cancel" else UserText(text=words)

    outcome = handle(engine, SESSIONS[state], event)

    assert outcome.session.state == State.IDLE
    assert outcome.session.version == VERSION + 1
    assert "OK, stopped" in all_text(outcome)


@pytest.mark.parametrize("state", [s for s in State if s is not State.IDLE], ids=str)
def test_a_message_after_the_timeout_is_read_as_what_it_is(engine: Engine, state: State) -> None:
    stale = replace(SESSIONS[state], updated_at=NOW - TIMEOUT - 1)

    outcome = handle(engine, stale, UserText(text="552"))

    assert outcome.session.state == State.GUIDE
    assert outcome.session.topic == "mailbox-full"
    assert outcome.session.step == 0
    assert outcome.session.updated_at == NOW
    assert outcome.session.resume is None


@pytest.mark.parametrize("state", [State.GUIDE, State.VERIFY], ids=str)
@pytest.mark.parametrize("text", ["done", "continue", "yes", "ok"])
def test_after_the_timeout_done_or_continue_picks_up_where_we_left_off(
    engine: Engine, state: State, text: str
) -> None:
    stale = replace(SESSIONS[state], updated_at=NOW - TIMEOUT - 1)

    outcome = handle(engine, stale, UserText(text=text))

    assert "Welcome back" in all_text(outcome)
    assert (outcome.session.state, outcome.session.topic, outcome.session.step) == (
        state,
        SESSIONS[state].topic,
        SESSIONS[state].step,
    )


@pytest.mark.parametrize("state", [State.GUIDE, State.VERIFY], ids=str)
def test_after_the_timeout_an_unrelated_reply_keeps_offering_to_continue(
    engine: Engine, state: State
) -> None:
    stale = replace(SESSIONS[state], updated_at=NOW - TIMEOUT - 1)

    outcome = handle(engine, stale, UserText(text="hi"))

    assert outcome.session.state == State.IDLE
    assert "It's been a while" in all_text(outcome)
    resume = press_offered(engine, outcome, Action.RESUME)
    assert (resume.session.state, resume.session.step) == (state, SESSIONS[state].step)


@pytest.mark.parametrize("state", [State.CLARIFY, State.HANDOFF], ids=str)
def test_a_timeout_outside_a_walkthrough_starts_over_and_says_so(
    engine: Engine, state: State
) -> None:
    stale = replace(SESSIONS[state], updated_at=NOW - TIMEOUT - 1)

    outcome = handle(engine, stale, UserText(text="hello"))

    assert "started over" in outcome.replies[0].text
    assert outcome.session.state == State.IDLE


@pytest.mark.parametrize("state", [s for s in State if s is not State.IDLE], ids=str)
def test_a_message_just_inside_the_timeout_continues(engine: Engine, state: State) -> None:
    recent = replace(SESSIONS[state], updated_at=NOW - TIMEOUT + 1)

    outcome = handle(engine, recent, Command(name="start"))

    assert "a while" not in all_text(outcome)
    assert outcome.session.state == state


@pytest.mark.parametrize("state", [s for s in State if s is not State.IDLE], ids=str)
@pytest.mark.parametrize("action", [Action.DONE, Action.YES, Action.NO, Action.HUMAN])
def test_a_button_pressed_on_an_expired_session_changes_nothing_but_offers_to_continue(
    engine: Engine, state: State, action: Action
) -> None:
    stale = replace(SESSIONS[state], updated_at=NOW - TIMEOUT - 1)

    outcome = handle(engine, stale, press(action))

    assert outcome.session.state == State.IDLE
    assert outcome.session.topic is None
    assert outcome.log == ()
    assert "a while" in outcome.replies[0].text
    if state in (State.GUIDE, State.VERIFY):
        assert button_for(outcome, Action.RESUME)


def test_the_timeout_is_configurable(kb: KnowledgeBase, matcher: Matcher) -> None:
    quick = Engine(kb, matcher, DialogueSettings(timeout_seconds=60), acts=None)
    session = replace(SESSIONS[State.GUIDE], updated_at=NOW - 61)

    outcome = handle(quick, session, UserText(text="hello"))

    assert "a while" in outcome.replies[0].text


# -- bad input changes nothing ---------------------------------------------------------------


@pytest.mark.parametrize("state", list(State), ids=str)
def test_a_stale_button_keeps_the_session_and_answers_kindly(engine: Engine, state: State) -> None:
    session = SESSIONS[state]

    outcome = handle(engine, session, press(Action.DONE, version=VERSION - 1))

    assert outcome.session.version == VERSION
    assert unchanged(session, outcome.session)
    assert "earlier message" in all_text(outcome)
    assert outcome.log == ()


def test_a_stale_button_from_a_newer_version_is_refused_too(engine: Engine) -> None:
    session = SESSIONS[State.GUIDE]

    outcome = handle(engine, session, press(Action.DONE, version=VERSION + 5))

    assert unchanged(session, outcome.session)


UNKNOWN_ROWS = [
    (state, action) for state in State for action in Action if (state, action) not in TRANSITIONS
]


@pytest.mark.parametrize(
    ("state", "action"), UNKNOWN_ROWS, ids=[f"{s.value}-{a.value}" for s, a in UNKNOWN_ROWS]
)
def test_an_action_that_does_not_apply_in_a_state_changes_nothing(
    engine: Engine, state: State, action: Action
) -> None:
    session = SESSIONS[state]

    outcome = handle(engine, session, press(action, "x"))

    assert unchanged(session, outcome.session)
    assert "doesn't apply" in all_text(outcome)
    assert outcome.log == ()


@pytest.mark.parametrize("state", list(State), ids=str)
def test_a_topic_button_for_an_unknown_id_changes_nothing(engine: Engine, state: State) -> None:
    session = SESSIONS[state]

    outcome = handle(engine, session, press(Action.CHOOSE, "no-such-topic"))

    assert unchanged(session, outcome.session)


def test_an_unknown_command_shows_help_and_changes_nothing(engine: Engine) -> None:
    session = SESSIONS[State.GUIDE]

    outcome = handle(engine, session, Command(name="frobnicate"))

    assert unchanged(session, outcome.session)
    assert "/human" in all_text(outcome)


WORDLESS_INPUT = {
    "empty": "",
    "whitespace": " \t\n  ",
    "emoji-only": "🙈🙉🙊",
    "control-characters": "\x00\x07\x1b\x7f\u200b\u202e\ufeff",
}
MALFORMED_INPUT = {**WORDLESS_INPUT, "10 000 characters": "x" * 10_000}


@pytest.mark.parametrize("state", [State.GUIDE, State.VERIFY, State.HANDOFF], ids=str)
@pytest.mark.parametrize("text", list(MALFORMED_INPUT.values()), ids=list(MALFORMED_INPUT))
def test_malformed_text_mid_conversation_keeps_the_place(
    engine: Engine, state: State, text: str
) -> None:
    session = SESSIONS[state]

    outcome = handle(engine, session, UserText(text=text))

    assert (outcome.session.state, outcome.session.topic, outcome.session.step) == (
        session.state,
        session.topic,
        session.step,
    )


@pytest.mark.parametrize("state", [State.IDLE, State.CLARIFY], ids=str)
@pytest.mark.parametrize("text", list(WORDLESS_INPUT.values()), ids=list(WORDLESS_INPUT))
def test_text_without_words_while_idle_or_choosing_changes_nothing(
    engine: Engine, state: State, text: str
) -> None:
    session = SESSIONS[state]

    outcome = handle(engine, session, UserText(text=text))

    assert unchanged(session, outcome.session)
    assert outcome.replies != ()


@pytest.mark.parametrize("state", list(State), ids=str)
def test_a_very_long_message_never_raises(engine: Engine, state: State) -> None:
    text = "my outlook deleted everything " * 400

    outcome = handle(engine, SESSIONS[state], UserText(text=text))

    assert outcome.session.state in set(State)


# -- complete conversations ------------------------------------------------------------------

OPENERS = {
    "pop-deletion": "my mails vanish after outlook sync",
    "sent-not-saved": "mails I send from thunderbird never show up in the web sent folder",
    "missing-email": "EmailNotFound",
    "mailbox-full": "552",
}


@pytest.mark.parametrize("topic", list(OPENERS))
def test_each_problem_can_be_walked_to_solved_with_buttons(
    engine: Engine, kb: KnowledgeBase, topic: str
) -> None:
    problem = kb.problem(topic)
    assert problem is not None
    n, m = len(problem.steps), len(problem.verification)
    script: list[tuple[str, str]] = [("user", OPENERS[topic]), ("bot", problem.title)]
    for i in range(1, n + 1):
        script += [("bot", f"Step {i} of {n}"), ("press", "done")]
    for j in range(1, m):
        script += [("bot", f"Check {j} of {m}"), ("press", "done")]
    script += [("bot", f"Check {m} of {m}"), ("press", "yes"), ("bot", "solved")]

    outcomes = play(engine, script)

    assert outcomes[-1].session.state == State.IDLE
    assert ("dialogue.resolved", topic) in logged(outcomes)
    assert ("dialogue.started", topic) in logged(outcomes)


TYPED_DONE = ["done", "ok", "next", "dnoe", "Done!", "👍", "OK next", "nxet"]


@pytest.mark.parametrize("topic", list(OPENERS))
def test_each_problem_can_be_walked_to_solved_with_typed_words(
    engine: Engine, kb: KnowledgeBase, topic: str
) -> None:
    problem = kb.problem(topic)
    assert problem is not None
    n, m = len(problem.steps), len(problem.verification)
    script: list[tuple[str, str]] = [("user", OPENERS[topic])]
    for i in range(n + m - 1):
        script.append(("user", TYPED_DONE[i % len(TYPED_DONE)]))
    script += [("bot", f"Check {m} of {m}"), ("user", "yes it works"), ("bot", "solved")]

    outcomes = play(engine, script)

    assert outcomes[-1].session.state == State.IDLE
    assert ("dialogue.resolved", topic) in logged(outcomes)


@pytest.mark.parametrize("typo", ["dnoe", "DNOE", "nxet", "okay", "done.", "Done!!"])
def test_typed_done_with_typos_moves_to_the_next_step(engine: Engine, typo: str) -> None:
    outcome = handle(engine, SESSIONS[State.GUIDE], UserText(text=typo))

    assert outcome.session.step == 2
    assert "Step 3 of 3" in all_text(outcome)


def test_typing_done_on_the_last_check_asks_whether_it_works(engine: Engine) -> None:
    session = replace(SESSIONS[State.VERIFY], step=1)

    outcome = handle(engine, session, UserText(text="done"))

    assert outcome.session.state == State.VERIFY
    assert "does it work now?" in all_text(outcome)
    assert button_for(outcome, Action.YES)


def test_still_broken_on_missing_email_offers_full_mailbox_then_a_person(
    linked_engine: Engine,
) -> None:
    outcomes = play(
        linked_engine,
        [
            ("user", "EmailNotFound"),
            ("press", "done"),
            ("press", "done"),
            ("press", "done"),
            ("bot", "Check 1 of 2"),
            ("press", "no"),
            ("bot", "Cannot Receive New Emails Due to Full Mailbox"),
            ("user", "no"),
        ],
    )

    offer, declined = outcomes[-2], outcomes[-1]
    assert offer.session.state == State.CLARIFY
    assert offer.session.candidates == ("mailbox-full",)
    assert ("dialogue.unresolved", "missing-email") in logged(outcomes)
    assert declined.session.state == State.IDLE
    assert button_for(declined, Action.HUMAN)


def test_accepting_the_related_problem_starts_its_guide_and_then_offers_a_person(
    linked_engine: Engine,
) -> None:
    outcomes = play(
        linked_engine,
        [
            ("user", "EmailNotFound"),
            ("press", "done"),
            ("press", "done"),
            ("press", "done"),
            ("user", "still broken"),
            ("user", "yes"),
            ("bot", "Step 1 of 3"),
            ("press", "done"),
            ("press", "done"),
            ("press", "done"),
            ("press", "done"),
            ("press", "done"),
            ("press", "no"),
            ("bot", "A person from the support team"),
            ("press", "human"),
        ],
    )

    assert outcomes[5].session.topic == "mailbox-full"
    assert outcomes[-2].session.state == State.IDLE
    assert outcomes[-1].session.state == State.HANDOFF
    assert outcomes[-1].escalated


@pytest.mark.parametrize("step", [1, 2])
def test_pressing_stuck_on_a_pop_step_shows_its_navigation_path_and_outlook_tip(
    engine: Engine, step: int
) -> None:
    session = Session(
        chat_id=CHAT, state=State.GUIDE, topic="pop-deletion", step=step, version=VERSION
    )

    outcome = handle(engine, session, press(Action.STUCK))

    text = all_text(outcome)
    assert "Settings > Email Settings > POP Settings" in text
    assert "Leave a copy of messages on the server" in text
    assert f"Step {step + 1} of 4" in text
    assert button_for(outcome, Action.HUMAN)
    assert outcome.session == replace(session, updated_at=NOW)
    assert [(r.kind, r.detail) for r in outcome.log] == [("dialogue.stuck", str(step + 1))]


def test_being_stuck_on_the_dropdown_step_names_the_form_field_and_its_options(
    engine: Engine,
) -> None:
    session = Session(chat_id=CHAT, state=State.GUIDE, topic="pop-deletion", step=2)

    outcome = handle(engine, session, UserText(text="i cant find it"))

    text = all_text(outcome)
    assert "Deletion by Receiving Software" in text
    assert "Not Allowed" in text


def test_typing_stuck_with_a_typo_shows_the_details(engine: Engine) -> None:
    session = Session(chat_id=CHAT, state=State.GUIDE, topic="pop-deletion", step=1)

    outcome = handle(engine, session, UserText(text="stcuk"))

    assert "Settings > Email Settings > POP Settings" in all_text(outcome)


def test_back_on_the_first_step_stays_there(engine: Engine) -> None:
    session = Session(
        chat_id=CHAT, state=State.GUIDE, topic="mailbox-full", step=0, version=VERSION
    )

    outcome = handle(engine, session, UserText(text="back"))

    assert unchanged(session, outcome.session)
    assert "first step" in all_text(outcome)


def test_the_first_step_offers_no_back_button(engine: Engine) -> None:
    outcome = handle(engine, engine.new_session(CHAT, now=NOW), UserText(text="552"))

    assert Action.BACK not in {b.action for b in buttons_of(outcome)}


def test_back_from_the_first_check_returns_to_the_last_step(engine: Engine) -> None:
    outcome = handle(engine, SESSIONS[State.VERIFY], press(Action.BACK))

    assert (outcome.session.state, outcome.session.step) == (State.GUIDE, 2)


def faq_answer(engine: Engine, faq_id: str = "faq-keep-copy") -> Outcome:
    """The outcome of picking a FAQ entry from the topic menu."""
    session = engine.new_session(CHAT, now=NOW)
    return handle(engine, session, press(Action.CHOOSE, faq_id, version=session.version))


def test_a_faq_answer_offers_walkthrough_helped_and_not_my_question(engine: Engine) -> None:
    outcome = faq_answer(engine)

    assert "Leave a copy of messages on the server" in all_text(outcome)
    assert [b.action for b in buttons_of(outcome)] == [
        Action.WALK,
        Action.HELPED,
        Action.NOT_MY_QUESTION,
    ]
    assert outcome.session.topic == "faq-keep-copy"
    assert kinds(outcome) == ["dialogue.faq"]


@pytest.mark.parametrize("how", ["button", "walk me through it"])
def test_walk_me_through_it_after_a_faq_starts_the_guide_at_step_one(
    engine: Engine, how: str
) -> None:
    answer = faq_answer(engine)

    if how == "button":
        outcome = press_offered(engine, answer, Action.WALK)
    else:
        outcome = handle(engine, answer.session, UserText(text=how))

    assert (outcome.session.state, outcome.session.topic, outcome.session.step) == (
        State.GUIDE,
        "pop-deletion",
        0,
    )
    assert "Step 1 of 4" in all_text(outcome)


@pytest.mark.parametrize("how", ["button", "that helped", "yes"])
def test_that_helped_after_a_faq_counts_as_resolved(engine: Engine, how: str) -> None:
    answer = faq_answer(engine)

    if how == "button":
        outcome = press_offered(engine, answer, Action.HELPED)
    else:
        outcome = handle(engine, answer.session, UserText(text=how))

    assert [(r.kind, r.topic, r.detail) for r in outcome.log] == [
        ("dialogue.resolved", "pop-deletion", "faq")
    ]
    # The answer stays open: "walk me through it" still works, a second thanks counts once.
    again = handle(engine, outcome.session, UserText(text="thanks"))
    assert again.log == ()
    walk = handle(engine, again.session, UserText(text="walk me through it"))
    assert walk.session.state == State.GUIDE


@pytest.mark.parametrize("how", ["button", "not my question"])
def test_not_my_question_asks_again_and_offers_topics_and_a_person(
    engine: Engine, how: str
) -> None:
    answer = faq_answer(engine)

    if how == "button":
        outcome = press_offered(engine, answer, Action.NOT_MY_QUESTION)
    else:
        outcome = handle(engine, answer.session, UserText(text=how))

    assert outcome.session.state == State.IDLE
    assert outcome.session.topic is None
    assert outcome.session.misses == 1
    assert button_for(outcome, Action.HUMAN)
    assert button_for(outcome, Action.CHOOSE, "mailbox-full")


def test_the_imap_faq_links_to_the_pop_guide_instead_of_a_walkthrough(engine: Engine) -> None:
    outcome = faq_answer(engine, "faq-imap")

    assert Action.WALK not in {b.action for b in buttons_of(outcome)}
    assert button_for(outcome, Action.CHOOSE, "pop-deletion")


@pytest.fixture(scope="module")
def unsure_engine(kb: KnowledgeBase) -> Engine:
    """An engine whose matcher never answers outright, so every description clarifies."""
    settings = MatchSettings(answer_floor=0.99, margin=0.5, clarify_floor=0.05, band=1.0)
    return Engine(kb, Matcher.from_knowledge(kb, settings), DialogueSettings())


def test_an_unsure_match_asks_which_one_with_none_of_these(unsure_engine: Engine) -> None:
    outcome = handle(
        unsure_engine,
        unsure_engine.new_session(CHAT, now=NOW),
        UserText(text=OPENERS["pop-deletion"]),
    )

    assert outcome.session.state == State.CLARIFY
    assert 2 <= len(outcome.session.candidates) <= 3
    assert "Which of these is it?" in all_text(outcome)
    assert buttons_of(outcome)[-1].action is Action.NONE_OF_THESE
    assert [b.arg for b in buttons_of(outcome)[:-1]] == list(outcome.session.candidates)


def test_typing_a_number_while_choosing_picks_that_choice(unsure_engine: Engine) -> None:
    asked = handle(
        unsure_engine,
        unsure_engine.new_session(CHAT, now=NOW),
        UserText(text=OPENERS["pop-deletion"]),
    )
    second = asked.session.candidates[1]

    outcome = handle(unsure_engine, asked.session, UserText(text="2"))

    assert outcome.session.topic == second
    assert outcome.session.candidates == ()


@pytest.mark.parametrize("text", ["2", "2.", "2)"])
def test_a_typed_number_picks_from_the_offered_choices(engine: Engine, text: str) -> None:
    outcome = handle(engine, SESSIONS[State.CLARIFY], UserText(text=text))

    assert (outcome.session.state, outcome.session.topic) == (State.GUIDE, "mailbox-full")


def test_a_number_out_of_range_while_choosing_is_not_a_choice(engine: Engine) -> None:
    outcome = handle(engine, SESSIONS[State.CLARIFY], UserText(text="7"))

    assert outcome.session.topic is None
    assert outcome.session.state != State.GUIDE


@pytest.mark.parametrize("how", ["button", "none of these", "neither"])
def test_none_of_these_asks_for_other_words_and_offers_a_person(engine: Engine, how: str) -> None:
    event: Event = press(Action.NONE_OF_THESE) if how == "button" else UserText(text=how)

    outcome = handle(engine, SESSIONS[State.CLARIFY], event)

    assert outcome.session.state == State.IDLE
    assert outcome.session.candidates == ()
    assert button_for(outcome, Action.HUMAN)


def test_yes_to_a_single_suggestion_takes_it(engine: Engine) -> None:
    session = replace(SESSIONS[State.CLARIFY], candidates=("mailbox-full",))

    outcome = handle(engine, session, UserText(text="yes"))

    assert (outcome.session.state, outcome.session.topic) == (State.GUIDE, "mailbox-full")


def test_describing_another_problem_mid_guide_offers_to_switch(engine: Engine) -> None:
    session = SESSIONS[State.GUIDE]

    outcome = handle(engine, session, UserText(text=SWITCH_TEXT))

    assert engine.kb.topic_of(outcome.session.offer or "") == "sent-not-saved"
    assert (outcome.session.state, outcome.session.topic, outcome.session.step) == (
        State.GUIDE,
        "mailbox-full",
        1,
    )
    assert button_for(outcome, Action.SWITCH)
    assert button_for(outcome, Action.STAY)


def test_switch_starts_the_new_guide(engine: Engine) -> None:
    offer = handle(engine, SESSIONS[State.GUIDE], UserText(text=SWITCH_TEXT))

    outcome = press_offered(engine, offer, Action.SWITCH)

    assert (outcome.session.state, outcome.session.topic, outcome.session.step) == (
        State.GUIDE,
        "sent-not-saved",
        0,
    )
    assert ("dialogue.switched", "sent-not-saved") in logged([outcome])


def test_stay_keeps_the_current_step(engine: Engine) -> None:
    offer = handle(engine, SESSIONS[State.GUIDE], UserText(text=SWITCH_TEXT))

    outcome = press_offered(engine, offer, Action.STAY)

    assert (outcome.session.topic, outcome.session.step, outcome.session.offer) == (
        "mailbox-full",
        1,
        None,
    )
    assert "Step 2 of 3" in all_text(outcome)


def test_describing_the_same_problem_mid_guide_just_continues(engine: Engine) -> None:
    session = SESSIONS[State.GUIDE]

    outcome = handle(engine, session, UserText(text="my mailbox is full, error 552"))

    assert outcome.session.offer is None
    assert unchanged(session, outcome.session)
    assert "Step 2 of 3" in all_text(outcome)


def test_human_with_staff_hands_over_and_logs_the_transcript(engine: Engine) -> None:
    outcomes = play(
        engine,
        [("user", "552"), ("press", "done"), ("command", "human")],
    )

    outcome = outcomes[-1]
    assert outcome.session.state == State.HANDOFF
    assert outcome.escalated
    (record,) = outcome.log
    assert (record.kind, record.topic) == ("dialogue.escalated", "mailbox-full")
    assert "step 2 of 3" in record.detail
    assert "Cannot Receive New Emails Due to Full Mailbox" in all_text(outcome)
    assert "user: 552" in record.detail


def test_human_without_staff_says_no_team_is_connected(engine_without_staff: Engine) -> None:
    session = SESSIONS[State.GUIDE]

    outcome = handle(engine_without_staff, session, Command(name="human"))

    assert outcome.session.state == State.IDLE
    assert "No support team is connected" in all_text(outcome)
    assert kinds(outcome) == ["dialogue.escalated"]


def test_text_during_handoff_is_logged_for_staff_without_a_state_change(engine: Engine) -> None:
    session = SESSIONS[State.HANDOFF]

    outcome = handle(engine, session, UserText(text="it started on Monday"))

    assert outcome.replies == ()
    assert outcome.session.version == session.version
    assert outcome.session.state == State.HANDOFF
    assert [(r.kind, r.detail) for r in outcome.log] == [
        ("handoff.message", "it started on Monday")
    ]


def test_typed_yes_during_handoff_goes_to_staff_too(engine: Engine) -> None:
    outcome = handle(engine, SESSIONS[State.HANDOFF], UserText(text="yes"))

    assert kinds(outcome) == ["handoff.message"]


def test_start_mid_guide_keeps_the_place(engine: Engine) -> None:
    session = SESSIONS[State.GUIDE]

    outcome = handle(engine, session, Command(name="start"))

    assert unchanged(session, outcome.session)
    assert "middle of something" in all_text(outcome)
    assert "Step 2 of 3" in all_text(outcome)


def test_an_out_of_scope_question_says_so_and_offers_topics_and_a_person(engine: Engine) -> None:
    outcome = handle(
        engine, engine.new_session(CHAT, now=NOW), UserText(text="I forgot my password")
    )

    assert outcome.session.state == State.IDLE
    assert button_for(outcome, Action.HUMAN)
    assert button_for(outcome, Action.CHOOSE, "pop-deletion")
    assert ("dialogue.unanswered", None) in logged([outcome])


def test_a_repeated_miss_says_so_with_the_same_menu(engine: Engine) -> None:
    outcomes = play(engine, [("user", "I forgot my password"), ("user", "how do I set up DKIM")])

    # Same menu, same numbers as the first time; the person is last.
    assert buttons_of(outcomes[-1]) == buttons_of(outcomes[0])
    assert buttons_of(outcomes[-1])[-1].action is Action.HUMAN
    assert "still couldn't match" in all_text(outcomes[-1])


def test_feedback_after_solving_is_logged(engine: Engine) -> None:
    solved = handle(engine, replace(SESSIONS[State.VERIFY], step=1), press(Action.YES))

    outcome = press_offered(engine, solved, Action.RATE, "down:missing-email")

    assert [(r.kind, r.topic, r.detail) for r in outcome.log] == [
        ("dialogue.feedback", "missing-email", "down")
    ]


def test_thumbs_down_asks_what_went_wrong_and_logs_the_answer_for_the_inbox(
    engine: Engine,
) -> None:
    solved = handle(engine, replace(SESSIONS[State.VERIFY], step=1), press(Action.YES))
    asked = press_offered(engine, solved, Action.RATE, "down:missing-email")

    answer = handle(engine, asked.session, UserText(text="the spam folder step was not there"))

    assert "What went wrong?" in all_text(asked)
    assert [(r.kind, r.topic, r.detail) for r in answer.log] == [
        ("feedback.reason", "missing-email", "the spam folder step was not there")
    ]
    assert answer.session.asked is None
    assert answer.session.state is State.IDLE


def test_after_thumbs_down_a_button_drops_the_question(engine: Engine) -> None:
    solved = handle(engine, replace(SESSIONS[State.VERIFY], step=1), press(Action.YES))
    asked = press_offered(engine, solved, Action.RATE, "down:missing-email")

    topics = handle(engine, asked.session, Command(name="topics"))
    later = handle(engine, topics.session, UserText(text="my mailbox is full"))

    assert "feedback.reason" not in kinds(later)
    assert "dialogue.started" in kinds(later)


def test_none_of_these_logs_the_question_it_refused(engine: Engine) -> None:
    session = SESSIONS[State.CLARIFY].remember("user: outlook and the mailbox thing")

    pressed = handle(engine, session, press(Action.NONE_OF_THESE))
    typed = handle(engine, session, UserText(text="none of these"))

    for outcome in (pressed, typed):
        refused = [(r.kind, r.detail) for r in outcome.log]
        assert refused == [("dialogue.refused", "outlook and the mailbox thing")]


def test_not_my_question_logs_the_question_and_the_faq_topic(engine: Engine) -> None:
    session = SESSIONS[State.IDLE].remember("user: can I stop outlook removing mail")

    outcome = handle(engine, session, press(Action.NOT_MY_QUESTION))

    assert [(r.kind, r.topic, r.detail) for r in outcome.log] == [
        ("dialogue.not_my_question", "pop-deletion", "can I stop outlook removing mail")
    ]


def test_staff_closing_a_handoff_asks_for_one_to_five_stars_once(engine: Engine) -> None:
    closed = handle(engine, SESSIONS[State.HANDOFF], Command(name="closed", arg="12"))
    stars = [b.arg for b in buttons_of(closed)]

    rated = press_offered(engine, closed, Action.RATE, "t12:4")
    again = handle(
        engine, rated.session, press(Action.RATE, "t12:5", version=closed.session.version)
    )

    assert stars == ["t12:1", "t12:2", "t12:3", "t12:4", "t12:5"]
    assert closed.session.state is State.IDLE
    assert [(r.kind, r.detail) for r in rated.log] == [("ticket.rated", "4")]
    assert "4 of 5" in all_text(rated)
    assert again.log == ()


def test_every_step_advance_bumps_the_version_by_one(engine: Engine) -> None:
    outcomes = play(engine, [("user", "552"), ("press", "done"), ("press", "done")])

    assert [o.session.version for o in outcomes] == [1, 2, 3]


def test_without_staff_a_configured_contact_is_given(kb: KnowledgeBase, matcher: Matcher) -> None:
    engine = Engine(kb, matcher, DialogueSettings(fallback_contact="helpdesk@example.com"))

    outcome = handle(engine, SESSIONS[State.GUIDE], Command(name="human"))

    assert "Please contact helpdesk@example.com" in all_text(outcome)
    assert outcome.session.state is State.IDLE


def test_an_unreachable_staff_chat_hands_back_with_the_contact(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    engine = Engine(
        kb, matcher, DialogueSettings(staff_available=True, fallback_contact="+1 555 0100")
    )

    outcome = handle(engine, SESSIONS[State.HANDOFF], Command(name="unreachable"))

    assert "couldn't reach the support team" in all_text(outcome)
    assert "+1 555 0100" in all_text(outcome)
    assert kinds(outcome) == ["handoff.failed"]


# -- wording ---------------------------------------------------------------------------------


def every_outcome(engine: Engine, sessions: list[Session]) -> list[Outcome]:
    """The outcome of every real event from every reachable session."""
    return [
        engine.handle(session, event, now=NOW)
        for session in sessions
        for event in real_events(engine.kb, session)
    ]


def test_no_reply_anywhere_ends_a_question_with_a_full_stop(
    engine: Engine, reachable: list[Session]
) -> None:
    texts = [r.text for o in every_outcome(engine, reachable) for r in o.replies]

    assert [t for t in texts if "?." in t or "?**." in t] == []


def test_check_prompts_never_say_step_and_always_offer_back(
    engine: Engine, reachable: list[Session]
) -> None:
    checks = [
        r
        for o in every_outcome(engine, reachable)
        for r in o.replies
        if r.text.startswith("**Check ")
    ]

    assert checks
    assert [r.text for r in checks if "step" in r.text.lower()] == []
    assert all(any(b.action is Action.BACK for b in r.buttons) for r in checks)


def test_no_reply_uses_internal_state_names(engine: Engine, reachable: list[Session]) -> None:
    texts = [r.text for o in every_outcome(engine, reachable) for r in o.replies]

    assert [t for t in texts if "verify step" in t or "guide step" in t] == []


def test_a_faq_offered_mid_walkthrough_is_called_a_question_not_a_problem(
    engine: Engine,
) -> None:
    outcome = handle(
        engine, SESSIONS[State.GUIDE], UserText(text="does alibaba mail support imap")
    )

    assert "different question" in all_text(outcome)
    assert "different problem" not in all_text(outcome)


def test_an_upset_message_gets_a_short_acknowledgement_first(engine: Engine) -> None:
    outcome = handle(
        engine,
        engine.new_session(CHAT, now=NOW),
        UserText(text="this is RIDICULOUS, error 552 AGAIN, fix it!!!"),
    )

    assert outcome.replies[0].text.startswith("I'm sorry this is causing you trouble")
    assert outcome.session.state == State.GUIDE


def test_the_hand_off_names_the_problem_the_user_came_with(engine: Engine) -> None:
    outcomes = play(engine, [("user", "552"), ("user", "i want to talk to a human")])

    assert "about **Cannot Receive New Emails Due to Full Mailbox**" in all_text(outcomes[-1])
