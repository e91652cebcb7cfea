"""The terminal channel: ``python -m bot chat`` end to end in a subprocess (a few runs, they are
the slow part), then ``run_console`` itself with in-memory streams."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels.console import CHAT_ID, PROMPT, read_event, render_plain, run_console
from bot.core.dialogue import Engine
from bot.core.events import ButtonPress, Command, UserText
from bot.core.replies import Action, Button, Reply
from bot.core.session import State
from bot.store.memory import MemoryStore

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = 1_000_000.0


def chat(stdin: str, *, store: str = "memory://") -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot chat`` from the repository root with ``stdin`` as the user's lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(BOT_STORE=store, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input=stdin,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
        check=False,
    )


def test_chat_walks_through_steps_typed_in_words_and_ends_cleanly() -> None:
    done = chat("my mails vanish after outlook sync\ndone\ndone\n")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert out.index("Step 1 of 4") < out.index("Step 2 of 4") < out.index("Step 3 of 4")
    assert "**" not in out
    assert out.endswith("bye\n")


def test_chat_reaches_solved_with_numbers_for_buttons() -> None:
    # 1 = the first topic (pop-deletion); then 1 = Done, 2 = I'm stuck, 1 = Checked/Yes.
    lines = ["1", "1", "2", "1", "1", "1", "1", "1", "1", "1"]

    done = chat("\n".join(lines) + "\n")

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Settings > Email Settings > POP Settings" in out
    assert "Check 3 of 3" in out
    assert "solved" in out
    assert "Thanks for the feedback" in out
    assert out.endswith("bye\n")


def test_chat_with_no_input_greets_and_ends_cleanly() -> None:
    done = chat("")

    assert done.returncode == 0, done.stderr
    assert "Alibaba Mail support bot" in done.stdout
    assert done.stdout.endswith("bye\n")


def test_chat_with_sqlite_continues_at_the_same_step_after_a_restart(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"

    first = chat("my mails vanish after outlook sync\ndone\n", store=store)
    second = chat("done\n", store=store)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    greeting, _, rest = second.stdout.partition(PROMPT)
    assert "We were in the middle of something" in greeting
    assert "Step 2 of 4" in greeting
    assert "Step 3 of 4" in rest


# -- run_console with in-memory streams -------------------------------------------------------


class Terminal(io.StringIO):
    """Standard input that claims to be a terminal, so the prompt is written."""

    def isatty(self) -> bool:
        """Pretend to be interactive."""
        return True


def converse(
    engine: Engine, lines: list[str], *, store: MemoryStore | None = None, tty: bool = False
) -> tuple[str, MemoryStore]:
    """Run the console over these input lines; return what it wrote and the store."""
    store = store or MemoryStore()
    text = "".join(f"{line}\n" for line in lines)
    stdin = Terminal(text) if tty else io.StringIO(text)
    stdout = io.StringIO()
    run_console(engine, store, stdin=stdin, stdout=stdout, clock=lambda: NOW)
    return stdout.getvalue(), store


def test_console_greets_and_lists_the_topics_as_numbered_choices(engine: Engine) -> None:
    out, _ = converse(engine, [])

    assert out.startswith("bot> Hi! I'm the Alibaba Mail support bot.")
    assert "  1. Emails Disappear from WebMail After Using POP3 Client" in out
    assert out.endswith("bye\n")


def test_console_echoes_piped_input_after_the_prompt(engine: Engine) -> None:
    out, _ = converse(engine, ["552"])

    assert f"{PROMPT}552\n" in out


def test_console_writes_the_prompt_when_interactive(engine: Engine) -> None:
    out, _ = converse(engine, ["552"], tty=True)

    assert out.count(PROMPT) == 2
    assert f"{PROMPT}552" not in out


def test_console_saves_the_session_after_every_turn(engine: Engine) -> None:
    _, store = converse(engine, ["552", "done"])

    session = store.get(CHAT_ID)
    assert session is not None
    assert (session.state, session.topic, session.step) == (State.GUIDE, "mailbox-full", 1)


def test_console_resumes_a_stored_session(engine: Engine) -> None:
    _, store = converse(engine, ["552", "done"])

    out, _ = converse(engine, ["done"], store=store)

    assert "We were in the middle of something" in out
    assert "Step 3 of 3" in out


def test_console_numbers_press_the_buttons_last_shown(engine: Engine) -> None:
    out, store = converse(engine, ["4", "1", "2"])

    session = store.get(CHAT_ID)
    assert session is not None
    assert (session.topic, session.step) == ("mailbox-full", 1)
    assert "My guide has no more detail" in out


def test_console_a_number_with_no_such_button_is_text(engine: Engine) -> None:
    _, store = converse(engine, ["552", "9"])

    session = store.get(CHAT_ID)
    assert session is not None
    assert session.step == 0


def test_console_stops_at_quit_and_skips_blank_lines(engine: Engine) -> None:
    out, _ = converse(engine, ["", "   ", "/quit", "552"])

    assert PROMPT not in out
    assert "Step 1 of 3" not in out
    assert out.endswith("bye\n")


def test_console_commands_work(engine: Engine) -> None:
    out, _ = converse(engine, ["552", "/cancel"])

    assert "OK, stopped" in out


def test_console_survives_hostile_lines(engine: Engine) -> None:
    out, _ = converse(engine, ["\x00\x1b[2J", "🙈" * 500, "x" * 10_000, "<b>hi</b>"])

    assert out.endswith("bye\n")


def test_render_plain_drops_markup_and_numbers_buttons() -> None:
    reply = Reply(
        text="**Step 1 of 2**\nOpen `Settings`",
        buttons=(
            Button(label="✅ Done", action=Action.DONE),
            Button(label="🤔 I'm stuck", action=Action.STUCK),
        ),
    )

    assert render_plain(reply) == "Step 1 of 2\nOpen Settings\n  1. ✅ Done\n  2. 🤔 I'm stuck"


def test_render_plain_can_list_buttons_without_numbers() -> None:
    reply = Reply(text="Pick one", buttons=(Button(label="Yes", action=Action.YES),))

    assert render_plain(reply, numbered=False) == "Pick one\n  - Yes"


BUTTONS = (
    Button(label="✅ Done", action=Action.DONE),
    Button(label="Mailbox full", action=Action.CHOOSE, arg="mailbox-full"),
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2\n", ButtonPress(action=Action.CHOOSE, version=3, arg="mailbox-full")),
        (" 1 ", ButtonPress(action=Action.DONE, version=3)),
        ("3", UserText(text="3")),
        ("0", UserText(text="0")),
        ("/start", Command(name="start")),
        ("/human@alimail_bot", Command(name="human")),
        ("/ start", UserText(text="/ start")),
        ("/", UserText(text="/")),
        ("my mailbox is full", UserText(text="my mailbox is full")),
    ],
)
def test_read_event_turns_a_line_into_an_event(line: str, expected: object) -> None:
    assert read_event(line, BUTTONS, 3) == expected


def test_read_event_without_buttons_reads_numbers_as_text() -> None:
    assert read_event("2", (), 3) == UserText(text="2")
