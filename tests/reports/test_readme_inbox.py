"""The inbox output and suggested edits shown in the README are what the code prints today."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.reports.inbox import build_inbox, format_text, suggestions_yaml
from bot.reports.records import Event

README = Path(__file__).resolve().parent.parent.parent / "README.md"
FENCE = "```"


def block_from(marker: str, *, keep: bool = False) -> str:
    """The rest of the README's fenced block from the line ``marker`` (itself kept or not)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(marker) + (0 if keep else len(marker) + 1)
    return text[start : text.index(f"\n{FENCE}", start)]


def test_the_readme_shows_the_real_inbox_of_the_scripted_week(
    week: list[Event], matcher: Matcher, kb: KnowledgeBase
) -> None:
    groups = build_inbox(week, matcher, kb)
    printed = (
        format_text(groups, days=7)
        + "\n\nSuggested knowledge edits: knowledge-suggestions.yaml (review, then paste)"
    )

    shown = block_from("$ alimail-bot inbox --days 7")

    assert shown == printed, f"paste this into the README:\n{printed}"


def test_the_readme_shows_the_real_suggested_edits(
    week: list[Event], matcher: Matcher, kb: KnowledgeBase
) -> None:
    groups = build_inbox(week, matcher, kb)
    shown = block_from(
        "# Suggested knowledge edits from `alimail-bot inbox` (last 7 days,", keep=True
    )
    generated = re.search(r"last 7 days, ([^)]*)\)", shown)
    assert generated is not None

    written = suggestions_yaml(groups, days=7, generated=generated.group(1)).rstrip()

    assert shown == written, f"paste this into the README:\n{written}"
