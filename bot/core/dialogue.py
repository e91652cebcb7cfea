"""The conversation engine: everything that changes a session's state lives in this module.

Theory of operation
-------------------
``Engine.handle(session, event, now=...)`` is a pure function: no I/O, no clock, no
randomness. It returns an ``Outcome`` with the new session, the replies (core markup plus
buttons) and log records for the event log; the channel does the rest.

Every event becomes an ``Action`` first: buttons carry one, commands map to one, and free text
is read as an intent ("done", "im stuck", "yes it works", "start over"), tolerant of case and
typos, or else as ``Action.TEXT`` (a description to match). ``TRANSITIONS`` maps
``(State, Action)`` to one small handler; a pair that is not in the table leaves the session
unchanged and answers with a kind nudge plus the current prompt again. A button made for an
older session version is stale: it changes nothing. A session idle for longer than the
timeout starts over, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz, process

from bot.core import compose, tickets
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.knowledge import Faq, KnowledgeBase, Problem
from bot.core.matching import Decision, Matcher, MatchResult
from bot.core.replies import Action, Button, Reply
from bot.core.session import Session, State
from bot.core.text import clean, words

# Actions that only exist as events, never as buttons.
TEXT = "text"
START = "start"
HELP = "help"
WHY = "why"  # marks "what went wrong?" after a 👎 in ``Session.asked``
CLOSED = "closed"  # staff closed the hand-off (sent by the channel, never typed)
UNREACHABLE = "unreachable"  # the staff chat could not be reached (sent by the channel)
NONE_REPEAT_LIMIT = 2
INTENT_MAX_WORDS = 6

INTENT_PHRASES: dict[Action, tuple[str, ...]] = {
    Action.CANCEL: (
        "cancel",
        "stop",
        "start over",
        "restart",
        "reset",
        "quit",
        "exit",
        "never mind",
        "nevermind",
        "forget it",
        "abort",
        "end",
        "start again",
    ),
    Action.DONE: (
        "done",
        "next",
        "ok",
        "okay",
        "ok done",
        "did it",
        "finished",
        "completed",
        "go on",
        "continue",
        "k",
        "ready",
        "got it",
        "next step",
        "done that",
        "next please",
        "👍",
        "ok next",
        "done next",
        "did that",
        "completed it",
        "✅",
    ),
    Action.BACK: ("back", "go back", "previous", "prev", "previous step", "step back", "undo"),
    Action.STUCK: (
        "stuck",
        "i am stuck",
        "im stuck",
        "help",
        "i can not find it",
        "can not find it",
        "where is it",
        "i do not see it",
        "do not see it",
        "what do you mean",
        "how",
        "i do not understand",
        "not clear",
        "details",
        "more details",
        "where",
        "??",
        "i can not",
        "lost",
        "confused",
    ),
    Action.YES: (
        "yes",
        "y",
        "yep",
        "yeah",
        "yup",
        "sure",
        "worked",
        "it worked",
        "it works",
        "works",
        "works now",
        "it works now",
        "fixed",
        "solved",
        "that worked",
        "that helped",
        "it helped",
        "helped",
        "all good",
        "yes it works",
        "yes it worked",
        "correct",
        "right",
    ),
    Action.NO: (
        "no",
        "n",
        "nope",
        "nah",
        "did not work",
        "it did not work",
        "still broken",
        "not working",
        "still not working",
        "does not work",
        "same problem",
        "not fixed",
        "no luck",
        "still",
        "still the same",
        "no it did not",
        "❌",
    ),
    Action.HUMAN: (
        "human",
        "agent",
        "person",
        "operator",
        "real person",
        "talk to a person",
        "talk to someone",
        "talk to a human",
        "support staff",
        "speak to someone",
        "speak to a human",
        "live agent",
        "contact support",
    ),
    Action.NONE_OF_THESE: ("none", "none of these", "neither", "none of them", "other"),
    Action.WALK: (
        "walk me through it",
        "walk me through",
        "walk through it",
        "take me through it",
        "guide me",
        "guide me through it",
        "show me the steps",
        "step by step",
    ),
    Action.NOT_MY_QUESTION: (
        "not my question",
        "not what i asked",
        "wrong question",
        "wrong answer",
        "that is not it",
        "thats not it",
        "not it",
    ),
}

_PHRASE_ACTION = {p: a for a, phrases in INTENT_PHRASES.items() for p in phrases}
_PHRASES = tuple(_PHRASE_ACTION)


def parse_intent(text: str) -> Action | None:
    """Read a short reply as yes/no/done/back/stuck/cancel/human, tolerant of typos."""
    tokens = words(text)
    raw = clean(text).casefold().strip(" .!?")
    if not tokens:
        return _PHRASE_ACTION.get(raw)
    if len(tokens) > INTENT_MAX_WORDS:
        return None
    phrase = " ".join(tokens)
    if phrase in _PHRASE_ACTION:
        return _PHRASE_ACTION[phrase]
    if len(phrase) < 4:
        return None
    hits = process.extract(
        phrase, _PHRASES, scorer=fuzz.ratio, processor=None, score_cutoff=84, limit=5
    )
    for hit, _, _ in hits:
        # A phrase under four letters only matches itself drawn out ("yess"): as a fuzzy
        # target it would catch other words ("send" is one letter away from "end").
        if len(hit) >= 4 or phrase.startswith(hit):
            return _PHRASE_ACTION[hit]
    # fuzz.ratio counts two swapped letters ("dnoe", "cancle", "stcuk") as two edits.
    swapped = {_PHRASE_ACTION[p] for p in _PHRASES if len(p) >= 4 and _one_swap_apart(phrase, p)}
    return swapped.pop() if len(swapped) == 1 else None


def _one_swap_apart(typed: str, phrase: str) -> bool:
    """True when ``typed`` is ``phrase`` with two neighbouring characters swapped."""
    if len(typed) != len(phrase):
        return False
    diff = [i for i, (a, b) in enumerate(zip(typed, phrase, strict=True)) if a != b]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and typed[diff[0]] == phrase[diff[1]]
        and typed[diff[1]] == phrase[diff[0]]
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRecord:
    """Something worth counting: ``kind`` is dotted (``dialogue.resolved``)."""

    kind: str
    topic: str | None = None
    detail: str = ""
    score: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The engine's answer to one event."""

    session: Session
    replies: tuple[Reply, ...]
    log: tuple[LogRecord, ...] = ()

    @property
    def escalated(self) -> bool:
        """True when this event handed the conversation to a person."""
        return any(r.kind == "dialogue.escalated" for r in self.log)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueSettings:
    """Engine behaviour that deployments change."""

    timeout_seconds: float = 30 * 60
    staff_available: bool = False
    # Where to go when no person can take over (BOT_FALLBACK_CONTACT), said as it is.
    fallback_contact: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """What a handler gets: the knowledge, the matcher, the event's text or argument."""

    kb: KnowledgeBase
    matcher: Matcher
    settings: DialogueSettings
    now: float
    arg: str = ""
    text: str = ""
    match: MatchResult | None = None
    notes: tuple[Reply, ...] = field(default=())


