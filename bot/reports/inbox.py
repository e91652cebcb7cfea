"""The misunderstood-questions inbox: what the bot got wrong or could not place, grouped.

Sources in the event log: questions answered "no match" (``dialogue.unanswered``),
clarifications the user refused (``dialogue.refused``), FAQ answers marked "not my question"
(``dialogue.not_my_question``), the answers to "what went wrong?" after a 👎
(``feedback.reason``) and hand-offs before any walkthrough (``handoff.early``). Similar texts
are grouped (RapidFuzz ``token_sort_ratio`` on normalised words, greedy, biggest groups first);
each group gets the matcher's best guess today, whether an out-of-scope group rejects it on
purpose, and a suggested knowledge edit, written as YAML for a person to review.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.text import words
from bot.reports.records import EventLike

GROUP_SIMILARITY = 62.0
EXAMPLES_SHOWN = 3
EXAMPLES_SUGGESTED = 8
# Below this score the best guess is noise and is not shown.
GUESS_FLOOR = 0.08
# An out-of-scope group this close rejected the question on purpose; a weaker pull is only
# the nearest of the no-answers, and the question is a gap in the knowledge.
REJECT_FLOOR = 0.40


class Source(StrEnum):
    """Why a text is in the inbox; values are the labels shown."""

    NO_MATCH = "no match"
    REFUSED = "none of these"
    NOT_MY_QUESTION = "not my question"
    THUMBS_DOWN = "👎 reason"
    EARLY_HANDOFF = "hand-off before any walkthrough"


SOURCES: dict[str, Source] = {
    "dialogue.unanswered": Source.NO_MATCH,
    "dialogue.refused": Source.REFUSED,
    "dialogue.not_my_question": Source.NOT_MY_QUESTION,
    "feedback.reason": Source.THUMBS_DOWN,
    "handoff.early": Source.EARLY_HANDOFF,
}


class EditKind(StrEnum):
    """What the suggested edit does."""

    EXAMPLES = "examples"  # add the texts as examples of an existing entry
    NEW_OUT_OF_SCOPE = "new out-of-scope group"
    NONE = "none"  # rejected on purpose already, or feedback to read rather than paste


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One text in the inbox."""

    source: Source
    text: str
    context: str | None  # the topic the bot was on (for 👎 and "not my question")
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    """A knowledge edit for review: where it goes and the examples to add."""

    kind: EditKind
    section: str  # "problems", "faqs" or "out_of_scope"
    entry: str
    examples: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Similar texts, with the bot's best guess and a suggested edit."""

    count: int
    examples: tuple[str, ...]
    texts: tuple[str, ...]
    sources: dict[str, int]
    contexts: tuple[str, ...]
    guess: str | None
    guess_title: str | None
    guess_score: float
    decision: str
    rejected_by: str | None  # the out-of-scope group that rejects it on purpose
    suggestion: Suggestion


def collect(events: Iterable[EventLike]) -> list[Item]:
    """The inbox items among event records, oldest first."""
    items = [
        Item(source=SOURCES[e.kind], text=e.detail.strip(), context=e.topic, at=e.at)
        for e in events
        if e.kind in SOURCES and e.detail.strip()
    ]
    return sorted(items, key=lambda item: item.at)


def group(items: list[Item]) -> list[list[Item]]:
    """Greedy grouping by similarity to each group's first text; biggest groups first.

    👎 reasons are about an answer, not a question: they are grouped among themselves.
    """
    groups: list[list[Item]] = []
    keys: dict[bool, list[str]] = {True: [], False: []}
    members: dict[bool, list[int]] = {True: [], False: []}
    for item in items:
        family = item.source is Source.THUMBS_DOWN
        key = " ".join(sorted(words(item.text))) or item.text.casefold()
        hit = process.extractOne(
            key,
            keys[family],
            scorer=fuzz.token_sort_ratio,
            processor=None,
            score_cutoff=GROUP_SIMILARITY,
        )
        if hit is not None:
            groups[members[family][hit[2]]].append(item)
        else:
            keys[family].append(key)
            members[family].append(len(groups))
            groups.append([item])
    return sorted(groups, key=lambda g: (-len(g), g[0].at))


