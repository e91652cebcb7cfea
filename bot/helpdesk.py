"""The helpdesk service: tickets and the event log on a store, for any channel.

The rules are in ``bot.core.tickets`` and ``bot.core.journal`` (pure); this module applies them
to the store: it numbers and saves tickets (compare-and-set, retried, so replicas can share
them), finds the ticket a staff message is about, logs what reports need with pseudonymised
chat ids, purges what is older than the retention, and forgets a user on request. A channel
(Telegram's ``staff`` module) does the sending.

Every method is a coroutine: the store is synchronous (SQLite, Redis, memory) and is called in
a worker thread with a timeout, so a slow store never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from bot.core import tickets as rules
from bot.core.dialogue import Outcome
from bot.core.journal import records
from bot.core.privacy import pseudonym
from bot.core.session import Session, State
from bot.core.tickets import Closure, StaffMode, StaffPost, Ticket
from bot.errors import StoreError
from bot.store import SessionStore
from bot.store.helpdesk import EventRecord

T = TypeVar("T")

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 5
STORE_TIMEOUT = 5.0
PURGE_EVERY_SECONDS = 3600.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HelpdeskSettings:
    """What the helpdesk needs from the configuration."""

    retention_days: int = 90
    salt: str = ""


class Helpdesk:
    """Tickets and events on one store; safe to share across replicas (the store is)."""

    def __init__(
        self,
        store: SessionStore,
        settings: HelpdeskSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._last_purge = 0.0

    async def _run(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """One store call in a worker thread; a store that does not answer is a StoreError."""
        call = functools.partial(function, *args, **kwargs)
        try:
            return await asyncio.wait_for(asyncio.to_thread(call), STORE_TIMEOUT)
        except TimeoutError as err:
            raise StoreError(f"the store did not answer within {STORE_TIMEOUT:g}s") from err

    # the event log ----------------------------------------------------------------------------

    def alias(self, chat_id: str) -> str:
        """The chat id as the event log knows it."""
        return pseudonym(chat_id, self.settings.salt)

    async def journal(self, chat_id: str, before: Session, outcome: Outcome) -> None:
        """Log what reports need of one handled event (masked, pseudonymised)."""
        for record in records(before, outcome):
            await self.log(chat_id, record.kind, topic=record.topic, detail=record.detail)

    async def log(
        self, chat_id: str, kind: str, *, topic: str | None = None, detail: str = ""
    ) -> None:
        """One event-log record; a failed write is logged, never raised (reports can wait)."""
        now = self.clock()
        try:
            await self._run(self.store.log_event, kind, self.alias(chat_id), topic, detail, now)
            if now - self._last_purge > PURGE_EVERY_SECONDS:
                self._last_purge = now
                before = now - self.settings.retention_days * DAY
                removed = await self._run(self.store.purge, before=before)
                if removed:
                    logger.info("retention: deleted %d records", removed)
        except StoreError as err:
            logger.warning("event log write failed for %s: %s", kind, err)

    # tickets ----------------------------------------------------------------------------------

    async def open_ticket(
        self, *, chat_id: str, user: str, before: Session, outcome: Outcome, mode: StaffMode
    ) -> Ticket:
        """A new ticket for a conversation just handed over, carrying only its own transcript."""
        escalated = next(r for r in outcome.log if r.kind == "dialogue.escalated")
        place = ""
        if before.state in (State.GUIDE, State.VERIFY):
            place = f"{'check' if before.state is State.VERIFY else 'step'} {before.step + 1}"
        ticket = rules.open_ticket(
            number=await self._run(self.store.new_ticket_number),
            chat_id=chat_id,
            user=user,
            transcript=outcome.session.transcript,
            topic=escalated.topic,
            place=place,
            now=self.clock(),
            mode=mode,
            language=outcome.session.language or "en",
        )
        if not await self._run(self.store.put_ticket, ticket, expected_version=None):
            raise StoreError(f"ticket {ticket.number} exists already")
        await self.log(chat_id, "ticket.opened", topic=ticket.topic, detail=str(ticket.number))
        return ticket

    async def update(
        self, number: int, change: Callable[[Ticket], Ticket | None]
    ) -> Ticket | None:
        """Apply ``change`` to the stored ticket with compare-and-set, retried on a conflict.

        Returns the stored result, or None when there is no such ticket or ``change`` declines.
        """
        for _ in range(CAS_ATTEMPTS):
            current = await self._run(self.store.get_ticket, number)
            if current is None:
                return None
            changed = change(current)
            if changed is None:
                return None
            if changed == current or await self._run(
                self.store.put_ticket, changed, expected_version=current.version
            ):
                return changed
        raise StoreError(f"could not save ticket {number} after {CAS_ATTEMPTS} attempts")

    async def remember_message(self, number: int, message_id: int | None) -> Ticket | None:
        """One more of the bot's messages in the staff chat belongs to this ticket."""
        return await self.update(number, lambda t: rules.with_staff_message(t, message_id))

    async def set_thread(self, number: int, thread_id: int) -> Ticket | None:
        """The ticket's forum topic."""
        return await self.update(number, lambda t: rules.with_thread(t, thread_id))

    async def fall_back_to_replies(self, number: int) -> Ticket | None:
        """A forum topic could not be created: the ticket becomes a root message."""
        return await self.update(number, rules.in_reply_mode)

    async def ticket_for(self, post: StaffPost) -> Ticket | None:
        """The ticket a staff message is about: its forum topic or a reply to its messages."""
        by_thread = None
        if post.thread_id is not None:
            by_thread = await self._run(self.store.ticket_of_thread, post.thread_id)
        by_message = None
        if post.reply_to is not None and post.reply_to_bot:
            by_message = await self._run(self.store.ticket_of_message, post.reply_to)
        return rules.addressed_ticket(post, by_thread=by_thread, by_message=by_message)

    async def open_ticket_of(self, chat_id: str) -> Ticket | None:
        """The user's open ticket, if any."""
        return await self._run(self.store.open_ticket_of, chat_id)

    async def staff_replied(self, ticket: Ticket, *, staff: str) -> Ticket:
        """A staff answer reached the user; the first one is timed for the report."""
        first = ticket.first_reply_at is None
        updated = await self.update(
            ticket.number, lambda t: rules.staff_replied(t, now=self.clock(), staff=staff)
        )
        result = updated or ticket
        if first and result.first_reply_at is not None:
            seconds = result.first_reply_at - result.opened_at
            await self.log(
                ticket.chat_id, "ticket.first_reply", topic=ticket.topic, detail=f"{seconds:.0f}"
            )
        return result

    async def close(self, ticket: Ticket, closure: Closure) -> Ticket | None:
        """Close the ticket; None when it was closed already (by someone else, or before)."""

        def closing(current: Ticket) -> Ticket | None:
            return (
                rules.close(current, now=self.clock(), closure=closure)
                if current.is_open
                else None
            )

        closed = await self.update(ticket.number, closing)
        if closed is not None:
            await self.log(
                ticket.chat_id, "ticket.closed", topic=ticket.topic, detail=closure.value
            )
        return closed

    async def rate(self, number: int, stars: int) -> Ticket | None:
        """Keep the user's rating on the ticket (the event is logged by the engine)."""
        return await self.update(number, lambda t: rules.rate(t, stars))

    async def clear_transcript(self, chat_id: str) -> None:
        """Drop the session's transcript once a ticket has it (or has ended), so the next
        ticket carries only its own conversation. No version bump: nothing the user sees."""
        for _ in range(CAS_ATTEMPTS):
            session = await self._run(self.store.get, chat_id)
            if session is None or not session.transcript:
                return
            cleared = replace(session, transcript=())
            if await self._run(self.store.put, cleared, expected_version=session.version):
                return

    async def events(self, since: float) -> list[EventRecord]:
        """The event log from ``since`` on (for /stats and /inbox)."""
        return await self._run(self.store.events, since)

    # privacy ----------------------------------------------------------------------------------

    async def forget(self, chat_id: str) -> int:
        """Delete everything stored about this chat; returns how many records went."""
        return await self._run(self.store.forget, chat_id, self.alias(chat_id))