Handler = Callable[[Turn, Session], Outcome]


# -- prompts (what the bot says at each place; used by several handlers) ---------------------


def topic_buttons(kb: KnowledgeBase) -> tuple[Button, ...]:
    """One button per problem plus the IMAP question."""
    buttons = [Button(label=p.title, action=Action.CHOOSE, arg=p.id) for p in kb.problems]
    buttons.extend(
        Button(label=short_label(f.question), action=Action.CHOOSE, arg=f.id)
        for f in kb.faqs
        if not f.problem
    )
    return tuple(buttons)


def short_label(text: str, limit: int = 48) -> str:
    """A button label: the first clause of a long question, cut at a word boundary."""
    head = re.split(r"[,;:?]", text, maxsplit=1)[0].strip()
    if text.rstrip().endswith("?") and head != text.strip():
        head += "?"
    if len(head) <= limit:
        return head
    return head[: limit - 1].rsplit(" ", 1)[0] + "…"


def guide_buttons(session: Session) -> tuple[Button, ...]:
    """Done / stuck / back for a step."""
    buttons = [
        Button(label="✅ Done", action=Action.DONE),
        Button(label="🤔 I'm stuck", action=Action.STUCK),
    ]
    if session.step > 0:
        buttons.append(Button(label="⬅️ Back", action=Action.BACK))
    return tuple(buttons)


def check_buttons(problem: Problem, session: Session) -> tuple[Button, ...]:
    """Next check / it works / still broken for a verification step."""
    if session.step < len(problem.verification) - 1:
        return (
            Button(label="✅ Checked, next", action=Action.DONE),
            Button(label="🎉 It works now", action=Action.YES),
            Button(label="❌ Still broken", action=Action.NO),
        )
    return (
        Button(label="🎉 Yes, it works", action=Action.YES),
        Button(label="❌ No, still broken", action=Action.NO),
        Button(label="⬅️ Back", action=Action.BACK),
    )


def current_prompt(kb: KnowledgeBase, session: Session) -> Reply:
    """Where the conversation stands, as one message with its buttons."""
    problem = kb.problem(session.topic or "")
    if session.state is State.GUIDE and problem and session.step < len(problem.steps):
        return Reply(text=compose.step_text(problem, session.step), buttons=guide_buttons(session))
    if session.state is State.VERIFY and problem and session.step < len(problem.verification):
        return Reply(
            text=compose.check_text(problem, session.step),
            buttons=check_buttons(problem, session),
        )
    if session.state is State.CLARIFY:
        return clarify_prompt(kb, session.candidates)
    if session.state is State.HANDOFF:
        return Reply(
            text="You're talking to our support team. Write here and they'll answer. "
            "Send /cancel to stop waiting."
        )
    return Reply(
        text="Tell me in your own words what's wrong with your mail, or pick a topic:",
        buttons=topic_buttons(kb),
    )


