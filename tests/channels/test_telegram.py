"""The Telegram channel end to end: the real PTB application against the strict fake Bot API.

Every test starts the real application (``build_application``) in its own event loop, pointed
at ``FakeBotApi``, and plays users through the fake. ``RunningBot`` knows when the bot has
finished an update, so a test asserts on what was sent, or on silence, without sleeping.
Where a transcript is long, it is compared with the same events replayed through the pure
engine (``Mirror``): the channel must deliver exactly what the core said, rendered.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.channels.render import to_plain
from bot.channels.telegram import (
    COMMANDS,
    DESCRIBE_IN_WORDS,
    STALE_BUTTON,
    quiet_logging,
)
from bot.core.dialogue import Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.replies import Action
from bot.core.session import State
from bot.store.memory import MemoryStore
from tests.helpers.bot_process import (
    Mirror,
    RunningBot,
    answering_example,
    play,
    running_bot,
    visible_texts,
    walkthrough,
)
from tests.helpers.fake_bot_api import BOT_USERNAME, FakeBotApi, utf16_len

pytestmark = [pytest.mark.telegram, pytest.mark.asyncio]

USER = 5101
OTHER_USER = 5102
GROUP = -100200
STAFF = -100900
STAFF_MEMBER = 7701
PROBLEMS = ("pop-deletion", "sent-not-saved", "missing-email", "mailbox-full")
HOSTILE = {
    "html": '<b>bold</b> <script>alert("x")</script> <a href="javascript:x">a</a> </i>',
    "ampersands": "Tom & Jerry &amp; &lt;not a tag&gt; &#0; &#xD800; &nosuch; a&&b",
    "markdown-v2": r"_it_ *b* [l](http://x) ~s~ `c` ```pre``` >q #h +p -m =e |p| {b} .d !e \\",
    "rtl": "\u202eevil.exe\u202c مرحبا שלום \u200f!\u200e",
    "zero-width": "mail\u200bbox\u200c fu\u200dll\ufeff \u2060552",
    "5000-chars": ("my mailbox is full & <bounces> " * 170)[:5000],
}


@pytest_asyncio.fixture
async def bot(fake_bot_api: FakeBotApi, engine_without_staff: Engine) -> AsyncIterator[RunningBot]:
    """The bot with no staff chat, sessions in memory."""
    async with running_bot(fake_bot_api, engine_without_staff) as running:
        yield running


@pytest_asyncio.fixture
async def staffed_bot(fake_bot_api: FakeBotApi, engine: Engine) -> AsyncIterator[RunningBot]:
    """The bot with a helpdesk staff group (BOT_STAFF_CHAT) and one admin."""
    fake_bot_api.add_chat(STAFF, chat_type="supergroup", title="Helpdesk")
    async with running_bot(fake_bot_api, engine, staff_chat=STAFF, admins=[USER]) as running:
        yield running


def plain_steps(kb: KnowledgeBase, topic: str) -> list[str]:
    """A problem's steps and checks as the user sees them (markup removed)."""
    problem = kb.problem(topic)
    assert problem is not None
    return [to_plain(s.text) for s in problem.steps] + [to_plain(c) for c in problem.verification]


def clarifying_text(matcher: Matcher) -> str:
    """A question the matcher finds ambiguous (chosen at run time, so tuning can't break it)."""
    for text in (
        "email problem with outlook",
        "cant get mail",
        "will imap keep my mails on the server",
        "incoming mail from my partner goes straight to trash??",
        "outlook",  # one generic word is never answered outright
    ):
        if matcher.match(text).decision is Decision.CLARIFY:
            return text
    raise AssertionError("none of the ambiguous questions gets a clarify from the matcher")


# ------------------------------------------------------------------------------ start-up, commands


