"""Rendering the engine markup for Telegram (HTML, split under the limit) and the console."""

from __future__ import annotations

import pytest

from bot.channels.render import (
    MAX_MESSAGE_LENGTH,
    render_parts,
    split_message,
    to_html,
    to_plain,
    utf16_len,
)
from tests.helpers.fake_bot_api import html_problem, parse_html

HOSTILE = [
    "<b>not bold</b>",
    "<script>alert('x')</script>",
    "fish & chips &amp; &lt;",
    'say "hello" & <goodbye>',
    "😀🇨🇳👨‍👩‍👧 emoji",
    "مرحبا **بالعالم** `RTL`",
    "zero\u200bwidth\u200d joiner\ufeff",
    "lone surrogate \ud800 here",
    "**bold with <tag> & `code <x>` inside**",
    "***",
    "**",
    "``",
    "`",
    "** **",
    "**a\nb**",
    "\x00 control \x1b[31m",
]


def visible(html_text: str) -> str:
    """What Telegram would show for this HTML (the fake server's parser)."""
    return parse_html(html_text).text


def test_tags_ampersands_and_quotes_in_text_are_escaped() -> None:
    assert to_html("<b>hi</b>") == "&lt;b&gt;hi&lt;/b&gt;"
    assert to_html("R&D") == "R&amp;D"
    assert to_html('say "552"') == 'say "552"'


def test_bold_and_code_become_html_tags() -> None:
    assert to_html("**Mailbox full** run `POP3`") == "<b>Mailbox full</b> run <code>POP3</code>"
    assert to_html("**open `Settings > Mail` now**") == (
        "<b>open <code>Settings &gt; Mail</code> now</b>"
    )


def test_code_content_is_literal_and_escaped() -> None:
    assert to_html("`**not bold** & <x>`") == "<code>**not bold** &amp; &lt;x&gt;</code>"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("**unclosed bold", "**unclosed bold"),
        ("a ** b", "a ** b"),
        ("2 ** 3 ** 4", "2 ** 3 ** 4"),
        ("a ** b **c**", "a ** b <b>c</b>"),
        ("`unclosed code", "`unclosed code"),
        ("****", "****"),
        ("**across\nlines**", "**across\nlines**"),
    ],
)
def test_unbalanced_markers_stay_literal(markup: str, expected: str) -> None:
    assert to_html(markup) == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_any_input_renders_to_html_telegram_accepts(text: str) -> None:
    rendered = to_html(text)

    assert html_problem(rendered) is None
    assert visible(rendered) == to_plain(text)


def test_plain_rendering_strips_markers_only() -> None:
    assert to_plain("**Mailbox full**: run `POP3` & <check>") == "Mailbox full: run POP3 & <check>"


def test_emoji_count_as_two_utf16_units() -> None:
    assert utf16_len("😀") == 2
    assert utf16_len("é") == 1

    parts = render_parts("😀" * 3000)

    assert [utf16_len(visible(p)) for p in parts] == [4096, 6000 - 4096]


def test_a_message_that_fits_is_one_part() -> None:
    assert render_parts("**Step 1**\n\nOpen settings.") == ["<b>Step 1</b>\n\nOpen settings."]
    assert render_parts("") == []
    assert render_parts(" \n\n ") == []


def test_a_10000_character_message_splits_into_valid_parts_under_the_limit() -> None:
    paragraph = "**Step:** open `Settings > POP3` & tick <Leave a copy> 😀. " * 12
    text = "\n\n".join([paragraph.strip()] * 15)
    assert len(text) > 10_000

    parts = render_parts(text)

    assert len(parts) > 2
    for part in parts:
        assert html_problem(part) is None
        assert utf16_len(visible(part)) <= MAX_MESSAGE_LENGTH
    assert "".join(visible(p) for p in parts).replace("\n", "") == to_plain(text).replace("\n", "")


def test_splitting_prefers_paragraph_boundaries() -> None:
    first = "**Step 1.** " + "open the settings " * 3
    second = "short line\n" + "long line " * 10
    text = f"{first.strip()}\n\n{second}"
    # The limit reaches past the paragraph break and the next line break, not the whole text.
    limit = len(first) + len("short line") + 10

    parts = render_parts(text, limit=limit)

    assert parts[0] == to_html(first.strip())
    assert parts[1] == "short line"


def test_paragraphs_are_packed_together_while_they_fit() -> None:
    text = "\n\n".join(["para one", "para two", "para three"])

    assert render_parts(text, limit=20) == ["para one\n\npara two", "para three"]


def test_splitting_falls_back_to_lines_then_words_then_hard_cuts() -> None:
    assert render_parts("one two\nthree four", limit=12) == ["one two", "three four"]
    assert render_parts("alpha beta gamma", limit=11) == ["alpha beta", "gamma"]
    assert render_parts("x" * 10, limit=4) == ["xxxx", "xxxx", "xx"]


def test_a_hard_cut_keeps_joined_emoji_together() -> None:
    family = "👨\u200d👩\u200d👧"  # 8 UTF-16 units in one grapheme
    parts = render_parts("a" * 5 + family, limit=10)

    assert parts == ["aaaaa", family]


def test_formatting_continues_across_a_split() -> None:
    parts = render_parts("**" + "bold words " * 10 + "end**", limit=40)

    assert len(parts) > 1
    for part in parts:
        assert part.startswith("<b>")
        assert part.endswith("</b>")
        assert html_problem(part) is None


def test_split_message_keeps_html_tags_balanced_across_parts() -> None:
    source = "<b>" + "bold text " * 20 + "</b>\n\n<i>tail &amp; more</i>"

    parts = split_message(source, limit=50)

    for part in parts:
        assert html_problem(part) is None
        assert utf16_len(visible(part)) <= 50
    assert parts[0].startswith("<b>")
    assert parts[-1] == "<i>tail &amp; more</i>"


def test_split_message_never_cuts_inside_a_tag_or_an_entity() -> None:
    source = '<a href="https://example.com/?q=1&amp;r=2">' + "&lt;link&gt; " * 10 + "</a>"

    for part in split_message(source, limit=7):
        assert html_problem(part) is None
        assert part.startswith('<a href="https://example.com/?q=1&amp;r=2">')


def test_split_message_escapes_what_is_not_telegram_html() -> None:
    [part] = split_message("1 < 2 & <script>x</script> </b>")

    assert html_problem(part) is None
    assert visible(part) == "1 < 2 & <script>x</script> </b>"


def test_split_message_splits_plain_text_without_touching_it() -> None:
    assert split_message("a < b\n\nc & d", limit=6, as_html=False) == ["a < b", "c & d"]


def test_a_limit_below_one_emoji_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        render_parts("x", limit=1)
