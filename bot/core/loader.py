"""Load ``knowledge/*.yaml`` into the frozen model, reporting every error with file and line.

PyYAML only composes nodes (``SafeLoader``); this module walks the node tree itself, so duplicate
keys and YAML 1.1 scalars that are not text (``552``, ``no``, ``0123``) become errors that point at
their line. Every error is collected before one ``KnowledgeError`` is raised: nothing half-loads.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.acts import ITEM, Act
from bot.core.callback import card_fits, fits
from bot.core.knowledge import (
    ActExamples,
    ClientTip,
    DialogueData,
    Faq,
    KnowledgeBase,
    OutOfScope,
    Problem,
    Source,
    Step,
)
from bot.core.replies import Action
from bot.core.text import CODE_TOKEN
from bot.errors import KnowledgeError

_STR_TAG: Final = "tag:yaml.org,2002:str"
_NULL_TAG: Final = "tag:yaml.org,2002:null"
_TAG_NAMES: Final = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "binary data",
    "tag:yaml.org,2002:merge": "a merge key",
}
_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]*")
_SEVERITIES: Final = ("high", "medium", "low")
_SUFFIXES: Final = (".yaml", ".yml")

_TOP_FIELDS: Final = ("guide", "title", "problems", "faqs", "out_of_scope")
_TOP_REQUIRED: Final = ("guide", "title", "problems", "faqs")
_PROBLEM_FIELDS: Final = (
    "id",
    "title",
    "severity",
    "summary",
    "symptoms",
    "error_messages",
    "error_codes",
    "root_cause",
    "steps",
    "verification",
    "notes",
    "related",
    "client_tips",
    "keywords",
    "examples",
)
_PROBLEM_REQUIRED: Final = (
    "id",
    "title",
    "severity",
    "summary",
    "symptoms",
    "root_cause",
    "steps",
    "verification",
    "examples",
)
_STEP_FIELDS: Final = ("text", "navigation", "form_field", "options")
_CLIENT_TIP_FIELDS: Final = ("client", "tip")
_FAQ_FIELDS: Final = ("id", "question", "answer", "problem", "see_also", "keywords", "examples")
_FAQ_REQUIRED: Final = ("id", "question", "answer", "examples")
_OUT_OF_SCOPE_FIELDS: Final = ("id", "reply", "examples")
_OUT_OF_SCOPE_REQUIRED: Final = ("id", "examples")
# A dialogue file (knowledge/dialogue*.yaml) is told apart by its top-level `acts`.
_DIALOGUE_FIELDS: Final = ("language", "acts", "ordinals", "upset")
# dialogue.yaml and its other languages (dialogue.zh.yaml) are not guide translations.
_DIALOGUE_NAME: Final = re.compile(r"dialogue(?:\.[a-z]{2,3}(?:-[a-z0-9]{2,8})?)?\.ya?ml")
_DIALOGUE_REQUIRED: Final = ("language", "acts")
_ACT_FIELDS: Final = ("id", "meaning", "examples")
_LANGUAGE_PATTERN: Final = re.compile(r"[a-z]{2,3}(?:-[A-Za-z]{2,4})?")
_PLACEHOLDER: Final = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Error:
    """One validation message; sorted by file and line before it is shown."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Mention:
    """An id, guide name or example seen in an entry, kept for the cross-file checks."""

    text: str
    label: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reference:
    """A problem id named by ``related``, a FAQ's ``problem`` or its ``see_also``."""

    field: str
    target: str
    owner: str | None
    label: str
    file: str
    line: int


@dataclass(slots=True, kw_only=True)
class _Parsed:
    """What one or more files yielded: built entries, errors, and facts for cross-checks."""

    problems: list[Problem] = field(default_factory=list)
    faqs: list[Faq] = field(default_factory=list)
    out_of_scope: list[OutOfScope] = field(default_factory=list)
    errors: list[_Error] = field(default_factory=list)
    guides: list[_Mention] = field(default_factory=list)
    ids: list[tuple[str, _Mention]] = field(default_factory=list)
    examples: list[_Mention] = field(default_factory=list)
    references: list[_Reference] = field(default_factory=list)
    acts: list[ActExamples] = field(default_factory=list)
    act_examples: list[_Mention] = field(default_factory=list)
    ordinals: list[tuple[str, int]] = field(default_factory=list)
    upset: list[str] = field(default_factory=list)
    dialogue_files: list[str] = field(default_factory=list)

    def extend(self, other: _Parsed) -> None:
        self.problems.extend(other.problems)
        self.faqs.extend(other.faqs)
        self.out_of_scope.extend(other.out_of_scope)
        self.errors.extend(other.errors)
        self.guides.extend(other.guides)
        self.ids.extend(other.ids)
        self.examples.extend(other.examples)
        self.references.extend(other.references)
        self.acts.extend(other.acts)
        self.act_examples.extend(other.act_examples)
        self.ordinals.extend(other.ordinals)
        self.upset.extend(other.upset)
        self.dialogue_files.extend(other.dialogue_files)