def clarify_prompt(kb: KnowledgeBase, candidates: tuple[str, ...]) -> Reply:
    """'Which of these is it?' with one button per candidate and 'none of these'."""
    buttons = [
        Button(label=short_label(kb.title_of(c), limit=60), action=Action.CHOOSE, arg=c)
        for c in candidates
    ]
    buttons.append(Button(label="None of these", action=Action.NONE_OF_THESE))
    if len(candidates) == 1:
        text = "I think it's this one, but I'm not sure. Is it?"
    else:
        text = "Which of these is it?"
    return Reply(text=text, buttons=tuple(buttons))


def _outcome(session: Session, *replies: Reply, log: tuple[LogRecord, ...] = ()) -> Outcome:
    return Outcome(session=session, replies=tuple(replies), log=log)


def _with_notes(turn: Turn, outcome: Outcome) -> Outcome:
    if not turn.notes:
        return outcome
    return replace(outcome, replies=turn.notes + outcome.replies)


# -- handlers: one per row of the table ------------------------------------------------------


def start_topic(turn: Turn, session: Session) -> Outcome:
    """Start a problem's walkthrough, or answer a FAQ, for the chosen id."""
    entry = turn.kb.entry(turn.arg)
    if isinstance(entry, Faq):
        return answer_faq(turn, session, entry)
    if not isinstance(entry, Problem):
        return unknown_action(turn, session)
    new = session.advance(
        state=State.GUIDE,
        topic=entry.id,
        step=0,
        candidates=(),
        offer=None,
        misses=0,
        tried=(*(t for t in session.tried if t != entry.id), entry.id),
    ).remember(f"bot: guide {entry.id}")
    return _outcome(
        new,
        Reply(text=compose.intro_text(entry)),
        current_prompt(turn.kb, new),
        log=(LogRecord(kind="dialogue.started", topic=entry.id),),
    )


def answer_faq(turn: Turn, session: Session, faq: Faq) -> Outcome:
    """The FAQ answer, with 'walk me through it' when it leads to a problem."""
    buttons = []
    if faq.problem:
        buttons.append(Button(label="🧭 Walk me through it", action=Action.WALK, arg=faq.problem))
    buttons.extend(
        Button(label=f"See also: {turn.kb.title_of(p)}", action=Action.CHOOSE, arg=p)
        for p in faq.see_also
    )
    buttons.append(Button(label="👍 That helped", action=Action.HELPED))
    buttons.append(Button(label="Not my question", action=Action.NOT_MY_QUESTION))
    new = session.advance(
        state=State.IDLE, topic=faq.id, step=0, candidates=(), offer=None, misses=0
    ).remember(f"bot: faq {faq.id}")
    return _outcome(
        new,
        Reply(text=compose.faq_text(faq), buttons=tuple(buttons)),
        log=(LogRecord(kind="dialogue.faq", topic=turn.kb.topic_of(faq.id)),),
    )


def match_text(turn: Turn, session: Session) -> Outcome:
    """Idle: recognise the problem in free text and answer, clarify or say it's not covered."""
    if not words(turn.text):
        return _with_notes(turn, _outcome(session, current_prompt(turn.kb, session)))
    result = turn.match or turn.matcher.match(turn.text)
    log = LogRecord(
        kind="matcher.decision",
        topic=result.candidates[0].topic if result.candidates else None,
        detail=result.decision.value,
        score=result.candidates[0].score if result.candidates else 0.0,
    )
    if result.decision is Decision.ANSWER and result.best:
        outcome = start_topic(replace(turn, arg=result.best.id), session)
    elif result.decision is Decision.CLARIFY:
        candidates = tuple(c.id for c in result.choices)
        new = session.advance(state=State.CLARIFY, candidates=candidates, offer=None)
        outcome = _outcome(new, clarify_prompt(turn.kb, candidates))
    else:
        outcome = not_covered(turn, session, result)
    return _with_notes(turn, replace(outcome, log=(log, *outcome.log)))


def not_covered(turn: Turn, session: Session, result: MatchResult) -> Outcome:
    """Say plainly that the guide doesn't cover it; offer the topics and a person."""
    group = next((g for g in turn.kb.out_of_scope if g.id == result.out_of_scope), None)
    misses = session.misses + 1
    new = session.advance(state=State.IDLE, topic=None, candidates=(), offer=None, misses=misses)
    person = Button(label="🙋 Talk to a person", action=Action.HUMAN)
    log = (LogRecord(kind="dialogue.unanswered", detail=turn.text[:500]),)
    if group is not None and group.reply and misses < NONE_REPEAT_LIMIT:
        return _outcome(new, Reply(text=group.reply, buttons=topic_buttons(turn.kb)), log=log)
    if misses >= NONE_REPEAT_LIMIT:
        text = (
            "I still can't find that in my guide, sorry. A person from the support team can "
            "help with questions I don't cover."
        )
        return _outcome(new, Reply(text=text, buttons=(person, *topic_buttons(turn.kb))), log=log)
    text = (
        "Sorry, that isn't covered by my Alibaba Mail guide. I can help with these problems; "
        "describe yours in other words, pick one, or ask for a person:"
    )
    return _outcome(new, Reply(text=text, buttons=(*topic_buttons(turn.kb), person)), log=log)


