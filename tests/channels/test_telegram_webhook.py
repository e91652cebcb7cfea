"""Webhook mode: our own small server in front of the runtime (secret first, bounded bodies)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.channels.telegram import Runtime, build_application, webhook_options
from bot.channels.telegram.app import start_webhook
from bot.channels.telegram.webhook import Response, WebhookServer
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.store.aio import ThreadedStore
from bot.store.memory import MemoryStore
from tests.helpers.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.asyncio

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


@dataclass
class Hook:
    """The running webhook: its local URL and port, the server, and what was handled."""

    url: str
    port: int
    server: WebhookServer
    done: list[int]
    changed: asyncio.Event

    async def handled(self, update_id: int, times: int = 1) -> None:
        """Wait until the bot finished ``update_id`` (``times`` times)."""
        async with asyncio.timeout(10):
            while self.done.count(update_id) < times:
                self.changed.clear()
                await self.changed.wait()


@pytest_asyncio.fixture
async def hook(fake_bot_api: FakeBotApi, engine_without_staff: Engine) -> AsyncIterator[Hook]:
    """The bot serving its webhook on loopback, as ``alimail-bot run`` would."""
    port = _free_port()
    settings = _settings(fake_bot_api, port)
    store = ThreadedStore(MemoryStore())
    application, channel = build_application(settings, engine_without_staff, store)
    done: list[int] = []
    changed = asyncio.Event()

    def finished(update_id: int) -> None:
        done.append(update_id)
        changed.set()

    runtime = Runtime(application, channel, store, on_done=finished)
    await runtime.start()
    server = await start_webhook(runtime, settings)
    try:
        path = webhook_options(settings)["url_path"]
        yield Hook(f"http://127.0.0.1:{port}/{path}", port, server, done, changed)
    finally:
        await server.stop()
        await runtime.stop()
        await store.close()


def _post(
    url: str,
    body: bytes,
    secret: str | None,
    content_type: str = "application/json",
) -> int:
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _headers_only(port: int, path: str, headers: dict[str, str]) -> bytes:
    """Send a POST's head but never its body; return what the server answers."""
    head = f"POST /{path} HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall((head + "\r\n").encode())
        return connection.recv(4096)


async def test_the_local_path_is_the_path_of_the_public_url(fake_bot_api: FakeBotApi) -> None:
    options = webhook_options(_settings(fake_bot_api, 8443))

    assert options["url_path"] == "hooks/alimail"
    assert options["listen"] == "127.0.0.1"
    assert options["port"] == 8443
    assert options["secret_token"] == SECRET


async def test_start_registers_the_webhook_with_its_secret(
    fake_bot_api: FakeBotApi, hook: Hook
) -> None:
    request = await fake_bot_api.wait_for_request_async("setWebhook")

    assert request.params["url"] == "https://bot.example.test/hooks/alimail"
    assert request.params["secret_token"] == SECRET


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_an_update_posted_with_the_secret_is_answered(
    fake_bot_api: FakeBotApi, hook: Hook, content_type: str
) -> None:
    update = fake_bot_api.update(fake_bot_api.send_text(USER, "my mailbox is full"))

    status = await asyncio.to_thread(
        _post, hook.url, json.dumps(update).encode(), SECRET, content_type
    )

    assert status == 200
    (reply,) = await fake_bot_api.wait_for_messages_async(USER, 1)
    assert reply.visible_text.startswith("Cannot Receive New Emails Due to Full Mailbox")


async def test_a_replayed_update_is_applied_once(fake_bot_api: FakeBotApi, hook: Hook) -> None:
    await asyncio.to_thread(
        _post,
        hook.url,
        json.dumps(
            fake_bot_api.update(fake_bot_api.send_text(USER, "my mailbox is full"))
        ).encode(),
        SECRET,
    )
    await fake_bot_api.wait_for_messages_async(USER, 1)
    done = fake_bot_api.update(fake_bot_api.send_text(USER, "done"))
    body = json.dumps(done).encode()

    first = await asyncio.to_thread(_post, hook.url, body, SECRET)
    await hook.handled(done["update_id"])
    second = await asyncio.to_thread(_post, hook.url, body, SECRET)
    await hook.handled(done["update_id"], times=2)  # handled again: recognised as applied

    assert (first, second) == (200, 200)
    steps = [m.visible_text.split("\n")[0] for m in fake_bot_api.messages(USER)]
    assert steps[-1] == "Step 2 of 3"
    assert "Step 3 of 3" not in steps
    assert len(fake_bot_api.messages(USER)) == 2


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
async def test_an_update_without_the_right_secret_is_refused(
    fake_bot_api: FakeBotApi, hook: Hook, secret: str | None
) -> None:
    update = fake_bot_api.update(fake_bot_api.send_text(USER, "my mailbox is full"))

    status = await asyncio.to_thread(_post, hook.url, json.dumps(update).encode(), secret)

    assert status == 403
    assert fake_bot_api.requests("sendMessage") == []


async def test_the_secret_is_checked_before_the_body_is_read(hook: Hook) -> None:
    # 95 MB announced, nothing sent: the answer comes without the server waiting for it.
    answer = await asyncio.to_thread(
        _headers_only,
        hook.port,
        "hooks/alimail",
        {"Content-Type": "application/json", "Content-Length": "95000000"},
    )

    assert answer.startswith(b"HTTP/1.1 403 ")


async def test_a_body_over_one_megabyte_is_refused_unread(hook: Hook) -> None:
    answer = await asyncio.to_thread(
        _headers_only,
        hook.port,
        "hooks/alimail",
        {
            "Content-Type": "application/json",
            "Content-Length": "1000001",
            "X-Telegram-Bot-Api-Secret-Token": SECRET,
        },
    )

    assert answer.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"update_id": "7"}'])
async def test_a_malformed_body_is_a_400_without_a_traceback(
    fake_bot_api: FakeBotApi, hook: Hook, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    status = await asyncio.to_thread(_post, hook.url, body, SECRET)

    assert status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "Traceback" not in caplog.text


async def test_other_components_can_serve_get_routes_on_the_same_port(hook: Hook) -> None:
    async def healthz() -> Response:
        return Response(status=200, body=b"ok")

    hook.server.add_get("/healthz", healthz)

    def get(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{hook.port}{path}", timeout=10) as r:
                return int(r.status), r.read()
        except urllib.error.HTTPError as err:
            return int(err.code), b""

    assert await asyncio.to_thread(get, "/healthz") == (200, b"ok")
    assert (await asyncio.to_thread(get, "/nothing"))[0] == 404
