"""The message catalogs: every string the code marks is translated, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.core import compose
from bot.core.i18n import _, speaking
from bot.core.knowledge import KnowledgeBase
from bot.locale import LOCALE_DIR, catalog_paths, load_translators
from tests.conftest import REPO_ROOT

_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
KEYWORDS = {"_": None, "N_": None}


def _marked_in_code() -> set[str]:
    found = extract_from_dir(
        str(REPO_ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS
    )
    return {message for _, _, message, _, _ in found}


def _catalog(path: Path) -> dict[str, tuple[str, set[str]]]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {m.id: (m.string, set(m.flags)) for m in catalog if m.id}


def test_the_template_lists_exactly_the_strings_the_code_marks() -> None:
    template = set(_catalog(LOCALE_DIR / "messages.pot"))
    marked = _marked_in_code()
    assert sorted(marked - template) == [], "missing from messages.pot: run pybabel extract"
    assert sorted(template - marked) == [], "unused in the code: run pybabel extract"


def test_there_is_a_chinese_catalog() -> None:
    assert "zh" in catalog_paths()


@pytest.mark.parametrize("language", sorted(catalog_paths()))
def test_every_catalog_translates_every_string_and_nothing_else(language: str) -> None:
    entries = _catalog(catalog_paths()[language])
    marked = _marked_in_code()
    assert sorted(marked - set(entries)) == [], "missing: run pybabel update"
    assert sorted(set(entries) - marked) == [], "unused: run pybabel update"
    assert [m for m, (text, _) in entries.items() if not text] == [], "untranslated"
    assert [m for m, (_, flags) in entries.items() if "fuzzy" in flags] == [], "fuzzy"


@pytest.mark.parametrize("language", sorted(catalog_paths()))
def test_translations_keep_every_placeholder(language: str) -> None:
    changed = {
        message: text
        for message, (text, _) in _catalog(catalog_paths()[language]).items()
        if sorted(_PLACEHOLDER.findall(message)) != sorted(_PLACEHOLDER.findall(text))
    }
    assert changed == {}


def test_a_chinese_step_reads_in_chinese_with_the_labels_in_english(kb: KnowledgeBase) -> None:
    problem = kb.in_language("zh").problem("pop-deletion")
    with speaking(load_translators()["zh"]):
        step = compose.step_text(problem, 1)
        details = compose.step_details(problem, 1)
    assert step == "**第 2/4 步**\n在左侧导航栏中，选择 **Email Settings > POP Settings**"
    assert details is not None
    assert details.startswith("位置：`Settings > Email Settings > POP Settings`")


def test_outside_a_language_block_the_bot_speaks_english() -> None:
    with speaking(load_translators()["zh"]):
        assert _("Fix") == "解决步骤"
    assert _("Fix") == "Fix"