def walk_through(turn: Turn, session: Session) -> Outcome:
    """From a FAQ answer, start the walkthrough of its problem."""
    faq = turn.kb.faq(session.topic or "")
    target = turn.arg or (faq.problem if faq else "") or ""
    if turn.kb.problem(target) is None:
        return unknown_action(turn, session)
    return start_topic(replace(turn, arg=target), session)


def faq_helped(turn: Turn, session: Session) -> Outcome:
    """The FAQ answer was enough: count it as resolved."""
    topic = turn.kb.topic_of(session.topic) if session.topic else None
    new = session.advance(state=State.IDLE, topic=None, tried=(), misses=0)
    return _outcome(
        new,
        Reply(text="Glad it helped! Message me any time you have another mail problem."),
        log=(LogRecord(kind="dialogue.resolved", topic=topic, detail="faq"),),
    )


def not_my_question(turn: Turn, session: Session) -> Outcome:
    """The FAQ missed: ask for other words, offer the topics and a person."""
    new = session.advance(state=State.IDLE, topic=None, misses=session.misses + 1)
    text = "Sorry about that. Tell me more in your own words, or pick one of these:"
    buttons = (*topic_buttons(turn.kb), Button(label="🙋 Talk to a person", action=Action.HUMAN))
    topic = turn.kb.topic_of(session.topic) if session.topic else None
    log = (
        LogRecord(kind="dialogue.not_my_question", topic=topic, detail=_question(turn, session)),
    )
    return _outcome(new, Reply(text=text, buttons=buttons), log=log)


def _question(turn: Turn, session: Session) -> str:
    """The user's question before this turn's own words (what a refusal is about)."""
    lines = [line[len("user: ") :] for line in session.transcript if line.startswith("user: ")]
    if turn.text and lines:
        lines = lines[:-1]  # this turn's "none of these" / "not my question"
    return lines[-1] if lines else ""


def clarify_text(turn: Turn, session: Session) -> Outcome:
    """While choosing: a number picks a choice; a new description is matched afresh."""
    raw = turn.text.strip().rstrip(".)")
    if raw.isdigit() and 1 <= int(raw) <= len(session.candidates):
        return start_topic(replace(turn, arg=session.candidates[int(raw) - 1]), session)
    result = turn.matcher.match(turn.text)
    if result.decision is Decision.NONE:
        # Not a new description either: keep the choices rather than lose the place.
        note = Reply(text="Sorry, I didn't catch that. Pick one of these, or describe it again:")
        return _outcome(session, note, current_prompt(turn.kb, session))
    return match_text(replace(turn, match=result), session)


def clarify_yes(turn: Turn, session: Session) -> Outcome:
    """'Yes' to a single suggestion takes it; with several choices, ask which one."""
    if len(session.candidates) == 1:
        return start_topic(replace(turn, arg=session.candidates[0]), session)
    return _outcome(
        session,
        Reply(text="Which one? Press its button or type its number."),
        current_prompt(turn.kb, session),
    )


def clarify_none(turn: Turn, session: Session) -> Outcome:
    """None of the offered topics fits."""
    new = session.advance(state=State.IDLE, candidates=(), misses=session.misses + 1)
    text = (
        "OK. Could you describe it in other words? Mention what you see and where "
        "(WebMail, Outlook, your phone...). Or talk to a person."
    )
    buttons = (Button(label="🙋 Talk to a person", action=Action.HUMAN),)
    log = (LogRecord(kind="dialogue.refused", detail=_question(turn, session)),)
    return _outcome(new, Reply(text=text, buttons=buttons), log=log)


def next_step(turn: Turn, session: Session) -> Outcome:
    """The step is done: the next step, or the first check after the last step."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    if session.step + 1 < len(problem.steps):
        new = session.advance(step=session.step + 1, offer=None)
        return _outcome(new, current_prompt(turn.kb, new))
    new = session.advance(state=State.VERIFY, step=0, offer=None)
    return _outcome(
        new,
        Reply(text="That was the last step. Now let's check that it worked."),
        current_prompt(turn.kb, new),
    )


def previous_step(turn: Turn, session: Session) -> Outcome:
    """Go back one step (or from the first check back to the last step)."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    if session.state is State.VERIFY:
        if session.step > 0:
            new = session.advance(step=session.step - 1, offer=None)
        else:
            new = session.advance(state=State.GUIDE, step=len(problem.steps) - 1, offer=None)
        return _outcome(new, current_prompt(turn.kb, new))
    if session.step == 0:
        return _outcome(
            session, Reply(text="This is the first step."), current_prompt(turn.kb, session)
        )
    new = session.advance(step=session.step - 1, offer=None)
    return _outcome(new, current_prompt(turn.kb, new))


