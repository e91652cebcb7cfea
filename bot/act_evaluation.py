"""How well typed replies are read as dialogue acts: ``alimail-bot eval --acts FILE``.

FILE is a YAML list of ``{asked, text, act}`` (plus an optional ``at`` naming what is on
screen: ``problem:N`` for step N, ``problem:check:N`` for check N), where ``asked`` is what the
bot had just asked (``Asked`` values) and ``act`` the act the reply is, or ``text`` when it is
not an act at all. Each reply is read exactly as the engine reads it there: only the acts that
mean something at that place are allowed, the names on screen become the ``{item}``
placeholder, and the step or check on screen is the context a reply may restate.

Two figures: **act accuracy** (the very act of the label) and **meaning accuracy** (the act
read makes the engine do the same as the label's would: the same row of the transition table,
e.g. "ok" read as ``thanks`` instead of ``done`` at a step still moves to the next step).
Both come with a per-act table and the confusion
table (rows: label, columns: read).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.core.acts import ACT_FLOOR, Act, ActReader
from bot.core.dialogue import (
    ACT_FLOOR_AT,
    ACT_MEANING,
    TRANSITIONS,
    Asked,
    shown_items,
    shown_text,
)
from bot.core.knowledge import KnowledgeBase
from bot.core.session import Session, State
from bot.errors import ConfigError

NOT_AN_ACT = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActCase:
    """One labelled reply."""

    asked: Asked
    text: str
    act: str
    at: str = ""
    line: int = 0


@dataclass(slots=True, kw_only=True)
class ActReport:
    """The results of one run."""

    cases: int = 0
    right: int = 0
    same_meaning: int = 0
    per_act: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    confusion: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    misses: list[tuple[ActCase, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of replies read as exactly the labelled act."""
        return self.right / self.cases if self.cases else 0.0

    @property
    def meaning_accuracy(self) -> float:
        """Share of replies whose reading leads to the labelled act's action."""
        return self.same_meaning / self.cases if self.cases else 0.0


def load_act_cases(path: Path) -> list[ActCase]:
    """Read a labelled file; raise ConfigError naming the file and line of a bad entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if node is None or not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{path}:1: expected a list of {{asked, text, act}}")
    labels = {a.value for a in Act} | {NOT_AN_ACT}
    cases = []
    for item in node.value:
        line = item.start_mark.line + 1
        data = yaml.safe_load(yaml.serialize(item)) if isinstance(item, yaml.Node) else None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}:{line}: expected a mapping with asked, text, act")
        try:
            asked = Asked(str(data.get("asked")))
        except ValueError as err:
            raise ConfigError(f"{path}:{line}: unknown asked {data.get('asked')!r}") from err
        act = str(data.get("act"))
        if act not in labels or not isinstance(data.get("text"), str):
            raise ConfigError(f"{path}:{line}: needs text and an act out of {sorted(labels)}")
        cases.append(
            ActCase(asked=asked, text=data["text"], act=act, at=str(data.get("at", "")), line=line)
        )
    return cases


def evaluate_acts(reader: ActReader, kb: KnowledgeBase, cases: list[ActCase]) -> ActReport:
    """Read every case where it was typed and compare with its label."""
    report = ActReport()
    for case in cases:
        meanings = ACT_MEANING[case.asked]
        items, context = _on_screen(kb, case.at)
        reading = reader.read(
            case.text,
            allowed=frozenset(meanings),
            items=items,
            context=context,
            floor=ACT_FLOOR_AT.get(case.asked, ACT_FLOOR),
        )
        got = reading.act.value if reading.act is not None else NOT_AN_ACT
        report.cases += 1
        report.per_act[case.act]["n"] += 1
        report.confusion[case.act][got] += 1
        if got == case.act:
            report.right += 1
            report.per_act[case.act]["right"] += 1
        if _meaning(case.asked, got) == _meaning(case.asked, case.act):
            report.same_meaning += 1
        else:
            report.misses.append((case, got))
    return report


def format_act_report(report: ActReport, *, errors: bool = False) -> str:
    """The human-readable report: figures, per act, confusion, and the misses if asked."""
    lines = [
        f"replies: {report.cases}",
        f"act accuracy      {report.accuracy:.3f}",
        f"meaning accuracy  {report.meaning_accuracy:.3f}",
        "",
        "per act          n   right",
    ]
    for act in sorted(report.per_act):
        c = report.per_act[act]
        lines.append(f"  {act:<12} {c['n']:>4}   {c['right'] / c['n']:.2f}")
    columns = sorted({got for row in report.confusion.values() for got in row})
    lines += ["", "confusion (rows: label, columns: read)"]
    lines.append(" " * 14 + "".join(f"{c[:7]:>8}" for c in columns))
    for act in sorted(report.confusion):
        row = report.confusion[act]
        lines.append(f"  {act:<12}" + "".join(f"{row.get(c, 0) or '.':>8}" for c in columns))
    if errors:
        lines += ["", "misses (different meaning):"]
        lines.extend(
            f"  line {case.line}: [{case.asked.value}] {case.text!r}: {case.act} -> {got}"
            for case, got in report.misses
        )
    return "\n".join(lines)


# The state the engine is in when it has asked each thing.
_STATE: dict[Asked, State] = {
    Asked.NOTHING: State.IDLE,
    Asked.FAQ: State.IDLE,
    Asked.RESUME: State.IDLE,
    Asked.RATING: State.IDLE,
    Asked.REASON: State.IDLE,
    Asked.CHOICES: State.CLARIFY,
    Asked.STEP: State.GUIDE,
    Asked.SWITCH_STEP: State.GUIDE,
    Asked.CHECK: State.VERIFY,
    Asked.LAST_CHECK: State.VERIFY,
    Asked.SWITCH_CHECK: State.VERIFY,
    Asked.HANDOFF: State.HANDOFF,
}


def _meaning(asked: Asked, label: str) -> object:
    """What the engine does with a reading there: the handler of its table row."""
    if label == NOT_AN_ACT:
        return NOT_AN_ACT
    action = ACT_MEANING[asked].get(Act(label))
    if action is None:
        return NOT_AN_ACT
    rule = TRANSITIONS.get((_STATE[asked], action))
    return rule.handler if rule is not None else action


def _on_screen(kb: KnowledgeBase, at: str) -> tuple[tuple[str, ...], str]:
    """The names and text on screen at ``problem:N`` (step N) or ``problem:check:N``."""
    if not at:
        return (), ""
    parts = at.split(":")
    state = State.VERIFY if len(parts) == 3 and parts[1] == "check" else State.GUIDE
    topic, number = parts[0], parts[-1]
    if kb.problem(topic) is None or not number.isdigit() or len(parts) not in (2, 3):
        raise ConfigError(f"unknown place {at!r}: expected problem:N or problem:check:N")
    session = Session(chat_id="eval", state=state, topic=topic, step=int(number) - 1)
    return shown_items(kb, session), shown_text(kb, session)
