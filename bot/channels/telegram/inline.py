"""Inline mode: ``@bot words`` lists matching articles to send into any chat."""

from __future__ import annotations

import logging

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.channels.render import render_parts
from bot.core import compose, i18n, language
from bot.core.dialogue import Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher

logger = logging.getLogger(__name__)

INLINE_RESULTS = 10


class InlineMixin:
    """The inline-query half of the channel (a method of ``TelegramChannel``)."""

    kb: KnowledgeBase
    matcher: Matcher
    engine: Engine

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Inline mode: matching articles to send into any chat."""
        query = update.inline_query
        if query is None:
            return
        text = query.query.strip()
        if text:
            result = self.matcher.match(text)
            ids = [c.id for c in result.candidates if c.score > 0][:INLINE_RESULTS]
        else:
            ids = list(self.kb.ids)[:INLINE_RESULTS]
        # Articles in the language of the query ("@bot 邮箱满了"), else the user's app language.
        wanted = language.detect(text) or language.from_telegram(query.from_user.language_code)
        lang = wanted if wanted in self.kb.languages else self.kb.language
        kb = self.kb.in_language(lang)
        with i18n.speaking(self.engine.translator(lang)):
            articles = [
                InlineQueryResultArticle(
                    id=entry_id[:64],
                    title=kb.title_of(entry_id)[:256],
                    description=compose.summary_of(kb, entry_id)[:256],
                    input_message_content=InputTextMessageContent(
                        render_parts(compose.article_text(kb, entry_id))[0],
                        parse_mode=ParseMode.HTML,
                    ),
                )
                for entry_id in ids
            ]
        try:
            await self._with_retry(
                lambda: query.answer(articles, cache_time=60, is_personal=False),
                what=f"inline answer for user {query.from_user.id}",
            )
        except BadRequest as err:
            # Usually "query is too old": the user typed on; a newer query is on its way.
            logger.info("inline answer refused: %s", err)
