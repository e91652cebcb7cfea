"""The conversation engine: everything that changes a session's state lives in this module.

Theory of operation
-------------------
``Engine.handle(session, event, now=...)`` is a pure function: no I/O, no clock, no
randomness. It returns an ``Outcome`` with the new session, the replies (core markup plus
buttons) and log records for the event log; the channel (through ``bot.conversation``) does
the rest.

Every event becomes one ``Action`` (the one trigger enum) first. Buttons carry one, commands
map to one, and typed text is read by the ``ActReader`` (``bot/core/acts.py``, examples in
``knowledge/dialogue.yaml``) as a dialogue act. What an act means depends on what the bot
just asked (``Asked``): ``ACT_MEANING`` turns the act into an action there ("yes" at "Switch
to it?" is ``SWITCH``, at a check it is "it works", at a step "done"); an act that means
nothing there, or no act at all, is ``Action.TEXT``: a description to match. Mid-walkthrough
a message that describes another documented problem gets the switch offer even when it
starts like an act ("no, my mailbox is full and senders get 552").

``TRANSITIONS`` maps ``(State, Action)`` to one small handler and the states it may lead to
(a test checks every row against them). A pair that is not in the table leaves the session
unchanged and answers with a kind nudge plus the current prompt. A button made for an older
session version is stale: it changes nothing. A session idle for longer than the timeout is
put aside: the next message is read as what it is, with an offer to continue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from bot.core import chinese, compose, language, tickets
from bot.core.acts import ACT_FLOOR, Act, ActReader, ActReading, act_reader
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.i18n import IDENTITY, N_, Translator, _, speaking, translator_for
from bot.core.knowledge import Faq, KnowledgeBase, Problem
from bot.core.matching import CONCEPTS, Decision, Matcher, MatchResult
from bot.core.replies import Action, Button, Reply
from bot.core.session import Session, State
from bot.core.text import clean, words

NONE_REPEAT_LIMIT = 2
# An act read at least this surely is taken even when the words also describe a problem.
SURE_ACT = 0.8
UPSET_NOTE = N_("I'm sorry this is causing you trouble. Let's get it sorted.")
REPLY_PREFIX = "user (reply): "
WHY = "why"  # marks "what went wrong?" after a 👎 in ``Session.asked``
RATE_ASKED = "rate"  # marks "Was I helpful?" in ``Session.asked``
# Backwards-compatible names for the triggers that are not buttons.
TEXT = Action.TEXT
START = Action.START
HELP = Action.HELP
CLOSED = Action.CLOSED
UNREACHABLE = Action.UNREACHABLE


class Asked(StrEnum):
    """What the bot last asked; it decides what a typed act means."""

    NOTHING = "nothing"
    FAQ = "faq"
    CHOICES = "choices"
    STEP = "step"
    CHECK = "check"
    LAST_CHECK = "last-check"
    SWITCH_STEP = "switch-step"
    SWITCH_CHECK = "switch-check"
    RESUME = "resume"
    RATING = "rating"
    REASON = "reason"
    HANDOFF = "handoff"


_ANYWHERE: dict[Act, Action] = {
    Act.HUMAN: Action.HUMAN,
    Act.CANCEL: Action.CANCEL,
    Act.HELP: Action.HELP,
    Act.GREETING: Action.START,
    Act.REPEAT: Action.REPEAT,
    Act.GOODBYE: Action.GOODBYE,
}
_IDLE: dict[Act, Action] = {
    **_ANYWHERE,
    Act.THANKS: Action.THANKS,
    Act.DONE: Action.THANKS,
    Act.WORKS: Action.THANKS,
    Act.NUMBER: Action.NUMBER,
}
_STEP: dict[Act, Action] = {
    **_ANYWHERE,
    Act.DONE: Action.DONE,
    Act.NEXT: Action.DONE,
    Act.YES: Action.DONE,
    Act.THANKS: Action.DONE,
    Act.BACK: Action.BACK,
    Act.STUCK: Action.STUCK,
    Act.NO: Action.STUCK,
    Act.WORKS: Action.WORKS,
}
_CHECK: dict[Act, Action] = {
    **_ANYWHERE,
    Act.DONE: Action.DONE,
    Act.NEXT: Action.DONE,
    Act.YES: Action.DONE,
    Act.THANKS: Action.DONE,
    Act.WORKS: Action.YES,
    Act.NO: Action.NO,
    Act.WRONG: Action.NO,
    Act.STUCK: Action.STUCK,
    Act.BACK: Action.BACK,
}
_SWITCH: dict[Act, Action] = {
    Act.YES: Action.SWITCH,
    Act.SWITCH: Action.SWITCH,
    Act.NO: Action.STAY,
    Act.STAY: Action.STAY,
    Act.WRONG: Action.STAY,
}
# What each act means where the conversation is; an act missing here is read as text.
ACT_MEANING: dict[Asked, dict[Act, Action]] = {
    Asked.NOTHING: _IDLE,
    Asked.FAQ: {
        **_IDLE,
        Act.YES: Action.HELPED,
        Act.THANKS: Action.HELPED,
        Act.DONE: Action.HELPED,
        Act.WORKS: Action.HELPED,
        Act.NEXT: Action.WALK,
        Act.WALK: Action.WALK,
        Act.NO: Action.NOT_MY_QUESTION,
        Act.WRONG: Action.NOT_MY_QUESTION,
    },
    Asked.CHOICES: {
        **_ANYWHERE,
        Act.NUMBER: Action.NUMBER,
        Act.YES: Action.YES,
        Act.NO: Action.NO,
        Act.WRONG: Action.NONE_OF_THESE,
        Act.THANKS: Action.THANKS,
    },
    Asked.STEP: _STEP,
    Asked.CHECK: _CHECK,
    Asked.LAST_CHECK: {**_CHECK, Act.YES: Action.YES},
    Asked.SWITCH_STEP: {**_STEP, **_SWITCH},
    Asked.SWITCH_CHECK: {**_CHECK, **_SWITCH},
    Asked.RESUME: {
        **_IDLE,
        Act.YES: Action.RESUME,
        Act.DONE: Action.RESUME,
        Act.NEXT: Action.RESUME,
        Act.REPEAT: Action.RESUME,
        Act.NO: Action.CANCEL,
    },
    Asked.HANDOFF: {Act.CANCEL: Action.CANCEL},
    # "What went wrong?": the answer is the reason, whatever it says, unless it asks for a
    # person or to stop.
    Asked.REASON: {Act.HUMAN: Action.HUMAN, Act.CANCEL: Action.CANCEL},
    Asked.RATING: {
        **_IDLE,
        Act.YES: Action.RATE,
        Act.THANKS: Action.RATE,
        Act.WORKS: Action.RATE,
        Act.DONE: Action.RATE,
        Act.NO: Action.RATE,
        Act.WRONG: Action.RATE,
    },
}
# In a hand-off, words are for the people: only an unmistakable "stop" ends it.
ACT_FLOOR_AT: dict[Asked, float] = {Asked.HANDOFF: 0.6}


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
    reading: ActReading | None = None
    notes: tuple[Reply, ...] = field(default=())
    # Every language the bot speaks (the /language choices).
    languages: tuple[str, ...] = ("en",)


Handler = Callable[[Turn, Session], Outcome]


# -- where we are ----------------------------------------------------------------------------


def step_count(problem: Problem) -> int:
    """How many steps the walkthrough has."""
    return len(problem.steps)


def client_buttons(problem: Problem) -> tuple[Button, ...]:
    """The client half of a fix: one button per client the guide has a tip for, and others."""
    if not problem.client_tips:
        return ()
    return (
        *(
            Button(
                label=_("I use {client}").format(client=tip.client),
                action=Action.CLIENT,
                arg=tip.client,
            )
            for tip in problem.client_tips
        ),
        Button(label=_("Another client"), action=Action.CLIENT),
    )


def asked(kb: KnowledgeBase, session: Session) -> Asked:
    """What the bot asked last, from the session."""
    if session.state is State.HANDOFF:
        return Asked.HANDOFF
    if session.state is State.CLARIFY:
        return Asked.CHOICES
    if session.state is State.GUIDE:
        return Asked.SWITCH_STEP if session.offer else Asked.STEP
    if session.state is State.VERIFY:
        if session.offer:
            return Asked.SWITCH_CHECK
        problem = kb.problem(session.topic or "")
        if problem is not None and session.step >= len(problem.verification) - 1:
            return Asked.LAST_CHECK
        return Asked.CHECK
    if session.resume:
        return Asked.RESUME
    if (session.asked or "").startswith(RATE_ASKED):
        return Asked.RATING
    if (session.asked or "").startswith(WHY):
        return Asked.REASON
    if kb.faq(session.topic or "") is not None:
        return Asked.FAQ
    return Asked.NOTHING


def shown_items(kb: KnowledgeBase, session: Session) -> tuple[str, ...]:
    """The names the current prompt shows (menus, settings, options), for reading replies."""
    problem = kb.problem(session.topic or "")
    if problem is None:
        return ()
    if session.state is State.GUIDE and session.step < len(problem.steps):
        step = problem.steps[session.step]
        items = [*_bold(step.text), *step.options]
        for path in (step.navigation, step.form_field):
            if path:
                items.extend(p.strip() for p in re.split(r"[>=]", path))
        return tuple(i for i in items if i)
    if session.state is State.VERIFY and session.step < len(problem.verification):
        return tuple(_bold(problem.verification[session.step]))
    return ()


def shown_text(kb: KnowledgeBase, session: Session) -> str:
    """The text of the step or check on screen (replies that restate it mean done)."""
    problem = kb.problem(session.topic or "")
    if problem is None:
        return ""
    if session.state is State.GUIDE and session.step < len(problem.steps):
        return problem.steps[session.step].text.replace("**", "")
    if session.state is State.VERIFY and session.step < len(problem.verification):
        return problem.verification[session.step].replace("**", "")
    return ""


def _bold(text: str) -> list[str]:
    return re.findall(r"\*\*(.+?)\*\*", text)


def _place(kb: KnowledgeBase, session: Session) -> str:
    """Where a walkthrough stands, in words: 'step 2 of 4 of **Title**'."""
    problem = kb.problem(session.topic or "")
    if problem is None:
        return ""
    if session.state is State.VERIFY:
        where = _("check {current} of {total}").format(
            current=session.step + 1, total=len(problem.verification)
        )
    else:
        where = _("step {current} of {total}").format(
            current=session.step + 1, total=step_count(problem)
        )
    return _("{where} of {title}").format(where=where, title=f"**{problem.title}**")


def _sentence(text: str) -> str:
    """Text that ends a sentence: a full stop only when it has no end mark already."""
    text = text.rstrip()
    if text.endswith((".", "?", "!", "…", "**", "\u3002", "\uff1f", "\uff01")):
        return text
    # A Chinese title ends with a Chinese full stop, not an English one.
    return text + ("\u3002" if chinese.han_count(text[-1]) else ".")


# -- prompts (what the bot says at each place; used by several handlers) ---------------------


def menu_buttons(kb: KnowledgeBase, *, person: bool = False) -> tuple[Button, ...]:
    """The topic menu: every problem, then the FAQ entries with no walkthrough, the person last.

    Every menu is this list, so a number means the same topic everywhere.
    """
    buttons = [Button(label=p.title, action=Action.CHOOSE, arg=p.id) for p in kb.problems]
    buttons.extend(
        Button(label=short_label(f.question), action=Action.CHOOSE, arg=f.id)
        for f in kb.faqs
        if not f.problem
    )
    if person:
        buttons.append(PERSON)
    return tuple(buttons)


def topic_buttons(kb: KnowledgeBase) -> tuple[Button, ...]:
    """The topic menu without the person (kept for callers that add their own)."""
    return menu_buttons(kb)


# Labels of shared buttons are translated when a turn ends (``Engine._finish``).
PERSON = Button(label=N_("🙋 Talk to a person"), action=Action.HUMAN)


def short_label(text: str, limit: int = 48) -> str:
    """A button label: the first clause of a long question, cut at a word boundary."""
    head = re.split(r"[,;:?]", text, maxsplit=1)[0].strip()
    if text.rstrip().endswith("?") and head != text.strip():
        head += "?"
    if len(head) <= limit:
        return head
    return head[: limit - 1].rsplit(" ", 1)[0] + "…"


def guide_buttons(kb: KnowledgeBase, session: Session) -> tuple[Button, ...]:
    """Done / stuck / back for a step."""
    buttons = [
        Button(label=_("✅ Done"), action=Action.DONE),
        Button(label=_("🤔 I'm stuck"), action=Action.STUCK),
    ]
    if session.step > 0:
        buttons.append(BACK)
    return tuple(buttons)


BACK = Button(label=N_("⬅️ Back"), action=Action.BACK)


def check_buttons(problem: Problem, session: Session) -> tuple[Button, ...]:
    """Next check / it works / still broken / back; the first check offers the client tips."""
    if session.step < len(problem.verification) - 1:
        buttons: tuple[Button, ...] = (
            Button(label=_("✅ Checked, next"), action=Action.DONE),
            Button(label=_("🎉 It works now"), action=Action.YES),
            Button(label=_("❌ Still broken"), action=Action.NO),
            BACK,
        )
    else:
        buttons = (
            Button(label=_("🎉 Yes, it works"), action=Action.YES),
            Button(label=_("❌ No, still broken"), action=Action.NO),
            BACK,
        )
    return buttons + (client_buttons(problem) if session.step == 0 else ())


def current_prompt(kb: KnowledgeBase, session: Session) -> Reply:
    """Where the conversation stands, as one message with its buttons."""
    problem = kb.problem(session.topic or "")
    if session.state is State.GUIDE and problem and session.step < step_count(problem):
        return Reply(
            text=compose.step_text(problem, session.step), buttons=guide_buttons(kb, session)
        )
    if session.state is State.VERIFY and problem and session.step < len(problem.verification):
        return Reply(
            text=compose.check_text(problem, session.step),
            buttons=check_buttons(problem, session),
        )
    if session.state is State.CLARIFY:
        return clarify_prompt(kb, session.candidates)
    if session.state is State.HANDOFF:
        return Reply(
            text=_(
                "You're talking to our support team. Write here and they'll answer. "
                "Send /cancel to stop waiting."
            )
        )
    return Reply(
        text=_("Tell me in your own words what's wrong with your mail, or pick a topic:"),
        buttons=menu_buttons(kb),
    )


def clarify_prompt(kb: KnowledgeBase, candidates: tuple[str, ...]) -> Reply:
    """'Is this about X?' (yes / something else) for one candidate; else one button each."""
    if len(candidates) == 1:
        # One close guess is a yes/no question, so a typed "yes" or "no" reads naturally.
        (only,) = candidates
        return Reply(
            text=_("Is this about {title}?").format(title=f"**{kb.title_of(only)}**"),
            buttons=(
                Button(label=_("Yes, that's it"), action=Action.CHOOSE, arg=only),
                Button(label=_("Something else"), action=Action.NONE_OF_THESE),
            ),
        )
    buttons = [
        Button(label=short_label(kb.title_of(c), limit=60), action=Action.CHOOSE, arg=c)
        for c in candidates
    ]
    buttons.append(Button(label=_("None of these"), action=Action.NONE_OF_THESE))
    return Reply(
        text=_("Which of these is it? Press one or type its number."), buttons=tuple(buttons)
    )


def _outcome(session: Session, *replies: Reply, log: tuple[LogRecord, ...] = ()) -> Outcome:
    return Outcome(session=session, replies=tuple(replies), log=log)


def _with_notes(turn: Turn, outcome: Outcome) -> Outcome:
    if not turn.notes:
        return outcome
    return replace(outcome, replies=turn.notes + outcome.replies)


def _what_user_came_with(kb: KnowledgeBase, session: Session) -> str:
    """The problem the user came with, in words, for hand-offs."""
    topic = session.topic or (session.tried[-1] if session.tried else None)
    if topic and kb.entry(topic) is not None:
        return f"**{kb.title_of(topic)}**"
    described = [
        line.removeprefix("user: ") for line in session.transcript if line.startswith("user: ")
    ]
    return f"“{described[-1][:120]}”" if described else ""


# -- handlers: one per row of the table ------------------------------------------------------


def start_topic(turn: Turn, session: Session) -> Outcome:
    """Start a problem's walkthrough, or answer a FAQ, for the chosen id."""
    entry = turn.kb.entry(turn.arg)
    if isinstance(entry, Faq):
        return answer_faq(turn, session, entry)
    if not isinstance(entry, Problem):
        return unknown_action(turn, session)
    new = session.reset(
        keep=("tried",),
        state=State.GUIDE,
        topic=entry.id,
        tried=(*(t for t in session.tried if t != entry.id), entry.id),
    ).remember(f"bot: guide {entry.id}")
    return _outcome(
        new,
        Reply(text=compose.intro_text(entry, steps=step_count(entry))),
        current_prompt(turn.kb, new),
        log=(LogRecord(kind="dialogue.started", topic=entry.id),),
    )


