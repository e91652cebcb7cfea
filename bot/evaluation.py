"""Accuracy of the matcher on a labelled set: the metrics of ``alimail-bot eval``.

Definitions (DESIGN.md): *right first reply* is an in-scope question answered with the right
topic or clarified with the right topic among the choices; *correct answer* is the right topic
with no clarify; *out-of-scope rejection* is ``none`` for label ``none``; *wrong-answer rate*
is an ``answer`` with the wrong topic or an ``answer`` to an out-of-scope question, over all
questions. Topics are compared, not ids.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import (
    CLARIFY_SHARE,
    EXACT_OOS_MARGIN,
    Decision,
    Matcher,
    MatchResult,
    decide,
)
from bot.core.settings import MatchSettings
from bot.errors import ConfigError

NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One labelled question."""

    text: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the matcher did with one case."""

    case: Case
    topic: str
    result: MatchResult


@dataclass(slots=True, kw_only=True)
class Report:
    """Aggregated metrics plus the per-case outcomes behind them."""

    outcomes: list[Outcome]
    total: int = 0
    in_scope: int = 0
    out_scope: int = 0
    right_first: int = 0
    correct_answer: int = 0
    rejected: int = 0
    wrong_answers: int = 0
    clarified: int = 0
    per_topic: dict[str, Counter[str]] = field(default_factory=dict)
    confusion: dict[str, Counter[str]] = field(default_factory=dict)

    def rate(self, part: int, whole: int) -> float:
        """A ratio that is 0 for an empty whole."""
        return round(part / whole, 4) if whole else 0.0

    def metrics(self) -> dict[str, float | int]:
        """The headline figures."""
        return {
            "questions": self.total,
            "in_scope": self.in_scope,
            "out_of_scope": self.out_scope,
            "right_first_reply": self.rate(self.right_first, self.in_scope),
            "correct_answer": self.rate(self.correct_answer, self.in_scope),
            "out_of_scope_rejection": self.rate(self.rejected, self.out_scope),
            "wrong_answer_rate": self.rate(self.wrong_answers, self.total),
            "clarify_rate": self.rate(self.clarified, self.total),
        }


def load_cases(path: Path, kb: KnowledgeBase) -> list[Case]:
    """Read a YAML list of {text, label}; labels must be knowledge ids or ``none``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read eval file {path}: {err.strerror}") from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"eval file {path} is not valid YAML: {err}") from err
    if not isinstance(raw, list):
        raise ConfigError(f"eval file {path} must be a YAML list of {{text, label}}")
    known = set(kb.ids) | {NONE}
    cases = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ConfigError(f"eval file {path}: item {i} needs a text string")
        label = str(item.get("label", "")).strip()
        if label not in known:
            raise ConfigError(f"eval file {path}: item {i} has unknown label {label!r}")
        cases.append(Case(text=item["text"], label=label))
    return cases


def evaluate(
    matcher: Matcher, cases: list[Case], *, settings: MatchSettings | None = None
) -> Report:
    """Run every case through the matcher and aggregate the metrics."""
    results = [matcher.match(case.text) for case in cases]
    if settings is not None:
        results = [redecide(r, settings) for r in results]
    return aggregate(matcher.kb, cases, results)


def redecide(result: MatchResult, settings: MatchSettings) -> MatchResult:
    """The same scores decided again under other thresholds."""
    return decide(
        text=result.text,
        ranked=result.candidates,
        out_of_scope=result.out_of_scope,
        out_of_scope_score=result.out_of_scope_score,
        terms=result.terms,
        settings=settings,
    )


def aggregate(kb: KnowledgeBase, cases: list[Case], results: list[MatchResult]) -> Report:
    """Count the metrics for matched cases."""
    report = Report(outcomes=[])
    per_topic: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for case, result in zip(cases, results, strict=True):
        topic = NONE if case.label == NONE else kb.topic_of(case.label)
        report.outcomes.append(Outcome(case=case, topic=topic, result=result))
        report.total += 1
        counts = per_topic[topic]
        counts["n"] += 1
        if result.decision is Decision.CLARIFY:
            report.clarified += 1
        answered = result.best.topic if result.best else None
        predicted = answered or result.decision.value
        confusion[topic][predicted] += 1
        if topic == NONE:
            report.out_scope += 1
            if result.decision is Decision.NONE:
                report.rejected += 1
                counts["ok"] += 1
            elif answered:
                report.wrong_answers += 1
                counts["wrong"] += 1
            continue
        report.in_scope += 1
        if answered == topic:
            report.correct_answer += 1
            report.right_first += 1
            counts["ok"] += 1
            counts["answer"] += 1
        elif result.decision is Decision.CLARIFY and topic in {c.topic for c in result.choices}:
            report.right_first += 1
            counts["ok"] += 1
        elif answered:
            report.wrong_answers += 1
            counts["wrong"] += 1
    report.per_topic = dict(per_topic)
    report.confusion = dict(confusion)
    return report


def objective(report: Report) -> float:
    """What threshold advice maximises: right first replies and rejections, wrong answers x5."""
    m = report.metrics()
    return (
        float(m["right_first_reply"])
        + float(m["out_of_scope_rejection"])
        + 0.5 * float(m["correct_answer"])
        - 5 * float(m["wrong_answer_rate"])
    )


