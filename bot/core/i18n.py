"""The bot's own words in the reader's language: gettext, with the translator chosen per turn.

The core never reads a catalog: ``bot.locale.load_translators`` does when the process starts,
and the engine (or a channel) says which language a piece of work is in with
``with speaking(translator): ...``. Inside, ``_("...")`` returns the message in that language;
placeholders are ``{name}``, filled after translation. The translator lives in a context
variable, so concurrent chats (asyncio tasks) never see each other's language, and the same
session and event still give the same replies. ``N_`` marks a message defined ahead of use
(a button label constant) for Babel's extractor; ``_`` translates it where it is shown.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, Protocol


class Translator(Protocol):
    """What the core needs of a gettext translations object."""

    def gettext(self, message: str, /) -> str:
        """The message in the translator's language (the message itself when untranslated)."""
        ...  # pragma: no cover


# English is the source language: its translator returns every message as it is.
IDENTITY: Final[Translator] = gettext.NullTranslations()
_CURRENT: ContextVar[Translator] = ContextVar("translator", default=IDENTITY)


def _(message: str) -> str:
    """The message in the language being spoken (see ``speaking``)."""
    return _CURRENT.get().gettext(message)


# Named as gettext names it, so Babel's extractor finds the marked messages.
def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it with ``_`` when shown."""
    return message


@contextmanager
def speaking(translator: Translator) -> Iterator[Translator]:
    """Within the block, ``_`` translates with ``translator``."""
    token = _CURRENT.set(translator)
    try:
        yield translator
    finally:
        _CURRENT.reset(token)


def translator_for(translators: Mapping[str, Translator], language: str | None) -> Translator:
    """The translator for a language, or the identity (English) when there is none."""
    return translators.get(language or "", IDENTITY)
