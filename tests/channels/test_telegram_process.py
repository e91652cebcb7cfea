"""``alimail-bot run`` as a real process against the fake Bot API: restarts, SIGTERM, bad tokens.

The fake runs in this process (its own thread); the bot is ``python -m bot run`` with
``TELEGRAM_API_URL`` pointing at it and its sessions in a SQLite file. These tests wait with
the fake's blocking ``wait_for*`` calls, as no event loop runs here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.session import State
from bot.store.sqlite import SqliteStore
from tests.helpers.bot_process import REPO_ROOT, BotProcess
from tests.helpers.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.telegram

USER = 6101
MAILBOX_FULL = "Cannot Receive New Emails Due to Full Mailbox"


@pytest.fixture
def bot_process(fake_bot_api: FakeBotApi, tmp_path: Path) -> Iterator[BotProcess]:
    """A bot process (not started yet); killed at the end whatever happened."""
    process = BotProcess(fake_bot_api, tmp_path)
    yield process
    process.stop()


def first_line(message_text: str) -> str:
    """The first line of a message ("Step 2 of 3")."""
    return message_text.split("\n", 1)[0]


def wait_for_first_line(fake: FakeBotApi, message_id: int, line: str) -> None:
    """Block until the bot message ``message_id`` of USER starts with ``line``."""
    fake.wait_for(
        lambda: first_line(fake.message(USER, message_id).visible_text) == line or None,
        timeout=15,
        description=f"message {message_id} to show {line!r}",
    )


def test_sigkill_between_a_press_and_its_reply_shows_the_next_step_after_the_restart(
    fake_bot_api: FakeBotApi, bot_process: BotProcess
) -> None:
    fake = fake_bot_api
    bot_process.start()
    fake.send_text(USER, "my mailbox is full")
    (step,) = fake.wait_for_messages(USER, 1)
    fake.set_delay(60.0, methods=["editMessageText"])  # Telegram hangs on the next step
    mark = fake.started_count
    fake.press_button(USER, "✅ Done")
    fake.wait_for_started("editMessageText", after=mark, timeout=10)

    bot_process.kill()  # the press is applied and saved; its reply is not shown yet
    fake.set_delay(0.0)
    bot_process.start()

    # The reply it owed is made after the restart: step 2, on the pressed message.
    wait_for_first_line(fake, step.message_id, "Step 2 of 3")
    fake.press_button(USER, "✅ Done")
    wait_for_first_line(fake, step.message_id, "Step 3 of 3")
    fake.send_text(USER, "done")
    messages = fake.wait_for_messages(USER, 2)
    assert "\n\nCheck 1 of 3\n" in messages[-1].visible_text
    fake.wait_for(  # one live keyboard: the old step's goes right after the new message
        lambda: [m.buttons != [] for m in fake.messages(USER)] == [False, True] or None,
        timeout=10,
        description="the old keyboard removed",
    )
    log = bot_process.log()
    # The killed process's long poll may still be open in the fake: the new poll supersedes
    # it (that one ends with 409 on a dead socket) and the new process never sees a Conflict.
    assert "Conflict" not in log
    assert "Traceback" not in log
    assert fake.token not in log


def test_sigkill_mid_burst_loses_no_message_and_repeats_at_most_one(
    fake_bot_api: FakeBotApi, bot_process: BotProcess
) -> None:
    fake = fake_bot_api
    users = [USER + 1000 + i for i in range(100)]
    bot_process.start()
    mark = fake.request_count
    for user in users:
        fake.send_text(user, "my mailbox is full")
    fake.wait_for(
        lambda: len([r for r in fake.requests("sendMessage")[0:] if r.ok]) >= 10 or None,
        timeout=30,
        description="the first replies of the burst",
    )

    bot_process.kill()
    bot_process.start()

    for user in users:
        fake.wait_for_messages(user, 1, timeout=60)
    counts = [len(fake.messages(user)) for user in users]
    assert all(count in (1, 2) for count in counts)
    # A duplicate only for a send made right before the kill, not yet crossed off.
    assert sum(counts) - len(users) <= 16
    assert fake.request_count > mark


def test_sigterm_with_a_backlog_answers_everyone_after_the_restart(
    fake_bot_api: FakeBotApi, bot_process: BotProcess
) -> None:
    fake = fake_bot_api
    users = [USER + 2000 + i for i in range(300)]
    bot_process.start()
    for user in users:
        fake.send_text(user, "my mailbox is full")
    fake.wait_for(
        lambda: len(fake.requests("sendMessage")) >= 5 or None,
        timeout=30,
        description="the first replies of the backlog",
    )

    code, _ = bot_process.terminate(timeout=15.0)
    assert code == 0
    bot_process.start()

    for user in users:
        fake.wait_for_messages(user, 1, timeout=60)
    # SIGTERM let every update in hand finish with its bookkeeping: nobody got a reply twice.
    assert [len(fake.messages(user)) for user in users] == [1] * len(users)
    log = bot_process.log()
    assert "stopped: " in log
    assert "Traceback" not in log


def test_sigterm_finishes_the_reply_in_flight_and_stops_within_5s_with_the_store_saved(
    fake_bot_api: FakeBotApi, bot_process: BotProcess
) -> None:
    fake = fake_bot_api
    bot_process.start()
    fake.send_text(USER, "my mailbox is full")
    fake.wait_for_messages(USER, 1)
    fake.set_delay(1.0, methods=["sendMessage"])
    mark = fake.started_count
    fake.send_text(USER, "done")
    # The update is applied and saved; step 2 is being sent, slowly.
    fake.wait_for_started("sendMessage", after=mark, timeout=10)

    code, seconds = bot_process.terminate(timeout=5.0)

    assert code == 0
    assert seconds < 5.0
    messages = fake.messages(USER)
    assert first_line(messages[-1].visible_text) == "Step 2 of 3"
    assert messages[0].buttons == []  # the old keyboard went too
    store = SqliteStore(bot_process.store_path)
    try:
        session = store.get(str(USER))
        owed = store.load(str(USER)).outbox
    finally:
        store.close()
    assert session is not None
    assert (session.state, session.topic, session.step) == (State.GUIDE, "mailbox-full", 1)
    assert owed == ()
    log = bot_process.log()
    assert "stopped: 2 replies sent, 0 lost" in log
    assert fake.token not in log


def test_a_token_the_bot_api_rejects_exits_2_without_showing_it(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    wrong = "123456789:" + "W" * 35
    process = BotProcess(fake_bot_api, tmp_path, token=wrong, extra_env={"BOT_LOG_LEVEL": "ERROR"})
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=process.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("alimail-bot: TELEGRAM_BOT_TOKEN was rejected")
    assert wrong not in result.stderr
    assert wrong not in result.stdout


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN is malformed"),
        ({"TELEGRAM_BOT_TOKEN": "123:short"}, "TELEGRAM_BOT_TOKEN is malformed"),
    ],
    ids=["missing", "malformed", "too-short"],
)
def test_run_without_a_usable_token_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], names: str
) -> None:
    code = main(["run"], environ={"BOT_STORE": "memory://", **environ})
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"alimail-bot: {names}")
    for secret in environ.values():
        assert secret not in err


def test_python_m_bot_run_with_a_malformed_token_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env={"PATH": "", "PYTHONPATH": str(REPO_ROOT), "TELEGRAM_BOT_TOKEN": "oops:secret"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "TELEGRAM_BOT_TOKEN is malformed" in result.stderr
    assert "oops:secret" not in result.stderr
