"""A bare python-telegram-bot echo bot: the baseline that ``bench/throughput.py`` compares with.

It does what the support bot does per update on the Bot API side, and nothing else: a text
gets one HTML reply with two inline buttons; a button press is answered
(``answerCallbackQuery``), the pressed message's keyboard removed
(``editMessageReplyMarkup``) and one reply with buttons sent. Same PTB version, same
``concurrent_updates`` limit (256), same ``getUpdates`` polling, no rate limiter (like
``BOT_RATE_LIMIT=off``). What is left between the two bots is our own work per update: the
engine, the session store, rendering.

With ``--same-calls`` it makes the support bot's Bot API calls instead, told by the benchmark
how many replies each update gets: a text ``"N|words"`` or a press with data ``"echo:N"``
gets N replies (the last with buttons), and the keyboard of its previous reply is removed, as
the support bot removes a step's buttons when the conversation moves on; the calls of one
update run concurrently, as in ``bot/channels/telegram/``. The gap left to the support bot
is then only its own work: engine, session store, rendering.

Run: ``TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT/bot python bench/echo_bot.py``
(SIGTERM or Ctrl-C stops it).
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("✅ Echo again", callback_data="echo:again")],
        [InlineKeyboardButton("🤔 Other", callback_data="echo:other")],
    ]
)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo the text back, escaped, with two buttons."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    await message.reply_text(
        f"<b>Echo</b>: {html.escape(message.text)}",
        parse_mode=ParseMode.HTML,
        reply_markup=KEYBOARD,
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press, remove the pressed keyboard, send one reply with buttons."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    await query.answer()
    await context.bot.edit_message_reply_markup(
        chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
    )
    await context.bot.send_message(
        query.message.chat.id,
        f"<b>Pressed</b>: {html.escape(query.data or '')}",
        parse_mode=ParseMode.HTML,
        reply_markup=KEYBOARD,
    )


class SameCalls:
    """The support bot's Bot API calls per update, with echo texts (``--same-calls``)."""

    def __init__(self) -> None:
        self.prompts: dict[int, int] = {}  # chat -> the message whose keyboard is live

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Clear the previous keyboard while sending N replies."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        count, _, words = message.text.partition("|")
        calls = [self.reply(context, message.chat.id, int(count) if count.isdigit() else 1, words)]
        previous = self.prompts.pop(message.chat.id, None)
        if previous is not None:
            calls.append(self.clear(context, message.chat.id, previous))
        await asyncio.gather(*calls)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer, clear the pressed keyboard and send N replies, all at once."""
        query = update.callback_query
        if query is None or query.message is None:
            return
        chat_id = query.message.chat.id
        count = (query.data or "").rpartition(":")[2]
        if self.prompts.get(chat_id) == query.message.message_id:
            del self.prompts[chat_id]
        await asyncio.gather(
            query.answer(),
            self.clear(context, chat_id, query.message.message_id),
            self.reply(context, chat_id, int(count) if count.isdigit() else 1, query.data or ""),
        )

    async def reply(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, count: int, words: str
    ) -> None:
        """N messages in order, buttons on the last; remember it as the live keyboard."""
        for i in range(count):
            last = i == count - 1
            sent = await context.bot.send_message(
                chat_id,
                f"<b>Echo {i + 1}/{count}</b>: {html.escape(words)}",
                parse_mode=ParseMode.HTML,
                reply_markup=KEYBOARD if last else None,
            )
            if last:
                self.prompts[chat_id] = sent.message_id

    @staticmethod
    async def clear(context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int) -> None:
        """Remove a keyboard."""
        await context.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None
        )


def build(token: str, base_url: str, *, same_calls: bool = False) -> Application:
    """The echo application."""
    application = (
        ApplicationBuilder().token(token).base_url(base_url).concurrent_updates(256).build()
    )
    text, button = on_text, on_button
    if same_calls:
        mimic = SameCalls()
        text, button = mimic.on_text, mimic.on_button
    application.add_handler(MessageHandler(filters.TEXT & ~filters.UpdateType.EDITED, text))
    application.add_handler(CallbackQueryHandler(button))
    return application


def main(argv: list[str] | None = None) -> int:
    """Run the echo bot until SIGTERM/SIGINT."""
    arguments = sys.argv[1:] if argv is None else argv
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    if not token:
        print("echo_bot: TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    base_url = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org/bot")
    logging.basicConfig(level=logging.WARNING)
    application = build(token, base_url, same_calls="--same-calls" in arguments)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