def show_step_details(turn: Turn, session: Session) -> Outcome:
    """Stuck on a step: its navigation path, form field and client tips; offer a person."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    details = compose.step_details(problem, session.step)
    if details:
        text = f"Here is exactly where to look:\n{details}"
    else:
        text = "My guide has no more detail for this step than what it says above."
    buttons = (
        *guide_buttons(session),
        Button(label="🙋 Talk to a person", action=Action.HUMAN),
    )
    return _outcome(
        session,
        Reply(text=text),
        Reply(text=compose.step_text(problem, session.step), buttons=buttons),
        log=(LogRecord(kind="dialogue.stuck", topic=problem.id, detail=str(session.step + 1)),),
    )


def next_check(turn: Turn, session: Session) -> Outcome:
    """A check is done: the next check, or ask whether it works after the last one."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    if session.step + 1 < len(problem.verification):
        new = session.advance(step=session.step + 1, offer=None)
        return _outcome(new, current_prompt(turn.kb, new))
    return _outcome(
        session,
        Reply(text="So, does it work now?", buttons=check_buttons(problem, session)),
    )


def stuck_on_check(turn: Turn, session: Session) -> Outcome:
    """Unsure about a check: repeat it and offer a person."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    buttons = (
        *check_buttons(problem, session),
        Button(label="🙋 Talk to a person", action=Action.HUMAN),
    )
    return _outcome(
        session,
        Reply(
            text="No problem. Here's the check again; if it doesn't make sense for you, "
            "a person can take over.",
        ),
        Reply(text=compose.check_text(problem, session.step), buttons=buttons),
    )


def resolved(turn: Turn, session: Session) -> Outcome:
    """It works: celebrate, ask for one-tap feedback, go idle."""
    topic = session.topic
    new = session.advance(state=State.IDLE, topic=None, step=0, tried=(), offer=None, misses=0)
    buttons = (
        Button(label="👍 Helpful", action=Action.RATE, arg=f"up:{topic or ''}"),
        Button(label="👎 Not helpful", action=Action.RATE, arg=f"down:{topic or ''}"),
    )
    return _outcome(
        new,
        Reply(text="🎉 Great, that's solved! Was I helpful?", buttons=buttons),
        log=(LogRecord(kind="dialogue.resolved", topic=topic),),
    )


def not_resolved(turn: Turn, session: Session) -> Outcome:
    """Still broken: suggest the next likely problem, else offer a person."""
    problem = turn.kb.problem(session.topic or "")
    related = [r for r in (problem.related if problem else ()) if r not in session.tried]
    log = (LogRecord(kind="dialogue.unresolved", topic=session.topic),)
    if related:
        nxt = related[0]
        new = session.advance(state=State.CLARIFY, candidates=(nxt,), offer=None, step=0)
        text = (
            f"Sorry it's still not working. The same thing can also be caused by: "
            f"**{turn.kb.title_of(nxt)}**. Shall we check that?"
        )
        buttons = (
            Button(label="🔎 Yes, check that", action=Action.CHOOSE, arg=nxt),
            Button(label="🙋 Talk to a person", action=Action.HUMAN),
            Button(label="None of these", action=Action.NONE_OF_THESE),
        )
        return _outcome(new, Reply(text=text, buttons=buttons), log=log)
    new = session.advance(state=State.IDLE, step=0, offer=None)
    text = "Sorry that didn't fix it. A person from the support team can look into it with you."
    buttons = (
        Button(label="🙋 Talk to a person", action=Action.HUMAN),
        Button(label="Start over", action=Action.CANCEL),
    )
    return _outcome(new, Reply(text=text, buttons=buttons), log=log)


def in_flow_text(turn: Turn, session: Session) -> Outcome:
    """Free text mid-walkthrough: offer to switch if it names another problem, else nudge."""
    result = turn.match or turn.matcher.match(turn.text)
    best = result.best
    if best is not None and best.topic != session.topic:
        problem = turn.kb.problem(session.topic or "")
        place = ""
        if problem is not None:
            place = f" (we're on {session.state.value} step {session.step + 1} of {problem.title})"
        new = session.advance(offer=best.id)
        text = (
            f"It sounds like a different problem: **{turn.kb.title_of(best.id)}**. "
            f"Switch to it?{place}"
        )
        buttons = (
            Button(label="🔀 Switch", action=Action.SWITCH, arg=best.id),
            Button(label="↩️ Stay here", action=Action.STAY),
        )
        return _outcome(new, Reply(text=text, buttons=buttons))
    if best is not None:
        note = "We're already working on that. Let's continue:"
    else:
        note = (
            "Sorry, I didn't catch that. Reply **done** when the step is done, **stuck** if "
            "you need more detail, **back**, or **cancel** to stop."
        )
    return _outcome(session, Reply(text=note), current_prompt(turn.kb, session))


def switch_topic(turn: Turn, session: Session) -> Outcome:
    """Accept the offer to switch to another problem."""
    target = turn.arg or session.offer or ""
    outcome = start_topic(replace(turn, arg=target), session)
    return replace(outcome, log=(*outcome.log, LogRecord(kind="dialogue.switched", topic=target)))


def stay(turn: Turn, session: Session) -> Outcome:
    """Decline the switch: carry on where we were."""
    new = session.advance(offer=None)
    return _outcome(new, Reply(text="OK, let's carry on."), current_prompt(turn.kb, new))


def start_handoff(turn: Turn, session: Session) -> Outcome:
    """Hand the conversation to a person; the channel opens the ticket."""
    if session.state is State.HANDOFF:
        return _outcome(session, current_prompt(turn.kb, session))
    topic = session.topic
    place = ""
    problem = turn.kb.problem(topic or "")
    if problem is not None and session.state in (State.GUIDE, State.VERIFY):
        place = f"{session.state.value} step {session.step + 1}"
    log = (LogRecord(kind="dialogue.escalated", topic=topic, detail=""),)
    if turn.settings.staff_available:
        new = session.advance(state=State.HANDOFF, candidates=(), offer=None)
        text = (
            "I've asked a person from the support team to take over. Write here anything they "
            "should know; they'll reply in this chat. Send /cancel to stop waiting."
        )
    else:
        # Nobody would read a hand-off here: say where to go instead of waiting forever.
        new = session.advance(state=State.IDLE, step=0, candidates=(), offer=None)
        text = (
            "No support team is connected to this chat, sorry. "
            + _fallback(turn, topic)
            + " Send /cancel to start over with me."
        )
    detail = " | ".join(filter(None, [topic or "", place, *session.transcript[-6:]]))
    log = (replace(log[0], detail=detail),)
    return _outcome(new, Reply(text=text), log=log)


def _fallback(turn: Turn, topic: str | None) -> str:
    tried = f" ({turn.kb.title_of(topic)})" if topic else ""
    contact = turn.settings.fallback_contact
    if contact:
        return f"Please contact {contact} and tell them what you tried{tried}."
    return (
        f"Please contact your mail administrator or helpdesk and tell them what you tried{tried}."
    )


def handoff_failed(turn: Turn, session: Session) -> Outcome:
    """The staff chat could not be reached: say so and where to go instead; back to the bot."""
    new = session.advance(state=State.IDLE, step=0, candidates=(), offer=None)
    text = "Sorry, I couldn't reach the support team just now. " + _fallback(turn, session.topic)
    return _outcome(
        new, Reply(text=text), log=(LogRecord(kind="handoff.failed", topic=session.topic),)
    )


def relay_to_staff(turn: Turn, session: Session) -> Outcome:
    """In hand-off, text is for the people; acknowledge quietly."""
    return _outcome(
        session,
        log=(LogRecord(kind="handoff.message", topic=session.topic, detail=turn.text[:1000]),),
    )


def cancel(turn: Turn, session: Session) -> Outcome:
    """Stop whatever is going on and go back to idle."""
    new = session.advance(
        state=State.IDLE, topic=None, step=0, candidates=(), tried=(), offer=None, misses=0
    )
    return _outcome(
        new,
        Reply(
            text="OK, stopped. Tell me what's wrong any time, or pick a topic:",
            buttons=topic_buttons(turn.kb),
        ),
        log=(LogRecord(kind="dialogue.cancelled", topic=session.topic),),
    )


def show_topics(turn: Turn, session: Session) -> Outcome:
    """The menu of problems and FAQ entries (no state change)."""
    buttons = [Button(label=p.title, action=Action.CHOOSE, arg=p.id) for p in turn.kb.problems]
    buttons.extend(
        Button(label=short_label(f.question), action=Action.CHOOSE, arg=f.id) for f in turn.kb.faqs
    )
    return _outcome(session, Reply(text="Here's what I can help with:", buttons=tuple(buttons)))


def welcome(turn: Turn, session: Session) -> Outcome:
    """Greeting that says what the bot does; mid-walkthrough it shows where we are."""
    text = (
        "Hi! I'm the Alibaba Mail support bot. Tell me in your own words what's wrong "
        '("Outlook deleted my mail", "senders get bounce 552") and I\'ll walk you through '
        "the fix step by step. I can help with:"
    )
    if session.state is State.IDLE:
        return _outcome(session, Reply(text=text, buttons=topic_buttons(turn.kb)))
    return _outcome(
        session,
        Reply(text="Hi again! We were in the middle of something:"),
        current_prompt(turn.kb, session),
    )


def show_help(turn: Turn, session: Session) -> Outcome:
    """How to talk to the bot (no state change)."""
    text = (
        "Describe your mail problem in your own words, or paste the error you got.\n"
        "During a walkthrough you can press the buttons or type **done**, **back**, "
        "**stuck**, **yes**, **no**.\n"
        "/topics shows what I know, /human asks for a person, /cancel starts over."
    )
    return _outcome(session, Reply(text=text), current_prompt(turn.kb, session))


def record_feedback(turn: Turn, session: Session) -> Outcome:
    """One-tap feedback after a resolution; a 👎 asks what went wrong."""
    rating = tickets.parse_rating(turn.arg)
    if rating is not None:
        # A rating of a person's help: once (the version moves on, so the buttons go stale).
        stars = rating[1]
        return _outcome(
            session.advance(),
            Reply(text=f"Thank you! You rated our support team {stars} of 5."),
            log=(LogRecord(kind="ticket.rated", detail=str(stars)),),
        )
    value, _, topic = turn.arg.partition(":")
    value = "up" if value == "up" else "down"
    log = (LogRecord(kind="dialogue.feedback", topic=topic or None, detail=value),)
    if value == "up":
        return _outcome(session, Reply(text="Thanks for the feedback!"), log=log)
    new = session.advance(asked=f"{WHY}:{topic}")
    text = (
        "Sorry it wasn't helpful. What went wrong? One line is enough; it goes to the people "
        "who improve me. (Or just carry on.)"
    )
    return _outcome(new, Reply(text=text), log=log)


def feedback_reason(turn: Turn, session: Session) -> Outcome:
    """The answer to "what went wrong?": it goes to the maintainers' inbox."""
    topic = (session.asked or "").partition(":")[2] or None
    new = session.advance(asked=None)
    return _outcome(
        new,
        Reply(text="Thank you, I've passed that on. Tell me any time if something else is wrong."),
        log=(LogRecord(kind="feedback.reason", topic=topic, detail=turn.text[:500]),),
    )


