"""Ticket rules: which staff messages reach the user, closing, rating, storage."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core import tickets
from bot.core.replies import Action
from bot.core.tickets import (
    Closure,
    StaffMode,
    StaffPost,
    Ticket,
    TicketState,
    Verdict,
    addressed_ticket,
    verdict,
)
from bot.errors import StoreError


def make_ticket(**changes: object) -> Ticket:
    ticket = tickets.open_ticket(
        number=12,
        chat_id="50002",
        user="Ann",
        transcript=tuple(f"user: line {i}" for i in range(20)),
        topic="mailbox-full",
        place="step 2",
        now=1000.0,
        mode=StaffMode.REPLY,
    )
    ticket = tickets.with_staff_message(ticket, 900)
    return replace(ticket, **changes)  # type: ignore[arg-type]


def test_a_new_ticket_is_open_and_keeps_only_the_last_transcript_lines() -> None:
    ticket = make_ticket()

    assert ticket.state is TicketState.OPEN
    assert ticket.transcript[0] == "user: line 8"
    assert len(ticket.transcript) == tickets.TRANSCRIPT_LINES


def test_a_reply_to_one_of_the_bots_ticket_messages_is_delivered() -> None:
    ticket = make_ticket()
    post = StaffPost(reply_to=900, reply_to_bot=True)

    found = addressed_ticket(post, by_thread=None, by_message=ticket)

    assert found == ticket
    assert verdict(post, found) is Verdict.DELIVER


def test_a_reply_to_someone_elses_message_is_ignored_even_with_a_tag() -> None:
    # "note about #chat50002" posted by a member, and a reply to it: not the bot's message.
    ticket = make_ticket()
    post = StaffPost(reply_to=900, reply_to_bot=False)

    assert addressed_ticket(post, by_thread=None, by_message=ticket) is None
    assert verdict(post, None) is Verdict.IGNORE


def test_a_reply_to_a_bot_message_of_another_ticket_is_ignored() -> None:
    ticket = make_ticket()
    post = StaffPost(reply_to=901, reply_to_bot=True)

    assert addressed_ticket(post, by_thread=None, by_message=ticket) is None


def test_any_message_in_the_tickets_forum_topic_is_delivered() -> None:
    ticket = make_ticket(mode=StaffMode.TOPIC, thread_id=77)

    found = addressed_ticket(StaffPost(thread_id=77), by_thread=ticket, by_message=None)
    other = addressed_ticket(StaffPost(thread_id=78), by_thread=ticket, by_message=None)

    assert found == ticket
    assert other is None


def test_close_then_messages_to_the_closed_ticket_get_a_notice_not_a_delivery() -> None:
    post = StaffPost(reply_to=900, reply_to_bot=True, command="close")
    ticket = make_ticket()

    assert verdict(post, ticket) is Verdict.CLOSE
    closed = tickets.close(ticket, now=2000.0, closure=Closure.STAFF)
    assert verdict(StaffPost(reply_to=900, reply_to_bot=True), closed) is Verdict.CLOSED_NOTICE
    assert closed.closed_at == 2000.0
    assert tickets.close(closed, now=3000.0, closure=Closure.USER) == closed


def test_the_first_staff_reply_sets_the_reply_time_and_the_assignee_once() -> None:
    ticket = tickets.staff_replied(make_ticket(), now=1300.0, staff="Bob")
    again = tickets.staff_replied(ticket, now=1400.0, staff="Eve")

    assert (again.first_reply_at, again.assignee) == (1300.0, "Bob")


def test_only_a_ticket_closed_by_staff_can_be_rated_once_from_one_to_five() -> None:
    open_ticket = make_ticket()
    by_staff = tickets.close(open_ticket, now=2000.0, closure=Closure.STAFF)
    by_user = tickets.close(open_ticket, now=2000.0, closure=Closure.USER)

    rated = tickets.rate(by_staff, 4)

    assert rated is not None
    assert rated.rating == 4
    assert tickets.rate(rated, 5) is None
    assert tickets.rate(open_ticket, 4) is None
    assert tickets.rate(by_user, 4) is None
    assert tickets.rate(by_staff, 6) is None


def test_rating_buttons_carry_the_ticket_and_parse_back() -> None:
    buttons = tickets.rating_buttons(12)

    assert [b.action for b in buttons] == [Action.RATE] * 5
    assert [tickets.parse_rating(b.arg) for b in buttons] == [(12, n) for n in range(1, 6)]
    assert tickets.parse_rating("down:mailbox-full") is None
    assert tickets.parse_rating("up") is None


def test_staff_message_ids_are_remembered_once_and_bounded() -> None:
    ticket = make_ticket()
    for message_id in range(1000, 1000 + tickets.MAX_STAFF_MESSAGES + 5):
        ticket = tickets.with_staff_message(ticket, message_id)

    assert len(ticket.staff_messages) == tickets.MAX_STAFF_MESSAGES
    assert tickets.with_staff_message(ticket, ticket.staff_messages[-1]) == ticket


def test_forgetting_removes_what_the_user_wrote_and_keeps_the_figures() -> None:
    ticket = tickets.forget_user_text(make_ticket(first_reply_at=1300.0))

    assert ticket.transcript == ()
    assert ticket.user == "(forgotten)"
    assert ticket.first_reply_at == 1300.0


@pytest.mark.parametrize("closure", list(Closure))
def test_every_closure_has_its_own_announcement(closure: Closure) -> None:
    ticket = tickets.close(make_ticket(), now=2000.0, closure=closure)

    text = tickets.announcement(ticket)

    assert "Ticket 12" in text
    others = [tickets.announcement(replace(ticket, closure=c)) for c in Closure if c != closure]
    assert text not in others


def test_the_opening_message_says_how_to_answer_in_each_mode() -> None:
    reply_mode = tickets.opening_text(make_ticket(), topic_title="Mailbox full")
    topic_mode = tickets.opening_text(make_ticket(mode=StaffMode.TOPIC), topic_title=None)

    assert "Reply to this message" in reply_mode
    assert "Mailbox full (step 2)" in reply_mode
    assert "Write in this topic" in topic_mode
    assert "no topic yet" in topic_mode


def test_tickets_round_trip_through_json() -> None:
    ticket = tickets.close(
        make_ticket(thread_id=5, assignee="Bob"), now=2000.0, closure=Closure.STAFF
    )

    assert tickets.ticket_from_json(tickets.ticket_to_json(ticket)) == ticket


@pytest.mark.parametrize("raw", ["", "[]", '{"schema": 2}', '{"schema": 1, "number": "x"}'])
def test_a_malformed_ticket_record_is_a_store_error(raw: str) -> None:
    with pytest.raises(StoreError, match="ticket"):
        tickets.ticket_from_json(raw)