def answer_faq(turn: Turn, session: Session, faq: Faq) -> Outcome:
    """The FAQ answer, with 'walk me through it' when it leads to a problem."""
    buttons = []
    if faq.problem:
        buttons.append(
            Button(label=_("🧭 Walk me through it"), action=Action.WALK, arg=faq.problem)
        )
    buttons.extend(
        Button(
            label=_("See also: {title}").format(title=turn.kb.title_of(p)),
            action=Action.CHOOSE,
            arg=p,
        )
        for p in faq.see_also
    )
    buttons.append(Button(label=_("👍 That helped"), action=Action.HELPED))
    buttons.append(Button(label=_("Not my question"), action=Action.NOT_MY_QUESTION))
    new = session.reset(keep=("tried", "resume"), topic=faq.id).remember(f"bot: faq {faq.id}")
    return _outcome(
        new,
        Reply(text=compose.faq_text(faq), buttons=tuple(buttons)),
        log=(LogRecord(kind="dialogue.faq", topic=turn.kb.topic_of(faq.id)),),
    )


def match_text(turn: Turn, session: Session) -> Outcome:
    """Idle: recognise the problem in free text and answer, clarify or say I couldn't match it."""
    if not words(turn.text):
        return _outcome(session, current_prompt(turn.kb, session))
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
        new = session.reset(keep=("tried", "resume"), state=State.CLARIFY, candidates=candidates)
        outcome = _outcome(new, clarify_prompt(turn.kb, candidates))
    else:
        outcome = not_covered(turn, session, result)
    return replace(outcome, log=(log, *outcome.log))


