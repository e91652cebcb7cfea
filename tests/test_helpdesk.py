"""The helpdesk service on a store: tickets numbered and found, events pseudonymised and kept
by age, a user forgotten on request."""

from __future__ import annotations

import pytest

from bot.core.dialogue import Engine, Outcome
from bot.core.events import Command, UserText
from bot.core.session import Session
from bot.core.tickets import Closure, StaffMode, StaffPost, Ticket
from bot.helpdesk import DAY, Helpdesk, HelpdeskSettings
from bot.store.memory import MemoryStore

pytestmark = pytest.mark.asyncio


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def escalate(
    engine: Engine, helpdesk: Helpdesk, chat: str = "50002"
) -> tuple[Ticket, Outcome]:
    store = helpdesk.store
    session = engine.new_session(chat, now=1.0)
    asked = engine.handle(session, UserText(text="export my mailbox to a pst file"), now=1.0)
    store.put(asked.session, expected_version=None)
    outcome = engine.handle(asked.session, Command(name="human"), now=2.0)
    store.put(outcome.session, expected_version=asked.session.version)
    ticket = await helpdesk.open_ticket(
        chat_id=chat, user="Ann", before=asked.session, outcome=outcome, mode=StaffMode.REPLY
    )
    return ticket, outcome


def make(salt: str = "s" * 16) -> tuple[Helpdesk, Clock]:
    clock = Clock()
    return Helpdesk(MemoryStore(), HelpdeskSettings(salt=salt), clock=clock), clock


async def test_an_opened_ticket_is_stored_numbered_and_logged(engine: Engine) -> None:
    helpdesk, _ = make()

    ticket, _ = await escalate(engine, helpdesk)
    second, _ = await escalate(engine, helpdesk, chat="60000")

    assert (ticket.number, second.number) == (1, 2)
    assert await helpdesk.open_ticket_of("50002") == ticket
    assert "user: export my mailbox to a pst file" in ticket.transcript
    assert [e.kind for e in helpdesk.store.events()] == ["ticket.opened", "ticket.opened"]


async def test_event_chat_ids_are_pseudonyms(engine: Engine) -> None:
    helpdesk, _ = make()
    session = engine.new_session("50002", now=1.0)
    outcome = engine.handle(session, UserText(text="my mailbox is full"), now=1.0)

    await helpdesk.journal("50002", session, outcome)

    chats = {e.chat_id for e in helpdesk.store.events()}
    assert chats == {helpdesk.alias("50002")}
    assert "50002" not in next(iter(chats))


async def test_staff_posts_find_their_ticket_only_through_the_bots_messages(
    engine: Engine,
) -> None:
    helpdesk, _ = make()
    ticket, _ = await escalate(engine, helpdesk)
    await helpdesk.remember_message(ticket.number, 900)
    await helpdesk.set_thread(ticket.number, 77)

    assert await helpdesk.ticket_for(StaffPost(reply_to=900, reply_to_bot=True)) is not None
    assert await helpdesk.ticket_for(StaffPost(reply_to=900, reply_to_bot=False)) is None
    assert await helpdesk.ticket_for(StaffPost(reply_to=555, reply_to_bot=True)) is None
    assert await helpdesk.ticket_for(StaffPost(thread_id=77)) is not None
    assert await helpdesk.ticket_for(StaffPost()) is None


async def test_the_first_staff_reply_is_timed_once(engine: Engine) -> None:
    helpdesk, clock = make()
    ticket, _ = await escalate(engine, helpdesk)

    clock.now += 300
    ticket = await helpdesk.staff_replied(ticket, staff="Bob")
    clock.now += 300
    await helpdesk.staff_replied(ticket, staff="Eve")

    replies = [e.detail for e in helpdesk.store.events() if e.kind == "ticket.first_reply"]
    assert replies == ["300"]
    assert ticket.assignee == "Bob"


async def test_a_ticket_closes_once(engine: Engine) -> None:
    helpdesk, _ = make()
    ticket, _ = await escalate(engine, helpdesk)

    closed = await helpdesk.close(ticket, Closure.STAFF)
    again = await helpdesk.close(ticket, Closure.USER)

    assert closed is not None
    assert closed.closure is Closure.STAFF
    assert again is None
    assert await helpdesk.open_ticket_of("50002") is None
    assert await helpdesk.rate(ticket.number, 5) is not None
    assert await helpdesk.rate(ticket.number, 4) is None


async def test_the_next_ticket_does_not_repeat_the_last_ones_transcript(engine: Engine) -> None:
    helpdesk, _ = make()
    ticket, _ = await escalate(engine, helpdesk)
    await helpdesk.clear_transcript("50002")
    await helpdesk.close(ticket, Closure.STAFF)
    session = helpdesk.store.get("50002")
    assert session is not None
    closed = engine.handle(session, Command(name="closed", arg="1"), now=3.0)
    helpdesk.store.put(closed.session, expected_version=session.version)
    asked = engine.handle(closed.session, UserText(text="my mailbox is full"), now=4.0)
    helpdesk.store.put(asked.session, expected_version=closed.session.version)
    outcome = engine.handle(asked.session, Command(name="human"), now=5.0)

    second = await helpdesk.open_ticket(
        chat_id="50002", user="Ann", before=asked.session, outcome=outcome, mode=StaffMode.REPLY
    )

    assert second.number == 2
    assert not [line for line in second.transcript if "pst" in line]
    assert second.place == "step 1"


async def test_events_older_than_the_retention_are_purged_as_new_ones_come(engine: Engine) -> None:
    helpdesk, clock = make()
    await helpdesk.log("1", "old")
    clock.now += 91 * DAY

    await helpdesk.log("1", "new")

    assert [e.kind for e in helpdesk.store.events()] == ["new"]


async def test_forget_deletes_the_session_the_events_and_the_ticket_text(engine: Engine) -> None:
    helpdesk, _ = make()
    ticket, _ = await escalate(engine, helpdesk)
    helpdesk.store.put(Session(chat_id="other", updated_at=1.0), expected_version=None)
    await helpdesk.log("other", "kept")

    removed = await helpdesk.forget("50002")

    assert removed >= 3
    assert helpdesk.store.get("50002") is None
    assert [e.kind for e in helpdesk.store.events()] == ["kept"]
    forgotten = helpdesk.store.get_ticket(ticket.number)
    assert forgotten is not None
    assert forgotten.transcript == ()
