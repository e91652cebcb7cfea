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


def test_a_killed_bot_restarts_and_the_user_continues_at_the_same_step(
    fake_bot_api: FakeBotApi, bot_process: BotProcess
) -> None:
    fake = fake_bot_api
    bot_process.start()
    fake.send_text(USER, "/start")
    fake.wait_for_messages(USER, 1)
    fake.press_button(USER, MAILBOX_FULL)
    fake.wait_for_messages(USER, 2)  # the intro with step 1
    update = fake.press_button(USER, "✅ Done")
    messages = fake.wait_for_messages(USER, 3)
    assert first_line(messages[-1].visible_text) == "Step 2 of 3"
    fake.wait_until_confirmed(update)

    bot_process.kill()  # SIGKILL: no shutdown code runs at all
    bot_process.start()

    mark = fake.request_count
    fake.press_button(USER, "✅ Done")  # on the step-2 message sent by the killed process
    messages = fake.wait_for_messages(USER, 4, timeout=10)
    assert first_line(messages[-1].visible_text) == "Step 3 of 3"
    assert len(messages) == 4
    answer = fake.wait_for_request("answerCallbackQuery", after=mark)
    assert answer.ok
    assert "text" not in answer.params  # a plain answer, not the stale-button notice
    assert fake.message(USER, messages[-2].message_id).buttons == []
    log = bot_process.log()
    # The killed process's long poll may still be open in the fake: the new poll supersedes
    # it (that one ends with 409 on a dead socket) and the new process never sees a Conflict.
    assert "Conflict" not in log
    assert "Traceback" not in log
    assert fake.token not in log


def test_sigterm_finishes_the_reply_in_flight_and_stops_within_5s_with_the_store_saved(
    fake_bot_api: FakeBotApi, bot_process: BotProcess
) -> None:
    fake = fake_bot_api
    bot_process.start()
    fake.send_text(USER, "my mailbox is full")
    fake.wait_for_messages(USER, 1)
    fake.set_delay(1.0, methods=["sendMessage"])
    mark = fake.request_count
    fake.send_text(USER, "done")
    # The handler is running: it removed step 1's buttons and is now sending step 2, slowly.
    fake.wait_for_request("editMessageReplyMarkup", after=mark, timeout=10)

    code, seconds = bot_process.terminate(timeout=5.0)

    assert code == 0
    assert seconds < 5.0
    messages = fake.messages(USER)
    assert first_line(messages[-1].visible_text) == "Step 2 of 3"
    store = SqliteStore(bot_process.store_path)
    try:
        session = store.get(str(USER))
    finally:
        store.close()
    assert session is not None
    assert (session.state, session.topic, session.step) == (State.GUIDE, "mailbox-full", 1)
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