def build_inbox(events: Iterable[EventLike], matcher: Matcher, kb: KnowledgeBase) -> list[Group]:
    """The grouped inbox, biggest groups first."""
    return [_describe(members, matcher, kb) for members in group(collect(events))]


def _describe(members: list[Item], matcher: Matcher, kb: KnowledgeBase) -> Group:
    counts = Counter(item.text for item in members)
    distinct = [text for text, _ in counts.most_common()]
    representative = distinct[0]
    result = matcher.match(representative)
    top = result.candidates[0] if result.candidates else None
    groups = {g.id for g in kb.out_of_scope}
    rejected = (
        result.out_of_scope
        if result.decision is Decision.NONE
        and result.out_of_scope in groups
        and result.out_of_scope_score >= REJECT_FLOOR
        else None
    )
    contexts = tuple(sorted({item.context for item in members if item.context}))
    sources = Counter(item.source.value for item in members)
    guess = top.id if top is not None and top.score >= GUESS_FLOOR else None
    return Group(
        count=len(members),
        examples=tuple(distinct[:EXAMPLES_SHOWN]),
        texts=tuple(distinct),
        sources=dict(sources.most_common()),
        contexts=contexts,
        guess=guess,
        guess_title=kb.title_of(guess) if guess else None,
        guess_score=round(top.score, 3) if top is not None else 0.0,
        decision=result.decision.value,
        rejected_by=rejected,
        suggestion=_suggest(members, distinct, guess, rejected, result.decision, kb),
    )


def _suggest(
    members: list[Item],
    distinct: list[str],
    guess: str | None,
    rejected: str | None,
    decision: Decision,
    kb: KnowledgeBase,
) -> Suggestion:
    examples = tuple(distinct[:EXAMPLES_SUGGESTED])
    if all(item.source is Source.THUMBS_DOWN for item in members):
        topics = sorted({item.context for item in members if item.context})
        return Suggestion(
            kind=EditKind.NONE,
            section="",
            entry=", ".join(topics),
            examples=examples,
            note="feedback on an answer: read it against the walkthrough, nothing to paste",
        )
    if rejected is not None:
        return Suggestion(
            kind=EditKind.NONE,
            section="out_of_scope",
            entry=rejected,
            examples=examples,
            note=f"rejected on purpose by out-of-scope group '{rejected}'; add to the guide "
            "only if it should be covered",
        )
    # The user already said the bot's guess was wrong ("none of these", "not my question").
    denied = all(item.source in (Source.REFUSED, Source.NOT_MY_QUESTION) for item in members)
    if guess is not None and decision is not Decision.NONE and not denied:
        section = "faqs" if kb.faq(guess) is not None else "problems"
        return Suggestion(kind=EditKind.EXAMPLES, section=section, entry=guess, examples=examples)
    note = "nothing in the guide fits"
    if denied and guess is not None:
        note = f"the user said it is not {guess}"
    return Suggestion(
        kind=EditKind.NEW_OUT_OF_SCOPE,
        section="out_of_scope",
        entry=_new_group_id(distinct[0]),
        examples=examples,
        note=f"{note}: a new out-of-scope group, or a new entry if the guide should cover it",
    )


def _new_group_id(text: str) -> str:
    stop = {"the", "a", "an", "my", "i", "is", "to", "of", "in", "on", "and", "how", "do", "can"}
    kept = [w for w in re.findall(r"[a-z0-9]+", text.casefold()) if w not in stop][:3]
    return "oos-" + ("-".join(kept) or "new-group")


# -- output --------------------------------------------------------------------------------