def parse_knowledge(text: str, *, filename: str) -> KnowledgeBase:
    """Parse one knowledge file's text (no I/O) and raise KnowledgeError listing every error."""
    parsed = _parse_file(text, filename=filename)
    _cross_check(parsed)
    return _finish(parsed, files=[filename])


def load_knowledge(directory: Path) -> KnowledgeBase:
    """Load and validate every ``*.yaml``/``*.yml`` file in ``directory`` into one base.

    Files named ``<guide>.<lang>.yaml`` are translations (``bot.core.translations``), applied
    to the base once it is valid; a dialogue file keeps its own schema whatever its name.
    """
    from bot.core import translations  # imports this module: a top-level import would cycle

    paths = _knowledge_files(directory)
    parsed = _Parsed()
    walkers: list[translations.OverlayWalker] = []
    for path in paths:
        walker = None
        if translations.OVERLAY_NAME.fullmatch(path.name) and not _DIALOGUE_NAME.fullmatch(
            path.name
        ):
            walker = translations.OverlayWalker(str(path))
        result = _read_and_parse(path, walker=walker)
        if walker is not None and walker.is_overlay:
            parsed.errors.extend(result.errors)
            walkers.append(walker)
        else:
            parsed.extend(result)
    _cross_check(parsed)
    files = [str(path) for path in paths]
    kb = _finish(parsed, files=files)
    kb, errors = translations.apply_overlays(
        kb, [w.overlay for w in walkers], guides=[g.text for g in parsed.guides]
    )
    if errors:
        raise KnowledgeError([str(err) for err in _sorted(errors, files)])
    return kb


def validate_knowledge(directory: Path) -> list[str]:
    """Return every error message for the knowledge in ``directory`` (empty when valid)."""
    try:
        load_knowledge(directory)
    except KnowledgeError as err:
        return err.problems
    return []


def _knowledge_files(directory: Path) -> list[Path]:
    """The knowledge files in a directory, sorted; hidden files (editor leftovers) are skipped."""
    if not directory.exists():
        raise KnowledgeError([f"{directory}: knowledge directory does not exist"])
    if not directory.is_dir():
        raise KnowledgeError([f"{directory}: not a directory"])
    try:
        paths = sorted(
            path
            for path in directory.iterdir()
            if path.suffix in _SUFFIXES and not path.name.startswith(".") and path.is_file()
        )
    except OSError as err:
        raise KnowledgeError([f"{directory}: cannot list directory ({err.strerror})"]) from err
    if not paths:
        raise KnowledgeError([f"{directory}: no knowledge files (*.yaml, *.yml)"])
    return paths


