"""Telegram channel on python-telegram-bot 22 (a package: one module per concern).

``app`` wires the application, ``handlers`` holds the PTB callbacks, ``delivery`` sends,
``staff`` serves the helpdesk, ``inline`` answers inline queries, ``keyboards`` renders buttons,
``ordering`` keeps one chat's updates in order and ``logs`` redacts the token.
"""

from bot.channels.telegram.app import (
    ADMIN_COMMANDS,
    COMMANDS,
    build_application,
    run_telegram,
    set_commands,
    webhook_options,
)
from bot.channels.telegram.handlers import DESCRIBE_IN_WORDS, STALE_BUTTON, TelegramChannel
from bot.channels.telegram.keyboards import card_keyboard, coalesce, keyboard
from bot.channels.telegram.logs import quiet_logging
from bot.channels.telegram.ordering import ChatLocks, PerChatUpdateProcessor

__all__ = [
    "ADMIN_COMMANDS",
    "COMMANDS",
    "DESCRIBE_IN_WORDS",
    "STALE_BUTTON",
    "ChatLocks",
    "PerChatUpdateProcessor",
    "TelegramChannel",
    "build_application",
    "card_keyboard",
    "coalesce",
    "keyboard",
    "quiet_logging",
    "run_telegram",
    "set_commands",
    "webhook_options",
]
