"""The misunderstood-questions inbox on the scripted week: groups, guesses, suggested edits."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.reports.inbox import (
    EditKind,
    Group,
    Source,
    build_inbox,
    format_text,
    suggestions_yaml,
    to_json,
)
from bot.reports.records import Event
from tests.reports.conftest import START


@pytest.fixture(scope="module")
def inbox(week: list[Event], matcher: Matcher, kb: KnowledgeBase) -> list[Group]:
    return build_inbox(iter(week), matcher, kb)


def by_example(inbox: list[Group], text: str) -> Group:
    return next(g for g in inbox if text in g.texts)


def test_every_source_lands_in_the_inbox_grouped_biggest_first(inbox: list[Group]) -> None:
    assert [g.count for g in inbox] == [2, 2, 1, 1, 1]
    assert sum(g.count for g in inbox) == 7
    sources = {s for g in inbox for s in g.sources}
    assert sources == {s.value for s in Source}


def test_the_same_question_from_two_sources_is_one_group(inbox: list[Group]) -> None:
    password = by_example(inbox, "how do i reset my password")

    assert password.sources == {"no match": 1, "hand-off before any walkthrough": 1}


def test_similar_wordings_are_grouped(inbox: list[Group]) -> None:
    pst = by_example(inbox, "export my mailbox to a pst file")

    assert pst.texts == (
        "export my mailbox to a pst file",
        "how to export the mailbox into a pst file",
    )


def test_a_deliberate_out_of_scope_rejection_is_told_apart_from_a_gap(inbox: list[Group]) -> None:
    password = by_example(inbox, "how do i reset my password")
    pst = by_example(inbox, "export my mailbox to a pst file")

    assert password.rejected_by == "oos-password"
    assert password.suggestion.kind is EditKind.NONE
    assert pst.rejected_by is None
    assert pst.suggestion.kind is EditKind.NEW_OUT_OF_SCOPE
    assert pst.suggestion.entry == "oos-export-mailbox-pst"


def test_a_refusal_is_not_suggested_as_an_example_of_what_was_refused(
    inbox: list[Group],
) -> None:
    refused = by_example(inbox, "my outlook")

    assert refused.sources == {"none of these": 1}
    assert refused.guess == "pop-deletion"
    assert refused.suggestion.kind is EditKind.NEW_OUT_OF_SCOPE


def test_a_thumbs_down_reason_names_the_topic_it_was_about(inbox: list[Group]) -> None:
    reason = by_example(inbox, "the menu in my outlook looked different")

    assert reason.contexts == ("pop-deletion",)
    assert reason.suggestion.kind is EditKind.NONE


def test_a_question_the_bot_nearly_got_becomes_examples_of_its_best_guess(
    matcher: Matcher, kb: KnowledgeBase
) -> None:
    events = [
        Event(kind="handoff.early", chat_id="x", detail="storage", at=START),
        Event(kind="handoff.early", chat_id="y", detail="storage!", at=START + 1),
    ]

    (group,) = build_inbox(events, matcher, kb)

    assert group.suggestion.kind is EditKind.EXAMPLES
    assert (group.suggestion.section, group.suggestion.entry) == ("faqs", "faq-mailbox-usage")


def test_suggested_edits_are_valid_yaml_in_the_knowledge_layout(inbox: list[Group]) -> None:
    text = suggestions_yaml(inbox, days=7, generated="2026-11-25")
    data = yaml.safe_load(text)

    assert data == {
        "out_of_scope": [
            {
                "id": "oos-export-mailbox-pst",
                "examples": [
                    "export my mailbox to a pst file",
                    "how to export the mailbox into a pst file",
                ],
            },
            {"id": "oos-outlook", "examples": ["my outlook"]},
            {
                "id": "oos-check-whether-mailbox",
                "examples": ["how do I check whether my mailbox is full"],
            },
        ]
    }
    assert "rejected on purpose by out-of-scope group 'oos-password'" in text


def test_an_empty_inbox_suggests_nothing(matcher: Matcher, kb: KnowledgeBase) -> None:
    text = suggestions_yaml(build_inbox([], matcher, kb), days=7, generated="now")

    assert yaml.safe_load(text) is None
    assert "empty" in text


def test_text_and_json_show_count_examples_guess_and_rejection(inbox: list[Group]) -> None:
    text = format_text(inbox, days=7)
    data = to_json(inbox, days=7)

    assert text.startswith("Inbox, last 7 days: 7 texts in 5 groups")
    assert "rejected on purpose by out-of-scope group oos-password" in text
    assert "while on: pop-deletion" in text
    assert data["texts"] == 7
    first = data["groups"][0]  # type: ignore[index]
    assert first["rejected_on_purpose_by"] == "oos-password"
    json.dumps(data)


def test_the_short_form_for_telegram_shows_only_the_top_groups(inbox: list[Group]) -> None:
    text = format_text(inbox, days=7, limit=2)

    assert "3." not in text
    assert "and 3 more groups" in text
