"""Does a translation carry the same facts as its English source?

A *fact* is something a user acts on or compares: an interface label or menu path the guide
names (every ``**bold**`` or double-quoted span, every step's ``navigation``, ``form_field`` and
``options``, and each segment of a menu path), a number or size (``10GB``, ``9.8 GB``), an error
code (``552``, ``MailboxFull``) or a protocol name (POP3, IMAP). Labels stay in English in every
language, because that is what the screen shows, so a faithful translation contains the same
facts, in the same order, spelled the same. ``compare`` says which are missing, extra or moved.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from bot.core.knowledge import KnowledgeBase

_BOLD: Final = re.compile(r"\*\*(.+?)\*\*")
_QUOTED: Final = re.compile(r"[\"“”](.+?)[\"“”]")
_PATH_SEPARATOR: Final = " > "
# Product names are not labels the user clicks; translations may name the product their way.
_NOT_LABELS: Final = frozenset({"Alibaba Mail"})
_PROTOCOLS: Final = ("POP3", "POP", "IMAP", "SMTP", "DNS")
_NUMBER: Final = r"\d+(?:\.\d+)?(?:\s?(?:GB|MB|KB|TB))?"


@dataclass(frozen=True, slots=True)
class Facts:
    """The fact finder for one knowledge base: its labels and codes, compiled once."""

    pattern: re.Pattern[str]

    def of(self, text: str) -> list[str]:
        """The facts of a text, in order, with spaces in sizes removed ("10 GB" -> "10GB")."""
        return [_canonical(m.group(0)) for m in self.pattern.finditer(text)]


def facts_for(kb: KnowledgeBase) -> Facts:
    """Collect the base's labels and codes into one longest-first pattern."""
    labels: set[str] = set()
    for text in _source_texts(kb):
        labels.update(m.strip() for m in _BOLD.findall(text))
        labels.update(m.strip() for m in _QUOTED.findall(text))
    for problem in kb.problems:
        for step in problem.steps:
            labels.update(filter(None, (step.navigation, step.form_field)))
            labels.update(step.options)
            if step.form_field and " = " in step.form_field:
                labels.update(part.strip() for part in step.form_field.split(" = "))
        labels.update(problem.error_codes)
    for label in list(labels):
        if _PATH_SEPARATOR in label:
            labels.update(part.strip() for part in label.split(_PATH_SEPARATOR))
    labels = {label for label in labels if label and label not in _NOT_LABELS}
    # Longest first, so "Not Allowed" wins over "Allowed" and a whole path over its parts.
    alternatives = [re.escape(label) for label in sorted(labels, key=lambda s: (-len(s), s))]
    alternatives.extend(_PROTOCOLS)
    body = "|".join(alternatives)
    label = rf"(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])"
    pattern = re.compile(rf"{label}|(?<![\w.]){_NUMBER}(?![\w.])")
    return Facts(pattern=pattern)


def compare(source: list[str], translated: list[str]) -> str | None:
    """Why two fact lists differ (missing, extra, order), or None when they are the same."""
    if source == translated:
        return None
    missing = Counter(source) - Counter(translated)
    extra = Counter(translated) - Counter(source)
    parts = []
    if missing:
        parts.append("missing " + _listed(missing.elements()))
    if extra:
        parts.append("extra " + _listed(extra.elements()))
    if not parts:
        parts.append(f"same facts in another order: expected {_listed(source)}")
    return "; ".join(parts)


def _listed(items: Iterable[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _canonical(fact: str) -> str:
    return re.sub(r"(?<=\d)\s+(?=[A-Z])", "", fact)


def _source_texts(kb: KnowledgeBase) -> Iterable[str]:
    for problem in kb.problems:
        yield problem.title
        yield problem.summary
        yield problem.root_cause
        yield from problem.symptoms
        yield from (step.text for step in problem.steps)
        yield from problem.verification
        yield from problem.notes
        yield from (tip.tip for tip in problem.client_tips)
    for faq in kb.faqs:
        yield faq.question
        yield faq.answer
    for group in kb.out_of_scope:
        if group.reply:
            yield group.reply
