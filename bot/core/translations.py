"""Translation overlays: ``knowledge/<guide>.<lang>.yaml`` gives a base's text in one language.

An overlay names entries by the same ids as the English file and carries only what is said in
words: titles, summaries, symptoms, root causes, step texts, checks, notes, client tips, FAQ
questions and answers, canned replies, and the language's own ``examples`` and ``keywords``.
What the user must see exactly as the screen shows it (navigation paths, form fields, options,
error codes and lines) is never translated: it comes from the English entry. Every translated
field must carry the same facts as its source (``bot.core.fidelity``); every entry and every
list item of the source must be translated, so a user never gets half a guide in English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from yaml.nodes import MappingNode, Node, SequenceNode

from bot.core import fidelity
from bot.core.knowledge import ClientTip, Faq, KnowledgeBase, OutOfScope, Problem
from bot.core.loader import _describe, _Error, _line, _Walker

LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")
# "alimail-email.zh.yaml": the guide's file name, a language code, the YAML suffix.
OVERLAY_NAME: Final = re.compile(r"(?P<guide>.+)\.(?P<lang>[a-z]{2,3}(?:-[a-z0-9]{2,8})?)\.ya?ml")

TOP_FIELDS: Final = ("language", "guide", "problems", "faqs", "out_of_scope")
TOP_REQUIRED: Final = ("language", "guide")
PROBLEM_FIELDS: Final = (
    "id",
    "title",
    "summary",
    "symptoms",
    "root_cause",
    "steps",
    "verification",
    "notes",
    "client_tips",
    "keywords",
    "examples",
)
PROBLEM_REQUIRED: Final = (
    "id",
    "title",
    "summary",
    "symptoms",
    "root_cause",
    "steps",
    "verification",
    "examples",
)
FAQ_FIELDS: Final = ("id", "question", "answer", "keywords", "examples")
FAQ_REQUIRED: Final = ("id", "question", "answer", "examples")
OUT_OF_SCOPE_FIELDS: Final = ("id", "reply", "examples")
OUT_OF_SCOPE_REQUIRED: Final = ("id", "examples")
# A dialogue file (knowledge/dialogue*.yaml) is told apart by this top-level key.
DIALOGUE_KEY: Final = "acts"
LIST_FIELDS: Final = ("symptoms", "steps", "verification", "notes", "client_tips")


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """A translated text and the line it is on."""

    text: str
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryText:
    """One entry's translated fields, by field name ("steps" holds each step's text)."""

    kind: str
    id: str
    line: int
    single: dict[str, Line] = field(default_factory=dict)
    lists: dict[str, tuple[Line, ...]] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    examples: tuple[Line, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.id}'"


@dataclass(slots=True, kw_only=True)
class Overlay:
    """What one overlay file holds, before it is checked against its base."""

    filename: str
    language: str = ""
    language_line: int = 1
    guide: str = ""
    entries: list[EntryText] = field(default_factory=list)


class OverlayWalker(_Walker):
    """The loader's walker, taught the overlay schema; errors land in ``self.parsed``."""

    def __init__(self, filename: str) -> None:
        super().__init__(filename)
        self.overlay = Overlay(filename=filename)
        self.is_overlay = True

    def document(self, node: Node) -> None:
        if isinstance(node, MappingNode) and DIALOGUE_KEY in {k.value for k, _ in node.value}:
            # "dialogue.zh.yaml" is named like a translation but is a dialogue file: its acts
            # are read by the loader's own schema, every language in one pool.
            self.is_overlay = False
            super().document(node)
            return
        top = self.mapping(node, "the top level")
        if top is None:
            return
        found = self.fields(top, allowed=TOP_FIELDS, required=TOP_REQUIRED)
        language = self.optional_text_field(found, "language", "")
        if language is not None:
            self.overlay.language = language
            self.overlay.language_line = _line(found["language"])
        self.overlay.guide = self.optional_text_field(found, "guide", "") or ""
        shapes = (
            ("problems", "problem", PROBLEM_FIELDS, PROBLEM_REQUIRED),
            ("faqs", "faq", FAQ_FIELDS, FAQ_REQUIRED),
            ("out_of_scope", "out_of_scope", OUT_OF_SCOPE_FIELDS, OUT_OF_SCOPE_REQUIRED),
        )
        for section, kind, allowed, required in shapes:
            for index, item in enumerate(self.entries(found, section, required=False)):
                entry = self.entry(item, index, kind, allowed, required)
                if entry is not None:
                    self.overlay.entries.append(entry)

    def entry(
        self, node: Node, index: int, kind: str, allowed: Sequence[str], required: Sequence[str]
    ) -> EntryText | None:
        mapping = self.mapping(node, f"{kind}[{index}]")
        if mapping is None:
            return None
        position = f"{kind} #{index + 1}"
        found = self.fields(mapping, allowed=allowed, required=required, label=position)
        entry_id = self.optional_text_field(found, "id", position)
        if entry_id is None:
            return None
        label = f"{kind} '{entry_id}'"
        single: dict[str, Line] = {}
        lists: dict[str, tuple[Line, ...]] = {}
        for name, value in found.items():
            if name in ("id", "keywords", "examples"):
                continue
            if name in ("steps", "client_tips"):
                lists[name] = self.inner_texts(value, name, label)
            elif name in LIST_FIELDS:
                items = self.texts(value, name, label, required=True)
                lists[name] = tuple(Line(text=t, line=n) for t, n in items)
            else:
                text = self.text(value, name, label)
                if text is not None:
                    single[name] = Line(text=text, line=_line(value))
        keywords = self.list_field(found, "keywords", label)
        examples = self.list_field(found, "examples", label, required=True)
        return EntryText(
            kind=kind,
            id=entry_id,
            line=_line(mapping),
            single=single,
            lists=lists,
            keywords=tuple(t for t, _ in keywords),
            examples=tuple(Line(text=t, line=n) for t, n in examples),
        )

    def inner_texts(self, node: Node, name: str, label: str) -> tuple[Line, ...]:
        """Each step's ``text`` or client tip's ``tip``: the rest stays the English entry's."""
        key = "text" if name == "steps" else "tip"
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"{name} must be a list, not {_describe(node)}", label)
            return ()
        out: list[Line] = []
        for index, item in enumerate(node.value):
            where = f"{name}[{index}]" if name != "steps" else f"step {index + 1}"
            mapping = self.mapping(item, where, label)
            if mapping is None:
                continue
            found = self.fields(mapping, allowed=(key,), required=(key,), label=label, where=where)
            text = self.text(found[key], where, label) if key in found else None
            if text is not None:
                out.append(Line(text=text, line=_line(found[key])))
        return tuple(out)


