"""The fake Bot API's helpdesk parts, driven by the real client: forums, copies, members."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden

from tests.helpers.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.telegram, pytest.mark.asyncio]

USER = 424242
FORUM = -100700
GROUP = -100701


@pytest_asyncio.fixture
async def bot(fake_bot_api: FakeBotApi) -> AsyncIterator[Bot]:
    """A real PTB Bot talking to the fake, with a forum, a plain group and one user."""
    fake_bot_api.add_chat(FORUM, chat_type="supergroup", is_forum=True)
    fake_bot_api.add_chat(GROUP, chat_type="supergroup")
    fake_bot_api.add_chat(USER)
    async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as client:
        yield client


async def test_get_chat_says_whether_a_group_is_a_forum(bot: Bot) -> None:
    assert (await bot.get_chat(FORUM)).is_forum is True
    assert not (await bot.get_chat(GROUP)).is_forum


async def test_forum_topics_exist_only_in_forums_and_messages_land_in_them(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    topic = await bot.create_forum_topic(FORUM, "#1 Ann")
    sent = await bot.send_message(FORUM, "hello", message_thread_id=topic.message_thread_id)

    assert fake_bot_api.topics(FORUM) == {topic.message_thread_id: "#1 Ann"}
    assert sent.message_thread_id == topic.message_thread_id
    assert sent.is_topic_message
    with pytest.raises(BadRequest, match="not a forum"):
        await bot.create_forum_topic(GROUP, "#2")
    with pytest.raises(BadRequest, match="thread not found"):
        await bot.send_message(FORUM, "x", message_thread_id=topic.message_thread_id + 100)


async def test_a_user_message_in_a_topic_replies_to_its_creation(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    topic = await bot.create_forum_topic(FORUM, "#1 Ann")

    update_id = fake_bot_api.send_text(
        FORUM, "hi", chat_type="supergroup", thread_id=topic.message_thread_id
    )

    message = fake_bot_api.update(update_id)["message"]
    assert message["message_thread_id"] == topic.message_thread_id
    assert message["is_topic_message"] is True
    assert "forum_topic_created" in message["reply_to_message"]


async def test_copy_message_copies_media_and_replaces_or_keeps_the_caption(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    update_id = fake_bot_api.send_photo(USER, "original caption")
    photo_id = fake_bot_api.update(update_id)["message"]["message_id"]
    sticker_id = fake_bot_api.update(fake_bot_api.send_sticker(USER))["message"]["message_id"]

    kept = await bot.copy_message(GROUP, USER, photo_id)
    replaced = await bot.copy_message(
        GROUP, USER, photo_id, caption="<b>new</b>", parse_mode="HTML"
    )
    sticker = await bot.copy_message(GROUP, USER, sticker_id)

    kept_message = fake_bot_api.message(GROUP, kept.message_id)
    assert kept_message.visible_text == "original caption"
    assert kept_message.media is not None
    assert "photo" in kept_message.media
    assert kept_message.copied_from == (USER, photo_id)
    assert fake_bot_api.message(GROUP, replaced.message_id).visible_text == "new"
    assert "sticker" in (fake_bot_api.message(GROUP, sticker.message_id).media or {})
    with pytest.raises(BadRequest, match="can't have a caption"):
        await bot.copy_message(GROUP, USER, sticker_id, caption="no")
    with pytest.raises(BadRequest, match="not found"):
        await bot.copy_message(GROUP, USER, 9999)


async def test_chat_members_have_a_status_and_strangers_have_left(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    statuses = ("creator", "administrator", "member", "restricted", "left", "kicked")
    for user_id, status in enumerate(statuses, start=7701):
        fake_bot_api.add_member(GROUP, user_id, status=status)

    found = [(await bot.get_chat_member(GROUP, 7701 + i)).status for i in range(len(statuses))]

    assert found == [
        ChatMemberStatus.OWNER,
        ChatMemberStatus.ADMINISTRATOR,
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.RESTRICTED,
        ChatMemberStatus.LEFT,
        ChatMemberStatus.BANNED,
    ]
    assert (await bot.get_chat_member(GROUP, 7799)).status == ChatMemberStatus.LEFT


async def test_a_removed_or_blocking_chat_refuses_like_telegram(
    bot: Bot, fake_bot_api: FakeBotApi
) -> None:
    fake_bot_api.remove_chat(GROUP)
    fake_bot_api.block(FORUM)

    with pytest.raises(BadRequest, match="not found"):
        await bot.get_chat(GROUP)
    with pytest.raises(Forbidden):
        await bot.send_message(FORUM, "x")