def handoff_closed(turn: Turn, session: Session) -> Outcome:
    """Staff closed the hand-off (``arg``: the ticket number): back to the bot; rate 1-5."""
    new = session.advance(
        state=State.IDLE, topic=None, step=0, candidates=(), tried=(), offer=None, misses=0
    )
    buttons = tickets.rating_buttons(int(turn.arg)) if turn.arg.isdigit() else ()
    return _outcome(
        new,
        Reply(text=tickets.closed_for_user(), buttons=buttons),
        log=(LogRecord(kind="dialogue.closed", topic=session.topic),),
    )


def unknown_action(turn: Turn, session: Session) -> Outcome:
    """Nothing to do for this action here: change nothing, show where we are."""
    return _outcome(
        session,
        Reply(text="That doesn't apply right now."),
        current_prompt(turn.kb, session),
    )


def _every_state(action: Action | str, handler: Handler) -> dict[tuple[State, str], Handler]:
    return {(state, action): handler for state in State}


TRANSITIONS: dict[tuple[State, str], Handler] = {
    (State.IDLE, TEXT): match_text,
    (State.IDLE, Action.WALK): walk_through,
    (State.IDLE, Action.HELPED): faq_helped,
    (State.IDLE, Action.YES): faq_helped,
    (State.IDLE, Action.NOT_MY_QUESTION): not_my_question,
    (State.IDLE, Action.NO): not_my_question,
    (State.IDLE, Action.RATE): record_feedback,
    (State.CLARIFY, TEXT): clarify_text,
    (State.CLARIFY, Action.NONE_OF_THESE): clarify_none,
    (State.CLARIFY, Action.YES): clarify_yes,
    (State.CLARIFY, Action.NO): clarify_none,
    (State.GUIDE, Action.DONE): next_step,
    (State.GUIDE, Action.YES): next_step,
    (State.GUIDE, Action.BACK): previous_step,
    (State.GUIDE, Action.STUCK): show_step_details,
    (State.GUIDE, Action.NO): show_step_details,
    (State.GUIDE, TEXT): in_flow_text,
    (State.GUIDE, Action.SWITCH): switch_topic,
    (State.GUIDE, Action.STAY): stay,
    (State.VERIFY, Action.DONE): next_check,
    (State.VERIFY, Action.YES): resolved,
    (State.VERIFY, Action.NO): not_resolved,
    (State.VERIFY, Action.BACK): previous_step,
    (State.VERIFY, Action.STUCK): stuck_on_check,
    (State.VERIFY, TEXT): in_flow_text,
    (State.VERIFY, Action.SWITCH): switch_topic,
    (State.VERIFY, Action.STAY): stay,
    (State.HANDOFF, TEXT): relay_to_staff,
    (State.HANDOFF, CLOSED): handoff_closed,
    (State.HANDOFF, UNREACHABLE): handoff_failed,
    **_every_state(Action.CHOOSE, start_topic),
    **_every_state(Action.CANCEL, cancel),
    **_every_state(Action.HUMAN, start_handoff),
    **_every_state(Action.TOPICS, show_topics),
    **_every_state(START, welcome),
    **_every_state(HELP, show_help),
}

