"""Chinese text analysis: variants, units, language detection and forwarded-note prefixes."""

from __future__ import annotations

import pytest

from bot.core import chinese, language
from bot.core.text import clean, strip_forward_prefix, words


def test_a_run_becomes_its_characters_and_pairs_between_function_characters() -> None:
    assert chinese.units("邮箱满了收不到") == (
        *("邮", "箱", "满", "收", "不", "到"),
        *("邮箱", "箱满", "收不", "不到"),
    )


def test_function_characters_say_nothing() -> None:
    # 没 carries the problem ("gone"); 了 and 的 say nothing.
    assert chinese.units("邮件没了") == ("邮", "件", "没", "邮件", "件没")
    assert chinese.units("满了的") == ("满", "满")


def test_traditional_characters_fold_to_simplified() -> None:
    assert chinese.to_simplified("郵件刪除後網頁上看不到了") == "邮件删除后网页上看不到了"
    assert words("郵箱滿了") == words("邮箱满了")


def test_regional_words_fold_to_mainland_ones() -> None:
    assert chinese.to_simplified("伺服器上的資料夾") == "服务器上的文件夹"


def test_full_width_letters_and_digits_are_ordinary_ones() -> None:
    assert words("ｏｕｔｌｏｏｋ收信５５２") == ["outlook", "收", "信", "收信", "552"]


def test_mixed_chinese_and_english_keeps_both() -> None:
    tokens = words("用foxmail收信后网页上邮件没了")
    assert tokens[:3] == ["用", "用", "foxmail"]
    assert {"收信", "网页", "邮件", "没"} <= set(tokens)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("用户反馈：邮箱满了", "邮箱满了"),
        ("转发：收件箱里找不到邮件", "收件箱里找不到邮件"),
        ("我的同事说：网页上邮件没了", "网页上邮件没了"),
        ("邮箱满了", "邮箱满了"),
    ],
)
def test_helpdesk_framing_is_stripped(text: str, expected: str) -> None:
    assert strip_forward_prefix(clean(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("邮箱满了收不到邮件", "zh"),
        ("用foxmail收信后网页上邮件没了", "zh"),
        ("阿里邮箱支持IMAP吗", "zh"),
        ("郵箱滿了", "zh"),
        ("my mailbox is full", "en"),
        ("I work in the 上海 office and my mailbox is full", "en"),
        ("メールが消えました", None),
        ("552", None),
        ("👍", None),
        ("", None),
    ],
)
def test_the_language_of_a_message_follows_its_script(text: str, expected: str | None) -> None:
    assert language.detect(text) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-hans", "zh"), ("zh-TW", "zh"), ("en-US", "en"), ("de", None), (None, None)],
)
def test_telegram_language_code_is_a_first_guess(code: str | None, expected: str | None) -> None:
    assert language.from_telegram(code) == expected


@pytest.mark.parametrize(("name", "expected"), [("中文", "zh"), ("English", "en"), ("x", None)])
def test_a_language_can_be_named_by_code_or_name(name: str, expected: str | None) -> None:
    assert language.choose(name) == expected
