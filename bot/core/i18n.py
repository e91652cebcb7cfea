"""The bot's own words in the user's language: gettext translators, injected by the edge.

The core never reads a catalog: ``bot.locale.load_translators`` does, when the process starts,
and hands the engine one translator per language. Core code marks every string it says with
``_ = tr.gettext`` and ``_("...")`` (placeholders as ``{name}``, filled after translation), so
Babel's extractor finds them (``bot/locale/README.md`` of the catalogs: how to update them).
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from typing import Final, Protocol


class Translator(Protocol):
    """What the core needs of a gettext translations object."""

    def gettext(self, message: str, /) -> str:
        """The message in the translator's language (the message itself when untranslated)."""
        ...  # pragma: no cover


# English is the source language: its translator returns every message as it is.
IDENTITY: Final[Translator] = gettext.NullTranslations()


def translator_for(translators: Mapping[str, Translator], language: str | None) -> Translator:
    """The translator for a language, or the identity (English) when there is none."""
    return translators.get(language or "", IDENTITY)


# Named as gettext names it, so Babel's extractor finds the marked messages.
def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it where it is shown."""
    return message
