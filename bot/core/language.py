"""Which language a message is written in, and the languages the bot can speak.

The reply language follows the script of what the user writes: a message carried by Chinese
characters is Chinese, one with Latin words is English, and one with neither (a number, an
emoji, "552") says nothing, so the session keeps the language it had.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final, TypeVar

from bot.core import chinese

SOURCE: Final = "en"
# Code -> the language's own name, as the /language menu shows it.
NAMES: Final = {"en": "English", "zh": "简体中文"}
_LATIN_WORD: Final = re.compile(r"[A-Za-z]{2,}")

# Thresholds that differ from the source language's, per language: Chinese messages are
# scored against Chinese examples only, and their scores spread differently. Calibrated with
# `alimail-bot eval tests/data/calibration-zh.yaml` (its threshold advice), reported on
# bench/data/heldout-zh.yaml.
THRESHOLDS: Final[dict[str, dict[str, Any]]] = {
    "zh": {"clarify_floor": 0.08, "oos_answer_margin": -0.04, "oos_weight": 0.0},
}

Settings = TypeVar("Settings")


def detect(text: str) -> str | None:
    """'zh' or 'en' from the message's script, or None when it has no words to tell by."""
    if chinese.is_chinese(text):
        return "zh"
    if _LATIN_WORD.search(text):
        return "en"
    return None


def from_telegram(language_code: str | None) -> str | None:
    """A first guess from Telegram's ``language_code`` ('zh-hans', 'zh-hant', 'en-US')."""
    if not language_code:
        return None
    primary = language_code.casefold().split("-")[0].split("_")[0]
    return primary if primary in NAMES else None


def choose(code: str) -> str | None:
    """A language the user named: a code or a name ('zh', '中文', 'english'), or None."""
    wanted = code.strip().casefold()
    aliases = {
        "en": "en",
        "english": "en",
        "英文": "en",
        "英语": "en",
        "zh": "zh",
        "cn": "zh",
        "chinese": "zh",
        "中文": "zh",
        "简体中文": "zh",
        "汉语": "zh",
        "普通话": "zh",
    }
    return aliases.get(wanted)


def settings_for(language: str, settings: Settings) -> Settings:
    """The match thresholds for messages in ``language``: the source's, with its overrides."""
    overrides = THRESHOLDS.get(language)
    return replace(settings, **overrides) if overrides else settings  # type: ignore[type-var]
