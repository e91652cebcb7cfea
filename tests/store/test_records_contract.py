"""The event log and tickets, one contract run against every backend (memory, SQLite, Redis)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from bot.core import tickets as rules
from bot.core.session import Session
from bot.core.tickets import Closure, StaffMode, Ticket
from bot.store.helpdesk import EventRecord
from bot.store.memory import MemoryStore
from tests.store.test_contract import AnyStore, MakeStore, make_store, store

__all__ = ["make_store", "store"]  # fixtures used by the tests below

DAY = 86_400.0


def new_ticket(store: AnyStore, *, chat_id: str = "50002", at: float = 1000.0) -> Ticket:
    ticket = rules.open_ticket(
        number=store.new_ticket_number(),
        chat_id=chat_id,
        user="Ann 📬",
        transcript=("user: Почтовый ящик переполнен", "user: 邮箱已满"),
        topic="mailbox-full",
        place="step 2",
        now=at,
        mode=StaffMode.REPLY,
    )
    assert store.put_ticket(ticket, expected_version=None)
    return ticket


def test_events_come_back_in_time_order_from_a_given_time(store: AnyStore) -> None:
    store.log_event("b", "2", None, "Ящик — 邮箱", 200.0)
    store.log_event("a", "1", "mailbox-full", "", 100.0)
    store.log_event("b", "2", None, "Ящик — 邮箱", 200.0)  # the same record twice is two

    assert store.events() == [
        EventRecord("a", "1", "mailbox-full", "", 100.0),
        EventRecord("b", "2", None, "Ящик — 邮箱", 200.0),
        EventRecord("b", "2", None, "Ящик — 邮箱", 200.0),
    ]
    assert [e.kind for e in store.events(since=150.0)] == ["b", "b"]


def test_retention_is_by_age_not_by_count(store: AnyStore) -> None:
    for day in range(100):
        store.log_event("dialogue.started", str(day), None, "", day * DAY)
    store.put(Session(chat_id="idle", updated_at=5 * DAY), expected_version=None)
    store.put(Session(chat_id="recent", updated_at=95 * DAY), expected_version=None)

    removed = store.purge(before=10 * DAY)

    assert removed == 10 + 1
    assert len(store.events()) == 90
    assert store.get("idle") is None
    assert store.get("recent") is not None


def test_closed_tickets_expire_with_retention_and_open_ones_stay(store: AnyStore) -> None:
    old = new_ticket(store, chat_id="1", at=1 * DAY)
    closed = rules.close(rules.with_staff_message(old, 901), now=2 * DAY, closure=Closure.STAFF)
    assert store.put_ticket(closed, expected_version=old.version)
    still_open = new_ticket(store, chat_id="2", at=1 * DAY)

    store.purge(before=10 * DAY)

    assert store.get_ticket(old.number) is None
    assert store.ticket_of_message(901) is None
    assert store.get_ticket(still_open.number) == still_open


def test_ticket_numbers_are_unique_across_writers(make_store: MakeStore) -> None:
    first = make_store()
    # Memory stores share nothing, so one of them stands for the four writers.
    shared = isinstance(first, MemoryStore)
    stores = [first] * 4 if shared else [first, *(make_store() for _ in range(3))]

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = list(pool.map(lambda i: stores[i % 4].new_ticket_number(), range(40)))

    assert sorted(numbers) == list(range(1, 41))


def test_a_ticket_round_trips_and_is_found_by_chat_thread_and_message(store: AnyStore) -> None:
    ticket = new_ticket(store)
    updated = rules.with_thread(rules.with_staff_message(ticket, 900), 77)
    assert store.put_ticket(updated, expected_version=ticket.version)

    assert store.get_ticket(ticket.number) == updated
    assert store.open_ticket_of("50002") == updated
    assert store.ticket_of_thread(77) == updated
    assert store.ticket_of_message(900) == updated
    assert store.ticket_of_message(901) is None
    assert store.ticket_of_thread(78) is None
    assert store.get_ticket(999) is None


def test_putting_a_ticket_is_compare_and_set(store: AnyStore) -> None:
    ticket = new_ticket(store)
    first = rules.with_staff_message(ticket, 900)
    second = rules.with_staff_message(ticket, 901)

    assert store.put_ticket(first, expected_version=ticket.version) is True
    assert store.put_ticket(second, expected_version=ticket.version) is False
    assert store.put_ticket(ticket, expected_version=None) is False
    assert store.get_ticket(ticket.number) == first


def test_a_closed_ticket_is_no_longer_the_chats_open_ticket(store: AnyStore) -> None:
    ticket = new_ticket(store)
    closed = rules.close(ticket, now=2000.0, closure=Closure.USER)
    assert store.put_ticket(closed, expected_version=ticket.version)

    assert store.open_ticket_of("50002") is None
    assert store.get_ticket(ticket.number) == closed
    newer = new_ticket(store)
    assert store.open_ticket_of("50002") == newer
    assert newer.number > ticket.number


def test_forget_removes_the_session_the_events_and_the_tickets_user_text(
    store: AnyStore,
) -> None:
    store.put(Session(chat_id="50002", updated_at=1.0), expected_version=None)
    store.put(Session(chat_id="60000", updated_at=1.0), expected_version=None)
    store.log_event("dialogue.unanswered", "p-alias", None, "my words", 10.0)
    store.log_event("dialogue.unanswered", "50002", None, "raw id", 11.0)
    store.log_event("dialogue.unanswered", "p-other", None, "someone else", 12.0)
    ticket = new_ticket(store)
    other = new_ticket(store, chat_id="60000")

    removed = store.forget("50002", "p-alias")

    assert removed == 1 + 2 + 1
    assert store.get("50002") is None
    assert store.get("60000") is not None
    assert [e.detail for e in store.events()] == ["someone else"]
    forgotten = store.get_ticket(ticket.number)
    assert forgotten is not None
    assert forgotten.transcript == ()
    assert "Ann" not in forgotten.user
    assert store.get_ticket(other.number) == other


def test_forgetting_a_ticket_keeps_it_usable(store: AnyStore) -> None:
    ticket = new_ticket(store)
    store.forget("50002", "p")
    forgotten = store.get_ticket(ticket.number)
    assert forgotten is not None

    closed = rules.close(forgotten, now=5.0, closure=Closure.FORGOTTEN)

    assert store.put_ticket(closed, expected_version=forgotten.version)
    assert replace(closed, version=0) != replace(ticket, version=0)


def test_open_tickets_are_counted_and_closed_ones_are_not(store: AnyStore) -> None:
    assert store.count_open_tickets() == 0
    first = new_ticket(store, chat_id="1")
    new_ticket(store, chat_id="2")
    assert store.count_open_tickets() == 2

    closed = rules.close(first, now=2000.0, closure=Closure.USER)
    assert store.put_ticket(closed, expected_version=first.version)

    assert store.count_open_tickets() == 1
