"""The fake Bot API server, driven by the real python-telegram-bot client over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import re
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MenuButtonCommands,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.helpers.fake_bot_api import (
    BOT_USERNAME,
    FakeBotApi,
    HtmlParseError,
    html_problem,
    parse_html,
    utf16_len,
)

pytestmark = pytest.mark.telegram

CHAT = 424242


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """One row of callback buttons labelled after their data."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(d[:20] or "x", callback_data=d)] for d in data]
    )


@pytest_asyncio.fixture
async def bot(fake_bot_api: FakeBotApi) -> AsyncIterator[Bot]:
    """An initialized PTB Bot pointed at the fake; one known private chat (CHAT)."""
    fake_bot_api.add_chat(CHAT)
    async with Bot(FakeBotApi.TOKEN, base_url=fake_bot_api.base_url) as client:
        yield client


# ------------------------------------------------------------------------------ HTML checker


@pytest.mark.parametrize(
    "source",
    [
        "<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins>",
        "<s>s</s> <strike>k</strike> <del>d</del> <tg-spoiler>p</tg-spoiler>",
        '<span class="tg-spoiler">p</span> <a href="https://example.com/?a=1&amp;b=2">link</a>',
        '<pre><code class="language-python">print("&lt;hi&gt;")</code></pre> <code>x</code>',
        "<blockquote>q</blockquote> <blockquote expandable>long</blockquote>",
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> &#128512; &#x1F600; &quot;',
        "<b>nested <i>italic <u>under</u></i></b> a > b",
        "<B>upper case tags</B>",
    ],
)
def test_html_checker_accepts_what_telegram_accepts(source: str) -> None:
    assert html_problem(source) is None


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("<b>never closed", 'end tag corresponding to start tag "b"'),
        ("<b><i>crossed</b></i>", 'expected "</i>", found "</b>"'),
        ("stray </b>", "Unexpected end tag"),
        ("a < b", "Empty tag name"),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<br>", 'Unsupported start tag "br"'),
        ("fish & chips", 'Character "&" must start an HTML entity'),
        ("&nbsp;", 'Character "&" must start an HTML entity'),
        ("<a>no href</a>", 'Tag "a" must have'),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag"),
        ('<a href="x>y</a>', "Unclosed end of attribute value"),
        ("&#55296;", "Invalid character code"),
    ],
)
def test_html_checker_rejects_malformed_html(source: str, problem: str) -> None:
    with pytest.raises(HtmlParseError, match=re.escape(problem)):
        parse_html(source)


def test_html_checker_reports_visible_text_and_utf16_entity_offsets() -> None:
    parsed = parse_html("😀 <b>Mailbox &amp; quota</b>")

    assert parsed.text == "😀 Mailbox & quota"
    assert parsed.entities == ({"type": "bold", "offset": 3, "length": 15},)
    assert utf16_len("😀") == 2


# ------------------------------------------------------------------------------ basics


@pytest.mark.asyncio
async def test_get_me_describes_the_test_bot(bot: Bot) -> None:
    me = await bot.get_me()

    assert me.is_bot
    assert me.username == BOT_USERNAME
    assert me.can_join_groups
    assert not me.can_read_all_group_messages
    assert me.supports_inline_queries


@pytest.mark.asyncio
async def test_an_unknown_token_is_unauthorized(fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=fake_bot_api.base_url):
            pass


@pytest.mark.asyncio
async def test_an_unknown_method_is_not_found(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHAT})

    assert fake_bot_api.requests("sendTelepathy")[-1].response == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found",
    }


@pytest.mark.asyncio
async def test_send_message_is_recorded_with_text_parse_mode_and_keyboard(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    sent = await bot.send_message(
        CHAT,
        "<b>Mailbox full</b> &amp; 552",
        parse_mode="HTML",
        reply_markup=keyboard("v1:1:done"),
    )

    message = fake_bot_api.last_message(CHAT)
    assert message.message_id == sent.message_id
    assert message.text == "<b>Mailbox full</b> &amp; 552"
    assert message.visible_text == sent.text == "Mailbox full & 552"
    assert message.parse_mode == "HTML"
    assert message.button_data("v1:1:done") == "v1:1:done"
    assert sent.entities[0].type == "bold"
    assert fake_bot_api.requests("sendMessage")[-1].json_param("reply_markup") == {
        "inline_keyboard": [[{"text": "v1:1:done", "callback_data": "v1:1:done"}]]
    }


@pytest.mark.asyncio
async def test_a_chat_that_never_wrote_is_not_found(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "hello")

    assert fake_bot_api.messages(999) == []


@pytest.mark.parametrize("source", ["<b>unclosed", "1 < 2", "<script>x</script>", "Q & A"])
@pytest.mark.asyncio
async def test_malformed_html_is_refused(bot: Bot, fake_bot_api: FakeBotApi, source: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, source, parse_mode="HTML")

    assert fake_bot_api.messages(CHAT) == []


@pytest.mark.asyncio
async def test_empty_visible_text_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "<b></b>  ", parse_mode="HTML")


