"""The send policy on its own: what is retried, what is never repeated, who owns a 429."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.delivery import (
    MaybeDelivered,
    SendFailed,
    SendPolicy,
    next_call,
    tidy,
)
from bot.channels.telegram.keyboards import keyboard, split_owner
from bot.core.replies import Action, Button
from bot.store.outbox import Outgoing, OutKind

pytestmark = pytest.mark.asyncio


def failing(*errors: Exception) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call that raises ``errors`` in turn, then answers "sent"; and its call count."""
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return "sent"

    return call, calls


def caused(error: NetworkError, cause: Exception) -> NetworkError:
    """``error`` raised from ``cause``, as PTB's HTTP layer does."""
    error.__cause__ = cause
    return error


CONNECT_REFUSED = caused(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused"))
CONNECT_TIMEOUT = caused(TimedOut(), httpx.ConnectTimeout("slow connect"))
READ_TIMEOUT = caused(TimedOut(), httpx.ReadTimeout("no answer"))
DROPPED = caused(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("gone"))
BAD_GATEWAY = NetworkError("Bad Gateway")  # Telegram answered 502: nothing was done


@pytest.mark.parametrize(
    "error", [CONNECT_REFUSED, CONNECT_TIMEOUT, BAD_GATEWAY], ids=["refused", "connect", "502"]
)
async def test_a_send_that_surely_did_not_arrive_is_retried(error: NetworkError) -> None:
    call, calls = failing(error, error)

    assert await SendPolicy(backoff=0).call(call, what="send", repeatable=False) == "sent"
    assert calls == [3]


@pytest.mark.parametrize("error", [READ_TIMEOUT, DROPPED], ids=["read-timeout", "dropped"])
async def test_a_send_that_may_have_arrived_is_not_repeated(error: NetworkError) -> None:
    call, calls = failing(error)

    with pytest.raises(MaybeDelivered):
        await SendPolicy(backoff=0).call(call, what="send", repeatable=False)
    assert calls == [1]


async def test_an_edit_that_may_have_arrived_is_repeated_as_it_is_harmless() -> None:
    call, calls = failing(READ_TIMEOUT)

    assert await SendPolicy(backoff=0).call(call, what="edit", repeatable=True) == "sent"
    assert calls == [2]


async def test_failures_are_bounded_then_left_for_later() -> None:
    call, calls = failing(*[BAD_GATEWAY] * 10)

    with pytest.raises(SendFailed):
        await SendPolicy(attempts=3, backoff=0).call(call, what="send")
    assert calls == [3]


async def test_a_429_is_waited_out_here_and_refusals_are_not_retried() -> None:
    flood = RetryAfter(timedelta(seconds=0.01))
    call, calls = failing(flood, flood)
    assert await SendPolicy(attempts=1, backoff=0).call(call, what="send") == "sent"
    assert calls == [3]  # 429s are flow control: they do not use up the failure attempts

    refused, tries = failing(BadRequest("chat not found"))
    with pytest.raises(BadRequest):
        await SendPolicy(backoff=0).call(refused, what="send")
    assert tries == [1]


async def test_a_group_keyboard_names_its_owner_and_a_private_one_does_not() -> None:
    buttons = (Button(label="✅ Done", action=Action.DONE),)
    private = keyboard(buttons, 7)
    group = keyboard(buttons, 7, owner=123456789)
    assert private is not None
    assert group is not None

    private_data = private.inline_keyboard[0][0].callback_data
    group_data = group.inline_keyboard[0][0].callback_data
    assert split_owner(str(private_data)) == (None, private_data)
    assert split_owner(str(group_data)) == (123456789, private_data)
    assert split_owner("o12|") == (12, "")
    assert split_owner("oops|v1:1:done:") == (None, "oops|v1:1:done:")


# ---------------------------------------------------------------- clean-ups yield to replies


def clear(message_id: int) -> Outgoing:
    return Outgoing(kind=OutKind.CLEAR, chat_id=1, message_id=message_id)


async def test_replies_go_before_clean_ups_and_the_outbox_is_tidied() -> None:
    send = Outgoing(kind=OutKind.SEND, chat_id=1, text="next", prompt=True)
    edit = Outgoing(kind=OutKind.EDIT, chat_id=1, text="step", message_id=7, prompt=True)
    assert next_call((clear(5), send)) == 1
    assert next_call((clear(5), clear(6))) == 0
    # Two clean-ups of one message: one. The live keyboard (9): never removed.
    assert tidy((clear(5), send, clear(5), clear(9)), "9") == (clear(5), send)
    # A later edit of the message sets its keyboard: the earlier clean-up is dropped...
    assert tidy((clear(7), edit), None) == (edit,)
    # ...but a clean-up after the edit stays (the edited step was replaced in turn).
    assert tidy((edit, clear(7)), None) == (edit, clear(7))


async def test_the_policy_has_spare_capacity_only_while_nothing_is_sent() -> None:
    policy = SendPolicy(backoff=0)
    assert policy.spare
    seen: list[bool] = []

    async def reply() -> str:
        seen.append(policy.spare)
        return "sent"

    assert await policy.call(reply, what="reply") == "sent"
    assert await policy.call(reply, what="clean-up", cleanup=True) == "sent"
    assert seen == [False, False]
    assert policy.spare
    await policy.wait_spare()  # returns at once