def format_text(groups: list[Group], *, days: float, limit: int | None = None) -> str:
    """The inbox for a terminal (and for ``/inbox``, with ``limit``)."""
    shown = groups if limit is None else groups[:limit]
    total = sum(g.count for g in groups)
    lines = [f"Inbox, last {days:g} days: {total} texts in {len(groups)} groups"]
    for n, g in enumerate(shown, start=1):
        sources = ", ".join(f"{k} {v}" for k, v in g.sources.items())
        lines.append("")
        lines.append(f"{n}. {g.count} x  ({sources})")
        for example in g.examples:
            lines.append(f'   "{example}"')
        if g.rejected_by:
            lines.append(f"   rejected on purpose by out-of-scope group {g.rejected_by}")
        elif g.guess:
            lines.append(f"   best guess: {g.guess} ({g.guess_score:.2f}, {g.decision})")
        else:
            lines.append(f"   best guess: none ({g.guess_score:.2f})")
        if g.contexts:
            lines.append(f"   while on: {', '.join(g.contexts)}")
        lines.append(f"   suggestion: {_suggestion_line(g.suggestion)}")
    if limit is not None and len(groups) > limit:
        lines.append("")
        lines.append(f"... and {len(groups) - limit} more groups (alimail-bot inbox)")
    return "\n".join(lines)


def _suggestion_line(s: Suggestion) -> str:
    if s.kind is EditKind.EXAMPLES:
        return f"add {len(s.examples)} example(s) to {s.section[:-1]} {s.entry}"
    if s.kind is EditKind.NEW_OUT_OF_SCOPE:
        return f"new out-of-scope group {s.entry} ({s.note.partition(':')[0]})"
    return s.note


def to_json(groups: list[Group], *, days: float) -> dict[str, object]:
    """The inbox as a JSON-ready dict."""
    return {
        "days": days,
        "texts": sum(g.count for g in groups),
        "groups": [
            {
                "count": g.count,
                "examples": list(g.examples),
                "sources": g.sources,
                "contexts": list(g.contexts),
                "best_guess": g.guess,
                "best_guess_title": g.guess_title,
                "score": g.guess_score,
                "decision": g.decision,
                "rejected_on_purpose_by": g.rejected_by,
                "suggestion": {
                    "kind": g.suggestion.kind.value,
                    "section": g.suggestion.section,
                    "entry": g.suggestion.entry,
                    "examples": list(g.suggestion.examples),
                    "note": g.suggestion.note,
                },
            }
            for g in groups
        ],
    }


def suggestions_yaml(groups: list[Group], *, days: float, generated: str) -> str:
    """The suggested knowledge edits as YAML to review and paste (never applied by the bot)."""
    head = [
        f"# Suggested knowledge edits from `alimail-bot inbox` (last {days:g} days, {generated}).",
        "# Review each one, then paste what is right into knowledge/*.yaml and run",
        "# `alimail-bot kb validate` and `alimail-bot eval`. Nothing here is applied by the bot.",
    ]
    sections: dict[str, list[str]] = {"problems": [], "faqs": [], "out_of_scope": []}
    notes: list[str] = []
    for n, g in enumerate(groups, start=1):
        s = g.suggestion
        if s.kind is EditKind.NONE:
            notes.append(f"#   group {n} ({g.count} x, e.g. {_q(g.examples[0])}): {s.note}")
            continue
        why = (
            f"group {n}: {g.count} text(s), best guess {g.guess} {g.guess_score:.2f}"
            if s.kind is EditKind.EXAMPLES
            else f"group {n}: {g.count} text(s); {s.note.partition(':')[0]}"
        )
        block = [f"  - id: {_q(s.entry)}  # {why}", "    examples:"]
        block += [f"      - {_q(example)}" for example in s.examples]
        sections[s.section] += block
    body: list[str] = []
    for name, block in sections.items():
        if block:
            body += ["", f"{name}:", *block]
    if notes:
        body += ["", "# Nothing to paste for these:", *notes]
    if not body:
        body = ["", "# The inbox is empty: nothing to suggest."]
    return "\n".join(head + body) + "\n"


def _q(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)
