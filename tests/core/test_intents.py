"""Free-text intents: short replies read as done/back/stuck/yes/no/cancel/human, typos included;
anything longer or unclear is left to the matcher."""

from __future__ import annotations

import pytest

from bot.core.dialogue import INTENT_MAX_WORDS, parse_intent
from bot.core.replies import Action

INTENTS = [
    # done / next / ok
    ("done", Action.DONE),
    ("Done.", Action.DONE),
    ("DONE!!", Action.DONE),
    ("next", Action.DONE),
    ("ok", Action.DONE),
    ("OK", Action.DONE),
    ("okay", Action.DONE),
    ("next step", Action.DONE),
    ("👍", Action.DONE),
    ("✅", Action.DONE),
    ("dnoe", Action.DONE),
    ("nxet", Action.DONE),
    ("donee", Action.DONE),
    # back
    ("back", Action.BACK),
    ("go back", Action.BACK),
    ("previous step", Action.BACK),
    # stuck
    ("stuck", Action.STUCK),
    ("I'm stuck", Action.STUCK),
    ("i cant find it", Action.STUCK),
    ("I can't find it", Action.STUCK),
    ("where is it?", Action.STUCK),
    ("stcuk", Action.STUCK),
    # yes
    ("yes", Action.YES),
    ("Yes!", Action.YES),
    ("yess", Action.YES),
    ("it works now", Action.YES),
    ("yes it works", Action.YES),
    ("yes it works now", Action.YES),
    ("that helped", Action.YES),
    ("fixed", Action.YES),
    # no
    ("no", Action.NO),
    ("nope", Action.NO),
    ("still broken", Action.NO),
    ("it didn't work", Action.NO),
    ("still not working", Action.NO),
    # cancel
    ("cancel", Action.CANCEL),
    ("stop", Action.CANCEL),
    ("start over", Action.CANCEL),
    ("Start Over", Action.CANCEL),
    ("never mind", Action.CANCEL),
    ("cancle", Action.CANCEL),
    # human
    ("human", Action.HUMAN),
    ("talk to a person", Action.HUMAN),
    ("speak to a human", Action.HUMAN),
    ("real person", Action.HUMAN),
    # choosing and FAQ follow-ups
    ("none of these", Action.NONE_OF_THESE),
    ("neither", Action.NONE_OF_THESE),
    ("walk me through it", Action.WALK),
    ("not my question", Action.NOT_MY_QUESTION),
]


@pytest.mark.parametrize(("text", "expected"), INTENTS, ids=[t for t, _ in INTENTS])
def test_short_replies_are_read_as_intents(text: str, expected: Action) -> None:
    assert parse_intent(text) == expected


NOT_INTENTS = [
    "",
    "   ",
    "\x00\x1b",
    "🙈",
    "my emails disappear from webmail after outlook syncs every morning",
    "I have done everything you said but the sent folder is still empty on the web",
    "ok so what happens when the mailbox reaches ten gigabytes",
    "552",
    "send",
    "sent",
    "mail",
    "step",
    "dome",
    "outlook",
    "x" * 10_000,
]


@pytest.mark.parametrize("text", NOT_INTENTS, ids=[t[:20] or repr(t) for t in NOT_INTENTS])
def test_long_sentences_empty_text_and_ordinary_words_are_not_intents(text: str) -> None:
    assert parse_intent(text) is None


def test_a_known_phrase_longer_than_the_word_limit_is_not_an_intent() -> None:
    text = " ".join(["yes"] * (INTENT_MAX_WORDS + 1))

    assert parse_intent(text) is None


def test_one_letter_away_from_a_short_phrase_is_not_that_phrase() -> None:
    # "send" is "end" plus one letter; on the "Send a test email" check it must not cancel.
    assert parse_intent("send") is None
    assert parse_intent("end") == Action.CANCEL
