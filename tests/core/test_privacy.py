"""Secrets and personal data are masked before anything is kept; chat ids are pseudonymised."""

from __future__ import annotations

import pytest

from bot.core.privacy import CARD, EMAIL, HIDDEN, PHONE, mask_personal, mask_secrets, pseudonym


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is Summer2024!", f"my password is {HIDDEN}"),
        ("password: hunter", f"password: {HIDDEN}"),
        ("Password=abc", f"Password={HIDDEN}"),
        ("pwd hunter2 please help", f"pwd {HIDDEN} please help"),
        ("login with pw: x", f"login with pw: {HIDDEN}"),
        ("我的密码是abc12345", f"我的密码是{HIDDEN}"),
        ("密码：qwerty 登录不了", f"密码：{HIDDEN} 登录不了"),
        ("card 4111 1111 1111 1111 was charged", f"card {CARD} was charged"),
        ("card 4111-1111-1111-1111", f"card {CARD}"),
    ],
)
def test_secrets_users_paste_are_masked(text: str, expected: str) -> None:
    assert mask_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password and can't log in",
        "password reset link does not work",
        "my password is wrong",
        "passwords are hard",
        "bounce 552 5.2.2 mailbox full",
        "order 4111 1111 1111 1112 (not a valid card number)",
        "error at 10:30 on 2026-11-30",
    ],
)
def test_ordinary_words_and_codes_are_left_alone(text: str) -> None:
    assert mask_secrets(text) == text


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_personal("password: hunter2, mail me at a.b@example.com")

    assert mask_personal(once) == once


def test_personal_masking_also_hides_addresses_and_phone_numbers() -> None:
    text = "write to boss@corp.example.com or call +44 20 7946 0958, from 192.168.10.200"

    masked = mask_personal(text)

    assert masked == f"write to {EMAIL} or call {PHONE}, from 192.168.10.200"
    assert mask_secrets(text) == text  # staff still see them in a ticket


def test_pseudonyms_are_stable_per_salt_and_hide_the_chat_id() -> None:
    first = pseudonym("50002", "salt-one")

    assert first == pseudonym("50002", "salt-one")
    assert first != pseudonym("50002", "salt-two")
    assert first != pseudonym("50003", "salt-one")
    assert "50002" not in first


def test_an_empty_salt_keeps_the_chat_id() -> None:
    assert pseudonym("50002", "") == "50002"
