"""The conversation service: one channel-neutral path from an event to the replies to deliver.

Every channel (Telegram, the console, a future web chat) calls the same thing::

    service = Conversation(engine, store)
    turn = await service.handle("chat-42", UserText(text="done"), now=time.time())
    for reply in turn.replies:
        ...  # render and send

``handle`` does, in order: load the chat's session (or start one) -> ``Engine.handle`` ->
save with compare-and-set on the session version, redoing the turn on the newer session when
another writer (a second replica) got there first -> journal the turn (the event log; a
``journal`` coroutine such as the helpdesk's masks and pseudonymises it) -> return a ``Turn``
(the outcome, the session before and after, the replies).

Failures are never swallowed: a save that still loses after ``CAS_ATTEMPTS`` tries, or a store
that raises, ends in ``StoreError`` for the channel to report. Only the event log is best
effort (a lost statistic must not lose the user's step); its failures are logged.

Seams for what comes next: ``update_id`` is accepted now and recorded on the turn, for the
delivery layer's de-duplication (kept with the session); the store is reached only through
``_load``/``_save``/``_log``, always asynchronously (``bot.store.aio``: a synchronous store
runs in a worker thread with a timeout, an asynchronous one is used as it is). The engine
stays pure: nothing here decides what to say.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.dialogue import Engine, Outcome
from bot.core.events import Event, UserText
from bot.core.privacy import mask_secrets
from bot.core.replies import Reply
from bot.core.session import Session
from bot.errors import StoreError
from bot.store import SessionStore
from bot.store.aio import AsyncStore, as_async

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 5

# Writes the event log of one turn: (chat, session before, outcome). The helpdesk's journal
# (masked, pseudonymised) in production; without one, the outcome's records go to the store.
Journal = Callable[[str, Session, Outcome], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """What one event did: the engine's outcome and the session before and after it."""

    key: str
    outcome: Outcome
    before: Session
    update_id: int | None = None

    @property
    def session(self) -> Session:
        """The session as saved."""
        return self.outcome.session

    @property
    def replies(self) -> tuple[Reply, ...]:
        """The replies to deliver, in order."""
        return self.outcome.replies


class Conversation:
    """Load, apply once, save with compare-and-set, log; shared by every channel."""

    def __init__(
        self,
        engine: Engine,
        store: SessionStore | AsyncStore,
        *,
        journal: Journal | None = None,
    ) -> None:
        self.engine = engine
        # Every store call off the event loop, bounded by a timeout (a synchronous store runs
        # in a worker thread): a hung store never freezes the other chats.
        self.store = as_async(store)
        self.journal = journal

    async def handle(
        self,
        key: str,
        event: Event,
        *,
        now: float,
        update_id: int | None = None,
        loaded: tuple[Session | None] | tuple[()] = (),
    ) -> Turn:
        """Apply one event to the chat ``key``; raise StoreError if it cannot be saved.

        ``loaded``: ``(what the store held,)`` when the caller has just read it (under the
        chat's lock), which saves a read; a retry always reads again.
        """
        if isinstance(event, UserText):
            # Passwords and card numbers never reach the engine, the store or the staff.
            event = UserText(text=mask_secrets(event.text))
        for attempt in range(CAS_ATTEMPTS):
            current = loaded[0] if attempt == 0 and loaded else await self._load(key)
            session = current or self.engine.new_session(key, now=now)
            outcome = self.engine.handle(session, event, now=now)
            if outcome.session == session or await self._save(
                outcome.session, expected=None if current is None else current.version
            ):
                await self._log(key, session, outcome, now=now)
                return Turn(key=key, outcome=outcome, before=session, update_id=update_id)
            logger.info("chat %s changed under us; retrying", key)
        raise StoreError(f"could not save chat {key} after {CAS_ATTEMPTS} attempts")

    async def load(self, key: str) -> Session | None:
        """The stored session of a chat, or None."""
        return await self._load(key)

    # -- the store seam: the only places that touch the store ------------------------------------

    async def _load(self, key: str) -> Session | None:
        return await self.store.get(key)

    async def _save(self, session: Session, *, expected: int | None) -> bool:
        return await self.store.put(session, expected_version=expected)

    async def _log(self, key: str, before: Session, outcome: Outcome, *, now: float) -> None:
        if self.journal is not None:
            await self.journal(key, before, outcome)
            return
        for record in outcome.log:
            try:
                await self.store.log_event(record.kind, key, record.topic, record.detail, now)
            except StoreError:
                logger.warning("event log write failed for %s", record.kind)
