"""What the event log keeps of an engine outcome: masked text, walkthrough progress."""

from __future__ import annotations

from bot.core.dialogue import Engine, LogRecord, Outcome
from bot.core.events import ButtonPress, Command, UserText
from bot.core.journal import EARLY_HANDOFF, STEP, records
from bot.core.replies import Action
from bot.core.session import Session, State

NOW = 1_000_000.0


def run(engine: Engine, session: Session, event: object) -> tuple[Outcome, list[LogRecord]]:
    outcome = engine.handle(session, event, now=NOW)  # type: ignore[arg-type]
    return outcome, list(records(session, outcome))


def test_every_new_step_of_a_walkthrough_is_logged_with_its_position(engine: Engine) -> None:
    session = engine.new_session("c", now=NOW)
    positions = []
    outcome, kept = run(engine, session, UserText(text="my mailbox is full"))
    positions += [r.detail for r in kept if r.kind == STEP]
    for _ in range(4):
        press = ButtonPress(action=Action.DONE, version=outcome.session.version)
        outcome, kept = run(engine, outcome.session, press)
        positions += [r.detail for r in kept if r.kind == STEP]

    assert positions == ["step 1", "step 2", "step 3", "check 1", "check 2"]


def test_a_step_repeated_without_moving_is_not_logged_again(engine: Engine) -> None:
    start, _ = run(engine, engine.new_session("c", now=NOW), UserText(text="my mailbox is full"))

    _, kept = run(engine, start.session, ButtonPress(action=Action.STUCK, version=1))

    assert STEP not in [r.kind for r in kept]


def test_no_match_text_is_kept_masked(engine: Engine) -> None:
    session = engine.new_session("c", now=NOW)

    _, kept = run(engine, session, UserText(text="reset password: Hunter2 for a@b.example.com"))

    unanswered = [r.detail for r in kept if r.kind == "dialogue.unanswered"]
    assert unanswered == ["reset password: [hidden] for [e-mail]"]


def test_a_handoff_before_any_walkthrough_keeps_the_question_but_no_transcript(
    engine: Engine,
) -> None:
    first, _ = run(engine, engine.new_session("c", now=NOW), UserText(text="export to pst"))

    outcome, kept = run(engine, first.session, UserText(text="talk to a person"))

    assert outcome.session.state is State.HANDOFF
    assert [(r.kind, r.detail) for r in kept] == [
        ("dialogue.escalated", "idle"),
        (EARLY_HANDOFF, "export to pst"),
    ]


def test_a_handoff_during_a_walkthrough_is_not_early(engine: Engine) -> None:
    start, _ = run(engine, engine.new_session("c", now=NOW), UserText(text="my mailbox is full"))

    _, kept = run(engine, start.session, Command(name="human"))

    assert [(r.kind, r.detail) for r in kept] == [("dialogue.escalated", "step 1")]


def test_messages_relayed_to_staff_leave_no_text_in_the_log(engine: Engine) -> None:
    handoff = Session(chat_id="c", state=State.HANDOFF, version=3, updated_at=NOW)

    _, kept = run(engine, handoff, UserText(text="my number is +1 415 555 0100"))

    assert [(r.kind, r.detail) for r in kept] == [("handoff.message", "")]