def _read_and_parse(path: Path, *, walker: _Walker | None = None) -> _Parsed:
    """Read one file as UTF-8 and parse it; an unreadable file becomes an error, not a crash."""
    filename = str(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        return _Parsed(
            errors=[_Error(file=filename, line=1, message=f"cannot read ({err.strerror})")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        message = (
            f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}: {err.reason})"
        )
        return _Parsed(errors=[_Error(file=filename, line=line, message=message)])
    return _parse_file(text, filename=filename, walker=walker)


def _sorted(errors: list[_Error], files: Sequence[str]) -> list[_Error]:
    """Errors in file order (as listed), then by line."""
    rank = {name: index for index, name in enumerate(files)}
    return sorted(errors, key=lambda err: (rank.get(err.file, len(rank)), err.line))


def _finish(parsed: _Parsed, *, files: Sequence[str]) -> KnowledgeBase:
    """Raise every collected error at once, sorted by file and line, or return the base."""
    if parsed.errors:
        raise KnowledgeError([str(err) for err in _sorted(parsed.errors, files)])
    return KnowledgeBase(
        problems=tuple(parsed.problems),
        faqs=tuple(parsed.faqs),
        out_of_scope=tuple(parsed.out_of_scope),
        dialogue=DialogueData(
            acts=tuple(parsed.acts),
            ordinals=tuple(parsed.ordinals),
            upset=tuple(parsed.upset),
        ),
    )


def _parse_file(text: str, *, filename: str, walker: _Walker | None = None) -> _Parsed:
    """Compose one file's YAML and walk it; cross-file checks are left to the caller."""
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as err:
        line, message = _yaml_error(err, text)
        return _Parsed(errors=[_Error(file=filename, line=line, message=message)])
    walker = walker or _Walker(filename)
    if not documents:
        walker.error(1, "file is empty; expected a mapping with guide, title, problems and faqs")
    else:
        walker.document(documents[0])
        for extra in documents[1:]:
            walker.error(_line(extra), "a second YAML document starts here; use one per file")
    return walker.parsed


def _yaml_error(err: yaml.YAMLError, text: str) -> tuple[int, str]:
    """The line and message for a YAML syntax error."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        line = err.problem_mark.line + 1
        message = f"invalid YAML: {err.problem or 'syntax error'}"
        if err.context:
            context_mark = err.context_mark
            if context_mark is not None and context_mark.line + 1 != line:
                message += f" ({err.context} at line {context_mark.line + 1})"
            else:
                message += f" ({err.context})"
        return line, message
    if isinstance(err, yaml.reader.ReaderError):
        line = text[: err.position].count("\n") + 1
        return line, f"invalid YAML: character U+{err.character:04X} is not allowed"
    return 1, f"invalid YAML: {err}"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _describe(node: Node) -> str:
    """What a node is, in words, for "must be X, not Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _STR_TAG:
        return "text"
    if node.tag == _NULL_TAG:
        return "null"
    return _TAG_NAMES.get(node.tag, f"tagged {node.tag}")


def _not_text(node: ScalarNode) -> str:
    """Why a scalar is not text, with the quoted form to write instead."""
    if node.tag == _NULL_TAG:
        if not node.value:
            return "null (no value given)"
        return f"null ({node.value}); quote it: {_quoted(node.value)}"
    if node.tag in _TAG_NAMES:
        return f"{_TAG_NAMES[node.tag]} ({node.value}); quote it: {_quoted(node.value)}"
    return f"tagged {node.tag}; expected plain text"


def _suggestion(name: str, allowed: Sequence[str]) -> str:
    matches = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _label(kind: str, node: Node, index: int) -> str:
    """How messages name an entry: by its id when it has a usable one, else by position."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.value == "id"
                and isinstance(value_node, ScalarNode)
                and value_node.tag == _STR_TAG
                and value_node.value.strip()
            ):
                return f"{kind} '{value_node.value.strip()}'"
    return f"{kind} #{index + 1}"


def _id_fits_buttons(entry_id: str) -> bool:
    """True when every button that carries this id fits Telegram's 64 bytes at any version."""
    carried = [fits(a, entry_id) for a in (Action.CHOOSE, Action.SWITCH, Action.WALK)]
    return all(carried) and fits(Action.RATE, f"down:{entry_id}") and card_fits(entry_id)


def _normalized(example: str) -> str:
    return " ".join(example.casefold().split())


class _Walker:
    """Walks one document's node tree against the schema, collecting errors and facts."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.parsed = _Parsed()

    def error(self, line: int, message: str, label: str = "") -> None:
        prefix = f"{label}: " if label else ""
        self.parsed.errors.append(_Error(file=self.filename, line=line, message=prefix + message))

    def mention(self, text: str, label: str, line: int) -> _Mention:
        return _Mention(text=text, label=label, file=self.filename, line=line)

    # -- generic shapes ---------------------------------------------------------------------

    def mapping(self, node: Node, what: str, label: str = "") -> MappingNode | None:
        if isinstance(node, MappingNode):
            return node
        self.error(_line(node), f"{what} must be a mapping, not {_describe(node)}", label)
        return None

    def fields(
        self,
        node: MappingNode,
        *,
        allowed: Sequence[str],
        required: Sequence[str],
        label: str = "",
        where: str = "",
    ) -> dict[str, Node]:
        """The known fields of a mapping; reports duplicate keys, unknown and missing fields."""
        prefix = f"{where}: " if where else ""
        found: dict[str, Node] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = _line(key_node)
            if not isinstance(key_node, ScalarNode):
                message = f"{prefix}a key must be a plain name, not {_describe(key_node)}"
                self.error(line, message, label)
                continue
            name = key_node.value
            if name in first_line:
                message = f"{prefix}duplicate key '{name}' (first at line {first_line[name]})"
                self.error(line, message, label)
                continue
            first_line[name] = line
            if name not in allowed:
                message = f"{prefix}unknown field '{name}'{_suggestion(name, allowed)}"
                self.error(line, message, label)
                continue
            found[name] = value_node
        for name in required:
            if name not in found:
                self.error(_line(node), f"{prefix}missing required field '{name}'", label)
        return found

    def text(self, node: Node, what: str, label: str = "") -> str | None:
        """A non-blank string scalar, stripped; anything else is reported."""
        if not isinstance(node, ScalarNode):
            self.error(_line(node), f"{what} must be text, not {_describe(node)}", label)
            return None
        if node.tag != _STR_TAG:
            self.error(_line(node), f"{what} is {_not_text(node)}", label)
            return None
        value = node.value.strip()
        if not value:
            self.error(_line(node), f"{what} is empty", label)
            return None
        return value

    def texts(
        self, node: Node, what: str, label: str = "", *, required: bool
    ) -> list[tuple[str, int]]:
        """The valid items of a list of strings, each with its line."""
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"{what} must be a list, not {_describe(node)}", label)
            return []
        if required and not node.value:
            self.error(_line(node), f"{what} is empty", label)
        items: list[tuple[str, int]] = []
        for index, item in enumerate(node.value):
            value = self.text(item, f"{what}[{index}]", label)
            if value is not None:
                items.append((value, _line(item)))
        return items

    # -- field helpers (absent fields were already reported by `fields`) ----------------------

    def text_field(self, found: dict[str, Node], name: str, label: str, *, where: str = "") -> str:
        return self.optional_text_field(found, name, label, where=where) or ""

    def optional_text_field(
        self, found: dict[str, Node], name: str, label: str, *, where: str = ""
    ) -> str | None:
        node = found.get(name)
        if node is None:
            return None
        return self.text(node, f"{where} {name}" if where else name, label)

    def list_field(
        self,
        found: dict[str, Node],
        name: str,
        label: str,
        *,
        required: bool = False,
        where: str = "",
    ) -> list[tuple[str, int]]:
        node = found.get(name)
        if node is None:
            return []
        return self.texts(node, f"{where} {name}" if where else name, label, required=required)

    def entry_id(self, found: dict[str, Node], kind: str, label: str) -> str | None:
        """Check an entry's id and remember it for the duplicate-id check."""
        node = found.get("id")
        if node is None:
            return None
        entry_id = self.text(node, "id", label)
        if entry_id is None:
            return None
        if not _ID_PATTERN.fullmatch(entry_id):
            message = f"id '{entry_id}' must be lowercase letters, digits and hyphens"
            self.error(_line(node), message, label)
        elif kind in ("problem", "faq") and not _id_fits_buttons(entry_id):
            message = (
                f"id '{entry_id}' is too long for a button's 64-byte callback data "
                "(walkthrough, switch, rating and case-card buttons carry it)"
            )
            self.error(_line(node), message, label)
        self.parsed.ids.append((kind, self.mention(entry_id, label, _line(node))))
        return entry_id

    def examples(self, found: dict[str, Node], label: str) -> tuple[str, ...]:
        items = self.list_field(found, "examples", label, required=True)
        self.parsed.examples.extend(self.mention(text, label, line) for text, line in items)
        return tuple(text for text, _ in items)

    def reference(
        self, field_name: str, target: str, line: int, owner: str | None, label: str
    ) -> None:
        self.parsed.references.append(
            _Reference(
                field=field_name,
                target=target,
                owner=owner,
                label=label,
                file=self.filename,
                line=line,
            )
        )

    def entries(self, found: dict[str, Node], name: str, *, required: bool) -> list[Node]:
        node = found.get(name)
        if node is None:
            return []
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"{name} must be a list, not {_describe(node)}")
            return []
        if required and not node.value:
            self.error(_line(node), f"{name} is empty")
        return list(node.value)

    # -- the schema ---------------------------------------------------------------------------

    def document(self, node: Node) -> None:
        top = self.mapping(node, "the top level")
        if top is None:
            return
        if any(isinstance(k, ScalarNode) and k.value == "acts" for k, _ in top.value):
            self.dialogue(top)
            return
        found = self.fields(top, allowed=_TOP_FIELDS, required=_TOP_REQUIRED)
        guide = self.optional_text_field(found, "guide", "")
        if guide is not None:
            self.parsed.guides.append(self.mention(guide, "", _line(found["guide"])))
        self.optional_text_field(found, "title", "")
        for index, item in enumerate(self.entries(found, "problems", required=True)):
            self.problem(item, index)
        for index, item in enumerate(self.entries(found, "faqs", required=True)):
            self.faq(item, index)
        for index, item in enumerate(self.entries(found, "out_of_scope", required=False)):
            self.out_of_scope(item, index)

    def problem(self, node: Node, index: int) -> None:
        mapping = self.mapping(node, f"problems[{index}]")
        if mapping is None:
            return
        label = _label("problem", mapping, index)
        before = len(self.parsed.errors)
        found = self.fields(
            mapping, allowed=_PROBLEM_FIELDS, required=_PROBLEM_REQUIRED, label=label
        )
        problem_id = self.entry_id(found, "problem", label)
        title = self.text_field(found, "title", label)
        severity = self.text_field(found, "severity", label)
        if severity and severity not in _SEVERITIES:
            message = f"severity '{severity}' must be one of {', '.join(_SEVERITIES)}"
            self.error(_line(found["severity"]), message, label)
        summary = self.text_field(found, "summary", label)
        symptoms = self.list_field(found, "symptoms", label, required=True)
        error_messages = self.list_field(found, "error_messages", label)
        error_codes = self.list_field(found, "error_codes", label)
        for code, line in error_codes:
            if not CODE_TOKEN.fullmatch(code):
                message = (
                    f"error code {_quoted(code)} can never be matched exactly: a code is one "
                    "word (letters, digits, inner dots); put it under error_messages instead"
                )
                self.error(line, message, label)
        root_cause = self.text_field(found, "root_cause", label)
        steps = self.steps(found.get("steps"), label)
        verification = self.list_field(found, "verification", label, required=True)
        notes = self.list_field(found, "notes", label)
        related = self.list_field(found, "related", label)
        for target, line in related:
            self.reference("related", target, line, problem_id, label)
        client_tips = self.client_tips(found.get("client_tips"), label)
        keywords = self.list_field(found, "keywords", label)
        examples = self.examples(found, label)
        if len(self.parsed.errors) > before or problem_id is None:
            return
        self.parsed.problems.append(
            Problem(
                id=problem_id,
                title=title,
                severity=severity,
                summary=summary,
                symptoms=tuple(text for text, _ in symptoms),
                error_messages=tuple(text for text, _ in error_messages),
                error_codes=tuple(text for text, _ in error_codes),
                root_cause=root_cause,
                steps=steps,
                verification=tuple(text for text, _ in verification),
                examples=examples,
                keywords=tuple(text for text, _ in keywords),
                client_tips=client_tips,
                notes=tuple(text for text, _ in notes),
                related=tuple(text for text, _ in related),
                source=Source(file=self.filename, line=_line(mapping)),
            )
        )

    def steps(self, node: Node | None, label: str) -> tuple[Step, ...]:
        if node is None:
            return ()
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"steps must be a list, not {_describe(node)}", label)
            return ()
        if not node.value:
            self.error(_line(node), "steps is empty", label)
        steps: list[Step] = []
        for index, item in enumerate(node.value):
            where = f"step {index + 1}"
            if not isinstance(item, MappingNode):
                message = f"{where} must be a mapping with 'text', not {_describe(item)}"
                self.error(_line(item), message, label)
                continue
            found = self.fields(
                item, allowed=_STEP_FIELDS, required=("text",), label=label, where=where
            )
            text = self.text(found["text"], where, label) if "text" in found else None
            options = self.list_field(found, "options", label, where=where)
            step = Step(
                text=text or "",
                navigation=self.optional_text_field(found, "navigation", label, where=where),
                form_field=self.optional_text_field(found, "form_field", label, where=where),
                options=tuple(option for option, _ in options),
            )
            steps.append(step)
        return tuple(steps)

    def client_tips(self, node: Node | None, label: str) -> tuple[ClientTip, ...]:
        if node is None:
            return ()
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"client_tips must be a list, not {_describe(node)}", label)
            return ()
        tips: list[ClientTip] = []
        for index, item in enumerate(node.value):
            where = f"client_tips[{index}]"
            mapping = self.mapping(item, where, label)
            if mapping is None:
                continue
            found = self.fields(
                mapping,
                allowed=_CLIENT_TIP_FIELDS,
                required=_CLIENT_TIP_FIELDS,
                label=label,
                where=where,
            )
            client = self.text_field(found, "client", label, where=where)
            if client and not fits(Action.CLIENT, client):
                self.error(
                    _line(mapping),
                    f"{where}: client name is too long for a button's callback data",
                    label,
                )
            tip = self.text_field(found, "tip", label, where=where)
            tips.append(ClientTip(client=client, tip=tip))
        return tuple(tips)

    def faq(self, node: Node, index: int) -> None:
        mapping = self.mapping(node, f"faqs[{index}]")
        if mapping is None:
            return
        label = _label("faq", mapping, index)
        before = len(self.parsed.errors)
        found = self.fields(mapping, allowed=_FAQ_FIELDS, required=_FAQ_REQUIRED, label=label)
        faq_id = self.entry_id(found, "faq", label)
        question = self.text_field(found, "question", label)
        answer = self.text_field(found, "answer", label)
        problem = self.optional_text_field(found, "problem", label)
        if problem is not None:
            self.reference("problem", problem, _line(found["problem"]), None, label)
        see_also = self.list_field(found, "see_also", label)
        for target, line in see_also:
            self.reference("see_also", target, line, None, label)
        keywords = self.list_field(found, "keywords", label)
        examples = self.examples(found, label)
        if len(self.parsed.errors) > before or faq_id is None:
            return
        self.parsed.faqs.append(
            Faq(
                id=faq_id,
                question=question,
                answer=answer,
                examples=examples,
                problem=problem,
                see_also=tuple(text for text, _ in see_also),
                keywords=tuple(text for text, _ in keywords),
                source=Source(file=self.filename, line=_line(mapping)),
            )
        )

    def out_of_scope(self, node: Node, index: int) -> None:
        mapping = self.mapping(node, f"out_of_scope[{index}]")
        if mapping is None:
            return
        label = _label("out_of_scope", mapping, index)
        before = len(self.parsed.errors)
        found = self.fields(
            mapping, allowed=_OUT_OF_SCOPE_FIELDS, required=_OUT_OF_SCOPE_REQUIRED, label=label
        )
        entry_id = self.entry_id(found, "out_of_scope", label)
        reply = self.optional_text_field(found, "reply", label)
        examples = self.examples(found, label)
        if len(self.parsed.errors) > before or entry_id is None:
            return
        self.parsed.out_of_scope.append(
            OutOfScope(
                id=entry_id,
                reply=reply,
                examples=examples,
                source=Source(file=self.filename, line=_line(mapping)),
            )
        )

    # -- dialogue files: what people say inside a conversation ---------------------------------

    def dialogue(self, top: MappingNode) -> None:
        """A dialogue file: a language and, per act id, examples (an overlay adds a language)."""
        self.parsed.dialogue_files.append(self.filename)
        found = self.fields(top, allowed=_DIALOGUE_FIELDS, required=_DIALOGUE_REQUIRED)
        language = self.optional_text_field(found, "language", "") or ""
        if language and not _LANGUAGE_PATTERN.fullmatch(language):
            self.error(
                _line(found["language"]), f"language '{language}' is not a code like en, zh"
            )
        names = [a.value for a in Act]
        seen: dict[str, int] = {}
        for index, item in enumerate(self.entries(found, "acts", required=True)):
            mapping = self.mapping(item, f"acts[{index}]")
            if mapping is None:
                continue
            label = _label("act", mapping, index)
            act_found = self.fields(
                mapping, allowed=_ACT_FIELDS, required=("id", "examples"), label=label
            )
            act = self.optional_text_field(act_found, "id", label)
            self.optional_text_field(act_found, "meaning", label)
            if act is not None and act not in names:
                line = _line(act_found["id"])
                self.error(line, f"unknown act '{act}'{_suggestion(act, names)}", label)
                act = None
            if act is not None and act in seen:
                line = _line(act_found["id"])
                self.error(line, f"act '{act}' is already listed at line {seen[act]}", label)
                act = None
            items = self.list_field(act_found, "examples", label, required=True)
            for text, line in items:
                if any(p.group() != ITEM for p in _PLACEHOLDER.finditer(text)):
                    self.error(
                        line, f"example {_quoted(text)}: the only placeholder is {ITEM}", label
                    )
            if act is None:
                continue
            seen[act] = _line(mapping)
            self.parsed.act_examples.extend(self.mention(t, label, line) for t, line in items)
            self.parsed.acts.append(
                ActExamples(
                    act=act,
                    language=language,
                    examples=tuple(text for text, _ in items),
                    source=Source(file=self.filename, line=_line(mapping)),
                )
            )
        self.ordinals(found.get("ordinals"))
        self.parsed.upset.extend(text for text, _ in self.list_field(found, "upset", ""))

    def ordinals(self, node: Node | None) -> None:
        if node is None:
            return
        mapping = self.mapping(node, "ordinals")
        if mapping is None:
            return
        for key, value in self.fields(
            mapping, allowed=[k.value for k, _ in mapping.value], required=()
        ).items():
            if not key.isdigit():
                self.error(_line(value), f'ordinals: key {_quoted(key)} must be a number like "2"')
                continue
            for word, _ in self.texts(value, f"ordinals {key}", required=True):
                self.parsed.ordinals.append((word.casefold(), int(key)))


