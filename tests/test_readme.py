"""The README stays true to the code: its state table and its commands."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.dialogue import transition_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_state_table_is_the_transition_table() -> None:
    found = re.search(r"<!-- transitions:start -->\n(.*?)\n<!-- transitions:end -->", README, re.S)
    assert found is not None, "README lost its transitions markers"
    assert found.group(1) == transition_table()


def test_readme_shows_how_to_run_locally_and_how_to_test() -> None:
    assert "alimail-bot chat" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = 'python3 -m pip install -e ".[test]" && python3 -m pytest -q'
    assert test_command in README
    assert test_command in ci


def test_readme_lists_every_environment_variable_of_env_example() -> None:
    example = (ROOT / "deploy" / "env.example").read_text(encoding="utf-8")
    names = re.findall(r"^([A-Z_]+)=", example, re.M)
    assert names
    for name in names:
        assert f"`{name}`" in README, name
