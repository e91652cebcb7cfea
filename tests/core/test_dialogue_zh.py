"""The engine in Chinese: the session's language, the catalog's words, Chinese acts, tickets."""

from __future__ import annotations

from dataclasses import replace

from bot.core import compose, tickets
from bot.core.dialogue import Engine, Outcome
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.i18n import speaking
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.replies import Action
from bot.core.session import Session, State
from bot.locale import load_translators

NOW = 1_000_000.0


def say(engine: Engine, session: Session, event: Event) -> Outcome:
    """One event, one second after the last."""
    return engine.handle(session, event, now=session.updated_at + 1 or NOW)


def text_of(outcome: Outcome) -> str:
    """Every reply's text and button labels as one string."""
    return "\n".join(
        [r.text for r in outcome.replies] + [b.label for r in outcome.replies for b in r.buttons]
    )


def test_a_chinese_message_is_answered_in_chinese_and_the_language_is_kept(
    engine: Engine,
) -> None:
    first = say(engine, Session(chat_id="1"), UserText(text="邮箱满了收不到邮件"))
    assert first.session.language == "zh"
    assert "因邮箱已满无法接收新邮件" in text_of(first)
    assert "第 1/3 步" in text_of(first)
    assert "✅ 完成" in text_of(first)
    # "552" and 👍 say nothing about the language: the session keeps Chinese.
    second = say(engine, first.session, UserText(text="👍"))
    assert second.session.language == "zh"
    assert "第 2/3 步" in text_of(second)


def test_an_english_message_switches_the_reply_language_back(engine: Engine) -> None:
    chinese = say(engine, Session(chat_id="1"), UserText(text="你好"))
    english = say(engine, chinese.session, UserText(text="my mailbox is full"))
    assert english.session.language == "en"
    assert "Step 1 of 3" in text_of(english)


def test_telegram_language_code_is_the_first_guess(engine: Engine) -> None:
    outcome = say(engine, Session(chat_id="1"), Command(name="start", language_hint="zh"))
    assert outcome.session.language == "zh"
    assert "我是阿里邮箱支持机器人" in text_of(outcome)
    # Once known, the hint does not override what the user chose or wrote.
    known = replace(outcome.session, language="en")
    again = say(engine, known, Command(name="start", language_hint="zh"))
    assert again.session.language == "en"


def test_slash_language_sets_the_language_and_offers_the_choices(engine: Engine) -> None:
    chosen = say(engine, Session(chat_id="1"), Command(name="language", arg="中文"))
    assert chosen.session.language == "zh"
    assert "之后我会用简体中文回答" in text_of(chosen)
    offered = say(engine, chosen.session, Command(name="language"))
    labels = [b.label for r in offered.replies for b in r.buttons]
    assert labels == ["English", "简体中文"]
    pressed = say(
        engine,
        offered.session,
        ButtonPress(action=Action.LANGUAGE, version=offered.session.version, arg="en"),
    )
    assert pressed.session.language == "en"
    assert "From now on I'll answer in this language." in text_of(pressed)


def test_chinese_acts_move_a_walkthrough(engine: Engine) -> None:
    described = UserText(text="foxmail发送的邮件不会保存到网页的已发送")
    session = say(engine, Session(chat_id="1"), described).session
    for typed, expected in (("完成", "第 2/4 步"), ("上一步", "第 1/4 步"), ("好了", "第 2/4 步")):
        outcome = say(engine, session, UserText(text=typed))
        assert expected in text_of(outcome), typed
        session = outcome.session
    stuck = say(engine, session, UserText(text="找不到"))
    assert "具体位置如下" in text_of(stuck)
    assert "Settings > Email Settings > Receiving and Sending" in text_of(stuck)


def test_a_chinese_users_ticket_marks_the_language() -> None:
    ticket = tickets.open_ticket(
        number=7,
        chat_id="1",
        user="王芳",
        transcript=(),
        topic=None,
        place="",
        now=NOW,
        mode=tickets.StaffMode.REPLY,
        language="zh",
    )
    assert "🌐 Language: 简体中文 (zh)" in tickets.opening_text(ticket, topic_title=None)
    english = replace(ticket, language="en")
    assert "Language" not in tickets.opening_text(english, topic_title=None)


def test_a_chinese_message_gets_an_english_case_card_for_english_staff(
    kb: KnowledgeBase, matcher: Matcher
) -> None:
    result = matcher.match("用foxmail收信后网页上邮件没了")
    english = compose.case_card(kb, result)
    assert "Emails Disappear from WebMail After Using POP3 Client" in english
    assert "**Fix**" in english
    with speaking(load_translators()["zh"]):
        chinese = compose.case_card(kb.in_language("zh"), result)
    assert "使用 POP3 客户端后 WebMail 中的邮件消失" in chinese
    assert "**解决步骤**" in chinese
    assert "Settings > Email Settings > POP Settings" in chinese


def test_the_engine_state_machine_is_the_same_in_chinese(engine: Engine) -> None:
    outcome = say(engine, Session(chat_id="1"), UserText(text="转人工"))
    assert outcome.session.state is State.HANDOFF
    assert "我已请支持团队的工作人员接手" in text_of(outcome)
