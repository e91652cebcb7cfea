"""The ``alimail-bot`` command line, called in-process as ``main(argv, environ)``: its output
contracts (ask, triage JSON, eval metrics, kb validate) and its one error edge (exit code 2)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from tests.helpers.cli import run_cli

TRIAGE_KEYS = {"text", "decision", "id", "topic", "score", "candidates"}


@pytest.fixture
def environ(knowledge_dir: Path) -> dict[str, str]:
    """A clean environment pointing at the repository's knowledge folder."""
    return {"BOT_KNOWLEDGE": str(knowledge_dir)}


def test_ask_prints_the_first_reply(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["ask", "senders get 552 when they mail me"], environ, capsys)

    assert code == 0
    assert err == ""
    assert "Cannot Receive New Emails Due to Full Mailbox" in out
    assert "Step 1 of 3" in out
    assert "**" not in out
    assert "1. ✅ Done" in out


def test_ask_for_something_not_covered_says_so(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["ask", "how do I reset my password"], environ, capsys)

    assert code == 0
    assert "Talk to a person" in out


def test_ask_explain_shows_scores_evidence_and_thresholds(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["ask", "--explain", "MailboxFull"], environ, capsys)

    assert code == 0
    assert "decision: answer" in out
    assert "error code MailboxFull" in out
    assert "mailbox-full" in out
    for threshold in ("answer_floor=", "margin=", "clarify_floor="):
        assert threshold in out
    assert re.search(r"^\s+[01]\.\d{3}\s+mailbox-full\s+topic=mailbox-full", out, re.M)


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write one question per line (UTF-8) and return the path."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_triage_prints_one_json_object_per_question_with_the_contract_keys(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    questions = write_lines(
        tmp_path / "questions.txt",
        [
            "my mails vanish after outlook sync",
            "",
            "I forgot my password",
            "邮箱满了 552",
        ],
    )

    code, out, _ = run_cli(["triage", str(questions), "--json"], environ, capsys)

    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == [
        "my mails vanish after outlook sync",
        "I forgot my password",
        "邮箱满了 552",
    ]
    for record in records:
        assert set(record) == TRIAGE_KEYS
        assert record["decision"] in {"answer", "clarify", "none"}
        assert isinstance(record["score"], float)
        for candidate in record["candidates"]:
            assert set(candidate) == {"id", "score"}
    vanish, password, chinese = records
    assert (vanish["decision"], vanish["id"], vanish["topic"]) == (
        "answer",
        "pop-deletion",
        "pop-deletion",
    )
    assert (password["decision"], password["id"], password["topic"]) == ("none", None, None)
    assert chinese["topic"] == "mailbox-full"


def test_triage_reads_standard_input_by_default(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("EmailNotFound\n"))

    code, out, _ = run_cli(["triage"], environ, capsys)

    assert code == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["topic"] == "missing-email"


def test_triage_of_a_missing_file_is_one_line_and_exit_2(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(["triage", str(tmp_path / "nope.txt")], environ, capsys)

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "nope.txt" in err


EVAL_CASES = """\
- text: "my mails vanish after outlook sync"
  label: pop-deletion
- text: "how do I check my mailbox usage"
  label: faq-mailbox-usage
- text: "messages I send with outlook never appear in the web Sent Items"
  label: sent-not-saved
- text: "a colleague sent me a message but it is not in my inbox"
  label: missing-email
- text: "I forgot my password"
  label: none
- text: "what's the weather tomorrow"
  label: none
"""


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    """A small labelled eval set of our own."""
    path = tmp_path / "eval.yaml"
    path.write_text(EVAL_CASES, encoding="utf-8")
    return path


def test_eval_prints_every_metric_the_confusion_table_and_threshold_advice(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], eval_file: Path
) -> None:
    code, out, _ = run_cli(["eval", str(eval_file)], environ, capsys)

    assert code == 0
    for name in (
        "right first reply",
        "correct answer",
        "out-of-scope rejection",
        "wrong-answer rate",
        "clarify rate",
        "confusion",
        "threshold advice",
    ):
        assert name in out
    assert "questions: 6 (4 in scope, 2 out of scope)" in out


