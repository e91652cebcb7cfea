"""Translation overlays: loaded beside the English, complete, and faithful to its facts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core import fidelity
from bot.core.knowledge import KnowledgeBase
from bot.core.loader import load_knowledge, validate_knowledge
from bot.errors import KnowledgeError
from tests.conftest import KNOWLEDGE_DIR

ZH_FILE = "alimail-email.zh.yaml"


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge folder."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def _edit(folder: Path, old: str, new: str, *, name: str = ZH_FILE) -> int:
    """Replace one unique text in a knowledge file; return its line number (1-based)."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return line


def test_the_shipped_chinese_translation_loads_under_the_same_ids(kb: KnowledgeBase) -> None:
    zh = kb.in_language("zh")
    assert kb.languages == ("en", "zh")
    assert zh.language == "zh"
    assert zh.ids == kb.ids
    assert zh.problem("pop-deletion").title == "使用 POP3 客户端后 WebMail 中的邮件消失"
    assert kb.in_language("fr") is kb


def test_what_the_screen_shows_stays_english_in_the_translation(kb: KnowledgeBase) -> None:
    en, zh = kb.problem("pop-deletion"), kb.in_language("zh").problem("pop-deletion")
    assert [s.navigation for s in zh.steps] == [s.navigation for s in en.steps]
    assert [s.options for s in zh.steps] == [s.options for s in en.steps]
    assert zh.error_messages == en.error_messages
    assert "**Not Allowed**" in zh.steps[3].text


def test_every_topic_has_at_least_25_chinese_examples(kb: KnowledgeBase) -> None:
    zh = kb.in_language("zh")
    counts = {e.id: len(e.examples) for e in (*zh.problems, *zh.faqs, *zh.out_of_scope)}
    assert {entry: n for entry, n in counts.items() if n < 25} == {}


def test_every_dialogue_act_has_at_least_25_chinese_examples(kb: KnowledgeBase) -> None:
    counts = {a.act: len(a.examples) for a in kb.dialogue.acts if a.language == "zh"}
    english = {a.act for a in kb.dialogue.acts if a.language == "en"}
    assert set(counts) == english
    assert {act: n for act, n in counts.items() if n < 25} == {}


def test_the_shipped_knowledge_validates(knowledge_dir: Path) -> None:
    assert validate_knowledge(knowledge_dir) == []


def test_a_dropped_interface_label_is_an_error_with_file_and_line(knowledge_copy: Path) -> None:
    line = _edit(
        knowledge_copy, "将值从 **Allowed** 改为 **Not Allowed**", "将值改为 **Not Allowed**"
    )
    assert validate_knowledge(knowledge_copy) == [
        f"{knowledge_copy / ZH_FILE}:{line}: problem 'pop-deletion': steps[4] does not carry "
        "the source's facts: missing 'Allowed'"
    ]


def test_an_extra_number_is_an_error(knowledge_copy: Path) -> None:
    line = _edit(knowledge_copy, "对照 10GB 容量上限检查用量", "对照 10GB 容量上限检查用量（552）")
    (problem,) = validate_knowledge(knowledge_copy)
    assert problem.endswith(
        f":{line}: problem 'mailbox-full': summary does not carry the source's facts: extra '552'"
    )


def test_a_changed_size_is_an_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy, "确认已用空间低于 10GB", "确认已用空间低于 5GB")
    (problem,) = validate_knowledge(knowledge_copy)
    assert "verification[1] does not carry the source's facts: missing '10GB'; extra '5GB'" in (
        problem
    )


def test_facts_in_another_order_are_an_error(knowledge_copy: Path) -> None:
    _edit(
        knowledge_copy,
        "清空 **Trash** 和 **Spam** 文件夹",
        "清空 **Spam** 和 **Trash** 文件夹",
    )
    (problem,) = validate_knowledge(knowledge_copy)
    assert "steps[3] does not carry the source's facts: same facts in another order" in problem


def test_a_translated_menu_name_is_an_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy, "选择 **Email Settings > POP Settings**", "选择 **邮箱设置 > POP 设置**")
    (problem,) = validate_knowledge(knowledge_copy)
    assert "missing 'Email Settings > POP Settings'" in problem


def test_a_missing_list_item_is_an_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy, '      - "用邮件客户端同步一次"\n', "")
    (problem,) = validate_knowledge(knowledge_copy)
    assert "problem 'pop-deletion': verification has 2 item(s), the source has 3" in problem


def test_an_untranslated_entry_is_an_error(knowledge_copy: Path) -> None:
    text = (knowledge_copy / ZH_FILE).read_text(encoding="utf-8")
    start = text.index('  - id: "oos-thanks"')
    end = text.index('  - id: "oos-off-topic"')
    (knowledge_copy / ZH_FILE).write_text(text[:start] + text[end:], encoding="utf-8")
    assert validate_knowledge(knowledge_copy) == [
        f"{knowledge_copy / ZH_FILE}:8: out_of_scope 'oos-thanks' has no 'zh' translation"
    ]


def test_an_unknown_id_is_an_error(knowledge_copy: Path) -> None:
    line = _edit(knowledge_copy, '- id: "faq-imap"', '- id: "faq-imap4"')
    problems = validate_knowledge(knowledge_copy)
    assert (
        f"{knowledge_copy / ZH_FILE}:{line}: faq 'faq-imap4': there is no faq 'faq-imap4' "
        "in the source" in problems
    )


def test_a_language_that_does_not_match_the_file_name_is_an_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy, 'language: "zh"', 'language: "ja"')
    assert validate_knowledge(knowledge_copy) == [
        f"{knowledge_copy / ZH_FILE}:8: language 'ja' does not match the file name's 'zh'"
    ]


def test_an_example_under_two_topics_is_an_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy, '      - "邮箱满了收不到新邮件"', '      - "阿里邮箱支持IMAP吗"')
    (problem,) = validate_knowledge(knowledge_copy)
    assert 'example "阿里邮箱支持IMAP吗" also appears under' in problem


def test_translating_what_must_stay_english_is_an_error(knowledge_copy: Path) -> None:
    _edit(
        knowledge_copy,
        '      - text: "将值从 **Allowed** 改为 **Not Allowed**"',
        '      - text: "将值从 **Allowed** 改为 **Not Allowed**"\n        navigation: "设置"',
    )
    (problem,) = validate_knowledge(knowledge_copy)
    assert "step 4: unknown field 'navigation'" in problem


def test_a_broken_translation_never_half_loads(knowledge_copy: Path) -> None:
    _edit(knowledge_copy, "对照 10GB 容量上限", "对照 5GB 容量上限")
    with pytest.raises(KnowledgeError, match="5GB"):
        load_knowledge(knowledge_copy)


def test_facts_are_labels_paths_numbers_codes_and_protocols(kb: KnowledgeBase) -> None:
    facts = fidelity.facts_for(kb)
    text = (
        'Go to Settings > POP Settings, set "Deletion by Receiving Software" to "Not Allowed"; '
        "POP3 vs IMAP; 552 MailboxFull; Used 9.8 GB of 10GB; Alibaba Mail"
    )
    assert facts.of(text) == [
        "Settings",
        "POP Settings",
        "Deletion by Receiving Software",
        "Not Allowed",
        "POP3",
        "IMAP",
        "552",
        "MailboxFull",
        "9.8GB",
        "10GB",
    ]