COMMANDS = {
    "start": START,
    "help": HELP,
    "topics": Action.TOPICS,
    "cancel": Action.CANCEL,
    "human": Action.HUMAN,
    "closed": CLOSED,
    "unreachable": UNREACHABLE,
}

# Free-text intents only count where they mean something; elsewhere the text is matched.
TEXT_INTENTS: dict[State, frozenset[Action]] = {
    State.IDLE: frozenset({Action.CANCEL, Action.HUMAN}),
    State.CLARIFY: frozenset(
        {Action.CANCEL, Action.HUMAN, Action.NONE_OF_THESE, Action.YES, Action.NO}
    ),
    State.GUIDE: frozenset(
        {
            Action.DONE,
            Action.YES,
            Action.BACK,
            Action.STUCK,
            Action.NO,
            Action.CANCEL,
            Action.HUMAN,
        }
    ),
    State.VERIFY: frozenset(
        {
            Action.DONE,
            Action.YES,
            Action.NO,
            Action.BACK,
            Action.STUCK,
            Action.CANCEL,
            Action.HUMAN,
        }
    ),
    State.HANDOFF: frozenset({Action.CANCEL}),
}
# Right after a FAQ answer, short replies answer its buttons ("that helped", "walk me through it").
FAQ_FOLLOW_UPS = frozenset({Action.YES, Action.NO, Action.WALK, Action.NOT_MY_QUESTION})