def apply_overlays(
    base: KnowledgeBase, overlays: Sequence[Overlay], *, guides: Sequence[str]
) -> tuple[KnowledgeBase, list[_Error]]:
    """The base with a translation per overlay language, and every error found on the way."""
    errors: list[_Error] = []
    facts = fidelity.facts_for(base)
    by_language: dict[str, list[Overlay]] = {}
    for overlay in overlays:
        if _check_header(overlay, base, guides, errors):
            by_language.setdefault(overlay.language, []).append(overlay)
    translations: dict[str, KnowledgeBase] = {}
    for language, files in sorted(by_language.items()):
        translated = _translate(base, language, files, facts, errors)
        if translated is not None:
            translations[language] = translated
    if errors:
        return base, errors
    return replace(base, translations=MappingProxyType(translations)), errors


def _check_header(
    overlay: Overlay, base: KnowledgeBase, guides: Sequence[str], errors: list[_Error]
) -> bool:
    def error(message: str) -> None:
        errors.append(_Error(file=overlay.filename, line=overlay.language_line, message=message))

    if not overlay.language:
        return False
    named = OVERLAY_NAME.fullmatch(overlay.filename.replace("\\", "/").rsplit("/", 1)[-1])
    if not LANGUAGE_CODE.fullmatch(overlay.language):
        error(f"language '{overlay.language}' must be a lowercase code such as 'zh'")
        return False
    if overlay.language == base.language:
        error(f"language '{overlay.language}' is the language of the source itself")
        return False
    if named is not None and named["lang"] != overlay.language:
        error(f"language '{overlay.language}' does not match the file name's '{named['lang']}'")
        return False
    if overlay.guide and overlay.guide not in guides:
        error(f"guide '{overlay.guide}' is not a loaded guide ({', '.join(guides) or 'none'})")
        return False
    return True