async def test_commands_are_registered_with_set_my_commands_at_start(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    assert fake_bot_api.commands == [{"command": n, "description": d} for n, d in COMMANDS]
    assert [c["command"] for c in fake_bot_api.commands] == [
        "start",
        "topics",
        "help",
        "cancel",
        "human",
        "language",
        "forget",
    ]


async def test_start_greets_and_offers_a_button_per_topic(
    bot: RunningBot, kb: KnowledgeBase
) -> None:
    (greeting,) = await bot.say(USER, "/start")
    assert "Alibaba Mail support bot" in greeting.visible_text
    for problem in kb.problems:
        assert problem.title in greeting.button_labels
    assert any("IMAP" in label for label in greeting.button_labels)


async def test_help_says_how_to_talk_and_topics_lists_problems_and_faq(
    bot: RunningBot, kb: KnowledgeBase
) -> None:
    help_messages = await bot.say(USER, "/help")
    assert "/topics" in help_messages[0].visible_text
    assert "/human" in help_messages[0].visible_text
    (menu,) = await bot.say(USER, "/topics")
    assert menu.visible_text == "Here's what I can help with:"
    # One topic menu everywhere: problems, FAQs with no walkthrough, the person last.
    assert len(menu.buttons) == len(kb.problems) + sum(not f.problem for f in kb.faqs) + 1
    assert all(len(b["callback_data"].encode()) <= 64 for b in menu.buttons)


async def test_cancel_mid_walkthrough_stops_and_goes_back_to_idle(
    bot: RunningBot, kb: KnowledgeBase, matcher: Matcher
) -> None:
    await bot.say(USER, answering_example(kb, matcher, "mailbox-full"))
    await bot.press(USER, "✅ Done")
    (stopped,) = await bot.say(USER, "/cancel")
    assert stopped.visible_text.startswith("OK, stopped.")
    session = bot.session(USER)
    assert session is not None
    assert (session.state, session.topic) == (State.IDLE, None)
    # The step's buttons went away with it; only the topic menu is live.
    assert [m.message_id for m in bot.fake.messages(USER) if m.buttons] == [stopped.message_id]


async def test_human_without_a_staff_chat_says_where_to_go_instead(bot: RunningBot) -> None:
    (answer,) = await bot.say(USER, "/human")
    assert "No support team is connected" in answer.visible_text
    session = bot.session(USER)
    assert session is not None
    assert session.state is State.IDLE


# Tickets, staff replies and /close: tests/channels/test_telegram_staff.py


async def test_staff_chat_chatter_that_is_not_a_ticket_reply_is_ignored(
    staffed_bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    before = len(fake_bot_api.requests("sendMessage"))
    update = fake_bot_api.send_text(STAFF, "coffee anyone?", chat_type="supergroup")
    await staffed_bot.processed(update)
    assert len(fake_bot_api.requests("sendMessage")) == before


# ------------------------------------------------------------------------------ walkthroughs


@pytest.mark.parametrize("by", ["buttons", "words"])
@pytest.mark.parametrize("topic", PROBLEMS)
async def test_a_full_walkthrough_of_each_problem(
    bot: RunningBot,
    fake_bot_api: FakeBotApi,
    engine_without_staff: Engine,
    kb: KnowledgeBase,
    matcher: Matcher,
    topic: str,
    by: str,
) -> None:
    describe = answering_example(kb, matcher, topic)
    moves = walkthrough(kb, topic, by=by, describe=describe)
    transcript = visible_texts(await play(bot, Mirror(engine_without_staff, USER), USER, moves))

    problem = kb.problem(topic)
    assert problem is not None
    seen = "\n".join(transcript)
    assert problem.title in seen
    # The intro shares a message with step 1, and "now let's check" with check 1.
    for i, step in enumerate(problem.steps, start=1):
        wanted = f"Step {i} of {len(problem.steps)}\n{to_plain(step.text)}"
        assert any(t == wanted or t.endswith(f"\n\n{wanted}") for t in transcript), wanted
    for j, check in enumerate(problem.verification, start=1):
        wanted = f"Check {j} of {len(problem.verification)}\n{to_plain(check)}"
        assert any(t == wanted or t.endswith(f"\n\n{wanted}") for t in transcript), wanted
    assert any("that's solved" in t for t in transcript)
    session = bot.session(USER)
    assert session is not None
    assert session.state is State.IDLE
    if by == "buttons":
        # Each press turned the pressed message into the next step: nothing left to clear.
        assert len(fake_bot_api.requests("editMessageText")) >= len(problem.steps)
        assert fake_bot_api.requests("editMessageReplyMarkup") == []
    else:
        # Every keyboard but the last reply's was removed as the conversation moved on.
        assert len(fake_bot_api.requests("editMessageReplyMarkup")) >= len(problem.steps)
    for request in fake_bot_api.requests("sendMessage"):
        for row in (request.json_param("reply_markup") or {}).get("inline_keyboard", []):
            assert all(len(b["callback_data"].encode()) <= 64 for b in row)
    bot.assert_every_press_answered()


async def test_a_faq_question_gets_its_answer_and_can_lead_to_the_walkthrough(
    bot: RunningBot, kb: KnowledgeBase, engine_without_staff: Engine
) -> None:
    faq = kb.faq("faq-mailbox-usage")
    assert faq is not None
    mirror = Mirror(engine_without_staff, USER)
    (answer,) = await bot.say(USER, "how can i check if my mailbox is full")
    assert answer.visible_text == mirror.say("how can i check if my mailbox is full")[0]
    assert answer.visible_text.startswith(faq.question)
    assert "🧭 Walk me through it" in answer.button_labels
    walk = await bot.press(USER, "🧭 Walk me through it")
    assert visible_texts(walk) == mirror.press(Action.WALK, "mailbox-full")
    assert "\n\nStep 1 of 3" in walk[-1].visible_text


async def test_a_faq_without_a_problem_can_be_marked_helpful(bot: RunningBot) -> None:
    (answer,) = await bot.say(USER, "does alibaba mail support imap")
    assert "IMAP" in answer.visible_text
    (thanks,) = await bot.press(USER, "👍 That helped")
    assert thanks.visible_text.startswith("Glad it helped!")
    bot.assert_every_press_answered()


async def test_an_out_of_scope_question_is_declined_with_the_same_menu_each_time(
    bot: RunningBot, kb: KnowledgeBase
) -> None:
    (first,) = await bot.say(USER, "how do i reset my password")
    assert "couldn't match that to a problem in my Alibaba Mail guide" in first.visible_text
    assert [p.title for p in kb.problems] == first.button_labels[: len(kb.problems)]
    assert first.button_labels[-1] == "🙋 Talk to a person"
    (second,) = await bot.say(USER, "SMTP error 535 authentication failed")
    assert "still couldn't match that" in second.visible_text
    # Menu numbers are stable: the same topics in the same places, the person last.
    assert second.button_labels == first.button_labels
    assert [m.message_id for m in bot.fake.messages(USER) if m.buttons] == [second.message_id]


async def test_an_ambiguous_question_asks_which_one_and_a_choice_starts_it(
    bot: RunningBot, matcher: Matcher, engine_without_staff: Engine
) -> None:
    text = clarifying_text(matcher)
    mirror = Mirror(engine_without_staff, USER)
    (question,) = await bot.say(USER, text)
    assert visible_texts([question]) == mirror.say(text)
    assert question.button_labels[-1] == "None of these"
    assert 2 <= len(question.buttons) <= 4
    session = bot.session(USER)
    assert session is not None
    assert session.state is State.CLARIFY
    first = question.button_labels[0]
    chosen = await bot.press(USER, first)
    assert visible_texts(chosen) == mirror.press(Action.CHOOSE, session.candidates[0])
    bot.assert_every_press_answered()


async def test_none_of_these_asks_for_other_words(bot: RunningBot, matcher: Matcher) -> None:
    await bot.say(USER, clarifying_text(matcher))
    (asked,) = await bot.press(USER, "None of these")
    assert "other words" in asked.visible_text
    assert asked.button_labels == ["🙋 Talk to a person"]


# ------------------------------------------------------------------------------ hostile input


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_text_gets_a_normal_answer(
    bot: RunningBot, fake_bot_api: FakeBotApi, engine_without_staff: Engine, text: str
) -> None:
    replies = await bot.say(USER, text)
    assert visible_texts(replies) == Mirror(engine_without_staff, USER).say(text)
    assert all(r.ok for r in fake_bot_api.requests("sendMessage"))
    assert all(utf16_len(m.visible_text) <= 4096 for m in replies)


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_text_reaches_the_staff_exactly_as_typed(
    staffed_bot: RunningBot, fake_bot_api: FakeBotApi, text: str
) -> None:
    await staffed_bot.say(USER, "/human")
    assert await staffed_bot.say(USER, text) == []
    relay = fake_bot_api.last_message(STAFF)
    assert relay.visible_text == f"💬 Ticket 1: {text[:3500]}".strip()
    assert all(r.ok for r in fake_bot_api.requests("sendMessage"))


async def test_a_long_staff_answer_is_split_on_paragraphs_under_4096(
    staffed_bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    await staffed_bot.say(USER, "/human")
    ticket = fake_bot_api.last_message(STAFF)
    advice = " ".join(["check the <Trash> & Spam folders."] * 3)
    paragraphs = [f"Paragraph {i}: {advice}" for i in range(60)]
    answer = "\n\n".join(paragraphs)
    update = fake_bot_api.send_text(
        STAFF, answer, chat_type="supergroup", user_id=STAFF_MEMBER, reply_to=ticket.message_id
    )
    parts = await staffed_bot.turn(USER, update)
    assert len(parts) >= 2
    assert all(utf16_len(p.visible_text) <= 4096 for p in parts)
    assert all(p.visible_text.endswith("folders.") for p in parts)  # cut between paragraphs
    full = f"User {STAFF_MEMBER} (support team): {answer}"
    assert "\n\n".join(visible_texts(parts)) == full.strip()


# ------------------------------------------------------------------------------ non-text messages


@pytest.mark.parametrize("kind", ["sticker", "voice", "photo", "document"])
async def test_a_message_without_words_gets_describe_it_in_words(
    bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher, kind: str
) -> None:
    await bot.say(USER, answering_example(kb, matcher, "pop-deletion"))
    before = bot.session(USER)
    make = {
        "sticker": lambda: fake_bot_api.send_sticker(USER),
        "voice": lambda: fake_bot_api.send_voice(USER),
        "photo": lambda: fake_bot_api.send_photo(USER),
        "document": lambda: fake_bot_api.send_document(USER),
    }[kind]
    (answer,) = await bot.turn(USER, make())
    assert answer.visible_text == DESCRIBE_IN_WORDS
    assert bot.session(USER) == before


async def test_a_caption_counts_as_text(bot: RunningBot, fake_bot_api: FakeBotApi) -> None:
    replies = await bot.turn(USER, fake_bot_api.send_photo(USER, caption="my mailbox is full"))
    assert replies[0].visible_text.startswith("Cannot Receive New Emails Due to Full Mailbox")
    assert "\n\nStep 1 of 3" in replies[-1].visible_text


async def test_an_edited_message_is_not_processed_again(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    update = fake_bot_api.send_text(USER, "my mailbox is full")
    await bot.processed(update)
    session = bot.session(USER)
    message_id = fake_bot_api.update(update)["message"]["message_id"]
    assert await bot.turn(USER, fake_bot_api.edit_text(USER, message_id, "/cancel")) == []
    assert bot.session(USER) == session


# ------------------------------------------------------------------------------ buttons


async def test_a_stale_button_gets_a_short_notice_and_changes_nothing(
    bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase
) -> None:
    await bot.say(USER, "/start")
    await bot.press(USER, "Cannot Receive New Emails Due to Full Mailbox")
    step1 = fake_bot_api.last_message(USER)
    done = step1.button_data("✅ Done")
    (step2,) = await bot.press(USER, "✅ Done")
    assert step2.message_id == step1.message_id  # the pressed message became step 2
    assert step2.button_data("✅ Done") != done
    before = bot.session(USER)
    assert before is not None
    # A client that still shows the old keyboard sends its data again.
    assert await bot.press_data(USER, step1.message_id, done, check_button=False) == []
    answer = bot.answer_to(bot.presses[-1])
    assert answer.text == STALE_BUTTON
    assert len(answer.text) <= 200
    assert bot.session(USER) == before
    assert fake_bot_api.last_message(USER) == step2


async def test_a_double_tap_moves_on_once(bot: RunningBot, fake_bot_api: FakeBotApi) -> None:
    await bot.say(USER, "/start")
    await bot.press(USER, "Cannot Receive New Emails Due to Full Mailbox")
    step1 = fake_bot_api.last_message(USER)
    data = step1.button_data("✅ Done")
    first = fake_bot_api.press(USER, step1.message_id, data)
    second = fake_bot_api.press(USER, step1.message_id, data)  # before the bot saw the first
    bot.presses += [first, second]
    new = await bot.turn(USER, second)
    await bot.processed(first)
    assert [m.visible_text.split("\n")[0] for m in new] == ["Step 2 of 3"]
    assert bot.answer_to(first).text is None
    assert bot.answer_to(second).text == STALE_BUTTON
    session = bot.session(USER)
    assert session is not None
    assert (session.state, session.step) == (State.GUIDE, 1)


async def test_forged_callback_data_is_answered_and_ignored(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    (greeting,) = await bot.say(USER, "/start")
    before = bot.session(USER)
    for data in ("hello", "v1:x:done:", "v1:0:nosuch:", "v9:0:done:"):
        assert await bot.press_data(USER, greeting.message_id, data, check_button=False) == []
        assert bot.answer_to(bot.presses[-1]).text == "This button no longer works. Send /start."
    assert bot.session(USER) == before


@pytest.mark.parametrize(
    "refusal",
    [
        "Bad Request: message to edit not found",
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
        "Bad Request: message can't be edited",
    ],
)
async def test_a_refused_keyboard_removal_is_handled_quietly(
    bot: RunningBot,
    fake_bot_api: FakeBotApi,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
) -> None:
    await bot.say(USER, "/start")
    await bot.press(USER, "Cannot Receive New Emails Due to Full Mailbox")
    caplog.clear()
    fake_bot_api.fail_next("editMessageReplyMarkup", status=400, description=refusal)
    new = await bot.press(USER, "✅ Done")
    assert [m.visible_text.split("\n")[0] for m in new] == ["Step 2 of 3"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "something went wrong" not in "\n".join(visible_texts(fake_bot_api.messages(USER)))


async def test_a_user_who_blocked_the_bot_costs_no_traceback(
    bot: RunningBot, fake_bot_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.say(USER, "/start")
    fake_bot_api.block(USER)
    await bot.processed(fake_bot_api.send_text(USER, "my mailbox is full"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bot.channel.delivery.lost == 0


async def test_an_internal_error_is_logged_and_the_user_told(
    fake_bot_api: FakeBotApi, engine_without_staff: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenStore(MemoryStore):
        def load(self, key: str) -> None:
            raise RuntimeError("disk on fire")  # a bug, not an outage

    async with running_bot(fake_bot_api, engine_without_staff, store=BrokenStore()) as bot:
        (sorry,) = await bot.say(USER, "my mailbox is full")
    assert sorry.visible_text == "Sorry, something went wrong on my side. Please try again."
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    assert errors[0].exc_info is not None
    assert "disk on fire" in str(errors[0].exc_info[1])


# ------------------------------------------------------------------------------ groups


async def test_in_a_group_only_commands_mentions_and_replies_to_the_bot_are_answered(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    def say(text: str, **kwargs: object) -> int:
        return fake_bot_api.send_text(GROUP, text, chat_type="group", **kwargs)  # type: ignore[arg-type]

    assert await bot.turn(GROUP, say("my mailbox is full")) == []
    assert await bot.turn(GROUP, say("@someone_else my mailbox is full")) == []
    assert await bot.turn(GROUP, say("/start@another_bot")) == []
    assert await bot.turn(GROUP, fake_bot_api.send_sticker(GROUP, chat_type="group")) == []

    (greeting,) = await bot.turn(GROUP, say(f"/start@{BOT_USERNAME}"))
    assert "Alibaba Mail support bot" in greeting.visible_text
    mentioned = await bot.turn(GROUP, say(f"@{BOT_USERNAME} my mailbox is full"))
    assert mentioned[0].visible_text.startswith("Cannot Receive New Emails")
    replied = await bot.turn(GROUP, say("done", reply_to=mentioned[-1].message_id))
    assert replied[0].visible_text.startswith("Step 2 of 3")
    captioned = fake_bot_api.send_photo(GROUP, caption=f"@{BOT_USERNAME} back", chat_type="group")
    assert (await bot.turn(GROUP, captioned))[0].visible_text.startswith("Step 1 of 3")


# ------------------------------------------------------------------------------ forwarded messages


@pytest.mark.parametrize(
    ("origin", "named"),
    [
        ("user", "Original Sender"),
        ("hidden_user", "Original Sender"),
        ("chat", "Customer Chat"),
        ("channel", "Customer Chat"),
    ],
)
async def test_a_forwarded_question_gets_a_case_card(
    bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, origin: str, named: str
) -> None:
    update = fake_bot_api.forward(USER, "senders get bounce 552 mailbox full", origin)
    (card,) = await bot.turn(USER, update)
    text = card.visible_text
    assert text.startswith(f"Forwarded from {named}\nCase card: ")
    assert "Topic: mailbox-full, confidence " in text
    assert "(high)" in text
    for line in plain_steps(kb, "mailbox-full"):
        assert line in text
    assert f"↪ {kb.title_of('pop-deletion')}" in card.button_labels
    session = bot.session(USER)
    assert session is None or session.state is State.IDLE  # no walkthrough started


async def test_a_hostile_hidden_sender_name_is_shown_escaped(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    name = '<b>Eve</b> & "co" \u202e'
    origin = FakeBotApi.make_forward_origin("hidden_user", sender_name=name)
    update = fake_bot_api.send_text(USER, "my mailbox is full", forward_origin=origin)
    (card,) = await bot.turn(USER, update)
    assert card.visible_text.startswith(f"Forwarded from {name}".strip())


async def test_a_forwarded_out_of_scope_question_lets_staff_pick_a_topic(
    bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase
) -> None:
    (card,) = await bot.turn(USER, fake_bot_api.forward(USER, "how do i reset my password"))
    assert "No match in the guide" in card.visible_text
    picked = await bot.press(USER, kb.title_of("sent-not-saved"))
    assert picked[0].visible_text.startswith(f"Case card: {kb.title_of('sent-not-saved')}")
    for line in plain_steps(kb, "sent-not-saved"):
        assert line in "\n".join(visible_texts(picked))
    bot.assert_every_press_answered()


async def test_a_forwarded_sticker_is_not_a_question(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    (answer,) = await bot.turn(USER, fake_bot_api.send_sticker(USER))
    assert answer.visible_text == DESCRIBE_IN_WORDS


# ------------------------------------------------------------------------------ inline mode


async def test_an_inline_query_lists_matching_articles(
    bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    await bot.processed(fake_bot_api.inline_query(USER, "mailbox full"))
    answer = fake_bot_api.inline_answers[-1]
    assert 1 <= len(answer.results) <= 10
    assert answer.results[0]["id"] in ("mailbox-full", "faq-mailbox-usage")
    article = answer.results[0]["input_message_content"]
    assert article["parse_mode"] == "HTML"


@pytest.mark.parametrize("query", ["", "  ", HOSTILE["html"], HOSTILE["rtl"], "x" * 256])
async def test_any_inline_query_gets_a_valid_answer(
    bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, query: str
) -> None:
    await bot.processed(fake_bot_api.inline_query(USER, query))
    (answer,) = fake_bot_api.inline_answers
    assert len(answer.results) <= 10
    if not query.strip():
        assert [r["id"] for r in answer.results] == list(kb.ids)[:10]


# ------------------------------------------------------------------------------ logging


class _Collect(logging.Handler):
    """A handler that keeps every formatted line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_the_token_never_reaches_a_log_record(
    fake_bot_api: FakeBotApi,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("httpx", "httpcore", "telegram"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logger.level)
        monkeypatch.setattr(logger, "filters", list(logger.filters))
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logging, "getLogRecordFactory", logging.getLogRecordFactory)
    caplog.set_level(logging.DEBUG)
    try:
        quiet_logging(fake_bot_api.token)
        # Handlers attached later, below the root (where a handler filter would be missing).
        late = _Collect()
        for name in ("httpx", "telegram"):
            logging.getLogger(name).addHandler(late)
        # Turn request logging back on: the redaction itself is under test, not the level.
        logging.getLogger("httpx").setLevel(logging.DEBUG)
        logging.getLogger("httpcore").setLevel(logging.DEBUG)

        fake_bot_api.add_chat(STAFF, chat_type="supergroup")
        fake_bot_api.fail_next("sendMessage", status=502)
        fake_bot_api.fail_next("editMessageReplyMarkup", status=400)
        async with running_bot(fake_bot_api, engine, staff_chat=STAFF) as bot:
            await bot.say(USER, "my mailbox is full")
            await bot.press(USER, "✅ Done")
            await bot.say(USER, "/human")
            fake_bot_api.fail_next("sendMessage", status=401, description="Unauthorized")
            await bot.say(USER, "hello")
            logging.getLogger("telegram.ext.test").debug("url %s", bot.application.bot.base_url)
    finally:
        logging.setLogRecordFactory(factory)

    assert any("HTTP Request" in line for line in late.lines)  # request URLs were logged
    assert any("<token>" in line for line in late.lines)
    for line in late.lines:
        assert fake_bot_api.token not in line
    assert fake_bot_api.token not in caplog.text
    for record in caplog.records:
        assert fake_bot_api.token not in record.getMessage()
        assert fake_bot_api.token not in (record.exc_text or "")
