"""Knowledge rendered as core markup: full guides, step details and staff case cards."""

from __future__ import annotations

import pytest

from bot.core import compose
from bot.core.knowledge import KnowledgeBase, Problem
from bot.core.matching import Decision, Matcher

PROBLEMS = ["pop-deletion", "sent-not-saved", "missing-email", "mailbox-full"]


def problem_of(kb: KnowledgeBase, problem_id: str) -> Problem:
    """The problem with this id; fails the test when the knowledge lost it."""
    problem = kb.problem(problem_id)
    assert problem is not None, problem_id
    return problem


@pytest.mark.parametrize("problem_id", PROBLEMS)
def test_the_full_guide_has_every_step_detail_and_check(
    kb: KnowledgeBase, problem_id: str
) -> None:
    problem = problem_of(kb, problem_id)

    guide = compose.full_guide(problem)

    assert problem.title in guide
    assert problem.root_cause in guide
    for step in problem.steps:
        assert step.text in guide
        if step.navigation:
            assert step.navigation in guide
        if step.form_field:
            assert step.form_field in guide
    for check in problem.verification:
        assert check in guide
    for tip in problem.client_tips:
        assert tip.tip in guide


def test_the_full_pop_guide_keeps_steps_before_checks(kb: KnowledgeBase) -> None:
    guide = compose.full_guide(problem_of(kb, "pop-deletion"))

    assert guide.index("Deletion by Receiving Software") < guide.index("Check that it worked")
    assert "Leave a copy of messages on the server" in guide
    assert "Settings > Email Settings > POP Settings" in guide


def test_step_text_numbers_the_step(kb: KnowledgeBase) -> None:
    problem = problem_of(kb, "mailbox-full")

    assert compose.step_text(problem, 0).startswith("**Step 1 of 3**\n")


def test_check_text_numbers_the_check(kb: KnowledgeBase) -> None:
    problem = problem_of(kb, "missing-email")

    assert compose.check_text(problem, 1).startswith("**Check 2 of 2**\n")


def test_step_details_show_navigation_form_field_and_options(kb: KnowledgeBase) -> None:
    details = compose.step_details(problem_of(kb, "sent-not-saved"), 2)

    assert details is not None
    assert "Settings > Email Settings > Receiving and Sending" in details
    assert "Save to Sent Email" in details
    assert "**Save All**" in details


def test_a_step_without_details_has_none(kb: KnowledgeBase) -> None:
    assert compose.step_details(problem_of(kb, "mailbox-full"), 0) is None


def test_the_intro_names_the_problem_and_its_cause(kb: KnowledgeBase) -> None:
    problem = problem_of(kb, "mailbox-full")

    intro = compose.intro_text(problem)

    assert intro.startswith(f"**{problem.title}**")
    assert "10GB" in intro
    assert "3 steps" in intro


def test_a_case_card_for_a_none_result_says_the_guide_does_not_cover_it(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    result = matcher.match("how do I reset my password")
    assert result.decision == Decision.NONE

    card = compose.case_card(kb, result)

    assert "No match in the guide" in card
    assert "does not cover" in card
    assert "oos-password" in card


def test_a_case_card_for_an_answer_has_topic_confidence_evidence_and_the_full_guide(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    result = matcher.match("senders get 552 when they write to me")

    card = compose.case_card(kb, result)

    assert "`mailbox-full`" in card
    assert "confidence" in card
    assert "error code 552" in card
    assert compose.full_guide(problem_of(kb, "mailbox-full")) in card


def test_a_case_card_for_a_faq_has_the_answer_and_the_walkthrough(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    result = matcher.match("how do I check my mailbox usage")
    faq = kb.faq("faq-mailbox-usage")
    assert faq is not None

    card = compose.case_card(kb, result)

    assert faq.answer in card
    assert "Free up space" in card


def test_article_text_is_the_faq_answer_or_the_full_guide(kb: KnowledgeBase) -> None:
    faq = kb.faq("faq-imap")
    assert faq is not None

    assert compose.article_text(kb, "faq-imap") == compose.faq_text(faq)
    assert compose.article_text(kb, "pop-deletion") == compose.full_guide(
        problem_of(kb, "pop-deletion")
    )
    assert compose.article_text(kb, "no-such-id") == ""


@pytest.mark.parametrize("entry_id", [*PROBLEMS, "faq-imap", "faq-keep-copy"])
def test_every_entry_has_a_one_line_summary(kb: KnowledgeBase, entry_id: str) -> None:
    summary = compose.summary_of(kb, entry_id)

    assert summary
    assert "\n" not in summary


def test_a_case_card_shows_the_evidence_the_scores_and_the_thresholds(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    card = compose.case_card(kb, matcher.match("senders get bounce 552 when they write to me"))

    assert "Topic: `mailbox-full`" in card
    assert "Matched: error code 552" in card
    assert "confidence" in card
    assert f"Thresholds: answer {matcher.settings.answer_floor}" in card
