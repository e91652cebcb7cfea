"""Wiring: the PTB application, webhook options and ``run_telegram``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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
from bot.metrics import Metrics
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


def build_application(
    settings: Settings, engine: Engine, store: SessionStore, *, metrics: Metrics | None = None
) -> tuple[Application, TelegramChannel]:
    """The PTB application with our handlers, rate limiter, ordering and error handler."""
    channel = TelegramChannel(engine=engine, store=store, settings=settings, metrics=metrics)
    assert settings.token is not None
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_url)
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(_post_init(channel))
    )
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
    store = open_store(settings.store_url or settings.default_store_url)
    metrics = None
    if settings.metrics is not None:
        metrics = Metrics()
        metrics.serve(*settings.metrics)
    application, channel = build_application(settings, core.engine, store, metrics=metrics)
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
        logger.info(
            "stopped: %d replies sent, %d lost", channel.delivery.sent, channel.delivery.lost
        )
    return 0
