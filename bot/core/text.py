"""Text normalisation shared by the matcher and the intent parser: pure, total functions.

Any Unicode string goes in (empty, 10 000 characters, emoji, control characters, pasted
bounce lines); lower-cased word tokens come out. ``stem`` is a deliberately small suffix
stripper: enough to make "deleted", "deletes" and "deleting" one feature, without a dependency.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.core import chinese

MAX_INPUT_CHARS = 2000

# Forwarded-note and greeting prefixes carry no meaning about the problem.
_PREFIX = re.compile(
    r"^\s*(?:(?:fwd?|fw|forwarded(?: message)?|re)\s*:\s*|"
    r"(?:my |the |a |our )?(?:user|customer|client|colleague|boss|staff member|employee)s?"
    r"\s+(?:says|said|writes|wrote|reports|reported|asks|asked|complains)\s*:?\s*)+",
    re.IGNORECASE,
)
_INVISIBLE = re.compile(
    r"[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
# "阿里邮箱支持IMAP吗" is one \w+ run: split where CJK meets Latin letters or digits.
_SCRIPT_EDGE = re.compile(rf"(?<=[{_CJK}])(?=[^{_CJK}])|(?<=[^{_CJK}])(?=[{_CJK}])")
_CONTRACTIONS = {
    "can't": "can not",
    "cant": "can not",
    "cannot": "can not",
    "won't": "will not",
    "wont": "will not",
    "don't": "do not",
    "dont": "do not",
    "doesn't": "does not",
    "doesnt": "does not",
    "didn't": "did not",
    "didnt": "did not",
    "isn't": "is not",
    "isnt": "is not",
    "aren't": "are not",
    "arent": "are not",
    "wasn't": "was not",
    "wasnt": "was not",
    "haven't": "have not",
    "havent": "have not",
    "hasn't": "has not",
    "hasnt": "has not",
    "couldn't": "could not",
    "couldnt": "could not",
    "i'm": "i am",
    "im": "i am",
    "it's": "it is",
    "they're": "they are",
    "there's": "there is",
    "what's": "what is",
}


def clean(text: str) -> str:
    """Bound the length, apply NFKC, drop control and invisible characters, squash spaces."""
    text = text[:MAX_INPUT_CHARS]
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub(" ", text)
    return " ".join(text.split())


def split_scripts(text: str) -> str:
    """A space where CJK meets Latin letters or digits: "对方收到552退信" has the code 552."""
    return _SCRIPT_EDGE.sub(" ", text)


def strip_forward_prefix(text: str) -> str:
    """Remove helpdesk framing such as "user says:" or "Fwd:" from the start of a message."""
    return chinese.strip_prefix(_PREFIX.sub("", text, count=1))


def words(text: str) -> list[str]:
    """Lower-cased word tokens with common contractions expanded; Chinese as ``chinese.units``."""
    out: list[str] = []
    text = _SCRIPT_EDGE.sub(" ", clean(text).casefold().replace("\u2019", "'"))
    for raw in _TOKEN.findall(text):
        if chinese.han_count(raw[0]):
            out.extend(chinese.units(raw))
            continue
        expanded = _CONTRACTIONS.get(raw)
        if expanded:
            out.extend(expanded.split())
        else:
            out.append(raw.replace("'", ""))
    return out


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English suffix stripper: deleted/deletes/deleting -> delet, boxes -> box."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("sses", "ss")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)] + repl
    base = word
    for suffix in ("ingly", "edly", "ings", "ing", "ed", "ly"):
        # "-ly" needs a longer stem: reply, apply and only are not adverbs.
        shortest = 4 if suffix == "ly" else 3
        if base.endswith(suffix) and len(base) - len(suffix) >= shortest:
            base = base[: -len(suffix)]
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            break
    else:
        if base.endswith("s") and not base.endswith(("ss", "us", "is")) and len(base) > 3:
            base = base[:-1]
    if base.endswith("e") and len(base) > 3:
        base = base[:-1]
    return base