def advise(matcher: Matcher, cases: list[Case]) -> tuple[MatchSettings, Report]:
    """Search the thresholds on these cases; return the best settings and their report.

    The scores are computed once; ``decide`` is re-applied in vector form over every case and
    both floors at once, so a sweep of tens of thousands of threshold combinations takes a
    fraction of a second.
    """
    results = [matcher.match(case.text) for case in cases]
    kb = matcher.kb
    labels = [NONE if c.label == NONE else kb.topic_of(c.label) for c in cases]
    in_scope = np.array([label != NONE for label in labels])

    def score_of(result: MatchResult, index: int) -> float:
        return result.candidates[index].score if len(result.candidates) > index else 0.0

    top = np.array([score_of(r, 0) for r in results])
    second = np.array([score_of(r, 1) for r in results])
    oos = np.array([r.out_of_scope_score if r.out_of_scope else -1.0 for r in results])
    exact = np.array([bool(r.candidates) and r.candidates[0].exact for r in results])
    enough_words = np.array(
        [r.terms > 1 or (bool(r.candidates) and r.candidates[0].keyword) for r in results]
    )
    text_top = np.array([r.candidates[0].text_score if r.candidates else 0.0 for r in results])
    pairs = list(zip(results, labels, strict=True))
    top_right = np.array([bool(r.candidates) and r.candidates[0].topic == lab for r, lab in pairs])
    rank = np.array(
        [
            next((i for i, c in enumerate(r.candidates) if c.topic == label), 99)
            for r, label in pairs
        ]
    )
    label_score = np.array(
        [next((c.score for c in r.candidates if c.topic == label), -1.0) for r, label in pairs]
    )
    base = matcher.settings
    n_in, n_out, n = max(1, int(in_scope.sum())), max(1, int((~in_scope).sum())), len(cases)
    answer_floors = np.arange(0.20, 0.72, 0.02)
    # A near tie is never answered: the margin starts above zero by design.
    margins = np.arange(0.02, 0.16, 0.02)
    clarify_floors = np.arange(0.08, 0.50, 0.02)
    oos_margins = (0.0, 0.04, 0.08, 0.12, 0.16)
    oos_answer_margins = (-0.04, 0.0, 0.04, 0.08, 0.12)
    oos_weights = (0.0, 0.25, 0.5)
    # Both floors are swept at once as array axes (answer floor x clarify floor x case); the
    # four smaller axes stay a loop. objective[a, m, c, om, oa, ow] follows the grid order.
    shape = (len(answer_floors), len(margins), len(clarify_floors), len(oos_margins))
    objective = np.empty((*shape, len(oos_answer_margins), len(oos_weights)))
    a_floor = answer_floors[:, None]
    c_floor = clarify_floors[None, :, None]
    floor = np.maximum(clarify_floors[:, None] * CLARIFY_SHARE, top - base.band)
    in_choices = ((rank < base.max_choices) & (label_score >= floor))[None]
    exact_answer = exact & (oos <= text_top + EXACT_OOS_MARGIN)
    exact_clarify = exact & ~exact_answer
    # How far the best out-of-scope group leads the best topic (-1 when there is none).
    oos_lead = np.where(oos >= 0, oos - top, -1.0)
    for (m, margin), (om, oos_margin), (oa, oos_answer_margin), (
        ow,
        oos_weight,
    ) in itertools.product(
        enumerate(margins),
        enumerate(oos_margins),
        enumerate(oos_answer_margins),
        enumerate(oos_weights),
    ):
        effective = top - oos_weight * np.maximum(oos, 0.0)
        rejected_oos = ~exact & (oos_lead >= oos_margin)
        rest = ~exact & ~rejected_oos
        clear_of_oos = -oos_lead >= oos_answer_margin
        answer = exact_answer | (
            rest & enough_words & clear_of_oos & (effective >= a_floor) & (top - second >= margin)
        )
        answer3 = answer[:, None, :]
        clarify = exact_clarify | (rest & ~answer3 & (effective >= c_floor))
        right_first = in_scope & ((answer3 & top_right) | (clarify & in_choices))
        correct = in_scope & answer & top_right
        rejected = ~in_scope & ~answer3 & ~clarify
        wrong = answer & (~in_scope | ~top_right)
        objective[:, m, :, om, oa, ow] = (
            right_first.sum(axis=-1) / n_in
            + rejected.sum(axis=-1) / n_out
            + (0.5 * correct.sum(axis=-1) / n_in)[:, None]
            - (5 * wrong.sum(axis=-1) / n)[:, None]
        )
    # The first grid point that beats every earlier one by more than rounding noise wins.
    valid = (clarify_floors[None, :] <= answer_floors[:, None])[:, None, :, None, None, None]
    values = np.where(valid, objective, -np.inf).ravel().tolist()
    best_index, best_value = 0, -np.inf
    for index, value in enumerate(values):
        if value > best_value + 1e-9:
            best_index, best_value = index, value
    a, m, c, om, oa, ow = np.unravel_index(best_index, objective.shape)
    settings = replace(
        base,
        answer_floor=round(float(answer_floors[a]), 2),
        margin=round(float(margins[m]), 2),
        clarify_floor=round(float(clarify_floors[c]), 2),
        oos_margin=float(oos_margins[om]),
        oos_answer_margin=float(oos_answer_margins[oa]),
        oos_weight=float(oos_weights[ow]),
    )
    return settings, aggregate(kb, cases, [redecide(r, settings) for r in results])
