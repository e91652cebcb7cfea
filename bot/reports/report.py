"""The usage report: what people asked, where they gave up, how the hand-offs went.

Computed from event-log records alone. A *conversation* is one chat's run of events with no
gap over ``CONVERSATION_GAP``. A *run* is one walkthrough or FAQ answer: it starts at
``dialogue.started``/``dialogue.faq`` and ends at the next run, a resolution, "still broken",
a hand-off, a cancel, "not my question" or silence. Per topic a run is **confirmed** (the user
said it works, or that the FAQ helped), **assumed** (the bot gave its whole answer, the FAQ or
the last check, and the user went quiet without complaint), **reopened** (confirmed or assumed,
then the same chat came back to the same topic or asked for a person within
``REOPEN_WINDOW``), else **unresolved**. The step funnel counts how many walkthrough runs
reached each step and check; the drop-off at a step is those that got there and no further.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.knowledge import KnowledgeBase
from bot.reports.inbox import Group
from bot.reports.records import DAY, EventLike

CONVERSATION_GAP = 30 * 60.0
REOPEN_WINDOW = 7 * DAY
DECISIONS = ("answer", "clarify", "none")
RESOLVED = "resolved"
_ENDINGS = {
    "dialogue.resolved": "confirmed",
    "dialogue.unresolved": "unresolved",
    "dialogue.escalated": "escalated",
    "dialogue.cancelled": "cancelled",
    "dialogue.not_my_question": "notq",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicResolution:
    """How the runs of one topic ended."""

    topic: str
    title: str
    runs: int
    confirmed: int
    assumed: int
    reopened: int
    unresolved: int

    @property
    def rate(self) -> float:
        """Share of runs resolved and not reopened."""
        return (self.confirmed + self.assumed) / self.runs if self.runs else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCount:
    """How many walkthrough runs reached one position, and how many stopped there."""

    position: str  # "step 2", "check 1", "resolved"
    reached: int
    dropped: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Funnel:
    """One walkthrough's step funnel."""

    topic: str
    title: str
    started: int
    steps: tuple[StepCount, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicFunnel:
    """One topic from question to solution: recognised, started, fully answered, resolved."""

    topic: str
    recognised: int  # first replies that answered or offered this topic
    started: int  # walkthroughs and FAQ answers (runs)
    answered: int  # runs that got the whole answer: the FAQ, or a walkthrough's checks
    resolved: int  # confirmed or assumed, not reopened


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Every figure of the report; the formats below only present it."""

    days: float
    since: float
    until: float
    events: int
    conversations: int
    chats: int
    daily: tuple[tuple[str, int], ...]
    decisions: dict[str, int]
    resolution: tuple[TopicResolution, ...]
    funnels: tuple[Funnel, ...]
    topic_funnels: tuple[TopicFunnel, ...]
    escalations: int
    escalations_before_walkthrough: int
    tickets_opened: int
    tickets_closed: dict[str, int]
    first_reply_seconds: tuple[float, ...]
    bot_ratings: dict[str, int]
    people_ratings: dict[int, int]
    unanswered: int
    inbox: tuple[tuple[int, str, str], ...] = field(default=())  # (count, example, guess)

    @property
    def first_reply_median(self) -> float | None:
        """Median minutes-free seconds to the first staff reply, or None."""
        values = self.first_reply_seconds
        return statistics.median(values) if values else None

    @property
    def people_average(self) -> float | None:
        """Average stars staff got, or None."""
        total = sum(self.people_ratings.values())
        if not total:
            return None
        return sum(stars * n for stars, n in self.people_ratings.items()) / total


@dataclass(slots=True)
class _Run:
    chat: str
    topic: str
    kind: str  # "walkthrough" or "faq"
    started: float
    ended: float = 0.0
    positions: list[str] = field(default_factory=list)
    end: str = ""  # "confirmed", "unresolved", "escalated", "cancelled", "notq", "switched", ""
    reopened: bool = False


def build_report(
    events: Iterable[EventLike],
    kb: KnowledgeBase,
    *,
    days: float,
    until: float,
    inbox: list[Group] | None = None,
) -> Report:
    """The report for the ``days`` before ``until`` (Unix time)."""
    since = until - days * DAY
    chosen = sorted((e for e in events if since <= e.at <= until), key=lambda e: e.at)
    kinds = Counter(e.kind for e in chosen)
    conversations = _conversations(chosen)
    runs = _runs(chosen)
    return Report(
        days=days,
        since=since,
        until=until,
        events=len(chosen),
        conversations=len(conversations),
        chats=len({e.chat_id for e in chosen}),
        daily=_daily(conversations, since, until),
        decisions={
            d: sum(1 for e in chosen if e.kind == "matcher.decision" and e.detail == d)
            for d in DECISIONS
        },
        resolution=_resolution(runs, kb),
        funnels=_funnels(runs, kb),
        topic_funnels=_topic_funnels(chosen, runs, kb),
        escalations=kinds["dialogue.escalated"],
        escalations_before_walkthrough=kinds["handoff.early"],
        tickets_opened=kinds["ticket.opened"],
        tickets_closed=dict(
            Counter(e.detail or "staff" for e in chosen if e.kind == "ticket.closed")
        ),
        first_reply_seconds=tuple(
            float(e.detail) for e in chosen if e.kind == "ticket.first_reply" and _number(e.detail)
        ),
        bot_ratings={
            "up": sum(1 for e in chosen if e.kind == "dialogue.feedback" and e.detail == "up"),
            "down": sum(1 for e in chosen if e.kind == "dialogue.feedback" and e.detail == "down"),
        },
        people_ratings=_stars(chosen),
        unanswered=kinds["dialogue.unanswered"],
        inbox=tuple(
            (g.count, g.examples[0], g.rejected_by or g.guess or "none") for g in (inbox or [])[:5]
        ),
    )


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _stars(chosen: list[EventLike]) -> dict[int, int]:
    counts = dict.fromkeys(range(1, 6), 0)
    for e in chosen:
        if e.kind == "ticket.rated" and e.detail.isdigit() and int(e.detail) in counts:
            counts[int(e.detail)] += 1
    return counts


def _conversations(chosen: list[EventLike]) -> list[tuple[str, float]]:
    """(chat, start time) of every conversation."""
    last: dict[str, float] = {}
    found: list[tuple[str, float]] = []
    for e in chosen:
        previous = last.get(e.chat_id)
        if previous is None or e.at - previous > CONVERSATION_GAP:
            found.append((e.chat_id, e.at))
        last[e.chat_id] = e.at
    return found


def _daily(
    conversations: list[tuple[str, float]], since: float, until: float
) -> tuple[tuple[str, int], ...]:
    """Conversations started on each UTC day of the period, empty days included."""
    counts = Counter(_day(at) for _, at in conversations)
    labels: list[str] = []
    day = datetime.fromtimestamp(since, UTC).date()
    last = datetime.fromtimestamp(until, UTC).date()
    while day <= last:
        labels.append(day.isoformat())
        day += timedelta(days=1)
    return tuple((label, counts.get(label, 0)) for label in labels)


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _runs(chosen: list[EventLike]) -> list[_Run]:
    """Every walkthrough and FAQ run, with where it got and how it ended."""
    open_runs: dict[str, _Run] = {}
    finished: list[_Run] = []

    def finish(chat: str, end: str, at: float) -> None:
        run = open_runs.pop(chat, None)
        if run is not None:
            run.end, run.ended = end, at
            finished.append(run)

    for e in chosen:
        run = open_runs.get(e.chat_id)
        if run is not None and e.at - run.ended > CONVERSATION_GAP:
            finish(e.chat_id, "", run.ended)
            run = None
        if (
            e.kind == "dialogue.started"
            and run is not None
            and run.kind == "faq"
            and (run.topic == e.topic)
        ):
            # "Walk me through it" after the FAQ answer: the same run goes on as a walkthrough.
            run.kind = "walkthrough"
        elif e.kind in ("dialogue.started", "dialogue.faq") and e.topic:
            finish(e.chat_id, "switched", e.at)
            kind = "walkthrough" if e.kind == "dialogue.started" else "faq"
            run = _Run(chat=e.chat_id, topic=e.topic, kind=kind, started=e.at)
            open_runs[e.chat_id] = run
        elif run is None:
            continue
        elif e.kind == "walkthrough.step" and e.topic == run.topic:
            if e.detail not in run.positions:
                run.positions.append(e.detail)
        elif e.kind in _ENDINGS:
            finish(e.chat_id, _ENDINGS[e.kind], e.at)
            continue
        run.ended = e.at
    for chat in list(open_runs):
        finish(chat, "", open_runs[chat].ended)
    _mark_reopened(finished, chosen)
    return finished


def _mark_reopened(runs: list[_Run], chosen: list[EventLike]) -> None:
    comebacks: dict[str, list[tuple[float, str | None, str]]] = defaultdict(list)
    for e in chosen:
        if e.kind in ("dialogue.started", "dialogue.faq", "dialogue.escalated"):
            comebacks[e.chat_id].append((e.at, e.topic, e.kind))
    for run in runs:
        if run.end not in ("confirmed", ""):
            continue
        for at, topic, kind in comebacks[run.chat]:
            if run.ended < at <= run.ended + REOPEN_WINDOW and (
                topic == run.topic or kind == "dialogue.escalated"
            ):
                run.reopened = True
                break


def _assumed(run: _Run, kb: KnowledgeBase) -> bool:
    """The bot gave its whole answer and the user went quiet without complaint."""
    if run.end != "":
        return False
    if run.kind == "faq":
        return True
    problem = kb.problem(run.topic)
    if problem is None:
        return False
    return f"check {len(problem.verification)}" in run.positions


def _topic_funnels(
    chosen: list[EventLike], runs: list[_Run], kb: KnowledgeBase
) -> tuple[TopicFunnel, ...]:
    recognised = Counter(
        e.topic
        for e in chosen
        if e.kind == "matcher.decision" and e.topic and e.detail in ("answer", "clarify")
    )
    topics = sorted({r.topic for r in runs} | set(recognised), key=lambda t: (-recognised[t], t))
    rows = []
    for topic in topics:
        mine = [r for r in runs if r.topic == topic]
        rows.append(
            TopicFunnel(
                topic=topic,
                recognised=recognised[topic],
                started=len(mine),
                answered=sum(
                    r.kind == "faq" or "check 1" in r.positions or r.end == "confirmed"
                    for r in mine
                ),
                resolved=sum(
                    not r.reopened and (r.end == "confirmed" or _assumed(r, kb)) for r in mine
                ),
            )
        )
    return tuple(rows)


def _resolution(runs: list[_Run], kb: KnowledgeBase) -> tuple[TopicResolution, ...]:
    by_topic: dict[str, list[_Run]] = defaultdict(list)
    for run in runs:
        by_topic[run.topic].append(run)
    rows = []
    for topic in sorted(by_topic, key=lambda t: (-len(by_topic[t]), t)):
        topic_runs = by_topic[topic]
        reopened = [r for r in topic_runs if r.reopened]
        confirmed = [r for r in topic_runs if r.end == "confirmed" and not r.reopened]
        assumed = [r for r in topic_runs if not r.reopened and _assumed(r, kb)]
        rows.append(
            TopicResolution(
                topic=topic,
                title=kb.title_of(topic),
                runs=len(topic_runs),
                confirmed=len(confirmed),
                assumed=len(assumed),
                reopened=len(reopened),
                unresolved=len(topic_runs) - len(confirmed) - len(assumed) - len(reopened),
            )
        )
    return tuple(rows)


def _funnels(runs: list[_Run], kb: KnowledgeBase) -> tuple[Funnel, ...]:
    funnels = []
    for problem in kb.problems:
        walks = [r for r in runs if r.kind == "walkthrough" and r.topic == problem.id]
        if not walks:
            continue
        positions = [f"step {i + 1}" for i in range(len(problem.steps))]
        positions += [f"check {i + 1}" for i in range(len(problem.verification))]
        positions.append(RESOLVED)
        reached = []
        for i, position in enumerate(positions):
            if position == RESOLVED:
                reached.append(sum(run.end == "confirmed" for run in walks))
            else:
                reached.append(sum(_reached(run, i, positions) for run in walks))
        steps = tuple(
            StepCount(
                position=position,
                reached=reached[i],
                dropped=reached[i] - (reached[i + 1] if i + 1 < len(reached) else reached[i]),
            )
            for i, position in enumerate(positions)
        )
        funnels.append(
            Funnel(topic=problem.id, title=problem.title, started=len(walks), steps=steps)
        )
    return tuple(funnels)


def _reached(run: _Run, index: int, positions: list[str]) -> bool:
    """True when the run got to ``positions[index]`` or beyond (or resolved)."""
    if run.end == "confirmed":
        return True
    furthest = max((positions.index(p) for p in run.positions if p in positions), default=-1)
    return furthest >= index


# -- formats -----------------------------------------------------------------------------------


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def format_text(report: Report) -> str:
    """The report for a terminal or a chat message (plain text)."""
    r = report
    asked = sum(r.decisions.values())
    lines = [
        f"Report, last {r.days:g} days ({_when(r.since)} to {_when(r.until)})",
        f"Conversations: {r.conversations} from {r.chats} chats",
        "First replies to a question: "
        + ", ".join(f"{d} {r.decisions[d]} ({_pct(r.decisions[d], asked)})" for d in DECISIONS),
        "",
        "Resolution per topic (runs: confirmed / assumed / reopened / unresolved, rate):",
    ]
    for t in r.resolution:
        lines.append(
            f"  {t.topic}: {t.runs} runs: {t.confirmed} / {t.assumed} / {t.reopened} / "
            f"{t.unresolved}, {t.rate:.0%}"
        )
    if not r.resolution:
        lines.append("  (no walkthroughs or FAQ answers)")
    lines += ["", "From question to solution (recognised > started > whole answer > resolved):"]
    for f in r.topic_funnels:
        lines.append(f"  {f.topic}: {f.recognised} > {f.started} > {f.answered} > {f.resolved}")
    lines += ["", "Where people give up (walkthrough runs reaching each step; dropped there):"]
    for f in r.funnels:
        cells = ", ".join(
            f"{s.position} {s.reached}" + (f" (-{s.dropped})" if s.dropped else "")
            for s in f.steps
        )
        lines.append(f"  {f.topic} ({f.started} started): {cells}")
    if not r.funnels:
        lines.append("  (no walkthroughs)")
    closed = ", ".join(f"{k} {v}" for k, v in sorted(r.tickets_closed.items())) or "none"
    lines += [
        "",
        f"Escalations to a person: {r.escalations} ({r.escalations_before_walkthrough} before "
        "any walkthrough)",
        f"Tickets: {r.tickets_opened} opened; closed by {closed}",
        f"Time to first staff reply: median {_duration(r.first_reply_median)}"
        + (
            f", slowest {_duration(max(r.first_reply_seconds))} over "
            f"{len(r.first_reply_seconds)} tickets"
            if r.first_reply_seconds
            else ""
        ),
        f"Ratings of the bot: 👍 {r.bot_ratings['up']}  👎 {r.bot_ratings['down']}",
        "Ratings of people: "
        + (
            f"average {r.people_average:.1f} of 5 from {sum(r.people_ratings.values())} ("
            + ", ".join(f"{s}★ {n}" for s, n in r.people_ratings.items())
            + ")"
            if r.people_average is not None
            else "none yet"
        ),
        f"Unanswered questions: {r.unanswered}",
    ]
    if r.inbox:
        lines += ["", "Top inbox groups:"]
        lines += [f'  {n} x "{example}" (guess: {guess})' for n, example, guess in r.inbox]
    return "\n".join(lines)


def to_json(report: Report) -> dict[str, object]:
    """The report as a JSON-ready dict."""
    data = asdict(report)
    data["resolution"] = [dict(asdict(t), rate=round(t.rate, 4)) for t in report.resolution]
    data["daily"] = [{"day": d, "conversations": n} for d, n in report.daily]
    data["people_ratings"] = {str(k): v for k, v in report.people_ratings.items()}
    data["first_reply_median_seconds"] = report.first_reply_median
    data["people_average"] = report.people_average
    data["inbox"] = [{"count": n, "example": e, "guess": g} for n, e, g in report.inbox]
    return data


def format_json(report: Report) -> str:
    """The report as indented JSON."""
    return json.dumps(to_json(report), indent=2, ensure_ascii=False)


def format_csv(report: Report) -> str:
    """The report as one long table: section, topic, item, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "topic", "item", "value"])
    r = report
    writer.writerow(["summary", "", "days", f"{r.days:g}"])
    writer.writerow(["summary", "", "conversations", r.conversations])
    writer.writerow(["summary", "", "chats", r.chats])
    for day, n in r.daily:
        writer.writerow(["daily", "", day, n])
    for d, n in r.decisions.items():
        writer.writerow(["decisions", "", d, n])
    for t in r.resolution:
        for item in ("runs", "confirmed", "assumed", "reopened", "unresolved"):
            writer.writerow(["resolution", t.topic, item, getattr(t, item)])
        writer.writerow(["resolution", t.topic, "rate", f"{t.rate:.4f}"])
    for t in r.topic_funnels:
        for item in ("recognised", "started", "answered", "resolved"):
            writer.writerow(["topic funnel", t.topic, item, getattr(t, item)])
    for f in r.funnels:
        writer.writerow(["funnel", f.topic, "started", f.started])
        for s in f.steps:
            writer.writerow(["funnel", f.topic, f"reached {s.position}", s.reached])
            writer.writerow(["funnel", f.topic, f"dropped at {s.position}", s.dropped])
    writer.writerow(["escalations", "", "total", r.escalations])
    early = r.escalations_before_walkthrough
    writer.writerow(["escalations", "", "before any walkthrough", early])
    writer.writerow(["tickets", "", "opened", r.tickets_opened])
    for reason, n in sorted(r.tickets_closed.items()):
        writer.writerow(["tickets", "", f"closed by {reason}", n])
    median = r.first_reply_median
    median_cell = "" if median is None else median
    writer.writerow(["tickets", "", "first reply median seconds", median_cell])
    writer.writerow(["ratings", "bot", "up", r.bot_ratings["up"]])
    writer.writerow(["ratings", "bot", "down", r.bot_ratings["down"]])
    for stars, n in r.people_ratings.items():
        writer.writerow(["ratings", "people", f"{stars} stars", n])
    writer.writerow(["questions", "", "unanswered", r.unanswered])
    for n, example, guess in r.inbox:
        writer.writerow(["inbox", guess, example, n])
    return out.getvalue()
