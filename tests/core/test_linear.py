"""The learned layer: softmax regression on sparse features."""

from __future__ import annotations

import pytest

from bot.core.linear import train

ROWS = [
    {"quota": 1.0, "full": 0.5},
    {"full": 1.0, "bounce": 0.7},
    {"outlook": 1.0, "delet": 0.8},
    {"pop3": 1.0, "delet": 0.5},
    {"password": 1.0},
    {"password": 0.6, "reset": 0.8},
]
LABELS = ["mailbox-full", "mailbox-full", "pop-deletion", "pop-deletion", "none", "none"]


def test_it_learns_which_words_tell_the_classes_apart() -> None:
    model = train(ROWS, LABELS)

    assert model.classes == ("mailbox-full", "none", "pop-deletion")
    for row, label in zip(ROWS, LABELS, strict=True):
        probabilities = model.probabilities(row)
        assert max(probabilities, key=probabilities.__getitem__) == label
    assert sum(model.probabilities({"quota": 1.0}).values()) == pytest.approx(1.0)


def test_unknown_features_give_the_prior_and_training_is_deterministic() -> None:
    first, second = train(ROWS, LABELS), train(ROWS, LABELS)

    assert first.probabilities({"never-seen": 1.0}) == first.probabilities({})
    assert (first.weights == second.weights).all()