def _translate(
    base: KnowledgeBase,
    language: str,
    files: list[Overlay],
    facts: fidelity.Facts,
    errors: list[_Error],
) -> KnowledgeBase | None:
    before = len(errors)
    seen: dict[tuple[str, str], tuple[EntryText, str]] = {}
    for overlay in files:
        for entry in overlay.entries:
            key = (entry.kind, entry.id)
            if key in seen:
                first, where = seen[key]
                errors.append(
                    _err(overlay, entry.line, f"{entry.label}: already translated at {where}")
                )
                continue
            seen[key] = (entry, f"{overlay.filename}:{entry.line}")
    file_of = {key: where.rsplit(":", 1)[0] for key, (_, where) in seen.items()}

    def source(kind: str, entry_id: str) -> Problem | Faq | OutOfScope | None:
        if kind == "problem":
            return base.problem(entry_id)
        if kind == "faq":
            return base.faq(entry_id)
        return next((g for g in base.out_of_scope if g.id == entry_id), None)

    for (kind, entry_id), (entry, _) in seen.items():
        if source(kind, entry_id) is None:
            message = f"{entry.label}: there is no {kind} '{entry_id}' in the source"
            errors.append(_Error(file=file_of[(kind, entry_id)], line=entry.line, message=message))
    first = files[0]
    sources: list[tuple[str, Problem | Faq | OutOfScope]] = [
        *(("problem", p) for p in base.problems),
        *(("faq", f) for f in base.faqs),
        *(("out_of_scope", g) for g in base.out_of_scope),
    ]
    problems: list[Problem] = []
    faqs: list[Faq] = []
    groups: list[OutOfScope] = []
    example_owner: dict[str, tuple[str, str]] = {}
    for kind, item in sources:
        found = seen.get((kind, item.id))
        if found is None:
            message = f"{kind} '{item.id}' has no '{language}' translation"
            errors.append(_Error(file=first.filename, line=first.language_line, message=message))
            continue
        entry = found[0]
        filename = file_of[(kind, item.id)]
        check = _Checker(filename=filename, entry=entry, facts=facts, errors=errors)
        for example in entry.examples:
            key = " ".join(example.text.casefold().split())
            owner = example_owner.setdefault(key, (entry.label, f"{filename}:{example.line}"))
            if owner[0] != entry.label:
                message = (
                    f'{entry.label}: example "{example.text}" also appears under '
                    f"{owner[0]} at {owner[1]}"
                )
                errors.append(_Error(file=filename, line=example.line, message=message))
        if isinstance(item, Problem):
            problems.append(check.problem(item))
        elif isinstance(item, Faq):
            faqs.append(check.faq(item))
        else:
            groups.append(check.group(item))
    if len(errors) > before:
        return None
    return KnowledgeBase(
        problems=tuple(problems),
        faqs=tuple(faqs),
        out_of_scope=tuple(groups),
        language=language,
    )


def _err(overlay: Overlay, line: int, message: str) -> _Error:
    return _Error(file=overlay.filename, line=line, message=message)


@dataclass(slots=True, kw_only=True)
class _Checker:
    """Checks one translated entry against its source and builds the translated entry."""

    filename: str
    entry: EntryText
    facts: fidelity.Facts
    errors: list[_Error]

    def error(self, line: int, message: str) -> None:
        self.errors.append(
            _Error(file=self.filename, line=line, message=f"{self.entry.label}: {message}")
        )

    def single(self, name: str, source: str | None) -> str:
        """A translated text field, checked for presence and facts; the source if absent."""
        line = self.entry.single.get(name)
        if source is None:
            if line is not None:
                self.error(line.line, f"{name} is translated but the source has none")
            return ""
        if line is None:
            self.error(self.entry.line, f"{name} is missing (the source has one)")
            return source
        self.same_facts(name, source, line)
        return line.text

    def many(self, name: str, sources: Sequence[str]) -> tuple[str, ...]:
        """A translated list, item by item; the count must be the source's."""
        lines = self.entry.lists.get(name, ())
        if not sources and not lines:
            return ()
        if len(lines) != len(sources):
            where = lines[0].line if lines else self.entry.line
            self.error(where, f"{name} has {len(lines)} item(s), the source has {len(sources)}")
            return tuple(sources)
        for index, (source, line) in enumerate(zip(sources, lines, strict=True)):
            self.same_facts(f"{name}[{index + 1}]", source, line)
        return tuple(line.text for line in lines)

    def same_facts(self, name: str, source: str, line: Line) -> None:
        why = fidelity.compare(self.facts.of(source), self.facts.of(line.text))
        if why is not None:
            self.error(line.line, f"{name} does not carry the source's facts: {why}")

    def problem(self, source: Problem) -> Problem:
        steps = self.many("steps", [step.text for step in source.steps])
        tips = self.many("client_tips", [tip.tip for tip in source.client_tips])
        return replace(
            source,
            title=self.single("title", source.title),
            summary=self.single("summary", source.summary),
            symptoms=self.many("symptoms", source.symptoms),
            root_cause=self.single("root_cause", source.root_cause),
            steps=tuple(
                replace(step, text=text) for step, text in zip(source.steps, steps, strict=True)
            ),
            verification=self.many("verification", source.verification),
            notes=self.many("notes", source.notes),
            client_tips=tuple(
                ClientTip(client=tip.client, tip=text)
                for tip, text in zip(source.client_tips, tips, strict=True)
            ),
            keywords=(*source.keywords, *self.entry.keywords),
            examples=tuple(line.text for line in self.entry.examples),
        )

    def faq(self, source: Faq) -> Faq:
        return replace(
            source,
            question=self.single("question", source.question),
            answer=self.single("answer", source.answer),
            keywords=(*source.keywords, *self.entry.keywords),
            examples=tuple(line.text for line in self.entry.examples),
        )

    def group(self, source: OutOfScope) -> OutOfScope:
        reply = self.single("reply", source.reply)
        return replace(
            source,
            reply=reply or None,
            examples=tuple(line.text for line in self.entry.examples),
        )
