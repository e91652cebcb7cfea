"""Hand-off end to end: tickets in the staff chat, against the fake Bot API.

Forum-topic mode (the staff chat is a forum supergroup: one topic per ticket) and reply mode
(a root message per ticket), files both ways, /cancel, /close and the rating, closed tickets,
forged tags, a restart in the middle of a ticket, who may use staff and admin commands, an
unreachable staff chat, a blocked bot, and /forget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core.dialogue import DialogueSettings, Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Matcher
from bot.core.privacy import pseudonym
from bot.core.session import State
from bot.core.tickets import Closure
from bot.store.sqlite import SqliteStore
from tests.helpers.bot_process import Mirror, RunningBot, answering_example, running_bot
from tests.helpers.fake_bot_api import BotMessage, FakeBotApi

pytestmark = [pytest.mark.telegram, pytest.mark.asyncio]

USER = 5101
OTHER_USER = 5102
STAFF = -100900
STAFF_MEMBER = 7701
OUTSIDER = 7799
ADMIN = 9001
CONTACT = "helpdesk@example.com or +1 555 0100"


@pytest.fixture
def staffed_engine(kb: KnowledgeBase, matcher: Matcher) -> Engine:
    """An engine of a deployment with a staff chat and a fallback contact."""
    return Engine(kb, matcher, DialogueSettings(staff_available=True, fallback_contact=CONTACT))


def staff_chat(fake: FakeBotApi, *, forum: bool) -> None:
    """The helpdesk group, with one member and one admin of the bot who is a member too."""
    fake.add_chat(STAFF, chat_type="supergroup", title="Helpdesk", is_forum=forum)
    fake.add_member(STAFF, STAFF_MEMBER)
    fake.add_member(STAFF, ADMIN, status="administrator")


@pytest_asyncio.fixture
async def forum_bot(fake_bot_api: FakeBotApi, engine: Engine) -> AsyncIterator[RunningBot]:
    """The bot with a forum supergroup as its staff chat."""
    staff_chat(fake_bot_api, forum=True)
    async with running_bot(fake_bot_api, engine, staff_chat=STAFF, admins=[ADMIN]) as running:
        yield running


@pytest_asyncio.fixture
async def reply_bot(fake_bot_api: FakeBotApi, engine: Engine) -> AsyncIterator[RunningBot]:
    """The bot with an ordinary supergroup as its staff chat."""
    staff_chat(fake_bot_api, forum=False)
    async with running_bot(fake_bot_api, engine, staff_chat=STAFF, admins=[ADMIN]) as running:
        yield running


async def staff_says(
    bot: RunningBot,
    text: str,
    *,
    reply_to: int | None = None,
    thread: int | None = None,
    user_id: int = STAFF_MEMBER,
) -> list[BotMessage]:
    """A staff member writes in the staff chat; returns what the user received."""
    update = bot.fake.send_text(
        STAFF, text, chat_type="supergroup", user_id=user_id, reply_to=reply_to, thread_id=thread
    )
    return await bot.turn(USER, update)


async def hand_over(bot: RunningBot, kb: KnowledgeBase, matcher: Matcher) -> BotMessage:
    """The user starts the full-mailbox fix, gets to step 2 and asks for a person."""
    await bot.say(USER, answering_example(kb, matcher, "mailbox-full"))
    await bot.press(USER, "✅ Done")
    (handed,) = await bot.say(USER, "/human")
    assert "asked a person from the support team" in handed.visible_text
    return bot.fake.messages(STAFF)[0]


def staff_texts(fake: FakeBotApi) -> list[str]:
    return [m.visible_text for m in fake.messages(STAFF)]


# ------------------------------------------------------------------------------ round trips


async def test_a_full_round_trip_in_a_forum_topic(
    forum_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = forum_bot
    opening = await hand_over(bot, kb, matcher)

    ((thread, name),) = fake_bot_api.topics(STAFF).items()
    assert name.startswith(f"#1 User {USER}")
    assert opening.message_thread_id == thread
    assert "Ticket 1" in opening.visible_text
    assert "Cannot Receive New Emails Due to Full Mailbox (step 2)" in opening.visible_text
    assert "Write in this topic" in opening.visible_text

    # The user's photo, with its caption, goes into the topic as it is.
    assert await bot.turn(USER, fake_bot_api.send_photo(USER, "the error I get")) == []
    copied = fake_bot_api.last_message(STAFF)
    assert copied.media is not None
    assert "photo" in copied.media
    assert copied.message_thread_id == thread
    assert copied.visible_text == "💬 Ticket 1: the error I get"

    # Anything a staff member writes in the topic reaches the user, signed.
    (answer,) = await staff_says(bot, "Please empty the Trash folder", thread=thread)
    assert (
        answer.visible_text == f"User {STAFF_MEMBER} (support team): Please empty the Trash folder"
    )

    # A staff photo without a caption reaches the user as a photo, signed.
    update = fake_bot_api.send_photo(
        STAFF, chat_type="supergroup", user_id=STAFF_MEMBER, thread_id=thread
    )
    (photo,) = await bot.turn(USER, update)
    assert photo.media is not None
    assert "photo" in photo.media
    assert photo.visible_text == f"User {STAFF_MEMBER} (support team)"
    assert "I can only read text" not in " ".join(staff_texts(fake_bot_api))

    # /close in the topic ends the ticket and asks the user to rate the help.
    (rate,) = await staff_says(bot, "/close", thread=thread)
    assert "How would you rate their help?" in rate.visible_text
    assert rate.button_labels == ["⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"]
    assert fake_bot_api.last_message(STAFF).visible_text.startswith("✅ Ticket 1 closed")
    (thanks,) = await bot.press(USER, "⭐⭐⭐⭐")
    assert "4 of 5" in thanks.visible_text

    ticket = bot.store.get_ticket(1)
    assert ticket is not None
    assert (ticket.state.value, ticket.closure, ticket.rating) == ("closed", Closure.STAFF, 4)
    assert ticket.assignee == f"User {STAFF_MEMBER}"
    assert ticket.first_reply_at is not None
    kinds = [e.kind for e in bot.store.events()]
    assert {"ticket.opened", "ticket.first_reply", "ticket.closed", "ticket.rated"} <= set(kinds)
    session = bot.session(USER)
    assert session is not None
    assert session.state is State.IDLE


async def test_a_full_round_trip_in_reply_mode(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = reply_bot
    opening = await hand_over(bot, kb, matcher)
    assert fake_bot_api.topics(STAFF) == {}
    assert "Reply to this message" in opening.visible_text

    assert await bot.say(USER, "it says <552> & stuff") == []
    relay = fake_bot_api.last_message(STAFF)
    assert relay.visible_text == "💬 Ticket 1: it says <552> & stuff"
    assert relay.reply_to_message_id == opening.message_id

    assert await bot.turn(USER, fake_bot_api.send_photo(USER)) == []
    copied = fake_bot_api.last_message(STAFF)
    assert copied.media is not None
    assert copied.visible_text == "💬 Ticket 1"

    # A reply to any of the bot's messages of the ticket goes to the user.
    (answer,) = await staff_says(bot, "Got it, checking", reply_to=relay.message_id)
    assert answer.visible_text == f"User {STAFF_MEMBER} (support team): Got it, checking"
    update = fake_bot_api.send_photo(
        STAFF, "here", chat_type="supergroup", user_id=STAFF_MEMBER, reply_to=copied.message_id
    )
    (photo,) = await bot.turn(USER, update)
    assert photo.media is not None
    assert photo.visible_text == f"User {STAFF_MEMBER} (support team): here"

    (rate,) = await staff_says(bot, "/close", reply_to=opening.message_id)
    assert len(rate.buttons) == 5
    (thanks,) = await bot.press(USER, "⭐⭐⭐⭐⭐")
    assert "5 of 5" in thanks.visible_text
    ticket = bot.store.get_ticket(1)
    assert ticket is not None
    assert ticket.rating == 5


async def test_a_forum_where_topics_cannot_be_created_gets_root_messages(
    forum_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    fake_bot_api.fail_next(
        "createForumTopic", 400, description="Bad Request: not enough rights to create a topic"
    )
    opening = await hand_over(forum_bot, kb, matcher)

    assert fake_bot_api.topics(STAFF) == {}
    assert opening.message_thread_id is None
    assert "Reply to this message" in opening.visible_text
    (answer,) = await staff_says(forum_bot, "On it", reply_to=opening.message_id)
    assert answer.visible_text.endswith("On it")


async def test_a_sticker_and_a_voice_note_reach_the_staff_during_a_ticket(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    await hand_over(reply_bot, kb, matcher)

    assert await reply_bot.turn(USER, fake_bot_api.send_sticker(USER)) == []
    assert await reply_bot.turn(USER, fake_bot_api.send_voice(USER)) == []

    media = [m.media for m in fake_bot_api.messages(STAFF) if m.media]
    assert [next(iter(m)) for m in media] == ["sticker", "voice"]  # type: ignore[arg-type]


async def test_documents_travel_both_ways_with_their_captions(
    forum_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    await hand_over(forum_bot, kb, matcher)
    ((thread, _),) = fake_bot_api.topics(STAFF).items()

    await forum_bot.turn(USER, fake_bot_api.send_document(USER, "bounce.eml", "the bounce"))
    update = fake_bot_api.send_document(
        STAFF,
        "howto.pdf",
        "step by step",
        chat_type="supergroup",
        user_id=STAFF_MEMBER,
        thread_id=thread,
    )
    (howto,) = await forum_bot.turn(USER, update)

    to_staff = fake_bot_api.last_message(STAFF)
    assert to_staff.media is not None
    assert to_staff.media["document"]["file_name"] == "bounce.eml"
    assert to_staff.visible_text == "💬 Ticket 1: the bounce"
    assert howto.media is not None
    assert howto.media["document"]["file_name"] == "howto.pdf"
    assert howto.visible_text == f"User {STAFF_MEMBER} (support team): step by step"


async def test_without_a_ticket_a_photo_still_gets_describe_in_words(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    (reply,) = await reply_bot.turn(USER, fake_bot_api.send_photo(USER))

    assert "describe the problem in words" in reply.visible_text
    assert fake_bot_api.messages(STAFF) == []


# ------------------------------------------------------------------------------ ending tickets


async def test_user_cancel_mid_ticket_is_announced_and_later_replies_are_not_delivered(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = reply_bot
    opening = await hand_over(bot, kb, matcher)

    await bot.say(USER, "/cancel")
    assert fake_bot_api.last_message(STAFF).visible_text == (
        "🚪 Ticket 1: the user cancelled the conversation. Ticket closed."
    )

    assert await staff_says(bot, "Are you still there?", reply_to=opening.message_id) == []
    assert fake_bot_api.last_message(STAFF).visible_text.startswith(
        "Ticket 1 is closed: that message was not delivered."
    )
    assert await staff_says(bot, "/close", reply_to=opening.message_id) == []
    ticket = bot.store.get_ticket(1)
    assert ticket is not None
    assert ticket.closure is Closure.USER


async def test_a_reply_to_the_closed_announcement_is_not_delivered(
    forum_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = forum_bot
    await hand_over(bot, kb, matcher)
    ((thread, _),) = fake_bot_api.topics(STAFF).items()
    await staff_says(bot, "/close", thread=thread)
    announcement = fake_bot_api.last_message(STAFF)

    assert await staff_says(bot, "one more thing", reply_to=announcement.message_id) == []
    assert await staff_says(bot, "and another", thread=thread) == []
    assert fake_bot_api.last_message(STAFF).visible_text.startswith("Ticket 1 is closed")


async def test_the_second_ticket_carries_only_its_own_transcript(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = reply_bot
    opening = await hand_over(bot, kb, matcher)
    await bot.say(USER, "first ticket words")
    await staff_says(bot, "/close", reply_to=opening.message_id)

    await bot.say(USER, "export my mailbox to a pst file")
    await bot.say(USER, "/human")

    second = [m for m in fake_bot_api.messages(STAFF) if "🎫 Ticket 2" in m.visible_text]
    assert len(second) == 1
    assert "export my mailbox to a pst file" in second[0].visible_text
    assert "first ticket words" not in second[0].visible_text
    assert answering_example(kb, matcher, "mailbox-full") not in second[0].visible_text


async def test_a_user_who_blocked_the_bot_closes_the_ticket_with_a_notice(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    opening = await hand_over(reply_bot, kb, matcher)
    fake_bot_api.block(USER)

    await staff_says(reply_bot, "Hello?", reply_to=opening.message_id)

    assert fake_bot_api.last_message(STAFF).visible_text == (
        "⛔ Ticket 1: the user blocked the bot. Ticket closed."
    )
    ticket = reply_bot.store.get_ticket(1)
    assert ticket is not None
    assert ticket.closure is Closure.BLOCKED


# ------------------------------------------------------------------------------ what is relayed


async def test_a_forged_chat_tag_in_someone_elses_message_means_nothing(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = reply_bot
    await hand_over(bot, kb, matcher)
    note = fake_bot_api.send_text(
        STAFF, f"note about #chat{USER}", chat_type="supergroup", user_id=STAFF_MEMBER
    )
    await bot.processed(note)
    forged = fake_bot_api.requests("sendMessage")
    note_id = fake_bot_api.update(note)["message"]["message_id"]

    assert await staff_says(bot, "please send us your password", reply_to=note_id) == []
    assert await staff_says(bot, "/close", reply_to=note_id) == []

    assert len(fake_bot_api.requests("sendMessage")) == len(forged)
    ticket = bot.store.get_ticket(1)
    assert ticket is not None
    assert ticket.is_open


async def test_staff_chatter_outside_tickets_is_ignored(
    forum_bot: RunningBot, fake_bot_api: FakeBotApi
) -> None:
    before = len(fake_bot_api.requests("sendMessage"))

    await staff_says(forum_bot, "coffee anyone?")

    assert len(fake_bot_api.requests("sendMessage")) == before


async def test_secrets_are_masked_before_they_reach_the_staff_or_the_store(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = reply_bot
    await bot.say(USER, "my password: Hunter22! and mailbox full")
    await bot.say(USER, "/human")
    await bot.say(USER, "card 4111 1111 1111 1111, pwd s3cret")

    everything = " ".join(staff_texts(fake_bot_api))
    stored = repr(bot.store.events()) + repr(bot.store.get_ticket(1)) + repr(bot.session(USER))
    for secret in ("Hunter22", "4111 1111", "s3cret"):
        assert secret not in everything
        assert secret not in stored
    assert "[hidden]" in everything
    assert "[card number]" in everything


# ------------------------------------------------------------------------------ restarts


async def test_a_restart_in_the_middle_of_a_ticket_loses_nothing(
    fake_bot_api: FakeBotApi, engine: Engine, kb: KnowledgeBase, matcher: Matcher, tmp_path: Path
) -> None:
    staff_chat(fake_bot_api, forum=False)
    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    async with running_bot(fake_bot_api, engine, store=store, staff_chat=STAFF) as bot:
        opening = await hand_over(bot, kb, matcher)
    store.close()

    store = SqliteStore(path)
    async with running_bot(fake_bot_api, engine, store=store, staff_chat=STAFF) as bot:
        assert await bot.say(USER, "are you there?") == []
        relay = fake_bot_api.last_message(STAFF)
        assert relay.visible_text == "💬 Ticket 1: are you there?"
        (answer,) = await staff_says(bot, "Yes, looking now", reply_to=opening.message_id)
        assert answer.visible_text.endswith("Yes, looking now")
        (rate,) = await staff_says(bot, "/close", reply_to=relay.message_id)
        assert len(rate.buttons) == 5
    store.close()


# ------------------------------------------------------------------------------ who may do what


async def test_a_non_member_cannot_close_a_ticket(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    opening = await hand_over(reply_bot, kb, matcher)

    closing = await staff_says(reply_bot, "/close", reply_to=opening.message_id, user_id=OUTSIDER)

    assert closing == []
    ticket = reply_bot.store.get_ticket(1)
    assert ticket is not None
    assert ticket.is_open
    # A group administrator is a member too.
    (rate,) = await staff_says(reply_bot, "/close", reply_to=opening.message_id, user_id=ADMIN)
    assert len(rate.buttons) == 5
    asked = [r.params["user_id"] for r in fake_bot_api.requests("getChatMember")]
    assert asked == [str(OUTSIDER), str(ADMIN)]


async def test_staff_and_admin_commands_from_others_get_the_unknown_command_reply(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, engine: Engine
) -> None:
    mirror = Mirror(engine, OTHER_USER)
    for command in ("/stats", "/stats 30", "/inbox", "/close"):
        replies = await reply_bot.say(OTHER_USER, command)
        assert [m.visible_text for m in replies] == mirror.command(command[1:].split()[0])
        assert "Report" not in replies[0].visible_text
        assert "Inbox" not in replies[0].visible_text


async def test_admins_get_the_report_and_the_inbox(
    reply_bot: RunningBot, kb: KnowledgeBase, matcher: Matcher
) -> None:
    await reply_bot.say(USER, "export my mailbox to a pst file")
    await reply_bot.say(USER, answering_example(kb, matcher, "mailbox-full"))

    (stats,) = await reply_bot.say(ADMIN, "/stats 30")
    (inbox,) = await reply_bot.say(ADMIN, "/inbox")

    assert stats.visible_text.startswith("Report, last 30 days")
    assert "Conversations: 1 from 1 chats" in stats.visible_text
    assert "Where people give up" in stats.visible_text
    assert inbox.visible_text.startswith("Inbox, last 30 days: 1 texts in 1 groups")
    assert "export my mailbox to a pst file" in inbox.visible_text


# ------------------------------------------------------------------------------ no staff chat


async def test_an_unreachable_staff_chat_gives_the_fallback_contact(
    fake_bot_api: FakeBotApi, staffed_engine: Engine
) -> None:
    engine = staffed_engine
    # BOT_STAFF_CHAT names a group the bot is not in (removed, or a typo).
    async with running_bot(
        fake_bot_api, engine, staff_chat=STAFF, fallback_contact=CONTACT
    ) as bot:
        (answer,) = await bot.say(USER, "/human")
        session = bot.session(USER)
        (again,) = await bot.say(USER, "talk to a person")

    assert "couldn't reach the support team" in answer.visible_text
    assert CONTACT in answer.visible_text
    assert session is not None
    assert session.state is State.IDLE
    assert CONTACT in again.visible_text
    assert not [m for m in fake_bot_api.messages(USER) if "asked a person" in m.visible_text]


async def test_without_a_staff_chat_the_fallback_contact_is_given(
    fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    engine = Engine(kb, matcher, DialogueSettings(fallback_contact=CONTACT))
    async with running_bot(fake_bot_api, engine, fallback_contact=CONTACT) as bot:
        (answer,) = await bot.say(USER, "/human")

    assert "No support team is connected" in answer.visible_text
    assert CONTACT in answer.visible_text


async def test_a_staff_chat_that_refuses_the_post_hands_back_too(
    fake_bot_api: FakeBotApi, staffed_engine: Engine
) -> None:
    engine = staffed_engine
    staff_chat(fake_bot_api, forum=False)
    async with running_bot(
        fake_bot_api, engine, staff_chat=STAFF, fallback_contact=CONTACT
    ) as bot:
        await bot.say(OTHER_USER, "/human")  # ticket 1 reaches the staff
        fake_bot_api.block(STAFF)  # then the bot is removed from the group
        (answer,) = await bot.say(USER, "/human")
        ticket = bot.store.get_ticket(2)

    assert CONTACT in answer.visible_text
    assert ticket is not None
    assert ticket.closure is Closure.UNREACHABLE


# ------------------------------------------------------------------------------ /forget


async def test_forget_deletes_everything_about_the_user_and_says_so(
    reply_bot: RunningBot, fake_bot_api: FakeBotApi, kb: KnowledgeBase, matcher: Matcher
) -> None:
    bot = reply_bot
    await bot.say(OTHER_USER, "my mailbox is full")
    await hand_over(bot, kb, matcher)
    await bot.say(USER, "my phone is +44 20 7946 0958")
    alias = pseudonym(str(USER), bot.channel.settings.salt)
    assert any(e.chat_id == alias for e in bot.store.events())

    (done,) = await bot.say(USER, "/forget")

    assert done.visible_text.startswith("Done: I've deleted everything I stored about you")
    assert bot.session(USER) is None
    assert not [e for e in bot.store.events() if e.chat_id in (alias, str(USER))]
    assert [e for e in bot.store.events() if e.chat_id != alias]  # other users' stay
    ticket = bot.store.get_ticket(1)
    assert ticket is not None
    assert ticket.transcript == ()
    assert "User 5101" not in ticket.user
    assert ticket.closure is Closure.FORGOTTEN
    assert "asked to be forgotten" in fake_bot_api.last_message(STAFF).visible_text


async def test_event_chat_ids_are_pseudonymised(
    reply_bot: RunningBot, kb: KnowledgeBase, matcher: Matcher
) -> None:
    await reply_bot.say(USER, answering_example(kb, matcher, "mailbox-full"))

    chats = {e.chat_id for e in reply_bot.store.events()}

    assert chats == {pseudonym(str(USER), reply_bot.channel.settings.salt)}
    assert str(USER) not in next(iter(chats))