def _cross_check(parsed: _Parsed) -> None:
    """Checks that need every file: unique ids and guides, references, shared examples."""

    def error(mention: _Mention | _Reference, message: str) -> None:
        prefix = f"{mention.label}: " if mention.label else ""
        parsed.errors.append(
            _Error(file=mention.file, line=mention.line, message=prefix + message)
        )

    first_guide: dict[str, _Mention] = {}
    for guide in parsed.guides:
        if guide.text in first_guide:
            error(
                guide,
                f"guide '{guide.text}' is already defined at {first_guide[guide.text].where}",
            )
        else:
            first_guide[guide.text] = guide

    kinds: dict[str, str] = {}
    first_id: dict[str, _Mention] = {}
    for kind, mention in parsed.ids:
        if mention.text in first_id:
            first = first_id[mention.text]
            message = f"id '{mention.text}' is already used by {first.label} at {first.where}"
            error(mention, message)
        else:
            first_id[mention.text] = mention
            kinds[mention.text] = kind

    problem_ids = [entry_id for entry_id, kind in kinds.items() if kind == "problem"]
    for reference in parsed.references:
        what = f"{reference.field} problem '{reference.target}'"
        if reference.field == "problem":
            what = f"problem '{reference.target}'"
        kind = kinds.get(reference.target)
        if kind == "problem":
            if reference.target == reference.owner:
                error(reference, f"{reference.field} names the problem itself")
        elif kind is not None:
            entry = "a faq" if kind == "faq" else "an out_of_scope entry"
            error(reference, f"{what} is {entry}, not a problem")
        else:
            error(reference, f"{what} does not exist{_suggestion(reference.target, problem_ids)}")

    first_example: dict[str, _Mention] = {}
    for example in parsed.examples:
        key = _normalized(example.text)
        first = first_example.setdefault(key, example)
        if first.label != example.label or first.file != example.file:
            quoted = _quoted(example.text)
            error(example, f"example {quoted} also appears under {first.label} at {first.where}")

    if parsed.dialogue_files:
        first_act_example: dict[str, _Mention] = {}
        for example in parsed.act_examples:
            first = first_act_example.setdefault(_normalized(example.text), example)
            if first.label != example.label:
                quoted = _quoted(example.text)
                error(
                    example, f"example {quoted} also appears under {first.label} at {first.where}"
                )
        present = {a.act for a in parsed.acts}
        missing = [a.value for a in Act if a.value not in present]
        if missing:
            parsed.errors.append(
                _Error(
                    file=parsed.dialogue_files[0],
                    line=1,
                    message="acts with no examples in any language: " + ", ".join(missing),
                )
            )
