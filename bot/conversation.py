"""The conversation service: one channel-neutral path from an event to the replies to deliver.

Every channel (Telegram, the console, a future web chat) calls the same thing::

    service = Conversation(engine, store)
    turn = await service.handle("chat-42", UserText(text="done"), now=time.time())
    for reply in turn.replies:
        ...  # render and send

``handle`` does, in order: load the chat's record (session, the ids of the updates already
applied, the calls still owed) -> skip the event if its ``update_id`` was applied already
-> ``Engine.handle`` -> save the new session, the update id and the rendered replies (the
outbox) in one compare-and-set write, redoing the turn on the newer record when another writer
(a second replica) got there first -> journal the turn (the event log; a ``journal``
coroutine such as the helpdesk's masks and pseudonymises it) -> return a ``Turn``.

A channel that delivers through an outbox passes ``render`` (replies to the calls that show
them; the console passes nothing and prints ``turn.replies``) and then makes the calls in
``turn.record.outbox``, crossing each off (``bot.channels.telegram.delivery``). ``accept``
lets a channel refuse an event on the loaded session before the engine sees it (a stale
button). A stored session this version cannot read is quarantined by the store and the user
starts fresh: ``turn.quarantined``.

Failures are never swallowed: a save that still loses after ``CAS_ATTEMPTS`` tries, or a store
that raises, ends in ``StoreError`` (``StoreUnavailable`` when it did not answer in time) for
the channel to report. Only the event log is best effort (a lost statistic must not lose the
user's step); its failures are logged. The store is used through its asynchronous face
(``bot.store.aio``): a synchronous store is run in a worker thread, every call time-bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.core.dialogue import Engine, Outcome
from bot.core.events import Event, UserText
from bot.core.privacy import mask_secrets
from bot.core.replies import Reply
from bot.core.session import Session
from bot.errors import StoreError
from bot.store import SessionStore
from bot.store.aio import LEASE, AsyncStore, as_async
from bot.store.outbox import ChatRecord, Outgoing

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 5

# Writes the event log of one turn: (chat, session before, outcome). The helpdesk's journal
# (masked, pseudonymised) in production; without one, the outcome's records go to the store.
Journal = Callable[[str, Session, Outcome], Awaitable[None]]

# The calls that show ``replies`` (before, after, replies) -> (session to save, calls owed).
Render = Callable[[Session, Session, tuple[Reply, ...]], tuple[Session, tuple[Outgoing, ...]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """What one event did: the engine's outcome and the session before and after it."""

    key: str
    outcome: Outcome
    before: Session
    update_id: int | None = None
    record: ChatRecord | None = None  # as saved: what the channel still owes is its outbox
    owed: tuple[Outgoing, ...] = ()  # the calls this turn added to the outbox
    duplicate: bool = False  # the update was applied before (a redelivery): nothing changed
    refused: bool = False  # ``accept`` said no: nothing changed
    quarantined: bool = False  # the stored session was unreadable; this one started fresh

    @property
    def session(self) -> Session:
        """The session as saved."""
        return self.outcome.session

    @property
    def replies(self) -> tuple[Reply, ...]:
        """The replies to deliver, in order."""
        return self.outcome.replies


class Conversation:
    """Load, apply once, save with compare-and-set (with the outbox), log; for every channel."""

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
        render: Render | None = None,
        accept: Callable[[Session], bool] | None = None,
        notice: Reply | None = None,
    ) -> Turn:
        """Apply one event to the conversation ``key``; raise StoreError if it cannot be saved.

        ``notice``: a reply shown first when the stored session had to be quarantined.
        """
        if isinstance(event, UserText):
            # Passwords and card numbers never reach the engine, the store or the staff.
            event = UserText(text=mask_secrets(event.text))
        for _attempt in range(CAS_ATTEMPTS):
            record = await self.store.load(key)
            if record.quarantined:
                logger.warning(
                    "conversation %s: stored session quarantined, starting fresh: %s",
                    key,
                    record.reason,
                )
            session = record.session or self.engine.new_session(key, now=now)
            unchanged = Outcome(session=session, replies=())
            if update_id is not None and update_id in record.seen:
                return Turn(
                    key=key,
                    outcome=unchanged,
                    before=session,
                    update_id=update_id,
                    record=record,
                    duplicate=True,
                )
            if accept is not None and not accept(session):
                return Turn(
                    key=key,
                    outcome=unchanged,
                    before=session,
                    update_id=update_id,
                    record=record,
                    refused=True,
                )
            outcome = self.engine.handle(session, event, now=now)
            replies = outcome.replies
            if record.quarantined and notice is not None:
                replies = (notice, *replies)
                outcome = replace(outcome, replies=replies)
            if render is None:
                after, owed = outcome.session, ()
            else:
                after, owed = render(session, outcome.session, replies)
            if after == session and not owed and update_id is None and not record.quarantined:
                # Nothing to remember (/help, a menu): answered, not saved.
                await self._log(key, session, outcome, now=now)
                return Turn(key=key, outcome=outcome, before=session, record=record)
            saved = replace(
                record, session=after, outbox=(*record.outbox, *owed), quarantined=False
            )
            if update_id is not None:
                saved = saved.applied(update_id)
            if await self.store.save(saved, done=update_id, token=LEASE.get()):
                await self._log(key, session, outcome, now=now)
                return Turn(
                    key=key,
                    outcome=outcome,
                    before=session,
                    update_id=update_id,
                    record=replace(saved, revision=(record.revision or 0) + 1),
                    owed=owed,
                    quarantined=record.quarantined,
                )
            logger.info("chat %s changed under us; retrying", key)
        raise StoreError(f"could not save chat {key} after {CAS_ATTEMPTS} attempts")

    async def load(self, key: str) -> Session | None:
        """The stored session of a chat, or None."""
        return (await self.store.load(key)).session

    async def _log(self, key: str, before: Session, outcome: Outcome, *, now: float) -> None:
        if self.journal is not None:
            try:
                await self.journal(key, before, outcome)
            except StoreError as err:
                logger.warning("event log write failed for %s: %s", key, err)
            return
        for record in outcome.log:
            try:
                await self.store.log_event(record.kind, key, record.topic, record.detail, now)
            except StoreError:
                logger.warning("event log write failed for %s", record.kind)
