"""``python -m bot run`` as an operator sees it: start-up against an unreachable Bot API, JSON
logs that parse line by line, one INFO line per update without user text, every kind of
update counted, health endpoints."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

from bot.ops.health import probe_http
from tests.helpers.bot_process import BotProcess
from tests.helpers.fake_bot_api import FakeBotApi

USER = 4242
STAFF = -100777
WAIT_SECONDS = 30.0
EVERY_KIND = (
    "text", "command", "button", "forward", "media", "edited", "inline_query", "staff_message"
)  # fmt: skip
SECRET_WORDS = "my mailbox is full and my password is hunter2"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def records(log: str) -> list[dict[str, object]]:
    """Every line of the log as JSON (fails on the first line that is not)."""
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def metric_values(page: str, name: str, label: str) -> dict[str, float]:
    """``{label value: sample value}`` of one labelled metric on a metrics page."""
    found = re.findall(rf'^{name}\{{{label}="([^"]+)"\}} (\S+)$', page, flags=re.MULTILINE)
    return {value: float(number) for value, number in found}


def wait_for_updates(port: int, count: int) -> str:
    """The metrics page once ``count`` updates have been handled (some get no reply to await)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        _, page = probe_http(f"http://127.0.0.1:{port}/metrics")
        handled = sum(metric_values(page, "alimail_bot_updates_total", "kind").values())
        if handled >= count or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def test_an_operators_view_of_a_session_with_every_kind_of_update(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    fake = fake_bot_api
    metrics_port = free_port()
    fake.fail_next("getMe", status=502, count=2)
    bot = BotProcess(
        fake,
        tmp_path,
        extra_env={
            "BOT_LOG_FORMAT": "json",
            "BOT_LOG_LEVEL": "INFO",
            "BOT_METRICS": f"127.0.0.1:{metrics_port}",
            "BOT_STAFF_CHAT": str(STAFF),
        },
    )
    try:
        bot.start()
        first = fake.send_text(USER, SECRET_WORDS)
        fake.wait_for_messages(USER, 1, timeout=30)
        fake.send_text(USER, "/stats")
        fake.wait_for_messages(USER, 2, timeout=30)
        mark = fake.request_count
        fake.press_button(USER, "✅ Done")  # the pressed message becomes the next step
        fake.wait_for_request("answerCallbackQuery", after=mark, timeout=30)
        fake.forward(USER, "user says: bounce 552 mailbox full", origin_kind="hidden_user")
        fake.wait_for_messages(USER, 3, timeout=30)
        fake.send_sticker(USER)
        fake.wait_for_messages(USER, 4, timeout=30)
        fake.edit_text(USER, fake.update(first)["message"]["message_id"], "edited hunter2")
        fake.inline_query(USER, "mailbox full")
        fake.send_text(STAFF, "hello team, hunter2", user_id=77, chat_type="supergroup")
        page = wait_for_updates(metrics_port, 8)
        ready = probe_http(f"http://127.0.0.1:{metrics_port}/readyz")
        live = probe_http(f"http://127.0.0.1:{metrics_port}/healthz")
        elsewhere = probe_http(f"http://127.0.0.1:{metrics_port}/")
        code, _ = bot.terminate(timeout=10)
    finally:
        bot.stop()
    log = bot.log()

    lines = records(log)
    starts = [r for r in lines if "start-up attempt" in str(r["message"])]
    assert [r["level"] for r in starts] == ["WARNING", "WARNING"]
    assert all("exc_info" not in r for r in lines)
    updates = [r for r in lines if r["logger"] == "bot.updates"]
    assert [r["level"] for r in updates] == ["INFO"] * 8
    assert sorted(r["kind"] for r in updates) == sorted(EVERY_KIND)
    text = next(r for r in updates if r["kind"] == "text")
    assert (text["decision"], text["topic"], text["state_from"]) == (
        "answer",
        "mailbox-full",
        "idle",
    )
    assert next(r for r in updates if r["kind"] == "command")["command"] == "stats"
    assert str(USER) not in json.dumps(updates)
    assert "hunter2" not in log
    assert fake.token not in log
    assert code == 0
    assert ready[0] is True, ready[1]
    assert live[0] is True
    assert elsewhere[0] is False
    counted = metric_values(page, "alimail_bot_updates_total", "kind")
    assert {kind: counted[kind] for kind in EVERY_KIND} == dict.fromkeys(EVERY_KIND, 1.0)
    assert metric_values(page, "alimail_bot_commands_total", "command")["stats"] == 1.0
    assert "process_resident_memory_bytes" in page


def test_a_polling_outage_is_one_warning_and_one_recovery_line_without_tracebacks(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    fake = fake_bot_api
    bot = BotProcess(fake, tmp_path, extra_env={"BOT_LOG_LEVEL": "INFO"})
    try:
        bot.start()
        fake.fail_next("getUpdates", status=502, count=3)
        fake.send_text(USER, "my mailbox is full")  # ends the long poll in progress
        fake.wait_for_messages(USER, 1, timeout=30)
        fake.send_text(USER, "done")  # arrives once polling works again
        fake.wait_for_messages(USER, 2, timeout=30)
        bot.terminate(timeout=10)
    finally:
        bot.stop()
    log = bot.log()

    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(warnings) == 1, log
    assert "Bot API unreachable (HTTP 502); retrying quietly" in warnings[0]
    assert "Bot API reachable again after" in log
    assert "(3 failed calls)" in log
    assert "Traceback" not in log
