"""``alimail-bot inbox`` and ``alimail-bot report`` on the scripted week, from an SQLite store."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import yaml

from bot import cli
from bot.cli import Core, build_core, main
from bot.config import Settings
from bot.reports.records import Event
from bot.store.sqlite import SqliteStore
from tests.helpers.cli import run_cli
from tests.reports.conftest import END


@pytest.fixture(scope="module")
def core_once() -> dict[object, Core]:
    """Cores built by these tests, by settings: the commands, not the build, are under test."""
    return {}


@pytest.fixture(autouse=True)
def built_once(core_once: dict[object, Core], monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the core once per knowledge folder for every command of this module."""

    def cached(settings: Settings, *, staff_available: bool = False) -> Core:
        key = (settings.knowledge_dir, settings.match, staff_available)
        if key not in core_once:
            core_once[key] = build_core(settings, staff_available=staff_available)
        return core_once[key]

    monkeypatch.setattr(cli, "build_core", cached)


@pytest.fixture
def environ(week: list[Event], knowledge_dir: Path, tmp_path: Path) -> dict[str, str]:
    """A store holding the scripted week, moved so that it ends now."""
    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    shift = time.time() - END - 60
    for e in week:
        store.log_event(e.kind, e.chat_id, e.topic, e.detail, e.at + shift)
    store.close()
    return {"BOT_KNOWLEDGE": str(knowledge_dir), "BOT_STORE": f"sqlite:///{path}"}


def test_inbox_lists_the_groups_and_writes_suggestions_for_review(
    environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suggest = tmp_path / "review" / "edits.yaml"
    suggest.parent.mkdir()

    code, out, err = run_cli(["inbox", "--days", "8", "--suggest", str(suggest)], environ, capsys)

    assert (code, err) == (0, "")
    assert out.startswith("Inbox, last 8 days: 7 texts in 5 groups")
    assert f"Suggested knowledge edits: {suggest}" in out
    edits = yaml.safe_load(suggest.read_text(encoding="utf-8"))
    assert edits["out_of_scope"][0]["id"] == "oos-export-mailbox-pst"


def test_inbox_json_and_a_shorter_period(
    environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suggest = str(tmp_path / "edits.yaml")

    code, out, _ = run_cli(
        ["inbox", "--days", "1.5", "--json", "--suggest", suggest], environ, capsys
    )

    data = json.loads(out)
    assert code == 0
    assert data["texts"] == 2  # only the last day: i's refusal and j's "not my question"
    assert data["suggestions_file"] == suggest


def test_inbox_never_writes_into_the_knowledge_folder(
    environ: dict[str, str], knowledge_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = knowledge_dir / "suggested.yaml"

    code, _, err = run_cli(["inbox", "--suggest", str(target)], environ, capsys)

    assert code == 2
    assert "inside the knowledge folder" in err
    assert not target.exists()


@pytest.mark.parametrize("form", ["text", "json", "csv", "html"])
def test_report_in_every_format_has_the_scripted_figures(
    form: str, environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / f"report.{form}"

    code, out, err = run_cli(
        ["report", "--days", "8", "--format", form, "--out", str(out_file)], environ, capsys
    )
    text = out_file.read_text(encoding="utf-8")

    assert (code, err) == (0, "")
    assert f"report written to {out_file}" in out
    if form == "text":
        assert "Conversations: 11 from 10 chats" in text
        assert "step 2 2 (-1)" in text
    elif form == "json":
        assert json.loads(text)["conversations"] == 11
    elif form == "csv":
        rows = {(r[0], r[1], r[2]): r[3] for r in csv.reader(io.StringIO(text))}
        assert rows[("funnel", "pop-deletion", "dropped at step 2")] == "1"
    else:
        assert text.count("<svg") == 5
        assert "http" not in text


def test_report_prints_to_the_terminal_without_out(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["report", "--days", "8"], environ, capsys)

    assert code == 0
    assert "Where people give up" in out


def test_a_bad_number_of_days_is_a_usage_error(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--days", "-3"], environ=environ)

    assert stopped.value.code == 2
    assert "days" in capsys.readouterr().err


def test_an_unwritable_report_file_is_one_line(
    environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["report", "--out", str(tmp_path / "no" / "dir.txt")], environ, capsys)

    assert code == 2
    assert err.startswith("alimail-bot: cannot write")
    assert err.count("\n") == 1
