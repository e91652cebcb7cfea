"""The knowledge model: frozen dataclasses built by the loader from ``knowledge/*.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where an entry was defined, for messages that point at file and line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One solution step; ``navigation``/``form_field``/``options`` are shown when stuck."""

    text: str
    navigation: str | None = None
    form_field: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientTip:
    """Advice for one email client (e.g. Outlook's "Leave a copy of messages on the server")."""

    client: str
    tip: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A documented problem with its diagnosis, ordered fix and verification."""

    id: str
    title: str
    severity: str
    summary: str
    symptoms: tuple[str, ...]
    error_messages: tuple[str, ...]
    error_codes: tuple[str, ...]
    root_cause: str
    steps: tuple[Step, ...]
    verification: tuple[str, ...]
    examples: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    client_tips: tuple[ClientTip, ...] = ()
    notes: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    source: Source = field(default=Source(file="<memory>", line=0), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Faq:
    """A question with a short answer; ``problem`` names the walkthrough it leads to."""

    id: str
    question: str
    answer: str
    examples: tuple[str, ...]
    problem: str | None = None
    see_also: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    source: Source = field(default=Source(file="<memory>", line=0), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutOfScope:
    """Phrasings the guide does not cover (other email topics, small talk), used to say no."""

    id: str
    reply: str | None
    examples: tuple[str, ...]
    source: Source = field(default=Source(file="<memory>", line=0), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActExamples:
    """The examples of one dialogue act in one language, from one file."""

    act: str
    language: str
    examples: tuple[str, ...]
    source: Source = field(default=Source(file="<memory>", line=0), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueData:
    """What people say inside a conversation (``knowledge/dialogue*.yaml``), every language."""

    acts: tuple[ActExamples, ...] = ()
    ordinals: tuple[tuple[str, int], ...] = ()
    upset: tuple[str, ...] = ()

    def examples(self, act: str) -> tuple[str, ...]:
        """Every example of one act, all languages."""
        return tuple(e for a in self.acts if a.act == act for e in a.examples)


Entry = Problem | Faq


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeBase:
    """All problems, FAQ entries and out-of-scope anchors, with lookups by id."""

    problems: tuple[Problem, ...]
    faqs: tuple[Faq, ...]
    out_of_scope: tuple[OutOfScope, ...] = ()
    dialogue: DialogueData = field(default_factory=DialogueData)
    # The language of the text fields; translations are whole bases under the same ids.
    language: str = "en"
    translations: Mapping[str, KnowledgeBase] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )
    # Lookups by id, built once: the matcher asks for thousands of ids per second at scale.
    _problems: dict[str, Problem] = field(init=False, repr=False, compare=False)
    _faqs: dict[str, Faq] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_problems", {p.id: p for p in self.problems})
        object.__setattr__(self, "_faqs", {f.id: f for f in self.faqs})

    def problem(self, problem_id: str) -> Problem | None:
        """Return the problem with this id, or None."""
        return self._problems.get(problem_id)

    def faq(self, faq_id: str) -> Faq | None:
        """Return the FAQ entry with this id, or None."""
        return self._faqs.get(faq_id)

    def entry(self, entry_id: str) -> Entry | None:
        """Return the problem or FAQ entry with this id, or None."""
        return self.problem(entry_id) or self.faq(entry_id)

    def topic_of(self, entry_id: str) -> str:
        """The topic of an id: a problem's own id, a FAQ's problem, else the FAQ's id."""
        faq = self.faq(entry_id)
        if faq is not None and faq.problem:
            return faq.problem
        return entry_id

    def faq_for_problem(self, problem_id: str) -> Faq | None:
        """The FAQ entry that is the short answer to this problem, if any."""
        return next((f for f in self.faqs if f.problem == problem_id), None)

    def title_of(self, entry_id: str) -> str:
        """A human title for any id (problem title or FAQ question)."""
        entry = self.entry(entry_id)
        if isinstance(entry, Problem):
            return entry.title
        if isinstance(entry, Faq):
            return entry.question
        return entry_id

    def in_language(self, language: str) -> KnowledgeBase:
        """This base with its text in ``language`` when a translation exists, else itself."""
        if language == self.language:
            return self
        return self.translations.get(language, self)

    @property
    def languages(self) -> tuple[str, ...]:
        """The source language first, then every translation's."""
        return (self.language, *sorted(self.translations))

    @property
    def ids(self) -> tuple[str, ...]:
        """Every problem and FAQ id, problems first."""
        return tuple(p.id for p in self.problems) + tuple(f.id for f in self.faqs)
