"""Wiring: the PTB application, webhook options and ``run_telegram``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
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
from bot.channels.telegram.ordering import PerChatUpdateProcessor
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.errors import ConfigError
from bot.ops.bot_api import api_origin, probe_get_me, wait_for_bot_api
from bot.ops.metrics import Metrics
from bot.ops.runtime import Ops, start_ops
from bot.ops.telegram_updates import update_facts
from bot.store import SessionStore

logger = logging.getLogger(__name__)

COMMANDS = (
    ("start", "What I can help with"),
    ("topics", "Problems and questions I know"),
    ("help", "How to talk to me"),
    ("cancel", "Stop and start over"),
    ("human", "Talk to a person"),
    ("forget", "Delete everything stored about me"),
)
ADMIN_COMMANDS = ("stats", "inbox")
STAFF_COMMANDS = ("close",)
HEALTH_WATCH = "alimail-bot:health-watch"


def build_application(
    settings: Settings,
    engine: Engine,
    store: SessionStore,
    *,
    metrics: Metrics | None = None,
    ops: Ops | None = None,
) -> tuple[Application, TelegramChannel]:
    """The PTB application with our handlers, rate limiter, ordering and error handler.

    With ``ops``, every update is logged and counted, and every Bot API call observed.
    """
    if ops is not None:
        metrics = ops.metrics
    channel = TelegramChannel(engine=engine, store=store, settings=settings, metrics=metrics)
    assert settings.token is not None
    observe = None if ops is None else _observe_updates(ops, settings)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_url)
        .concurrent_updates(PerChatUpdateProcessor(observe=observe))
        .post_init(_post_init(channel, ops=ops, store=store))
        .post_stop(_post_stop(ops))
    )
    if ops is not None:
        builder = builder.request(ops.request()).get_updates_request(ops.request(get_updates=True))
    if settings.rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
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


def _post_init(
    channel: TelegramChannel, *, ops: Ops | None, store: SessionStore
) -> Callable[[Application], Awaitable[None]]:
    async def post_init(application: Application) -> None:
        me = application.bot
        channel.bot_id = me.id
        channel.bot_username = me.username or ""
        await set_commands(application)
        if ops is not None:
            # Not application.create_task: PTB waits for those at stop, and this never ends.
            application.bot_data[HEALTH_WATCH] = asyncio.get_running_loop().create_task(
                ops.watch(store=store, bot_api=application.bot.get_me), name="health-watch"
            )

    return post_init


def _post_stop(ops: Ops | None) -> Callable[[Application], Awaitable[None]]:
    async def post_stop(application: Application) -> None:
        watch = application.bot_data.pop(HEALTH_WATCH, None)
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    return post_stop


def _observe_updates(
    ops: Ops, settings: Settings
) -> Callable[[object], AbstractContextManager[Any]]:
    """One per-update line and the counters, around each update's handling."""

    def observe(update: object) -> AbstractContextManager[Any]:
        facts = update_facts(update, staff_chat=settings.staff_chat)
        return ops.updates.observe(
            kind=facts.kind, chat_id=facts.chat_id, sent_at=facts.sent_at, command=facts.command
        )

    return observe


async def set_commands(application: Application) -> None:
    """Register the command menu with setMyCommands."""
    await application.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS])


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Where the webhook server listens and what it tells Telegram (PTB's keyword names).

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
    from bot.store import open_store

    assert settings.token is not None
    quiet_logging(settings.token)
    ops = start_ops(
        settings,
        topics=tuple(sorted({core.kb.topic_of(i) for i in core.kb.ids})),
        knowledge=f"{len(core.kb.ids)} entries",
    )
    store = ops.wrap_store(open_store(settings.store_url or settings.default_store_url))
    try:
        # One line per failed attempt while the Bot API is unreachable; exit 2 on a bad token.
        where = api_origin(settings.api_url)
        asyncio.run(wait_for_bot_api(probe_get_me(settings.token, settings.api_url), where=where))
    except BaseException:
        store.close()
        ops.stop()
        raise
    application, channel = build_application(settings, core.engine, store, ops=ops)
    try:
        if settings.webhook_url:
            application.run_webhook(**webhook_options(settings))
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        # PTB's message quotes the token: say which variable is wrong, not what it holds.
        raise ConfigError(
            f"TELEGRAM_BOT_TOKEN was rejected by the Bot API at {settings.api_url}; check the "
            "token from @BotFather"
        ) from None
    finally:
        store.close()
        ops.stop()
        logger.info(
            "stopped: %d replies sent, %d lost", channel.delivery.sent, channel.delivery.lost
        )
    return 0
