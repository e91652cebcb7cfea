"""The act evaluation sets are kept apart from the act examples: no sentence of either set is
an example in ``knowledge/dialogue*.yaml``, and they cover every place and every act."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.act_evaluation import load_act_cases
from bot.core.acts import Act
from bot.core.dialogue import Asked
from bot.core.knowledge import KnowledgeBase

DATA = Path(__file__).resolve().parents[1] / "data"
SETS = [DATA / "acts-eval.yaml", DATA / "acts-heldout.yaml"]


def normal(text: str) -> str:
    """Case and spacing folded, as the loader compares examples."""
    return " ".join(text.casefold().split())


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_no_evaluation_sentence_is_an_act_example(path: Path, kb: KnowledgeBase) -> None:
    examples = {normal(e) for entry in kb.dialogue.acts for e in entry.examples}

    shared = [c.text for c in load_act_cases(path) if normal(c.text) in examples]

    assert shared == []


def test_the_two_sets_share_no_sentence() -> None:
    dev, held = (load_act_cases(path) for path in SETS)

    assert {normal(c.text) for c in dev} & {normal(c.text) for c in held} == set()


def test_the_development_set_has_300_replies_covering_every_place_and_act() -> None:
    cases = load_act_cases(SETS[0])

    assert len(cases) >= 300
    assert {c.asked for c in cases} == set(Asked)
    assert {a.value for a in Act} <= {c.act for c in cases}