class Engine:
    """The dialogue engine: ``handle`` maps (session, event) to an Outcome, deterministically."""

    def __init__(
        self, kb: KnowledgeBase, matcher: Matcher, settings: DialogueSettings | None = None
    ) -> None:
        self.kb = kb
        self.matcher = matcher
        self.settings = settings or DialogueSettings()

    def new_session(self, chat_id: str, *, now: float) -> Session:
        """A fresh idle session for a chat."""
        return Session(chat_id=chat_id, updated_at=now)

    def handle(self, session: Session, event: Event, *, now: float) -> Outcome:
        """React to one event; never raises for anything a user can send."""
        turn = Turn(kb=self.kb, matcher=self.matcher, settings=self.settings, now=now)
        if self._expired(session, now):
            session = session.advance(
                state=State.IDLE,
                topic=None,
                step=0,
                candidates=(),
                offer=None,
                tried=(),
                misses=0,
            )
            turn = replace(
                turn,
                notes=(Reply(text="It's been a while, so I've started over."),),
            )
            if isinstance(event, ButtonPress):
                outcome = _outcome(session, *turn.notes, current_prompt(self.kb, session))
                return self._finish(outcome, now)
        asked = session.asked
        if asked is not None:
            # The question is answered by the very next message, or dropped.
            session = replace(session, asked=None)
        action, turn, session = self._read(event, turn, session)
        if asked and action == TEXT and session.state is State.IDLE:
            # The answer to a question the bot just asked ("what went wrong?"), not a new topic.
            outcome = feedback_reason(turn, replace(session, asked=asked))
            return self._finish(_with_notes(turn, outcome), now)
        if action is None:
            return self._finish(
                _outcome(
                    session,
                    *turn.notes,
                    Reply(text="That button is from an earlier message; here's where we are:"),
                    current_prompt(self.kb, session),
                ),
                now,
            )
        handler = TRANSITIONS.get((session.state, action), unknown_action)
        outcome = handler(turn, session)
        if handler is not match_text:
            outcome = _with_notes(turn, outcome)
        return self._finish(outcome, now)

    def _read(
        self, event: Event, turn: Turn, session: Session
    ) -> tuple[str | None, Turn, Session]:
        if isinstance(event, ButtonPress):
            if event.version != session.version:
                return None, turn, session
            return event.action, replace(turn, arg=event.arg), session
        if isinstance(event, Command):
            action = COMMANDS.get(event.name.lower().lstrip("/"), HELP)
            return action, replace(turn, arg=event.arg), session
        text = clean(event.text if isinstance(event, UserText) else "")
        session = session.remember(f"user: {text}") if text else session
        turn = replace(turn, text=text)
        intent = parse_intent(text) if text else None
        allowed = TEXT_INTENTS[session.state]
        if session.state is State.IDLE and self.kb.faq(session.topic or "") is not None:
            allowed = allowed | FAQ_FOLLOW_UPS
        if intent is not None and intent in allowed:
            return intent, turn, session
        return TEXT, turn, session

    def _expired(self, session: Session, now: float) -> bool:
        return (
            session.state is not State.IDLE
            and session.updated_at > 0
            and now - session.updated_at > self.settings.timeout_seconds
        )

    @staticmethod
    def _finish(outcome: Outcome, now: float) -> Outcome:
        session = outcome.session
        if not outcome.replies and outcome.session.state is not State.HANDOFF:
            outcome = replace(outcome, replies=(Reply(text="…"),))
        return replace(outcome, session=replace(session, updated_at=now))


def transition_table() -> str:
    """The transition table as Markdown (the README embeds it; a test keeps them equal)."""
    states_of: dict[tuple[str, Handler], list[State]] = {}
    for (state, action), handler in TRANSITIONS.items():
        states_of.setdefault((action, handler), []).append(state)
    rows = ["| in state | on | does |", "| --- | --- | --- |"]
    for (action, handler), states in states_of.items():
        where = "any" if len(states) == len(State) else ", ".join(s.value for s in states)
        on = action.name.lower() if isinstance(action, Action) else action
        doc = (handler.__doc__ or "").strip().splitlines()[0]
        rows.append(f"| {where} | {on} | `{handler.__name__}`: {doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(transition_table())