def not_covered(turn: Turn, session: Session, result: MatchResult) -> Outcome:
    """Say honestly that I couldn't match it; offer the topics and a person."""
    group = next((g for g in turn.kb.out_of_scope if g.id == result.out_of_scope), None)
    misses = session.misses + 1
    new = session.reset(keep=("tried", "resume"), misses=misses)
    log = (LogRecord(kind="dialogue.unanswered", detail=turn.text[:500]),)
    menu = menu_buttons(turn.kb, person=True)
    if group is not None and group.reply and misses < NONE_REPEAT_LIMIT:
        return _outcome(new, Reply(text=group.reply, buttons=menu), log=log)
    if misses >= NONE_REPEAT_LIMIT:
        text = _(
            "I still couldn't match that to a problem in my guide, sorry. A person from the "
            "support team can help with questions I can't place."
        )
        return _outcome(new, Reply(text=text, buttons=menu), log=log)
    text = _(
        "Sorry, I couldn't match that to a problem in my Alibaba Mail guide. Describe it in "
        "other words, pick one of these, or ask for a person:"
    )
    return _outcome(new, Reply(text=text, buttons=menu), log=log)


def walk_through(turn: Turn, session: Session) -> Outcome:
    """From a FAQ answer, start the walkthrough of its problem."""
    faq = turn.kb.faq(session.topic or "")
    target = turn.arg or (faq.problem if faq else "") or ""
    if not target and faq is not None and faq.see_also:
        target = faq.see_also[0]
    if turn.kb.problem(target) is None:
        return _outcome(
            session,
            Reply(text=_("That answer has no step-by-step walkthrough. Pick a topic instead:")),
            Reply(
                text=_("Here's what I can help with:"),
                buttons=menu_buttons(turn.kb, person=True),
            ),
        )
    return start_topic(replace(turn, arg=target), session)


def faq_helped(turn: Turn, session: Session) -> Outcome:
    """The FAQ answer was enough: count it as resolved (once)."""
    faq = turn.kb.faq(session.topic or "")
    # step marks an answer already counted, so a second "thanks" is not a second resolution.
    log = ()
    if faq is not None and session.step == 0:
        log = (LogRecord(kind="dialogue.resolved", topic=turn.kb.topic_of(faq.id), detail="faq"),)
    new = session.advance(step=1, misses=0)
    text = _("Glad it helped! Message me any time you have another mail problem.")
    if faq is not None and faq.problem:
        walk = _("If you'd like the fix step by step, say **walk me through it**.")
        text = _sentences(text, walk)
    return _outcome(new, Reply(text=text), log=log)


def not_my_question(turn: Turn, session: Session) -> Outcome:
    """The FAQ missed: ask for other words, offer the topics and a person."""
    new = session.reset(keep=("tried",), misses=session.misses + 1)
    text = _("Sorry about that. Tell me more in your own words, or pick one of these:")
    topic = turn.kb.topic_of(session.topic) if session.topic else None
    log = (
        LogRecord(kind="dialogue.not_my_question", topic=topic, detail=_question(turn, session)),
    )
    return _outcome(new, Reply(text=text, buttons=menu_buttons(turn.kb, person=True)), log=log)


def _question(turn: Turn, session: Session) -> str:
    """The user's question before this turn's own words (what a refusal is about)."""
    # Replies read as acts ("none of these") are REPLY_PREFIX lines: the last "user: " line
    # is the question itself.
    lines = [line[len("user: ") :] for line in session.transcript if line.startswith("user: ")]
    return lines[-1] if lines else ""


