"""Every kind of Telegram update gets its own kind label, decided from the update alone."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.ops.metrics import UpdateKind
from bot.ops.telegram_updates import update_facts

STAFF = -100200
USER = {"id": 7, "is_bot": False, "first_name": "Ann"}
PRIVATE = {"id": 7, "type": "private", "first_name": "Ann"}
GROUP = {"id": STAFF, "type": "supergroup", "title": "Helpdesk"}


def message(
    text: str | None = "hello", chat: dict[str, Any] = PRIVATE, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"message_id": 1, "date": 1_700_000_000, "chat": chat, "from": USER}
    if text is not None:
        body["text"] = text
    if text and text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return body | extra


HIDDEN = {"type": "hidden_user", "date": 1, "sender_user_name": "Bo"}
PRESS = {"id": "1", "from": USER, "chat_instance": "c", "data": "v1:3:done:"}
INLINE = {"id": "q", "from": USER, "query": "full", "offset": ""}
BLOCKED = {
    "chat": PRIVATE,
    "from": USER,
    "date": 1,
    "old_chat_member": {"status": "member", "user": USER},
    "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
}
CASES = [
    ({"message": message("my mailbox is full")}, UpdateKind.TEXT, None),
    ({"message": message("/stats 7")}, UpdateKind.COMMAND, "stats"),
    ({"message": message("/start@alimail_bot")}, UpdateKind.COMMAND, "start"),
    ({"message": message("/close", chat=GROUP)}, UpdateKind.STAFF_MESSAGE, "close"),
    ({"message": message("thanks", chat=GROUP)}, UpdateKind.STAFF_MESSAGE, None),
    ({"message": message("bounce 552", forward_origin=HIDDEN)}, UpdateKind.FORWARD, None),
    ({"message": message(None, caption="see 552")}, UpdateKind.TEXT, None),
    ({"message": message(None)}, UpdateKind.MEDIA, None),
    ({"edited_message": message("fixed typo")}, UpdateKind.EDITED, None),
    ({"callback_query": PRESS | {"message": message("Step 1")}}, UpdateKind.BUTTON, None),
    ({"inline_query": INLINE}, UpdateKind.INLINE_QUERY, None),
    ({"my_chat_member": BLOCKED}, UpdateKind.MEMBER, None),
]


@pytest.mark.parametrize(
    ("payload", "kind", "command"), CASES, ids=[c[1].value + str(i) for i, c in enumerate(CASES)]
)
def test_each_update_kind_is_recognised(
    payload: dict[str, Any], kind: UpdateKind, command: str | None
) -> None:
    update = Update.de_json({"update_id": 1, **payload}, None)

    facts = update_facts(update, staff_chat=STAFF)

    assert (facts.kind, facts.command) == (kind, command)


def test_a_message_carries_its_date_for_the_lag_and_its_chat() -> None:
    facts = update_facts(
        Update.de_json({"update_id": 1, "message": message()}, None), staff_chat=None
    )

    assert facts.sent_at == 1_700_000_000
    assert facts.chat_id == 7


def test_anything_that_is_not_an_update_is_other() -> None:
    assert update_facts(object(), staff_chat=None).kind is UpdateKind.OTHER
