"""The matcher: the right topic for ordinary descriptions, exact codes, ``none`` for what the
guide does not cover, total on hostile input, and the fuzzy scorers' known failure modes."""

from __future__ import annotations

import pytest

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Candidate, Decision, Matcher, MatchResult, decide
from bot.core.settings import MatchSettings

# Phrasings of our own (not copied from the knowledge examples or the eval sets).
TYPICAL = [
    ("my mails vanish after outlook sync", "pop-deletion"),
    ("since I set up thunderbird with pop3 the webmail inbox is empty", "pop-deletion"),
    ("outlook downloads my messages and then they are gone from the web", "pop-deletion"),
    ("user says: since yesterday outlook empties the webmail inbox", "pop-deletion"),
    ("messages I send with outlook never appear in the web Sent Items", "sent-not-saved"),
    ("sent mails from my phone are not saved in the sent folder online", "sent-not-saved"),
    (
        "the sent items folder on the website lacks everything I sent from my iphone",
        "sent-not-saved",
    ),
    ("a colleague sent me a message but it is not in my inbox", "missing-email"),
    ("an email my supplier sent never reached my inbox and they got no bounce", "missing-email"),
    ("could a receiving rule have moved my message to another folder", "missing-email"),
    ("people who email me get a bounce saying my mailbox is full", "mailbox-full"),
    ("storage quota exceeded, no new mails arrive", "mailbox-full"),
    ("my mailbox hit the 10GB limit and new mail bounces", "mailbox-full"),
    ("how do I keep a copy of messages on the server in outlook", "pop-deletion"),
    ("how do I stop my pop client from deleting mails on the server", "pop-deletion"),
    ("how do I check my mailbox usage", "mailbox-full"),
    ("where should I check for a missing email", "missing-email"),
    ("is imap supported by alibaba mail", "faq-imap"),
]


@pytest.mark.parametrize(("text", "topic"), TYPICAL, ids=[t for t, _ in TYPICAL])
def test_a_typical_description_is_answered_with_its_topic(
    matcher: Matcher, text: str, topic: str
) -> None:
    result = matcher.match(text)

    assert result.decision == Decision.ANSWER
    assert result.best is not None
    assert result.best.topic == topic


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("how do I check my mailbox usage", "faq-mailbox-usage"),
        ("does alimail support imap", "faq-imap"),
        ("how do I stop my pop client from deleting mails on the server", "faq-keep-copy"),
    ],
)
def test_a_question_is_answered_with_the_faq_entry_and_its_problem_as_topic(
    matcher: Matcher, kb: KnowledgeBase, text: str, entry: str
) -> None:
    result = matcher.match(text)

    assert result.best is not None
    assert result.best.id == entry
    assert result.best.topic == kb.topic_of(entry)


EXACT = [
    ("552", "mailbox-full", "552"),
    ("MailboxFull", "mailbox-full", "MailboxFull"),
    ("mailboxfull", "mailbox-full", "MailboxFull"),
    ("EmailNotFound", "missing-email", "EmailNotFound"),
    ("Fwd: senders get 552 when writing to me", "mailbox-full", "552"),
    ("bounce: 552 5.2.2 mailbox over quota", "mailbox-full", "552"),
    (
        "Emails are deleted from the server after being downloaded by the client",
        "pop-deletion",
        "emails are deleted from the server after being downloaded by the client",
    ),
    (
        'Outlook said "Emails are deleted from the server after being downloaded by the '
        'client" - what now?',
        "pop-deletion",
        "emails are deleted from the server after being downloaded by the client",
    ),
]


@pytest.mark.parametrize(("text", "topic", "named"), EXACT, ids=[t[:40] for t, _, _ in EXACT])
def test_an_exact_code_or_error_line_is_answered_with_evidence_naming_it(
    matcher: Matcher, text: str, topic: str, named: str
) -> None:
    result = matcher.match(text)

    assert result.decision == Decision.ANSWER
    assert result.best is not None
    assert result.best.topic == topic
    assert result.best.exact
    assert named.casefold() in result.best.evidence.casefold()


def test_senders_bouncing_with_552_is_answered_as_a_full_mailbox(matcher: Matcher) -> None:
    result = matcher.match("senders get a bounce 552 when they mail me")

    assert result.decision == Decision.ANSWER


@pytest.mark.parametrize(
    "text",
    [
        "whenever we send to one partner we get 552 back",
        "my quote to a customer bounced: 552 MailboxFull",
        "I emailed a supplier and the bounce says 552, their box is full",
    ],
)
def test_a_552_met_when_sending_is_not_the_writers_full_mailbox(
    matcher: Matcher, text: str
) -> None:
    result = matcher.match(text)

    assert result.best is None
    assert not any(c.exact for c in result.candidates)