def menu_pick(turn: Turn, session: Session) -> Outcome:
    """A typed number picks from the topic menu (the same numbers in every menu)."""
    menu = menu_buttons(turn.kb, person=True)
    number = int(turn.arg) if turn.arg.lstrip("-").isdigit() else 0
    index = len(menu) - 1 if number == -1 else number - 1
    if not 0 <= index < len(menu):
        return _outcome(
            session,
            Reply(text=_("Pick a number from 1 to {last}:").format(last=len(menu)), buttons=menu),
        )
    button = menu[index]
    if button.action is Action.HUMAN:
        return start_handoff(turn, session)
    return start_topic(replace(turn, arg=button.arg), session)


def clarify_text(turn: Turn, session: Session) -> Outcome:
    """While choosing: a new description is matched afresh; anything else keeps the choices."""
    result = turn.matcher.match(turn.text)
    if result.decision is Decision.NONE:
        # Not a new description either: keep the choices rather than lose the place.
        note = Reply(
            text=_("Sorry, I didn't catch that. Pick one of these, or describe it again:")
        )
        return _outcome(session, note, current_prompt(turn.kb, session))
    return match_text(replace(turn, match=result), session)


def clarify_pick(turn: Turn, session: Session) -> Outcome:
    """A typed number picks one of the offered choices ('none of these' is the last)."""
    number = int(turn.arg) if turn.arg.lstrip("-").isdigit() else 0
    count = len(session.candidates)
    if number == -1 or number == count + 1:
        return clarify_none(turn, session)
    if 1 <= number <= count:
        return start_topic(replace(turn, arg=session.candidates[number - 1]), session)
    return _outcome(
        session,
        Reply(text=_("Pick a number from 1 to {last}:").format(last=count + 1)),
        current_prompt(turn.kb, session),
    )


def clarify_yes(turn: Turn, session: Session) -> Outcome:
    """'Yes' to a single suggestion takes it; with several choices, ask which one."""
    if len(session.candidates) == 1:
        return start_topic(replace(turn, arg=session.candidates[0]), session)
    return _outcome(
        session,
        Reply(text=_("Which one? Press its button or type its number.")),
        current_prompt(turn.kb, session),
    )


def clarify_none(turn: Turn, session: Session) -> Outcome:
    """None of the offered topics fits."""
    new = session.reset(keep=("tried",), misses=session.misses + 1)
    text = _(
        "OK. Could you describe it in other words? Mention what you see and where "
        "(WebMail, Outlook, your phone...). Or talk to a person."
    )
    log = (LogRecord(kind="dialogue.refused", detail=_question(turn, session)),)
    return _outcome(new, Reply(text=text, buttons=(PERSON,)), log=log)