def test_eval_json_has_metrics_per_topic_confusion_and_advice(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], eval_file: Path
) -> None:
    code, out, _ = run_cli(["eval", str(eval_file), "--json"], environ, capsys)

    assert code == 0
    report = json.loads(out)
    assert set(report) >= {"metrics", "per_topic", "confusion", "thresholds", "advice"}
    assert set(report["metrics"]) >= {
        "right_first_reply",
        "correct_answer",
        "out_of_scope_rejection",
        "wrong_answer_rate",
        "clarify_rate",
    }
    assert report["metrics"]["questions"] == 6
    # Topics are compared, not ids: the FAQ label counts under its problem.
    assert "faq-mailbox-usage" not in report["per_topic"]
    assert report["per_topic"]["mailbox-full"]["n"] == 1
    assert all(
        0.0 <= v <= 1.0
        for k, v in report["metrics"].items()
        if k.endswith(("rate", "reply", "answer", "rejection"))
    )


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('- text: "mailbox full"\n  label: mailbox-ful\n', "unknown label 'mailbox-ful'"),
        ('- text: "mailbox full"\n', "unknown label"),
        ("text: not a list\n", "YAML list"),
        ("- [unclosed\n", "not valid YAML"),
    ],
)
def test_eval_of_a_bad_file_is_one_line_and_exit_2(
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    complaint: str,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")

    code, out, err = run_cli(["eval", str(path)], environ, capsys)

    assert code == 2
    assert out == ""
    assert complaint in err
    assert "Traceback" not in err


def test_kb_validate_accepts_the_repository_knowledge(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], knowledge_dir: Path
) -> None:
    code, out, err = run_cli(["kb", "validate", str(knowledge_dir)], environ, capsys)

    assert code == 0
    assert "OK" in out
    assert "4 problems, 5 FAQ entries" in out
    assert err == ""


def test_kb_validate_names_file_and_line_of_a_broken_folder(
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    knowledge_dir: Path,
    tmp_path: Path,
) -> None:
    source = (knowledge_dir / "alimail-email.yaml").read_text(encoding="utf-8")
    step = '- text: "Log in to Alibaba Mail Webmail"'
    assert step in source
    broken = source.replace(step, '- text: ""')
    (tmp_path / "alimail-email.yaml").write_text(broken, encoding="utf-8")
    line = broken.splitlines().index('      - text: ""') + 1

    code, out, err = run_cli(["kb", "validate", str(tmp_path)], environ, capsys)

    assert code == 2
    assert out == ""
    assert f"alimail-email.yaml:{line}: problem 'mailbox-full'" in err
    assert "Traceback" not in err


def test_kb_validate_checks_the_chinese_translation_facts(
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    knowledge_dir: Path,
    tmp_path: Path,
) -> None:
    code, out, _ = run_cli(["kb", "validate", str(knowledge_dir)], environ, capsys)
    assert code == 0
    assert "zh: every entry translated, facts checked" in out
    for path in knowledge_dir.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    zh = tmp_path / "alimail-email.zh.yaml"
    text = zh.read_text(encoding="utf-8")
    zh.write_text(text.replace("选择 **Email Settings > Receiving and Sending**", "选择 收发设置"))

    code, out, err = run_cli(["kb", "validate", str(tmp_path)], environ, capsys)

    assert code == 2
    assert "alimail-email.zh.yaml:" in err
    assert "missing 'Email Settings > Receiving and Sending'" in err


def test_kb_validate_of_a_missing_folder_is_exit_2(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(["kb", "validate", str(tmp_path / "nowhere")], environ, capsys)

    assert code == 2
    assert "does not exist" in err


@pytest.mark.parametrize("command", [["ask", "552"], ["kb", "validate"], ["run"]])
def test_a_bad_environment_variable_is_one_line_naming_it_and_exit_2(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, err = run_cli(command, {**environ, "BOT_STORE": "mysql://x"}, capsys)

    assert code == 2
    assert out == ""
    assert err == (
        "alimail-bot: BOT_STORE has value 'mysql://x'; expected sqlite:///PATH, "
        "redis://HOST:PORT/DB or memory://\n"
    )


def test_run_without_a_token_says_how_to_get_one(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["run"], environ, capsys)

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in err


def test_a_malformed_token_is_refused_without_echoing_it(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["run"], {**environ, "TELEGRAM_BOT_TOKEN": "12345:leaky"}, capsys)

    assert code == 2
    assert "TELEGRAM_BOT_TOKEN" in err
    assert "leaky" not in err


def test_a_missing_knowledge_folder_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(["ask", "552"], {"BOT_KNOWLEDGE": str(tmp_path / "none")}, capsys)

    assert code == 2
    assert "does not exist" in err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([], environ={})

    assert caught.value.code == 2
    assert "usage: alimail-bot" in capsys.readouterr().err
