"""In webhook mode the webhook server answers /healthz and /readyz too (and nothing else on GET);
readiness turns false when the Redis store goes away."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.ops.health import probe_http
from tests.helpers.bot_process import BotProcess
from tests.helpers.fake_bot_api import FakeBotApi
from tests.helpers.redis_server import running_redis_process
from tests.ops.test_run_process import free_port

SECRET = "webhook-secret_1"
WAIT_SECONDS = 30.0


def wait_for(url: str, *, ready: bool) -> tuple[bool, str]:
    """Probe ``url`` until it passes (or fails, with ``ready=False``); the last answer."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        ok, line = probe_http(url)
        if ok is ready or time.monotonic() > deadline:
            return ok, line
        time.sleep(0.1)


def post_update(port: int, update_id: int) -> int:
    update = {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": 4242, "type": "private", "first_name": "Ann"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Ann"},
            "text": "my mailbox is full",
        },
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_the_webhook_server_answers_health_and_readiness_follows_redis(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    port = free_port()
    fake_bot_api.add_chat(4242)  # the user the posted updates come from
    with running_redis_process(tmp_path) as (redis_url, redis):
        bot = BotProcess(
            fake_bot_api,
            tmp_path,
            extra_env={
                "BOT_STORE": redis_url,
                "BOT_WEBHOOK_URL": "https://bot.example.test/telegram",
                "BOT_WEBHOOK_SECRET": SECRET,
                "BOT_LISTEN": f"127.0.0.1:{port}",
                "BOT_LOG_LEVEL": "INFO",
            },
        )
        try:
            bot.start()
            base = f"http://127.0.0.1:{port}"
            live = wait_for(f"{base}/healthz", ready=True)
            ready = wait_for(f"{base}/readyz", ready=True)
            metrics = probe_http(f"{base}/metrics")
            assert post_update(port, 1) == 200
            fake_bot_api.wait_for_messages(4242, 1, timeout=30)
            redis.terminate()
            redis.wait(timeout=10)
            post_update(port, 2)  # the store cannot record it: Telegram would send it again
            gone = wait_for(f"{base}/readyz", ready=False)
            still_live = probe_http(f"{base}/healthz")
        finally:
            bot.stop()

    assert live[0] is True, live[1]
    assert ready[0] is True, ready[1]
    assert (metrics[0], ": 404 " in metrics[1]) == (False, True)
    assert gone[0] is False
    assert ": 503 " in gone[1]
    assert '"store": "failing"' in gone[1]
    assert still_live[0] is True
    assert "update kind=text" in bot.log()
