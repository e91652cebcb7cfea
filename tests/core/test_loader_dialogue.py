"""The loader's dialogue part (``knowledge/dialogue*.yaml``) and the checks for what would
only fail at run time: ids too long for callback data, error codes the exact path can't see."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.acts import Act
from bot.core.loader import load_knowledge, parse_knowledge
from bot.errors import KnowledgeError
from tests.core.test_loader import VALID


def every_act(extra: str = "") -> str:
    """A dialogue file with one example per act (and ``extra`` lines appended)."""
    lines = ['language: "en"', "acts:"]
    for act in Act:
        lines += [f'  - id: "{act.value}"', f'    examples: ["{act.value} example"]']
    return "\n".join(lines) + "\n" + extra


def errors_of(text: str, *, filename: str = "knowledge/dialogue.yaml") -> list[str]:
    """The loader's messages for one file's text (empty when it loads)."""
    try:
        parse_knowledge(text, filename=filename)
    except KnowledgeError as err:
        return err.problems
    return []


def test_a_dialogue_file_loads_every_act_with_its_language() -> None:
    kb = parse_knowledge(every_act(), filename="dialogue.yaml")

    assert {a.act for a in kb.dialogue.acts} == {a.value for a in Act}
    assert kb.dialogue.examples("done") == ("done example",)
    assert {a.language for a in kb.dialogue.acts} == {"en"}


def test_an_unknown_act_is_reported_with_its_line_and_a_suggestion() -> None:
    text = every_act('  - id: "stcuk"\n    examples: ["x"]\n')

    problems = errors_of(text)

    line = text.splitlines().index('  - id: "stcuk"') + 1
    assert problems == [
        f"knowledge/dialogue.yaml:{line}: act 'stcuk': unknown act 'stcuk' (did you mean 'stuck'?)"
    ]


def test_an_example_under_two_acts_is_an_error() -> None:
    text = every_act().replace('["yes example"]', '["done example"]')

    problems = errors_of(text)

    assert len(problems) == 1
    assert "also appears under act 'done'" in problems[0]


def test_an_unquoted_yes_is_reported_not_read_as_true() -> None:
    text = every_act().replace('["yes example"]', "[yes]")

    problems = errors_of(text)

    assert len(problems) == 1
    assert "a boolean (yes); quote it" in problems[0]


def test_a_missing_act_and_an_unknown_placeholder_are_reported() -> None:
    text = every_act().replace('  - id: "repeat"\n    examples: ["repeat example"]\n', "")
    text = text.replace('["back example"]', '["go to {menu}"]')

    problems = errors_of(text)

    assert any("acts with no examples in any language: repeat" in p for p in problems)
    assert any("the only placeholder is {item}" in p for p in problems)


def test_a_second_language_is_an_overlay_of_examples(tmp_path: Path) -> None:
    (tmp_path / "guide.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "dialogue.yaml").write_text(every_act(), encoding="utf-8")
    (tmp_path / "dialogue.zh.yaml").write_text(
        'language: "zh"\nacts:\n  - id: "done"\n    examples: ["好了", "完成了"]\n',
        encoding="utf-8",
    )

    kb = load_knowledge(tmp_path)

    assert kb.dialogue.examples("done") == ("done example", "好了", "完成了")
    assert {a.language for a in kb.dialogue.acts if a.act == "done"} == {"en", "zh"}


def test_an_error_code_with_a_space_can_never_match_and_is_reported() -> None:
    text = VALID.replace(
        'error_codes: ["552", "MailboxFull"]', 'error_codes: ["552", "Mailbox Full"]'
    )

    problems = errors_of(text, filename="g.yaml")

    assert len(problems) == 1
    assert 'error code "Mailbox Full" can never be matched exactly' in problems[0]


@pytest.mark.parametrize("length", [45, 60])
def test_an_id_too_long_for_callback_data_is_reported(length: int) -> None:
    long_id = "m" * length
    text = (
        VALID.replace("id: missing-email", f"id: {long_id}")
        .replace("related: [missing-email]", f"related: [{long_id}]")
        .replace("see_also: [missing-email]", f"see_also: [{long_id}]")
    )

    problems = errors_of(text, filename="g.yaml")

    assert len(problems) == 1
    assert "too long for a button's 64-byte callback data" in problems[0]


def test_the_shipped_ids_fit_the_callback_data(knowledge_dir: Path) -> None:
    assert load_knowledge(knowledge_dir).problems