OUT_OF_SCOPE = [
    "I forgot my password, how do I reset it",
    "reset my password please",
    "smtp 535 authentication failed",
    "my outlook keeps asking for the password and cannot send, smtp 535",
    "how do I add an SPF and DKIM record for my domain",
    "dkim signature invalid",
    "what is the max attachment size",
    "can I attach a 60 MB file",
    "how to recall a message I sent",
    "set up an automatic out of office reply",
    "hi",
    "hello",
    "thanks",
    "thank you",
    "qwpoeiru",
    "asdfgh zxcvb",
    "what's the weather tomorrow",
]


@pytest.mark.parametrize("text", OUT_OF_SCOPE)
def test_what_the_guide_does_not_cover_is_none(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)

    assert result.decision == Decision.NONE
    assert result.best is None
    assert result.choices == ()


HOSTILE = {
    "empty": "",
    "whitespace": " \t\r\n ",
    "10 000 characters": "a" * 10_000,
    "10 000 characters of words": "outlook deleted my mail " * 420,
    "emoji": "📧🔥😡📭",
    "script tag": "<script>alert(1)</script>",
    "control characters": "\x00\x01\x1b[2J\x7f\u200b\u202e\ufeff",
    "mixed chinese": "邮箱满了 mailbox full",
    "chinese only": "阿里邮箱支持IMAP吗",
    "rtl and combining": "ما هذا e\u0301\u0301\u0301",
    "lone surrogate-like": "\udcff text",
    "sql": "'; DROP TABLE sessions; --",
    "only digits": "0" * 500,
    "only punctuation": "?!.,;:" * 100,
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_text_never_raises_and_scores_stay_in_range(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)

    assert result.decision in set(Decision)
    assert all(0.0 <= c.score <= 1.0 for c in result.candidates)
    assert 0.0 <= result.out_of_scope_score <= 1.0


def test_mixed_chinese_and_english_still_finds_the_english_words(matcher: Matcher) -> None:
    result = matcher.match("邮箱满了 mailbox full")

    assert result.candidates[0].topic == "mailbox-full"


@pytest.mark.parametrize(
    "text", ["the", "is it", "the the the", "it is what it is", "what now", "can you"]
)
def test_a_stop_word_sized_overlap_is_none(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)

    assert result.decision == Decision.NONE


@pytest.mark.parametrize("text", ["mail", "inbox", "outlook", "yes"])
def test_a_single_generic_word_is_not_answered_outright(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)

    assert result.decision != Decision.ANSWER


def test_a_short_choice_inside_a_long_unrelated_message_does_not_win(matcher: Matcher) -> None:
    text = (
        "I love cooking and my grandmother taught me to make dumplings; she always writes me "
        "a letter by mail and we talk about the weather, the garden, the dogs and the long "
        "winters in the mountains"
    )

    result = matcher.match(text)

    assert result.decision == Decision.NONE
    assert all(c.score < 0.5 for c in result.candidates)


@pytest.mark.parametrize(
    "text", ["10552", "5520", "invoice 10552 is overdue", "error 5520 on the printer", "55.2"]
)
def test_a_code_inside_a_longer_number_is_not_a_code_match(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)

    assert not any(c.exact for c in result.candidates)
    assert not any(c.evidence.startswith("error code") for c in result.candidates)


@pytest.mark.parametrize(
    "text",
    [t for t, _ in TYPICAL] + OUT_OF_SCOPE + ["mail", "error", "my email is not working"],
)
def test_candidates_are_sorted_best_first_with_one_per_topic(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)

    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    topics = [c.topic for c in result.candidates]
    assert len(topics) == len(set(topics))
    assert len(result.choices) <= result.settings.max_choices


def test_matching_is_deterministic(matcher: Matcher) -> None:
    text = "outlook downloads my messages and then they are gone from the web"

    assert matcher.match(text) == matcher.match(text)


def test_the_thresholds_in_force_travel_with_the_result(kb: KnowledgeBase) -> None:
    settings = MatchSettings(answer_floor=0.9, margin=0.2, clarify_floor=0.1)

    result = Matcher.from_knowledge(kb, settings).match("my mails vanish after outlook sync")

    assert result.settings == settings
    assert result.decision == Decision.CLARIFY
    assert "clarify floor" in result.reason


# -- decide: floor plus margin on synthetic candidates --------------------------------------

SETTINGS = MatchSettings(
    answer_floor=0.5,
    margin=0.1,
    clarify_floor=0.3,
    band=0.15,
    oos_margin=0.04,
    oos_weight=0.25,
    max_choices=3,
)


def ranked(*scores: float, exact: bool = False, text_score: float = 0.0) -> tuple[Candidate, ...]:
    """Candidates for topics t0, t1, ... with these scores (the first may be exact)."""
    return tuple(
        Candidate(
            id=f"t{i}",
            topic=f"t{i}",
            score=score,
            evidence="error code 552" if exact and i == 0 else "",
            exact=exact and i == 0,
            text_score=text_score,
        )
        for i, score in enumerate(scores)
    )


def decided(
    candidates: tuple[Candidate, ...],
    *,
    oos: float = 0.0,
    terms: int = 3,
    settings: MatchSettings = SETTINGS,
) -> MatchResult:
    """``decide`` for a ``terms``-word message with an out-of-scope group scoring ``oos``."""
    return decide(
        text="synthetic",
        ranked=candidates,
        out_of_scope="oos-password" if oos else None,
        out_of_scope_score=oos,
        terms=terms,
        settings=settings,
    )


@pytest.mark.parametrize(
    ("scores", "oos", "expected"),
    [
        ((0.8, 0.4), 0.0, Decision.ANSWER),
        ((0.8,), 0.0, Decision.ANSWER),
        ((0.5, 0.375), 0.0, Decision.ANSWER),  # on the answer floor, margin to spare
        ((0.8, 0.75), 0.0, Decision.CLARIFY),  # above the floor, but no margin
        ((0.45, 0.1), 0.0, Decision.CLARIFY),  # between the floors
        ((0.3,), 0.0, Decision.CLARIFY),  # exactly on the clarify floor
        ((0.29, 0.1), 0.0, Decision.NONE),
        ((), 0.0, Decision.NONE),
        ((0.55, 0.1), 0.3, Decision.CLARIFY),  # out-of-scope pull: 0.55 - 0.25 * 0.3 < 0.5
        ((0.35, 0.1), 0.3, Decision.NONE),  # pulled under the clarify floor
        ((0.5, 0.1), 0.6, Decision.NONE),  # out-of-scope clearly wins
        ((0.5, 0.1), 0.52, Decision.CLARIFY),  # out-of-scope ahead, but not clearly: ask
        ((0.62, 0.1), 0.6, Decision.CLARIFY),  # the topic ahead, but not clearly: ask
        ((0.9, 0.1), 0.6, Decision.ANSWER),  # out of scope, but far behind
    ],
)
def test_decide_applies_floor_plus_margin(
    scores: tuple[float, ...], oos: float, expected: Decision
) -> None:
    result = decided(ranked(*scores), oos=oos)

    assert result.decision == expected
    assert (result.best is not None) == (expected == Decision.ANSWER)


def test_a_topic_close_to_an_out_of_scope_group_is_offered_as_the_choice() -> None:
    result = decided(ranked(0.5, 0.1), oos=0.52)

    assert [c.topic for c in result.choices] == ["t0"]
    assert "ask rather than reject" in result.reason


def test_an_exact_code_answers_even_under_the_floor() -> None:
    result = decided(ranked(0.2, exact=True, text_score=0.1))

    assert result.decision == Decision.ANSWER
    assert result.best is not None
    assert "552" in result.reason


def test_an_exact_code_in_out_of_scope_wording_asks_instead() -> None:
    result = decided(ranked(0.97, 0.2, exact=True, text_score=0.1), oos=0.6)

    assert result.decision == Decision.CLARIFY
    assert "oos-password" in result.reason


def test_one_generic_word_is_clarified_however_high_it_scores() -> None:
    result = decided(ranked(0.9, 0.1), terms=1)

    assert result.decision == Decision.CLARIFY


def test_one_word_that_is_a_listed_keyword_is_answered() -> None:
    candidates = (Candidate(id="t0", topic="t0", score=0.9, keyword=True),)

    assert decided(candidates, terms=1).decision == Decision.ANSWER


def test_clarify_offers_at_most_max_choices_within_the_band() -> None:
    result = decided(ranked(0.45, 0.44, 0.43, 0.42, 0.41, 0.2))

    assert result.decision == Decision.CLARIFY
    assert [c.id for c in result.choices] == ["t0", "t1", "t2"]


def test_clarify_leaves_out_candidates_far_below_the_top() -> None:
    result = decided(ranked(0.45, 0.40, 0.25))

    assert [c.id for c in result.choices] == ["t0", "t1"]


def test_choices_are_empty_unless_clarifying() -> None:
    assert decided(ranked(0.8, 0.1)).choices == ()
    assert decided(ranked(0.1)).choices == ()


def test_max_choices_is_a_setting() -> None:
    settings = MatchSettings(
        answer_floor=0.5, margin=0.1, clarify_floor=0.3, band=0.5, max_choices=2
    )

    result = decided(ranked(0.45, 0.44, 0.43), settings=settings)

    assert len(result.choices) == 2
