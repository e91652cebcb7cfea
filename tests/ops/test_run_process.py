"""``python -m bot run`` as an operator sees it: start-up against an unreachable Bot API, JSON
logs that parse line by line, one INFO line per update without user text, health endpoints."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from bot.ops.health import probe_http
from tests.helpers.bot_process import BotProcess
from tests.helpers.fake_bot_api import FakeBotApi

USER = 4242
SECRET_WORDS = "my mailbox is full and my password is hunter2"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def records(log: str) -> list[dict[str, object]]:
    """Every line of the log as JSON (fails on the first line that is not)."""
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def test_start_up_waits_for_the_bot_api_then_logs_json_one_line_per_update(
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
        },
    )
    try:
        bot.start()
        fake.send_text(USER, SECRET_WORDS)
        fake.wait_for_messages(USER, 1, timeout=30)
        fake.send_text(USER, "/stats")
        fake.wait_for_messages(USER, 2, timeout=30)
        ready = probe_http(f"http://127.0.0.1:{metrics_port}/readyz")
        live = probe_http(f"http://127.0.0.1:{metrics_port}/healthz")
        elsewhere = probe_http(f"http://127.0.0.1:{metrics_port}/")
        _, page = probe_http(f"http://127.0.0.1:{metrics_port}/metrics")
        code, _ = bot.terminate(timeout=10)
    finally:
        bot.stop()
    log = bot.log()

    lines = records(log)
    starts = [r for r in lines if "start-up attempt" in str(r["message"])]
    assert [r["level"] for r in starts] == ["WARNING", "WARNING"]
    assert all("exc_info" not in r for r in lines)
    updates = [r for r in lines if r["logger"] == "bot.updates"]
    assert [(r["kind"], r.get("decision"), r.get("command")) for r in updates] == [
        ("text", "answer", None),
        ("command", None, "stats"),
    ]
    assert updates[0]["topic"] == "mailbox-full"
    assert updates[0]["state_from"] == "idle"
    assert str(USER) not in json.dumps(updates)
    assert "hunter2" not in log
    assert fake.token not in log
    assert code == 0
    assert ready[0] is True, ready[1]
    assert live[0] is True
    assert elsewhere[0] is False
    assert 'alimail_bot_updates_total{kind="text"} 1.0' in page
    assert 'alimail_bot_commands_total{command="stats"} 1.0' in page
