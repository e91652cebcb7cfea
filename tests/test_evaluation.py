"""The eval metrics and the threshold advice: the vector search agrees with ``decide``."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from bot.core.matching import Matcher
from bot.evaluation import Case, advise, aggregate, load_cases, objective, redecide
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def cases(matcher: Matcher) -> list[Case]:
    return load_cases(REPO_ROOT / "tests" / "data" / "calibration.yaml", matcher.kb)


def test_metrics_follow_the_definitions_on_a_hand_made_set(matcher: Matcher) -> None:
    cases = [
        Case(text="my mailbox is full and senders get 552", label="mailbox-full"),
        Case(text="EmailNotFound", label="faq-find-missing"),
        Case(text="how do i reset my password", label="none"),
        Case(text="my mailbox is full and senders get 552", label="none"),
    ]
    report = aggregate(matcher.kb, cases, [matcher.match(c.text) for c in cases])
    metrics = report.metrics()

    assert metrics["in_scope"] == 2
    assert metrics["right_first_reply"] == 1.0  # a FAQ label counts as its problem's topic
    assert metrics["out_of_scope_rejection"] == 0.5
    assert metrics["wrong_answer_rate"] == 0.25  # an answer to an out-of-scope question


def test_the_advice_is_at_least_as_good_as_any_other_grid_point(
    matcher: Matcher, cases: list[Case]
) -> None:
    advised, advised_report = advise(matcher, cases)
    results = [matcher.match(c.text) for c in cases]
    best = objective(advised_report)

    # The advice's own report is what decide() gives with those thresholds...
    again = aggregate(matcher.kb, cases, [redecide(r, advised) for r in results])
    assert objective(again) == pytest.approx(best)
    # ...and no other point of the searched grid does better through decide() itself.
    for answer_floor, margin, clarify_floor, oos_margin, oos_weight in itertools.product(
        (0.2, 0.3, 0.4), (0.02, 0.06), (0.08, 0.16, 0.24), (-0.04, 0.0, 0.04), (0.0, 0.25, 0.5)
    ):
        if clarify_floor > answer_floor:
            continue
        other = replace(
            matcher.settings,
            answer_floor=answer_floor,
            margin=margin,
            clarify_floor=clarify_floor,
            oos_margin=oos_margin,
            oos_weight=oos_weight,
        )
        report = aggregate(matcher.kb, cases, [redecide(r, other) for r in results])
        assert objective(report) <= best + 1e-9, other