def next_step(turn: Turn, session: Session) -> Outcome:
    """The step is done: the next step, or the first check after the last step."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    if session.step + 1 < step_count(problem):
        new = session.advance(step=session.step + 1, offer=None)
        return _outcome(new, current_prompt(turn.kb, new))
    new = session.advance(state=State.VERIFY, step=0, offer=None)
    text = _("That was the last step in Alibaba Mail.")
    if problem.client_tips:
        # The guide's FAQ: configure both the email client and Alibaba Mail.
        text = _sentences(text, compose.client_step_text(problem))
    text = _sentences(text, _("Now let's check that it worked."))
    return _outcome(new, Reply(text=text), current_prompt(turn.kb, new))


def previous_step(turn: Turn, session: Session) -> Outcome:
    """Go back one step (or from the first check back to the last step)."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    if session.state is State.VERIFY:
        if session.step > 0:
            new = session.advance(step=session.step - 1, offer=None)
        else:
            new = session.advance(state=State.GUIDE, step=step_count(problem) - 1, offer=None)
        return _outcome(new, current_prompt(turn.kb, new))
    if session.step == 0:
        return _outcome(
            session, Reply(text=_("This is the first step.")), current_prompt(turn.kb, session)
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
        text = _("Here is exactly where to look:") + f"\n{details}"
    else:
        text = _("My guide has no more detail for this step than what it says above.")
    new = session.advance(offer=None) if session.offer else session
    buttons = (*guide_buttons(turn.kb, new), PERSON)
    return _outcome(
        new,
        Reply(text=text),
        Reply(text=compose.step_text(problem, session.step), buttons=buttons),
        log=(LogRecord(kind="dialogue.stuck", topic=problem.id, detail=str(session.step + 1)),),
    )


def client_tip(turn: Turn, session: Session) -> Outcome:
    """At the email-client step: the guide's tip for the named client, or say what it covers."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    if not problem.client_tips:
        return unknown_action(turn, session)
    tip = next(
        (t for t in problem.client_tips if t.client.casefold() == turn.arg.casefold()), None
    )
    if tip is not None:
        text = _("In {client}: {tip}").format(client=f"**{tip.client}**", tip=tip.tip)
    else:
        clients = ", ".join(t.client for t in problem.client_tips)
        text = _(
            "My guide only gives the exact setting for {clients}. In your client, look for "
            "the option that keeps messages on the server after downloading them; your "
            "helpdesk can show you where it is."
        ).format(clients=clients)
    new = session.advance(offer=None) if session.offer else session
    return _outcome(new, Reply(text=text), current_prompt(turn.kb, new))


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
        Reply(text=_("So, does it work now?"), buttons=check_buttons(problem, session)),
    )


def stuck_on_check(turn: Turn, session: Session) -> Outcome:
    """Unsure about a check: repeat it and offer a person."""
    problem = turn.kb.problem(session.topic or "")
    if problem is None:
        return cancel(turn, session)
    new = session.advance(offer=None) if session.offer else session
    buttons = (*check_buttons(problem, new), PERSON)
    return _outcome(
        new,
        Reply(
            text=_(
                "No problem. Here's the check again; if it doesn't make sense for you, "
                "a person can take over."
            ),
        ),
        Reply(text=compose.check_text(problem, session.step), buttons=buttons),
    )


def resolved(turn: Turn, session: Session) -> Outcome:
    """It works: celebrate, ask for one-tap feedback, go idle."""
    topic = session.topic
    early = session.state is State.GUIDE
    # "Was I helpful?" can be answered in words too ("yes, thanks", "not really").
    new = session.reset(asked=f"{RATE_ASKED}:{topic or ''}")
    buttons = (
        Button(label=_("👍 Helpful"), action=Action.RATE, arg=f"up:{topic or ''}"),
        Button(label=_("👎 Not helpful"), action=Action.RATE, arg=f"down:{topic or ''}"),
    )
    return _outcome(
        new,
        Reply(text=_("🎉 Great, that's solved! Was I helpful?"), buttons=buttons),
        log=(LogRecord(kind="dialogue.resolved", topic=topic, detail="early" if early else ""),),
    )


def not_resolved(turn: Turn, session: Session) -> Outcome:
    """Still broken: suggest the next likely problem, else offer a person."""
    problem = turn.kb.problem(session.topic or "")
    related = [r for r in (problem.related if problem else ()) if r not in session.tried]
    log = (LogRecord(kind="dialogue.unresolved", topic=session.topic),)
    if related:
        nxt = related[0]
        new = session.reset(keep=("tried",), state=State.CLARIFY, candidates=(nxt,))
        text = _(
            "Sorry it's still not working. The same thing can also be caused by: "
            "{title}. Shall we check that?"
        ).format(title=f"**{turn.kb.title_of(nxt)}**")
        buttons = (
            Button(label=_("🔎 Yes, check that"), action=Action.CHOOSE, arg=nxt),
            Button(label=_("None of these"), action=Action.NONE_OF_THESE),
            PERSON,
        )
        return _outcome(new, Reply(text=text, buttons=buttons), log=log)
    new = session.reset(keep=("tried", "topic"))
    text = _("Sorry that didn't fix it. A person from the support team can look into it with you.")
    buttons = (Button(label=_("Start over"), action=Action.CANCEL), PERSON)
    return _outcome(new, Reply(text=text, buttons=buttons), log=log)


def in_flow_text(turn: Turn, session: Session) -> Outcome:
    """Free text mid-walkthrough: offer to switch if it names another topic, else nudge."""
    result = turn.match or turn.matcher.match(turn.text)
    best = result.best
    if best is not None and best.topic != session.topic:
        new = session.advance(offer=best.id)
        title = turn.kb.title_of(best.id)
        if turn.kb.faq(best.id) is not None:
            different = _("That sounds like a different question: {title}")
        else:
            different = _("That sounds like a different problem: {title}")
        bold = f"**{_sentence(title)}**"
        for mark in (".", "\u3002", "?", "\uff1f"):
            bold = bold.replace(f"{mark}**", f"**{mark}")
        text = _sentences(
            different.format(title=bold),
            _("Switch to it? (We're at {place}.)").format(place=_place(turn.kb, session)),
        )
        buttons = (
            Button(label=_("🔀 Switch"), action=Action.SWITCH, arg=best.id),
            Button(label=_("↩️ Stay here"), action=Action.STAY),
        )
        return _outcome(new, Reply(text=text, buttons=buttons))
    if best is not None:
        note = _("We're already working on that. Let's continue:")
    elif session.state is State.VERIFY:
        note = _(
            "Sorry, I didn't catch that. Reply **done** when you've checked, **yes** if it "
            "works, **no** if it's still broken, **back**, or ask for a person."
        )
    else:
        note = _(
            "Sorry, I didn't catch that. Reply **done** when the step is done, **stuck** if "
            "you need more detail, **back**, or ask for a person."
        )
    return _outcome(session, Reply(text=note), current_prompt(turn.kb, session))


def switch_topic(turn: Turn, session: Session) -> Outcome:
    """Accept the offer to switch to another topic."""
    target = turn.arg or session.offer or ""
    if turn.kb.entry(target) is None:
        return unknown_action(turn, session)
    outcome = start_topic(replace(turn, arg=target), session)
    return replace(outcome, log=(*outcome.log, LogRecord(kind="dialogue.switched", topic=target)))


def stay(turn: Turn, session: Session) -> Outcome:
    """Decline the switch: carry on where we were."""
    new = session.advance(offer=None)
    return _outcome(new, Reply(text=_("OK, let's carry on.")), current_prompt(turn.kb, new))


def start_handoff(turn: Turn, session: Session) -> Outcome:
    """Hand the conversation to a person, naming the problem; the channel opens the ticket."""
    if session.state is State.HANDOFF:
        return _outcome(session, current_prompt(turn.kb, session))
    topic = session.topic
    about = _what_user_came_with(turn.kb, session)
    place = _place(turn.kb, session) if session.state in (State.GUIDE, State.VERIFY) else ""
    if turn.settings.staff_available:
        new = session.reset(keep=("tried", "topic"), state=State.HANDOFF)
        if about:
            text = _("I've asked a person from the support team to take over about {about}")
        else:
            text = _("I've asked a person from the support team to take over")
        text = text.format(about=about)
        # A FAQ's title is a question: "about **Does it support IMAP?**" needs no full stop.
        text += "" if text.rstrip("*”").endswith(("?", "!", ".", "\uff1f")) else _(".")
        text = _sentences(
            text,
            _(
                "Write here anything they should know; they'll reply in this chat. "
                "Send /cancel to stop waiting."
            ),
        )
    else:
        # Nobody would read a hand-off here: say where to go instead of waiting forever.
        new = session.reset(keep=("tried",))
        text = _sentences(
            _("No support team is connected to this chat, sorry."),
            _fallback(turn, about),
            _("Send /cancel to start over with me."),
        )
    detail = " | ".join(
        filter(None, [topic or "", place.replace("**", ""), *session.transcript[-6:]])
    )
    log = (LogRecord(kind="dialogue.escalated", topic=topic, detail=detail),)
    return _outcome(new, Reply(text=text), log=log)


def _fallback(turn: Turn, about: str) -> str:
    """Where to go instead of a person here, naming the user's problem."""
    contact = turn.settings.fallback_contact or _("your mail administrator or helpdesk")
    if about:
        return _("Please contact {contact} about {about} and tell them what you tried.").format(
            contact=contact, about=about
        )
    return _("Please contact {contact} and tell them what you tried.").format(contact=contact)


def handoff_failed(turn: Turn, session: Session) -> Outcome:
    """The staff chat could not be reached: say so and where to go instead; back to the bot."""
    new = session.reset(keep=("tried",))
    text = _sentences(
        _("Sorry, I couldn't reach the support team just now."),
        _fallback(turn, _what_user_came_with(turn.kb, session)),
    )
    return _outcome(
        new, Reply(text=text), log=(LogRecord(kind="handoff.failed", topic=session.topic),)
    )


def handoff_closed(turn: Turn, session: Session) -> Outcome:
    """Staff closed the hand-off (``arg``: the ticket number): back to the bot; rate 1-5."""
    new = session.reset()
    buttons = tickets.rating_buttons(int(turn.arg)) if turn.arg.isdigit() else ()
    return _outcome(
        new,
        Reply(text=tickets.closed_for_user(), buttons=buttons),
        log=(LogRecord(kind="dialogue.closed", topic=session.topic),),
    )


def relay_to_staff(turn: Turn, session: Session) -> Outcome:
    """In hand-off, text is for the people; acknowledge quietly."""
    return _outcome(
        session,
        log=(LogRecord(kind="handoff.message", topic=session.topic, detail=turn.text[:1000]),),
    )


def cancel(turn: Turn, session: Session) -> Outcome:
    """Stop whatever is going on and go back to idle."""
    new = session.reset()
    return _outcome(
        new,
        Reply(
            text=_("OK, stopped. Tell me what's wrong any time, or pick a topic:"),
            buttons=menu_buttons(turn.kb),
        ),
        log=(LogRecord(kind="dialogue.cancelled", topic=session.topic),),
    )


def show_topics(turn: Turn, session: Session) -> Outcome:
    """The menu of topics, the same numbers as every menu (no state change)."""
    return _outcome(
        session,
        Reply(text=_("Here's what I can help with:"), buttons=menu_buttons(turn.kb, person=True)),
    )


def welcome(turn: Turn, session: Session) -> Outcome:
    """Greeting that says what the bot does; mid-walkthrough it shows where we are."""
    text = _(
        "Hi! I'm the Alibaba Mail support bot. Tell me in your own words what's wrong "
        '("Outlook deleted my mail", "senders get bounce 552") and I\'ll walk you through '
        "the fix step by step. I can help with:"
    )
    if session.state is State.IDLE:
        return _outcome(session, Reply(text=text, buttons=menu_buttons(turn.kb)))
    return _outcome(
        session,
        Reply(text=_("Hi again! We were in the middle of something:")),
        current_prompt(turn.kb, session),
    )


def show_help(turn: Turn, session: Session) -> Outcome:
    """How to talk to the bot (no state change)."""
    text = _(
        "Describe your mail problem in your own words, or paste the error you got.\n"
        "During a walkthrough, press the buttons or just say it: **done**, **back**, "
        "**I'm stuck**, **it works**, **still broken**, **start over**.\n"
        "Type a number to pick from a list. /topics shows what I know, /human or "
        "**talk to a person** asks for a person, /cancel starts over, /language changes the "
        "language."
    )
    return _outcome(session, Reply(text=text), current_prompt(turn.kb, session))


def repeat_prompt(turn: Turn, session: Session) -> Outcome:
    """Say the current step or question again (no state change)."""
    if session.state is State.IDLE and turn.kb.faq(session.topic or "") is not None:
        faq = turn.kb.faq(session.topic or "")
        assert faq is not None
        return _outcome(session, Reply(text=compose.faq_text(faq)))
    return _outcome(session, current_prompt(turn.kb, session))


def thanks(turn: Turn, session: Session) -> Outcome:
    """Thanks or a plain 'ok': you're welcome, and where we are if something is open."""
    text = _(
        "You're welcome! If anything else goes wrong with your mail, just tell me what happens."
    )
    if session.state is State.IDLE:
        return _outcome(session, Reply(text=text))
    return _outcome(session, Reply(text=_("You're welcome!")), current_prompt(turn.kb, session))


def goodbye(turn: Turn, session: Session) -> Outcome:
    """The user is leaving: say goodbye; an open walkthrough keeps its place."""
    if session.state in (State.GUIDE, State.VERIFY):
        text = _(
            "Bye for now! We were at {place}; when you're back, just tell me how it went."
        ).format(place=_place(turn.kb, session))
        return _outcome(session, Reply(text=text))
    return _outcome(
        session,
        Reply(text=_("Goodbye! Message me any time you have a problem with your mail.")),
        log=(LogRecord(kind="dialogue.goodbye", topic=session.topic),),
    )


def resume(turn: Turn, session: Session) -> Outcome:
    """Pick up the walkthrough the timeout put aside."""
    parsed = _parse_resume(turn.kb, session.resume)
    if parsed is None:
        return _outcome(session.advance(resume=None), current_prompt(turn.kb, session))
    state, topic, step = parsed
    new = session.reset(keep=("tried",), state=state, topic=topic, step=step)
    return _outcome(
        new, Reply(text=_("Welcome back! Here's where we were:")), current_prompt(turn.kb, new)
    )


def record_feedback(turn: Turn, session: Session) -> Outcome:
    """One-tap feedback after a resolution; a 👎 asks what went wrong."""
    rating = tickets.parse_rating(turn.arg)
    if rating is not None:
        # A rating of a person's help: once (the version moves on, so the buttons go stale).
        stars = rating[1]
        return _outcome(
            session.advance(),
            Reply(
                text=_("Thank you! You rated our support team {stars} of 5.").format(stars=stars)
            ),
            log=(LogRecord(kind="ticket.rated", detail=str(stars)),),
        )
    value, _sep, topic = turn.arg.partition(":")
    value = "up" if value == "up" else "down"
    log = (LogRecord(kind="dialogue.feedback", topic=topic or None, detail=value),)
    if value == "up":
        return _outcome(session, Reply(text=_("Thanks for the feedback!")), log=log)
    new = session.advance(asked=f"{WHY}:{topic}")
    text = _(
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
        Reply(
            text=_("Thank you, I've passed that on. Tell me any time if something else is wrong.")
        ),
        log=(LogRecord(kind="feedback.reason", topic=topic, detail=turn.text[:500]),),
    )


def choose_language(turn: Turn, session: Session) -> Outcome:
    """/language: confirm the language just chosen, or offer the ones the bot speaks."""
    chosen = language.choose(turn.arg) if turn.arg else None
    if chosen is None or chosen != (session.language or turn.languages[0]):
        buttons = tuple(
            Button(label=language.NAMES.get(code, code), action=Action.LANGUAGE, arg=code)
            for code in turn.languages
        )
        return _outcome(session, Reply(text=_("Which language should I use?"), buttons=buttons))
    new = session.advance()
    return _outcome(
        new,
        Reply(text=_("From now on I'll answer in this language.")),
        current_prompt(turn.kb, new),
    )


def unknown_action(turn: Turn, session: Session) -> Outcome:
    """Nothing to do for this action here: change nothing, show where we are."""
    return _outcome(
        session,
        Reply(text=_("That doesn't apply right now.")),
        current_prompt(turn.kb, session),
    )


def _parse_resume(kb: KnowledgeBase, ref: str | None) -> tuple[State, str, int] | None:
    """'guide:mailbox-full:1' -> (State.GUIDE, 'mailbox-full', 1), if it still fits the guide."""
    if not ref:
        return None
    state_name, _sep, rest = ref.partition(":")
    topic, _sep, step_text = rest.rpartition(":")
    problem = kb.problem(topic)
    if problem is None or not step_text.isdigit():
        return None
    step = int(step_text)
    if state_name == State.GUIDE.value and step < step_count(problem):
        return State.GUIDE, topic, step
    if state_name == State.VERIFY.value and step < len(problem.verification):
        return State.VERIFY, topic, step
    return None


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One row of the table: the handler and the states it may lead to (``SAME``: stays)."""

    handler: Handler
    goes_to: tuple[State | str, ...]


SAME = "same"


def _rule(handler: Handler, *goes_to: State | str) -> Rule:
    return Rule(handler=handler, goes_to=goes_to)


def _every_state(action: Action, rule: Rule) -> dict[tuple[State, Action], Rule]:
    return {(state, action): rule for state in State}


_START_TOPIC = _rule(start_topic, State.GUIDE, State.IDLE, SAME)
_SWITCH_TOPIC = _rule(switch_topic, State.GUIDE, State.IDLE, SAME)

TRANSITIONS: dict[tuple[State, Action], Rule] = {
    (State.IDLE, Action.TEXT): _rule(match_text, State.GUIDE, State.CLARIFY, State.IDLE),
    (State.IDLE, Action.WALK): _rule(walk_through, State.GUIDE, SAME),
    (State.IDLE, Action.HELPED): _rule(faq_helped, SAME),
    (State.IDLE, Action.YES): _rule(faq_helped, SAME),
    (State.IDLE, Action.NOT_MY_QUESTION): _rule(not_my_question, State.IDLE),
    (State.IDLE, Action.NO): _rule(not_my_question, State.IDLE),
    (State.IDLE, Action.RATE): _rule(record_feedback, SAME),
    (State.IDLE, Action.NUMBER): _rule(menu_pick, State.GUIDE, State.HANDOFF, SAME),
    (State.IDLE, Action.RESUME): _rule(resume, State.GUIDE, State.VERIFY, SAME),
    (State.CLARIFY, Action.TEXT): _rule(clarify_text, State.GUIDE, State.IDLE, SAME),
    (State.CLARIFY, Action.NUMBER): _rule(clarify_pick, State.GUIDE, State.IDLE, SAME),
    (State.CLARIFY, Action.NONE_OF_THESE): _rule(clarify_none, State.IDLE),
    (State.CLARIFY, Action.YES): _rule(clarify_yes, State.GUIDE, State.IDLE, SAME),
    (State.CLARIFY, Action.NO): _rule(clarify_none, State.IDLE),
    (State.GUIDE, Action.DONE): _rule(next_step, State.VERIFY, SAME),
    (State.GUIDE, Action.YES): _rule(next_step, State.VERIFY, SAME),
    (State.GUIDE, Action.STUCK): _rule(show_step_details, SAME),
    (State.GUIDE, Action.NO): _rule(show_step_details, SAME),
    (State.GUIDE, Action.CLIENT): _rule(client_tip, SAME),
    (State.VERIFY, Action.CLIENT): _rule(client_tip, SAME),
    (State.GUIDE, Action.WORKS): _rule(resolved, State.IDLE),
    (State.GUIDE, Action.TEXT): _rule(in_flow_text, SAME),
    (State.VERIFY, Action.DONE): _rule(next_check, SAME),
    (State.VERIFY, Action.YES): _rule(resolved, State.IDLE),
    (State.VERIFY, Action.NO): _rule(not_resolved, State.CLARIFY, State.IDLE),
    (State.VERIFY, Action.STUCK): _rule(stuck_on_check, SAME),
    (State.VERIFY, Action.TEXT): _rule(in_flow_text, SAME),
    (State.GUIDE, Action.BACK): _rule(previous_step, SAME),
    (State.VERIFY, Action.BACK): _rule(previous_step, State.GUIDE, SAME),
    (State.GUIDE, Action.SWITCH): _SWITCH_TOPIC,
    (State.VERIFY, Action.SWITCH): _SWITCH_TOPIC,
    (State.GUIDE, Action.STAY): _rule(stay, SAME),
    (State.VERIFY, Action.STAY): _rule(stay, SAME),
    (State.HANDOFF, Action.TEXT): _rule(relay_to_staff, SAME),
    (State.HANDOFF, Action.CLOSED): _rule(handoff_closed, State.IDLE),
    (State.HANDOFF, Action.UNREACHABLE): _rule(handoff_failed, State.IDLE),
    **_every_state(Action.CHOOSE, _START_TOPIC),
    **_every_state(Action.CANCEL, _rule(cancel, State.IDLE)),
    **_every_state(Action.HUMAN, _rule(start_handoff, State.HANDOFF, State.IDLE)),
    **_every_state(Action.TOPICS, _rule(show_topics, SAME)),
    **_every_state(Action.START, _rule(welcome, SAME)),
    **_every_state(Action.HELP, _rule(show_help, SAME)),
    **_every_state(Action.REPEAT, _rule(repeat_prompt, SAME)),
    **_every_state(Action.THANKS, _rule(thanks, SAME)),
    **_every_state(Action.GOODBYE, _rule(goodbye, SAME)),
    **_every_state(Action.LANGUAGE, _rule(choose_language, SAME)),
}

COMMANDS = {
    "start": Action.START,
    "help": Action.HELP,
    "topics": Action.TOPICS,
    "cancel": Action.CANCEL,
    "human": Action.HUMAN,
    "language": Action.LANGUAGE,
    # Sent by the channel, never typed: staff closed the ticket; the staff chat is unreachable.
    "closed": Action.CLOSED,
    "unreachable": Action.UNREACHABLE,
}


class Engine:
    """The dialogue engine: ``handle`` maps (session, event) to an Outcome, deterministically."""

    def __init__(
        self,
        kb: KnowledgeBase,
        matcher: Matcher,
        settings: DialogueSettings | None = None,
        *,
        acts: ActReader | None = None,
        translators: Mapping[str, Translator] | None = None,
    ) -> None:
        self.kb = kb
        self.matcher = matcher
        self.settings = settings or DialogueSettings()
        self._given_acts = acts
        # One gettext translator per language the bot speaks besides English (bot.locale).
        self.translators: Mapping[str, Translator] = translators or {}

    @cached_property
    def acts(self) -> ActReader:
        """The dialogue-act reader, trained on first use: eval and triage never need it."""
        return self._given_acts or act_reader(self.kb.dialogue, descriptions(self.kb))

    def new_session(self, chat_id: str, *, now: float) -> Session:
        """A fresh idle session for a chat."""
        return Session(chat_id=chat_id, updated_at=now)

    def handle(self, session: Session, event: Event, *, now: float) -> Outcome:
        """React to one event in the user's language; never raises for anything a user sends."""
        session = self._language(session, event)
        with speaking(self.translator(session.language)):
            return self._handle(session, event, now=now)

    def translator(self, language: str | None) -> Translator:
        """The gettext translator for a language (English: the identity)."""
        if language is None or language == self.kb.language:
            return IDENTITY
        return translator_for(self.translators, language)

    def _language(self, session: Session, event: Event) -> Session:
        """The language to answer in: what the message is written in, else what it was.

        A session starts from the channel's hint (Telegram's ``language_code``); ``/language``
        sets it outright. Only languages the knowledge is translated to count.
        """
        spoken = set(self.kb.languages)
        wanted: str | None = None
        if isinstance(event, UserText):
            wanted = language.detect(event.text)
        elif isinstance(event, Command) and COMMANDS.get(event.name.lower()) is Action.LANGUAGE:
            wanted = language.choose(event.arg) if event.arg else None
        elif (
            isinstance(event, ButtonPress)
            and event.action is Action.LANGUAGE
            and event.version == session.version
        ):
            wanted = language.choose(event.arg)
        if wanted is None and session.language is None:
            wanted = event.language_hint
        current = session.language or self.kb.language
        if wanted is None or wanted not in spoken or wanted == current:
            return session
        return replace(session, language=wanted)

    def _handle(self, session: Session, event: Event, *, now: float) -> Outcome:
        kb = self.kb.in_language(session.language or self.kb.language)
        turn = Turn(
            kb=kb,
            matcher=self.matcher,
            settings=self.settings,
            now=now,
            languages=self.kb.languages,
        )
        if self._expired(session, now):
            session, note = self._put_aside(session, kb)
            turn = replace(turn, notes=(note,))
            if isinstance(event, ButtonPress):
                outcome = _outcome(session, note, current_prompt(kb, session))
                return self._finish(self._offer_resume(outcome, kb), now)
        asked_before = session.asked
        action, turn, session = self._read(event, turn, session)
        if asked_before is not None:
            # The question is answered by the very next message, or dropped.
            session = replace(session, asked=None)
        if (
            asked_before
            and asked_before.startswith(WHY)
            and action is Action.TEXT
            and session.state is State.IDLE
        ):
            # The answer to a question the bot just asked ("what went wrong?"), not a new topic.
            outcome = feedback_reason(turn, replace(session, asked=asked_before))
            return self._finish(_with_notes(turn, outcome), now)
        if action is None:
            return self._finish(
                _outcome(
                    session,
                    *turn.notes,
                    Reply(text=_("That button is from an earlier message; here's where we are:")),
                    current_prompt(kb, session),
                ),
                now,
            )
        rule = TRANSITIONS.get((session.state, action))
        outcome = rule.handler(turn, session) if rule else unknown_action(turn, session)
        if (
            turn.text
            and session.state is not State.HANDOFF
            and action in (Action.TEXT, Action.HUMAN, Action.STUCK, Action.NO)
            and self.acts.is_upset(turn.text)
        ):
            outcome = replace(outcome, replies=(Reply(text=_(UPSET_NOTE)), *outcome.replies))
        outcome = _with_notes(turn, outcome)
        return self._finish(self._offer_resume(outcome, kb), now)

    # -- reading events -----------------------------------------------------------------------

    def _read(
        self, event: Event, turn: Turn, session: Session
    ) -> tuple[Action | None, Turn, Session]:
        if isinstance(event, ButtonPress):
            if event.version != session.version:
                return None, turn, session
            return event.action, replace(turn, arg=event.arg), session
        if isinstance(event, Command):
            action = COMMANDS.get(event.name.lower().lstrip("/"), Action.HELP)
            if action is Action.LANGUAGE:
                return action, replace(turn, arg=event.arg), session
            return action, replace(turn, arg=event.arg), session
        text = clean(event.text if isinstance(event, UserText) else "")
        turn = replace(turn, text=text)
        if not text:
            return Action.TEXT, turn, session
        action, turn = self._read_text(text, turn, session)
        # Replies read as acts are marked, so a hand-off names what the user described.
        prefix = "user: " if action is Action.TEXT else REPLY_PREFIX
        return action, turn, session.remember(f"{prefix}{text}")

    def _read_text(self, text: str, turn: Turn, session: Session) -> tuple[Action, Turn]:
        """What typed text is where the conversation stands: an act's action, or TEXT."""
        where = asked(turn.kb, session)
        client = self._client_named(turn.kb, session, text)
        if client is not None:
            return Action.CLIENT, replace(turn, arg=client)
        meanings = ACT_MEANING[where]
        reading = self.acts.read(
            text,
            allowed=frozenset(meanings),
            items=shown_items(turn.kb, session),
            context=shown_text(turn.kb, session),
            floor=ACT_FLOOR_AT.get(where, ACT_FLOOR),
        )
        turn = replace(turn, reading=reading)
        if reading.act is None and session.state in (State.GUIDE, State.VERIFY):
            # Reads more like a description, but of the problem we're already fixing
            # ("sent a test from outlook, done"): then the best act it also reads as wins.
            result = self.matcher.match(text)
            fallback = next(
                (
                    Act(name)
                    for name, score in reading.ranked
                    if name in meanings and score >= ACT_FLOOR
                ),
                None,
            )
            same_topic = result.best is None or result.best.topic == session.topic
            if fallback is None or not same_topic:
                return Action.TEXT, replace(turn, match=result)
            reading = replace(reading, act=fallback)
            turn = replace(turn, reading=reading)
        if reading.act is None:
            return Action.TEXT, turn
        action = meanings[reading.act]
        if (
            session.state in (State.GUIDE, State.VERIFY)
            and reading.score < SURE_ACT
            and _word_count(text) > 2
        ):
            # A real description of another documented problem still gets the switch offer.
            result = self.matcher.match(text)
            if result.best is not None and result.best.topic != session.topic:
                return Action.TEXT, replace(turn, match=result)
        if reading.number is not None:
            turn = replace(turn, arg=str(reading.number))
        if action is Action.RATE:
            value = "down" if reading.act in (Act.NO, Act.WRONG) else "up"
            turn = replace(turn, arg=f"{value}:{(session.asked or '').partition(':')[2]}")
        return action, turn

    def _client_named(self, kb: KnowledgeBase, session: Session, text: str) -> str | None:
        """Right after the client question, the client a short message names ('' for others)."""
        problem = kb.problem(session.topic or "")
        if session.state is not State.VERIFY or problem is None or not problem.client_tips:
            return None
        said = set(words(text))
        if session.step != 0 or len(said) > 8:
            return None
        for tip in problem.client_tips:
            if set(words(tip.client)) <= said:
                return tip.client
        if said & _OTHER_CLIENT_WORDS:
            return ""
        return None

    # -- timeouts -------------------------------------------------------------------------------

    def _expired(self, session: Session, now: float) -> bool:
        return (
            session.state is not State.IDLE
            and session.updated_at > 0
            and now - session.updated_at > self.settings.timeout_seconds
        )

    def _put_aside(self, session: Session, kb: KnowledgeBase) -> tuple[Session, Reply]:
        """After the timeout: back to idle, keeping the walkthrough's place to offer it back."""
        ref = None
        if session.state in (State.GUIDE, State.VERIFY) and session.topic:
            ref = f"{session.state.value}:{session.topic}:{session.step}"
        fresh = session.reset(resume=ref)
        if ref is None:
            return fresh, Reply(text=_("It's been a while, so I've started over."))
        return fresh, Reply(
            text=_("Welcome back! It's been a while; we were at {place}.").format(
                place=_place(kb, session)
            )
        )

    def _offer_resume(self, outcome: Outcome, kb: KnowledgeBase) -> Outcome:
        """Keep offering to continue while the put-aside walkthrough is still open."""
        session = outcome.session
        if not session.resume:
            return outcome
        if session.state not in (State.IDLE, State.CLARIFY):
            return replace(outcome, session=replace(session, resume=None))
        parsed = _parse_resume(kb, session.resume)
        if parsed is None:
            return replace(outcome, session=replace(session, resume=None))
        offer = Reply(
            text=_("Say **continue** to pick up where we left off."),
            buttons=(Button(label=_("↩️ Continue where we left off"), action=Action.RESUME),),
        )
        return replace(outcome, replies=(*outcome.replies, offer))

    @staticmethod
    def _finish(outcome: Outcome, now: float) -> Outcome:
        session = outcome.session
        if not outcome.replies and outcome.session.state is not State.HANDOFF:
            outcome = replace(outcome, replies=(Reply(text="…"),))
        # Shared buttons (PERSON, BACK) carry N_-marked labels: say them in this turn's language.
        replies = tuple(
            replace(r, buttons=tuple(replace(b, label=_(b.label)) for b in r.buttons))
            for r in outcome.replies
        )
        return replace(outcome, replies=replies, session=replace(session, updated_at=now))


# Words that name an email client the guide has no tip for ("thunderbird", "my phone").
_OTHER_CLIENT_WORDS = frozenset(
    {*CONCEPTS["@client"], "other", "another", "different", "else"}
) - {"outlook", "client", "clients", "software", "program"}


def descriptions(kb: KnowledgeBase) -> tuple[str, ...]:
    """How a description (not an act) reads: the problem, FAQ and out-of-scope examples.

    Out-of-scope examples of three words or fewer are left out: small talk ("thanks", "ok")
    lives there too, and those are acts.
    """
    bases = (kb, *kb.translations.values())
    documented = [e for b in bases for entry in (*b.problems, *b.faqs) for e in entry.examples]
    # The source language's out-of-scope examples only: a translation's would double the
    # reader's training time for little (a Chinese act is short, a description is not).
    other = [e for group in kb.out_of_scope for e in group.examples if _long(e)]
    return (*documented, *other)


def _sentences(*parts: str) -> str:
    """Sentences one after another: a space after English ones, none after Chinese ones."""
    out = ""
    for part in parts:
        if out and not out.endswith(("\u3002", "\uff01", "\uff1f", "\uff09")):
            out += " "
        out += part
    return out


def _word_count(text: str) -> int:
    """Words in a message; Chinese counts about two characters a word (it has no spaces)."""
    if language.detect(text) == "zh":
        return chinese.han_count(text) // 2 + len(re.findall(r"[A-Za-z0-9]+", text))
    return len(words(text))


def _long(example: str) -> bool:
    """More than three words (Chinese: more than four characters)."""
    if language.detect(example) == "zh":
        return len(clean(example)) > 4
    return len(words(example)) > 3


def transition_table() -> str:
    """The transition table as Markdown (the README embeds it; a test keeps them equal)."""
    states_of: dict[tuple[Action, Rule], list[State]] = {}
    for (state, action), rule in TRANSITIONS.items():
        states_of.setdefault((action, rule), []).append(state)
    rows = ["| in state | on | goes to | does |", "| --- | --- | --- | --- |"]
    for (action, rule), states in states_of.items():
        where = "any" if len(states) == len(State) else ", ".join(s.value for s in states)
        to = ", ".join(
            "(stays)" if target == SAME else str(State(target).value) for target in rule.goes_to
        )
        doc = (rule.handler.__doc__ or "").strip().splitlines()[0]
        rows.append(
            f"| {where} | {action.name.lower()} | {to} | `{rule.handler.__name__}`: {doc} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(transition_table())