@pytest.mark.asyncio
async def test_length_is_measured_in_utf16_units_of_visible_text(bot: Bot) -> None:
    await bot.send_message(CHAT, "a" * 4096)
    await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(CHAT, "😀" * 2048)

    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "😀" * 2048 + "a")


@pytest.mark.asyncio
async def test_callback_data_is_limited_to_64_bytes(bot: Bot) -> None:
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("x" * 64))
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("é" * 32))

    for too_long in ("x" * 65, "é" * 33):
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(CHAT, "no", reply_markup=keyboard(too_long))


@pytest.mark.asyncio
async def test_a_text_only_inline_button_is_refused(bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("just text")]])

    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(CHAT, "x", reply_markup=markup)


# ------------------------------------------------------------------------------ edits


@pytest.mark.asyncio
async def test_an_edit_that_changes_nothing_is_refused(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    sent = await bot.send_message(
        CHAT, "<b>Step 1</b>", parse_mode="HTML", reply_markup=keyboard("a")
    )

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Step 1</b>",
            chat_id=CHAT,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("a"),
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard("a"))

    assert fake_bot_api.last_message(CHAT).edits == ()


@pytest.mark.asyncio
async def test_an_edit_is_recorded_and_drops_a_keyboard_it_does_not_repeat(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    sent = await bot.send_message(CHAT, "Step 1", reply_markup=keyboard("a"))

    await bot.edit_message_text("Step 1 <i>done</i>", CHAT, sent.message_id, parse_mode="HTML")

    message = fake_bot_api.message(CHAT, sent.message_id)
    assert message.visible_text == "Step 1 done"
    assert message.reply_markup is None
    assert [edit.method for edit in message.edits] == ["editMessageText"]


@pytest.mark.asyncio
async def test_editing_an_unknown_or_deleted_message_is_refused(bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "bye")
    assert await bot.delete_message(CHAT, sent.message_id)

    for message_id in (sent.message_id, 9999):
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


# ------------------------------------------------------------------------------ faults


@pytest.mark.asyncio
async def test_an_injected_429_raises_retry_after_and_sends_nothing(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    fake_bot_api.fail_next("sendMessage", status=429, retry_after=7)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hello")

    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert fake_bot_api.messages(CHAT) == []
    assert fake_bot_api.requests("sendMessage")[-1].response["parameters"] == {"retry_after": 7}
    await bot.send_message(CHAT, "hello")  # only the next call failed
    assert len(fake_bot_api.messages(CHAT)) == 1


@pytest.mark.asyncio
async def test_an_injected_502_raises_a_network_error(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.fail_next("sendMessage", status=502)

    with pytest.raises(NetworkError) as caught:
        await bot.send_message(CHAT, "hello")

    assert not isinstance(caught.value, BadRequest)
    assert fake_bot_api.messages(CHAT) == []


@pytest.mark.asyncio
async def test_a_random_fault_rate_hits_only_send_and_edit_methods(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    fake_bot_api.set_fault_rate(0.5, statuses=(429, 502), seed=7)
    outcomes = []
    for i in range(20):
        try:
            await bot.send_message(CHAT, f"message {i}")
        except NetworkError as err:  # RetryAfter is a TelegramError, not a NetworkError
            outcomes.append(type(err).__name__)
        except RetryAfter:
            outcomes.append("RetryAfter")
        else:
            outcomes.append("ok")
    for _ in range(5):
        await bot.get_me()  # never faulted

    assert {"ok", "RetryAfter", "NetworkError"} <= set(outcomes)
    assert len(fake_bot_api.messages(CHAT)) == outcomes.count("ok")


@pytest.mark.asyncio
async def test_a_slow_answer_times_out_the_client(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.set_delay(0.5, methods=["sendMessage"])

    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "slow", read_timeout=0.1)


# ------------------------------------------------------------------------------ updates


@pytest.mark.asyncio
async def test_get_updates_long_polls_until_an_update_arrives(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    started = time.monotonic()
    timer = asyncio.get_running_loop().call_later(0.2, fake_bot_api.send_text, CHAT, "hello")

    updates = await bot.get_updates(timeout=5)

    timer.cancel()
    assert [u.message.text for u in updates] == ["hello"]
    assert time.monotonic() - started < 3


@pytest.mark.asyncio
async def test_get_updates_returns_nothing_after_its_timeout(bot: Bot) -> None:
    started = time.monotonic()

    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9


@pytest.mark.asyncio
async def test_the_next_offset_confirms_updates(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    first = fake_bot_api.send_text(CHAT, "/start")
    second = fake_bot_api.send_text(CHAT, "mailbox full")

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first, second]
    assert updates[0].message.entities[0].type == "bot_command"

    assert await bot.get_updates(offset=second + 1) == ()
    assert fake_bot_api.pending_updates == []


@pytest.mark.parametrize(
    ("origin_kind", "origin_class"),
    [
        ("user", MessageOriginUser),
        ("hidden_user", MessageOriginHiddenUser),
        ("chat", MessageOriginChat),
        ("channel", MessageOriginChannel),
    ],
)
@pytest.mark.asyncio
async def test_forwards_carry_each_kind_of_origin(
    bot: Bot, fake_bot_api: FakeBotApi, origin_kind: str, origin_class: type
) -> None:
    fake_bot_api.forward(CHAT, "user says: outlook ate my emails", origin_kind)

    [update] = await bot.get_updates()

    assert isinstance(update.message.forward_origin, origin_class)
    assert update.message.text == "user says: outlook ate my emails"


@pytest.mark.asyncio
async def test_media_edits_and_group_messages_are_well_formed_updates(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    text_id = fake_bot_api.send_text(CHAT, "hello")
    fake_bot_api.send_photo(CHAT, caption="bounce 552")
    fake_bot_api.send_sticker(CHAT)
    fake_bot_api.send_voice(CHAT)
    message_id = fake_bot_api.update(text_id)["message"]["message_id"]
    fake_bot_api.edit_text(CHAT, message_id, "hello again")
    fake_bot_api.send_text(-100777, f"@{BOT_USERNAME} help", user_id=5, chat_type="supergroup")

    updates: tuple[Update, ...] = await bot.get_updates()

    assert updates[1].message.photo
    assert updates[1].message.caption == "bounce 552"
    assert updates[2].message.sticker.emoji == "👍"
    assert updates[3].message.voice.duration == dtm.timedelta(seconds=3)
    assert updates[4].edited_message.text == "hello again"
    group = updates[5].message
    assert group.chat.type == "supergroup"
    assert group.from_user.id == 5
    assert group.entities[0].type == "mention"


@pytest.mark.asyncio
async def test_a_press_delivers_the_bot_message_and_is_answered_once(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    sent = await bot.send_message(
        CHAT, "Did it work?", reply_markup=keyboard("v1:3:yes", "v1:3:no")
    )
    fake_bot_api.press_button(CHAT, "v1:3:no")

    [update] = await bot.get_updates()
    query = update.callback_query
    assert query.data == "v1:3:no"
    assert query.message.message_id == sent.message_id
    assert query.message.text == "Did it work?"

    assert await query.answer("Noted")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("again")
    [answer] = fake_bot_api.callback_answers
    assert (answer.text, answer.data, answer.message_id) == ("Noted", "v1:3:no", sent.message_id)


@pytest.mark.asyncio
async def test_inline_queries_are_answered_and_checked(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.inline_query(CHAT, "mailbox full")
    [update] = await bot.get_updates()
    article = InlineQueryResultArticle(
        "mailbox-full",
        "Mailbox full",
        InputTextMessageContent("<b>Mailbox full</b>", parse_mode="HTML"),
    )
    broken = InlineQueryResultArticle(
        "broken", "Broken", InputTextMessageContent("<b>oops", parse_mode="HTML")
    )

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await update.inline_query.answer([broken])
    assert await update.inline_query.answer([article])

    [answer] = fake_bot_api.inline_answers
    assert answer.query == "mailbox full"
    assert answer.results[0]["id"] == "mailbox-full"


# ------------------------------------------------------------------------------ bot settings


@pytest.mark.asyncio
async def test_commands_menu_actions_and_webhook(bot: Bot, fake_bot_api: FakeBotApi) -> None:
    assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("human", "Talk")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "human"]
    assert fake_bot_api.commands[1] == {"command": "human", "description": "Talk"}
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Not-Valid", "x")])
    assert await bot.delete_my_commands()
    assert fake_bot_api.commands == []

    assert await bot.send_chat_action(CHAT, "typing")
    assert await bot.set_chat_menu_button(CHAT, MenuButtonCommands())

    with pytest.raises(BadRequest, match=r"(?i)https url"):
        await bot.set_webhook("http://example.com/hook")
    assert await bot.set_webhook("https://example.com/hook", secret_token="s3cret")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()
    assert await bot.log_out()
    assert await bot.close()


@pytest.mark.asyncio
async def test_blocking_waits_refuse_to_run_inside_an_event_loop(fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(RuntimeError, match="wait_for_messages_async"):
        fake_bot_api.wait_for_messages(CHAT, 1)


def test_blocking_wait_times_out_with_the_recent_requests(fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(AssertionError, match="1 bot message"):
        fake_bot_api.wait_for_messages(CHAT, 1, timeout=0.05)


# ------------------------------------------------------------------------------ PTB Application


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeats the user's text."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


@pytest.mark.asyncio
async def test_a_polling_application_answers_a_user(fake_bot_api: FakeBotApi) -> None:
    app = ApplicationBuilder().token(FakeBotApi.TOKEN).base_url(fake_bot_api.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake_bot_api.send_text(CHAT, "my mailbox is full")

        [reply] = await fake_bot_api.wait_for_messages_async(CHAT, 1)

        assert reply.text == "echo: my mailbox is full"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert fake_bot_api.pending_updates == []
