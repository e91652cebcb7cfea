"""What of an engine outcome goes into the event log: masked, with walkthrough progress. Pure.

The engine's log records say what happened; this module turns them into what is kept for
reports. Every detail is masked (``privacy.mask_personal``); records that carried the
conversation's own words (a hand-off's transcript, a message relayed to staff) keep none of
them; each move to a new step of a walkthrough adds a ``walkthrough.step`` record (the step
drop-off report counts them); a hand-off before any walkthrough adds ``handoff.early`` with the
user's last question (the inbox lists them).
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.dialogue import LogRecord, Outcome
from bot.core.privacy import mask_personal
from bot.core.session import Session, State

STEP = "walkthrough.step"
EARLY_HANDOFF = "handoff.early"
# Records whose detail is the user's own words; the inbox reads them, masked.
TEXT_KINDS = frozenset(
    {"dialogue.unanswered", "dialogue.refused", "dialogue.not_my_question", "feedback.reason"}
)
# Records whose detail would copy conversation text that belongs to the ticket, not the log.
NO_TEXT_KINDS = frozenset({"handoff.message"})
USER_PREFIX = "user: "


def position(state: State, step: int) -> str:
    """A walkthrough position as logged: ``step 2`` or ``check 1`` (1-based)."""
    return f"{'check' if state is State.VERIFY else 'step'} {step + 1}"


def records(before: Session, outcome: Outcome) -> tuple[LogRecord, ...]:
    """The records to keep for one handled event."""
    after = outcome.session
    kept: list[LogRecord] = []
    for record in outcome.log:
        if record.kind in NO_TEXT_KINDS:
            kept.append(replace(record, detail=""))
        elif record.kind == "dialogue.escalated":
            kept.append(replace(record, detail=_place(before)))
            if not before.tried:
                question = last_question(after)
                kept.append(LogRecord(kind=EARLY_HANDOFF, topic=record.topic, detail=question))
        else:
            kept.append(replace(record, detail=mask_personal(record.detail)))
    if after.state in (State.GUIDE, State.VERIFY) and (
        (after.topic, after.state, after.step) != (before.topic, before.state, before.step)
    ):
        kept.append(
            LogRecord(kind=STEP, topic=after.topic, detail=position(after.state, after.step))
        )
    return tuple(kept)


def last_question(session: Session) -> str:
    """The user's last description, masked: the engine writes replies it read as dialogue acts
    ("talk to a person", "ok") as ``user (reply):`` lines, which this skips."""
    for line in reversed(session.transcript):
        if line.startswith(USER_PREFIX):
            return mask_personal(line.removeprefix(USER_PREFIX))
    return ""


def _place(session: Session) -> str:
    if session.state in (State.GUIDE, State.VERIFY):
        return position(session.state, session.step)
    return session.state.value
