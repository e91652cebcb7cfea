"""Wiring: the PTB application, the runtime (polling or webhook) and ``run_telegram``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.error import InvalidToken
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.logs import quiet_logging
from bot.channels.telegram.runtime import Runtime
from bot.channels.telegram.webhook import GetRoute, Response, WebhookServer
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.errors import ConfigError
from bot.ops.bot_api import api_origin, probe_get_me, wait_for_bot_api
from bot.ops.health import HEALTHZ, READYZ
from bot.ops.metrics import Metrics
from bot.ops.runtime import Ops, start_ops
from bot.ops.telegram_updates import update_facts
from bot.store.aio import AsyncStore, open_async_store

logger = logging.getLogger(__name__)

COMMANDS = (
    ("start", "What I can help with"),
    ("topics", "Problems and questions I know"),
    ("help", "How to talk to me"),
    ("cancel", "Stop and start over"),
    ("human", "Talk to a person"),
    ("language", "English / 简体中文"),
    ("forget", "Delete everything stored about me"),
)
ADMIN_COMMANDS = ("stats", "inbox")
STAFF_COMMANDS = ("close",)
# A slow Telegram that answers after 6 s has still sent the message: a short read timeout
# would make the send look failed. Connecting is what fails fast when Telegram is down.
READ_TIMEOUT_SECONDS = 20.0
WRITE_TIMEOUT_SECONDS = 20.0
CONNECT_TIMEOUT_SECONDS = 5.0


class _OneRetryOwner(logging.Filter):
    """Drops the rate limiter's traceback for a 429 it hands on (``max_retries=0``).

    The send policy owns 429s (waits ``retry_after`` once, for every send); the rate limiter
    only paces requests. With no retries of its own it logs each 429 it passes up as an
    exception, which would read like a crash.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the "maximum of 0 retries" record."""
        return not str(record.msg).startswith("Rate limit hit after maximum of")


def build_application(
    settings: Settings,
    engine: Engine,
    store: AsyncStore,
    *,
    metrics: Metrics | None = None,
    read_timeout: float | None = None,
    ops: Ops | None = None,
) -> tuple[Application, TelegramChannel]:
    """The PTB application with our handlers, pacing, timeouts and error handler.

    With ``ops``, every Bot API call is observed (metrics, readiness, one WARNING per outage).
    """
    if ops is not None:
        metrics = ops.metrics
    channel = TelegramChannel(engine=engine, store=store, settings=settings, metrics=metrics)
    assert settings.token is not None
    timeouts = {
        "read_timeout": READ_TIMEOUT_SECONDS if read_timeout is None else read_timeout,
        "write_timeout": WRITE_TIMEOUT_SECONDS,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    }
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_url)
        .updater(None)  # polling and the webhook are ours (bot.channels.telegram.runtime)
        .post_init(_post_init(channel))
    )
    if ops is None:
        builder = (
            builder.read_timeout(timeouts["read_timeout"])
            .write_timeout(timeouts["write_timeout"])
            .connect_timeout(timeouts["connect_timeout"])
        )
    else:
        # The timeouts go to the request objects: PTB refuses them on the builder as well.
        builder = builder.request(ops.request(**timeouts)).get_updates_request(
            ops.request(get_updates=True, **timeouts)
        )
    if settings.rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
        limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
        if not any(isinstance(f, _OneRetryOwner) for f in limiter_log.filters):
            limiter_log.addFilter(_OneRetryOwner())
    application = builder.build()
    command_names = [name for name, _ in COMMANDS] + list(ADMIN_COMMANDS + STAFF_COMMANDS)
    application.add_handler(
        CommandHandler(command_names, channel.on_command, filters=~filters.UpdateType.EDITED)
    )
    application.add_handler(CallbackQueryHandler(channel.on_button))
    application.add_handler(InlineQueryHandler(channel.on_inline))
    application.add_handler(
        MessageHandler(
            (filters.TEXT | filters.CAPTION) & ~filters.UpdateType.EDITED, channel.on_text
        )
    )
    application.add_handler(
        MessageHandler(
            ~filters.TEXT
            & ~filters.CAPTION
            & ~filters.UpdateType.EDITED
            & ~filters.StatusUpdate.ALL,
            channel.on_other,
        )
    )
    application.add_error_handler(channel.on_error)
    return application, channel


def _post_init(channel: TelegramChannel) -> Callable[[Application], Awaitable[None]]:
    async def post_init(application: Application) -> None:
        me = application.bot
        channel.bot_id = me.id
        channel.bot_username = me.username or ""
        await set_commands(application)

    return post_init


async def set_commands(application: Application) -> None:
    """Register the command menu with setMyCommands."""
    await application.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS])


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Where the webhook server listens and what it tells Telegram.

    The local path is the path of ``BOT_WEBHOOK_URL``, so a reverse proxy can forward as is.
    """
    assert settings.webhook_url is not None
    host, port = settings.listen
    path = urlsplit(settings.webhook_url).path.strip("/") or "telegram"
    return {
        "listen": host,
        "port": port,
        "url_path": path,
        "webhook_url": settings.webhook_url,
        "secret_token": settings.webhook_secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def run_telegram(core: Any, settings: Settings) -> int:
    """Run the bot (polling, or a webhook when BOT_WEBHOOK_URL is set) until SIGINT/SIGTERM."""
    assert settings.token is not None
    quiet_logging(settings.token)
    asyncio.run(serve(core.engine, settings))
    return 0


async def serve(
    engine: Engine, settings: Settings, *, routes: Mapping[str, GetRoute] | None = None
) -> None:
    """Open the store, start the runtime, poll or serve the webhook until stopped.

    ``routes``: extra GET routes for the webhook server (``/healthz``...).
    """
    kb = engine.kb
    ops = start_ops(
        settings,
        topics=tuple(sorted({kb.topic_of(i) for i in kb.ids})),
        knowledge=f"{len(kb.ids)} entries",
    )
    try:
        store = ops.wrap_store(
            await open_async_store(settings.store_url or settings.default_store_url)
        )
    except BaseException:
        ops.stop()
        raise
    try:
        # One line per failed attempt while the Bot API is unreachable; exit 2 on a bad token.
        where = api_origin(settings.api_url)
        await wait_for_bot_api(probe_get_me(settings.token or "", settings.api_url), where=where)
    except BaseException:
        await store.close()
        ops.stop()
        raise
    application, channel = build_application(settings, engine, store, ops=ops)
    runtime = Runtime(application, channel, store, observe=observe_updates(ops, settings))
    runtime.stop_on_signals()
    watch: asyncio.Task[None] | None = None
    try:
        await runtime.start()
        watch = asyncio.create_task(
            ops.watch(store=store, bot_api=application.bot.get_me), name="health-watch"
        )
        if settings.webhook_url:
            await _serve_webhook(runtime, settings, {**health_routes(ops), **(routes or {})})
        else:
            await runtime.poll()
    except InvalidToken:
        # PTB's message quotes the token: say which variable is wrong, not what it holds.
        raise ConfigError(
            f"TELEGRAM_BOT_TOKEN was rejected by the Bot API at {settings.api_url}; check the "
            "token from @BotFather"
        ) from None
    finally:
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await runtime.stop()
        await store.close()
        ops.stop()
        delivery = channel.delivery
        logger.info(
            "stopped: %d replies sent, %d lost, %d maybe delivered (not repeated), "
            "%d skipped by flood control",
            delivery.sent,
            delivery.lost,
            delivery.uncertain,
            runtime.dropped,
        )


async def start_webhook(
    runtime: Runtime, settings: Settings, routes: Mapping[str, GetRoute] | None = None
) -> WebhookServer:
    """Listen on BOT_LISTEN and register BOT_WEBHOOK_URL with its secret; return the server."""
    options = webhook_options(settings)
    server = runtime.webhook_server(path=options["url_path"], secret=options["secret_token"])
    for path, route in (routes or {}).items():
        server.add_get(path, route)
    await server.start(options["listen"], options["port"])
    try:
        await runtime.bot.set_webhook(
            options["webhook_url"],
            secret_token=options["secret_token"],
            allowed_updates=list(Update.ALL_TYPES),
        )
    except BaseException:
        await server.stop()
        raise
    return server


async def _serve_webhook(
    runtime: Runtime, settings: Settings, routes: Mapping[str, GetRoute]
) -> None:
    server = await start_webhook(runtime, settings, routes)
    try:
        await runtime.stopping.wait()
    finally:
        await server.stop()


def observe_updates(
    ops: Ops, settings: Settings
) -> Callable[[Update], AbstractContextManager[Any]]:
    """One per-update line and the counters (bot.ops), around each update's handling."""

    def observe(update: Update) -> AbstractContextManager[Any]:
        facts = update_facts(update, staff_chat=settings.staff_chat)
        return ops.updates.observe(
            kind=facts.kind, chat_id=facts.chat_id, sent_at=facts.sent_at, command=facts.command
        )

    return observe


def health_routes(ops: Ops) -> dict[str, GetRoute]:
    """``/healthz`` and ``/readyz`` for the webhook server (the metrics server has them too)."""

    def route(path: str) -> GetRoute:
        async def answer() -> Response:
            found = ops.health.answer(path)
            assert found is not None
            return Response(status=found.status, body=found.body, content_type=found.content_type)

        return answer

    return {path: route(path) for path in (HEALTHZ, READYZ)}
