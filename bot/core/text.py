"""Text normalisation shared by the matcher and the intent parser: pure, total functions.

Any Unicode string goes in (empty, 10 000 characters, emoji, control characters, pasted
bounce lines); lower-cased word tokens come out. ``stem`` is a deliberately small suffix
stripper: enough to make "deleted", "deletes" and "deleting" one feature, without a dependency.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from functools import lru_cache

from bot.core import chinese

MAX_INPUT_CHARS = 2000
# An error code as the matcher's exact path finds it in a message: one run of word characters
# and inner dots ("552", "MailboxFull", "5.2.2").
CODE_TOKEN = re.compile(r"\w+(?:\.\w+)*")

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
    "where's": "where is",
    "wheres": "where is",
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


class Flow(StrEnum):
    """Which way the mail went in the writer's story: to them, or from them."""

    INCOMING = "@incoming"
    OUTGOING = "@outgoing"


def _any(*names: str) -> str:
    return "(?:" + "|".join(names) + ")"


_WE = _any("i", "we")
_SEND_VERB = _any(
    "send", "sends", "sent", "sending", "email", "emails", "emailed", "emailing", "mail",
    "mails", "mailed", "write", "writes", "wrote", "writing", "reply", "replies", "replied",
    "forward", "forwards", "forwarded",
)  # fmt: skip
_SENT = _any("send", "sent", "emailed", "mailed", "wrote", "forwarded")
_NOT_ME = r"(?!me\b|us\b|myself\b)"
_MY_MAIL = _any(
    r"e ?mails?", "mails?", "messages?", "replies", "reply", "newsletters?", "letters?",
    "quotes?", "invoices?", "files?",
)  # fmt: skip
_BOX = _any("mailbox", "mail box", "inbox", "box", "server", "mail server", "spam", "junk")
# The writer (or their company) sent the mail: a bounce they got describes the other side.
_OUTGOING = re.compile(
    "|".join(
        (
            rf"\b{_any('when', 'whenever', 'if', 'every time', 'each time', 'after')} "
            rf"{_WE} (?:\w+ )?{_SEND_VERB}\b",
            rf"\b{_WE} (?:\w+ ){{0,2}}?{_SENT} (?:\w+ ){{0,3}}?to {_NOT_ME}",
            rf"\b{_WE} {_any('am', 'are', 'was', 'were')} (?:\w+ )?"
            rf"{_any('sending', 'emailing', 'writing')} to\b",
            # "sent an email to gmail and got 552 back": the writer left out the "I".
            rf"^(?:just |also )?{_any('sent', 'emailed', 'mailed')} (?:\w+ ){{0,3}}?to {_NOT_ME}",
            rf"\b{_WE} {_any('email', 'emailed', 'mail', 'mailed')} "
            rf"{_any('my', 'our', 'a', 'an', 'the', 'him', 'her', 'them', 'this', 'that')}\b",
            rf"\b{_any('my', 'our')} {_MY_MAIL} (?:i sent |we sent |sent )?to {_NOT_ME}",
            rf"\bthe other {_any('persons?', 'sides?', 'party')} (?:e ?mail |mail )?{_BOX}\b",
        )
    )
)
# Someone else sent the mail to the writer: their own mailbox is the one in question.
_INCOMING = re.compile(
    "|".join(
        (
            rf"\b{_any(_SEND_VERB, 'reach', 'reaches', 'reaching', 'contact', 'contacts')} "
            rf"(?:to )?{_any('me', 'us')}\b",
            r"\bto (?:me|us)\b",
            rf"\bto {_any('my', 'our')} (?:\w+ )?"
            rf"{_any('address', 'mailbox', 'mail box', 'inbox', 'account')}\b",
            rf"\b{_WE} {_any('can not', 'do not', 'did not', 'never', 'no longer')} (?:\w+ )?"
            rf"{_any('receive', 'get', 'got')}\b",
        )
    )
)


def mail_flow(tokens: list[str]) -> frozenset[Flow]:
    """Which way the mail in a story went, read from its words (see ``words``)."""
    joined = " ".join(tokens)
    found = set()
    if _OUTGOING.search(joined):
        found.add(Flow.OUTGOING)
    if _INCOMING.search(joined):
        found.add(Flow.INCOMING)
    return frozenset(found)
