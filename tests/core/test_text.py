"""Text normalisation: total functions from any Unicode string to clean words and stems."""

from __future__ import annotations

import pytest

from bot.core.text import (
    MAX_INPUT_CHARS,
    Flow,
    clean,
    mail_flow,
    stem,
    strip_forward_prefix,
    words,
)


@pytest.mark.parametrize(
    "forms",
    [
        ("delete", "deleted", "deletes", "deleting"),
        ("sync", "synced", "syncing", "syncs"),
        ("folder", "folders"),
        ("message", "messages"),
        ("box", "boxes"),
        ("stop", "stopped"),
    ],
)
def test_inflected_forms_share_one_stem(forms: tuple[str, ...]) -> None:
    assert {stem(form) for form in forms} == {stem(forms[0])}


@pytest.mark.parametrize("word", ["the", "use", "pop3", "10gb", "access", "status", "imap"])
def test_short_words_words_with_digits_and_double_s_keep_their_shape(word: str) -> None:
    assert stem(word) == word


@pytest.mark.parametrize("forms", [("reply", "replies"), ("apply", "applied")])
def test_words_ending_in_ly_that_are_not_adverbs_share_a_stem(forms: tuple[str, str]) -> None:
    assert stem(forms[0]) == stem(forms[1])


def test_different_words_keep_different_stems() -> None:
    assert stem("sent") != stem("send")
    assert stem("mailbox") != stem("mail")


def test_words_are_lower_cased_tokens_without_punctuation() -> None:
    assert words("Outlook DELETED my e-mails!!!") == ["outlook", "deleted", "my", "e", "mails"]


def test_words_expand_contractions_straight_or_curly() -> None:
    assert words("I can't find it, it’s gone") == [
        "i",
        "can",
        "not",
        "find",
        "it",
        "it",
        "is",
        "gone",
    ]
    assert words("dont cant") == ["do", "not", "can", "not"]


def test_words_split_cjk_from_latin_letters() -> None:
    # Chinese runs become characters and pairs (bot.core.chinese); particles such as 吗 drop out.
    assert words("阿里邮箱支持IMAP吗")[-1] == "imap"
    assert "吗" not in words("阿里邮箱支持IMAP吗")
    assert words("邮箱满了 mailbox full")[-2:] == ["mailbox", "full"]


def test_words_fold_full_width_letters() -> None:
    assert words("Ｍａｉｌｂｏｘ ＦＵＬＬ") == ["mailbox", "full"]


@pytest.mark.parametrize("text", ["", "   ", "🙈🙉", "?!...", "\x00\x1b\u200b"])
def test_words_of_text_without_letters_is_empty(text: str) -> None:
    assert words(text) == []


def test_clean_drops_control_and_invisible_characters_and_squashes_spaces() -> None:
    assert clean("a\x00b\u200bc   d\n\te\ufeff") == "a b c d e"


def test_clean_bounds_the_length() -> None:
    assert len(clean("x" * 10_000)) == MAX_INPUT_CHARS


def test_clean_keeps_emoji_and_cjk() -> None:
    assert clean(" 📧 邮箱 ") == "📧 邮箱"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fwd: user says: my mail is gone", "my mail is gone"),
        ("RE: FW: mailbox full", "mailbox full"),
        ("My customer reports: outlook ate my emails", "outlook ate my emails"),
        ("my client keeps deleting mails", "my client keeps deleting mails"),
        ("Our boss said: 552 again", "552 again"),
        ("mailbox full", "mailbox full"),
        ("", ""),
    ],
)
def test_strip_forward_prefix_removes_helpdesk_framing_only_at_the_start(
    text: str, expected: str
) -> None:
    assert strip_forward_prefix(text) == expected


def test_strip_forward_prefix_leaves_framing_in_the_middle_alone() -> None:
    text = "outlook deleted them, user says: please hurry"

    assert strip_forward_prefix(text) == text


@pytest.mark.parametrize(
    ("text", "flows"),
    [
        ("whenever we send to that supplier a 552 comes back", {Flow.OUTGOING}),
        ("my invoice to the customer bounced", {Flow.OUTGOING}),
        ("I emailed the tax office and got a bounce", {Flow.OUTGOING}),
        ("sent a quote to hotmail and it came back", {Flow.OUTGOING}),
        ("clients who write to me get an error", {Flow.INCOMING}),
        ("mail sent to our sales address bounces", {Flow.INCOMING}),
        ("we no longer receive anything", {Flow.INCOMING}),
        ("when I send to my colleague he says mails to me bounce", {Flow.OUTGOING, Flow.INCOMING}),
        ("my mail went to spam", set()),
        ("outlook deletes messages from the server", set()),
        ("an admin: her mailbox is full", set()),
    ],
)
def test_mail_flow_tells_who_sent_the_mail(text: str, flows: set[Flow]) -> None:
    assert mail_flow(words(text)) == flows
