"""What users paste that must not be kept: secrets masked, chat ids pseudonymised. Pure.

Two levels. ``mask_secrets`` hides what nobody should ever read again (a password after
"password"/"pwd"/"密码", a card number): it runs on every text before it is stored, matched or
sent to staff. ``mask_personal`` also hides e-mail addresses and phone numbers: it runs on what
goes into the event log, which is kept for reports long after the conversation is over.
Helpdesk staff still see e-mail addresses and phone numbers in a ticket, because answering the
user often needs them; the ticket's user text goes at ``/forget`` and at retention.
"""

from __future__ import annotations

import hashlib
import hmac
import re

HIDDEN = "[hidden]"
CARD = "[card number]"
EMAIL = "[e-mail]"
PHONE = "[phone]"

_KEYWORD = r"(?:(?<![A-Za-z])(?:password|passwd|passcode|passwort|pwd|pw)(?![A-Za-z])|密码|口令)"
# "password: x", "password = x", "pwd x", "密码是x", "password is x".
_PASSWORD = re.compile(
    rf"(?P<key>{_KEYWORD})(?P<sep>\s*(?:[:\uff1a=]|\bis\b|是|为)?\s*)"
    r"(?P<value>[^\s\uff0c\u3002,;\uff1b]+)",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d.])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Nine or more digits with phone punctuation; dotted groups (IP addresses, 5.7.1) are not phones.
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d ()-]{7,}\d(?![\w.])")


def mask_secrets(text: str) -> str:
    """The text with passwords and card numbers replaced by placeholders."""
    text = _PASSWORD.sub(_hide_password, text)
    return _CARD.sub(_hide_card, text)


def mask_personal(text: str) -> str:
    """``mask_secrets`` plus e-mail addresses and phone numbers: fit for the event log."""
    text = mask_secrets(text)
    text = _EMAIL.sub(EMAIL, text)
    return _PHONE.sub(_hide_phone, text)


def pseudonym(chat_id: str, salt: str) -> str:
    """A stable stand-in for a chat id (keyed hash); the chat id itself when ``salt`` is empty."""
    if not salt:
        return chat_id
    digest = hmac.new(salt.encode(), chat_id.encode(), hashlib.sha256).hexdigest()
    return f"p{digest[:20]}"


def _hide_password(found: re.Match[str]) -> str:
    value = found.group("value")
    separator = found.group("sep")
    explicit = bool(re.search(r"[:\uff1a=是为]", separator))
    if value == HIDDEN or not (explicit or _looks_secret(value)):
        # "my password is wrong", "password reset": a word, not a password.
        return found.group(0)
    return f"{found.group('key')}{separator}{HIDDEN}"


def _looks_secret(value: str) -> bool:
    """A token with a digit, a symbol or an inner capital reads as a password, a word does not."""
    core = value.rstrip(".!?)")
    if not core:
        return False
    if any(ch.isdigit() for ch in core):
        return True
    if any(not ch.isalnum() for ch in core):
        return True
    return any(ch.isupper() for ch in core[1:])


def _hide_card(found: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", found.group(0))
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return CARD
    return found.group(0)


def _hide_phone(found: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", found.group(0))
    return PHONE if 9 <= len(digits) <= 15 else found.group(0)


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
