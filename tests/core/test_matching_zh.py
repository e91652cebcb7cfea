"""Matching Chinese messages: the issue's examples, mixed text, variants, and sets kept apart."""

from __future__ import annotations

import pytest
import yaml

from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from tests.conftest import REPO_ROOT

ZH_SETS = (
    REPO_ROOT / "bench" / "data" / "heldout-zh.yaml",
    REPO_ROOT / "tests" / "data" / "calibration-zh.yaml",
)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("邮箱满了收不到邮件", "mailbox-full"),
        ("我的邮箱满了", "mailbox-full"),
        ("怎么查看邮箱容量", "mailbox-full"),
        ("邮箱满了 552", "mailbox-full"),
        ("收件箱里找不到同事发的邮件", "missing-email"),
        ("客户端发送的邮件在网页版已发送里看不到", "sent-not-saved"),
        ("用Outlook收信后网页版邮件都不见了", "pop-deletion"),
        ("用foxmail收信后网页上邮件没了", "pop-deletion"),
        ("用ｆｏｘｍａｉｌ收信後網頁上郵件沒了", "pop-deletion"),
        ("用户反馈：客户端发的邮件网页已发送里没有", "sent-not-saved"),
        ("阿里邮箱支持IMAP吗", "faq-imap"),
    ],
)
def test_chinese_descriptions_are_answered(matcher: Matcher, text: str, topic: str) -> None:
    result = matcher.match(text)
    assert result.decision == Decision.ANSWER
    assert result.best is not None
    assert result.best.topic == topic


@pytest.mark.parametrize("text", ["你好", "谢谢", "忘记密码了怎么办", "附件大小限制是多少"])
def test_chinese_small_talk_and_other_topics_are_not_answered(matcher: Matcher, text: str) -> None:
    assert matcher.match(text).decision == Decision.NONE


def test_a_chinese_message_scores_chinese_examples(matcher: Matcher) -> None:
    result = matcher.match("邮箱满了收不到邮件")
    assert result.candidates[0].score > 0.3
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.candidates[0].evidence)


def test_an_english_message_scores_as_it_did_without_the_translation(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    english_only = KnowledgeBase(problems=kb.problems, faqs=kb.faqs, out_of_scope=kb.out_of_scope)
    alone = Matcher.from_knowledge(english_only)
    for text in ("my mailbox is full", "outlook deleted my mails from webmail", "hi"):
        assert matcher.match(text) == alone.match(text)


def test_chinese_evaluation_sets_are_not_knowledge_examples(kb: KnowledgeBase) -> None:
    def key(text: str) -> str:
        return " ".join(text.casefold().split())

    examples = {
        key(e)
        for base in (kb, kb.in_language("zh"))
        for entry in (*base.problems, *base.faqs, *base.out_of_scope)
        for e in entry.examples
    }
    texts = [
        [key(case["text"]) for case in yaml.safe_load(path.read_text(encoding="utf-8"))]
        for path in ZH_SETS
    ]
    assert [t for t in (*texts[0], *texts[1]) if t in examples] == []
    assert set(texts[0]) & set(texts[1]) == set()
    assert len(texts[0]) >= 150
