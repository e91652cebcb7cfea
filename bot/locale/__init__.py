"""The bot's message catalogs (gettext, managed with Babel) and their loader.

``messages.pot`` lists every string the bot says, extracted from the code; each language has
``<lang>/LC_MESSAGES/messages.po``. The loader reads the ``.po`` files when the process starts
(compiling them in memory, so there is no build step) and the engine gets one translator per
language. After changing a marked string in the code (``_("...")`` or ``N_("...")``, from
``bot.core.i18n``)::

    pybabel extract -F bot/locale/babel.cfg -k N_ --no-location --sort-output \\
        --omit-header -w 99 -o bot/locale/messages.pot .
    pybabel update -w 99 -i bot/locale/messages.pot -d bot/locale --ignore-obsolete \\
        --ignore-pot-creation-date
    # translate the new entries in bot/locale/*/LC_MESSAGES/messages.po (no "fuzzy" left)

``tests/test_locale.py`` fails while any catalog has a missing, untranslated, fuzzy, unused or
placeholder-changing entry. A new language is a new ``pybabel init -l <lang>`` folder.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.errors import ConfigError

LOCALE_DIR: Final = Path(__file__).resolve().parent
DOMAIN: Final = "messages"


def catalog_paths(directory: Path = LOCALE_DIR) -> dict[str, Path]:
    """Each language's ``.po`` file, by language code."""
    return {
        path.parent.parent.name: path
        for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    }


def load_translators(directory: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    """One gettext translator per language found in ``directory``; English needs none."""
    translators: dict[str, gettext.NullTranslations] = {}
    for language, path in catalog_paths(directory).items():
        try:
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read message catalog {path}: {err}") from err
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        translators[language] = gettext.GNUTranslations(compiled)
    return translators
