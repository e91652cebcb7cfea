"""Webhook mode: Telegram POSTs updates to our server, which checks the secret token."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.channels.telegram import build_application, webhook_options
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.store.memory import MemoryStore
from tests.helpers.fake_bot_api import FakeBotApi

USER = 7301
SECRET = "s3cret-Token_1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(fake: FakeBotApi, port: int) -> Settings:
    return Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.base_url,
            "BOT_WEBHOOK_URL": "https://bot.example.test/hooks/alimail",
            "BOT_WEBHOOK_SECRET": SECRET,
            "BOT_LISTEN": f"127.0.0.1:{port}",
            "BOT_RATE_LIMIT": "off",
            "BOT_STORE": "memory://",
        }
    )


@pytest_asyncio.fixture
async def webhook_url(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine
) -> AsyncIterator[str]:
    """The bot serving its webhook on loopback, as ``alimail-bot run`` would; its local URL."""
    port = _free_port()
    settings = _settings(fake_bot_api, port)
    application, _ = build_application(settings, engine_without_staff, MemoryStore())
    options = webhook_options(settings)
    await application.initialize()
    await application.post_init(application)
    await application.start()
    await application.updater.start_webhook(**options)
    try:
        yield f"http://127.0.0.1:{port}/{options['url_path']}"
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


def _post(url: str, payload: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_the_local_path_is_the_path_of_the_public_url(fake_bot_api: FakeBotApi) -> None:
    options = webhook_options(_settings(fake_bot_api, 8443))

    assert options["url_path"] == "hooks/alimail"
    assert options["listen"] == "127.0.0.1"
    assert options["port"] == 8443
    assert options["secret_token"] == SECRET


@pytest.mark.asyncio
async def test_start_registers_the_webhook_with_its_secret(
    fake_bot_api: FakeBotApi, webhook_url: str
) -> None:
    request = await fake_bot_api.wait_for_request_async("setWebhook")

    assert request.params["url"] == "https://bot.example.test/hooks/alimail"
    assert request.params["secret_token"] == SECRET


@pytest.mark.asyncio
async def test_an_update_posted_with_the_secret_is_answered(
    fake_bot_api: FakeBotApi, webhook_url: str
) -> None:
    update = fake_bot_api.update(fake_bot_api.send_text(USER, "my mailbox is full"))

    status = await asyncio.to_thread(_post, webhook_url, update, SECRET)

    assert status == 200
    (reply,) = await fake_bot_api.wait_for_messages_async(USER, 1)
    assert reply.visible_text.startswith("Cannot Receive New Emails Due to Full Mailbox")


@pytest.mark.asyncio
@pytest.mark.parametrize("secret", [None, "wrong-secret"])
async def test_an_update_without_the_right_secret_is_refused(
    fake_bot_api: FakeBotApi, webhook_url: str, secret: str | None
) -> None:
    update = fake_bot_api.update(fake_bot_api.send_text(USER, "my mailbox is full"))

    status = await asyncio.to_thread(_post, webhook_url, update, secret)

    assert status == 403
    assert fake_bot_api.requests("sendMessage") == []
