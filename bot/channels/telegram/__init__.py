"""Telegram channel on python-telegram-bot 22 (a package: one module per concern).

``app`` wires the application, ``runtime`` fetches/receives, records and schedules updates
(``scheduler``, ``webhook``), ``handlers`` holds the PTB callbacks, ``delivery`` sends (send
policy, outbox), ``staff`` serves the helpdesk, ``inline`` answers inline queries,
``keyboards`` renders buttons and ``logs`` redacts the token.
"""

from bot.channels.telegram.app import (
    ADMIN_COMMANDS,
    COMMANDS,
    build_application,
    run_telegram,
    serve,
    set_commands,
    webhook_options,
)
from bot.channels.telegram.handlers import DESCRIBE_IN_WORDS, STALE_BUTTON, TelegramChannel
from bot.channels.telegram.keyboards import card_keyboard, coalesce, keyboard
from bot.channels.telegram.logs import quiet_logging
from bot.channels.telegram.runtime import Runtime
from bot.channels.telegram.scheduler import ChatScheduler
from bot.channels.telegram.webhook import WebhookServer

__all__ = [
    "ADMIN_COMMANDS",
    "COMMANDS",
    "DESCRIBE_IN_WORDS",
    "STALE_BUTTON",
    "ChatScheduler",
    "Runtime",
    "TelegramChannel",
    "WebhookServer",
    "build_application",
    "card_keyboard",
    "coalesce",
    "keyboard",
    "quiet_logging",
    "run_telegram",
    "serve",
    "set_commands",
    "webhook_options",
]
