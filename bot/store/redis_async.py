"""Redis for the event loop (``redis.asyncio``): records, inbox, leases with fencing tokens.

Layout (next to the sync store's ``alimail:session:<key>`` hash, which gains the fields
``revision``, ``seen`` and ``outbox``):

* ``alimail:inbox:<key>``: hash update id -> raw update JSON, the recorded, unapplied updates;
* ``alimail:pending``: set of keys with inbox entries or owed calls (what a restart resumes);
* ``alimail:lease:<key>``: the fencing token of the replica working on that conversation,
  from the counter ``alimail:fence``; a save names its token and is refused once the lease
  went to someone else, so a replica that stalled past its lease cannot overwrite newer work;
* ``alimail:quarantine`` (list) and ``alimail:set-aside`` (hash): unreadable sessions and
  unparseable updates, kept for inspection.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import Any, Self, TypeVar

from bot.core.session import session_from_json, session_to_json
from bot.errors import StoreError, StoreUnavailable
from bot.store.aio import ThreadedStore
from bot.store.outbox import (
    ChatRecord,
    Incoming,
    outbox_from_json,
    outbox_to_json,
    seen_from_json,
    seen_to_json,
)
from bot.store.redis import SESSION_PREFIX, RedisStore, redact

T = TypeVar("T")

INBOX_PREFIX = "alimail:inbox:"
LEASE_PREFIX = "alimail:lease:"
PENDING_KEY = "alimail:pending"
FENCE_KEY = "alimail:fence"
QUARANTINE_KEY = "alimail:quarantine"
SET_ASIDE_KEY = "alimail:set-aside"
LEASE_MS = 30_000

# KEYS: session, pending, inbox, lease. ARGV: expected revision ('' none), token ('' none),
# version, data, updated_at, seen, outbox, done update id ('' none), key, lease ms.
_SAVE_SCRIPT = """
if ARGV[2] ~= '' then
    if redis.call('GET', KEYS[4]) ~= ARGV[2] then return -1 end
    redis.call('PEXPIRE', KEYS[4], ARGV[10])
end
local revision = redis.call('HGET', KEYS[1], 'revision')
if ARGV[1] == '' then
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
elseif (revision or '0') ~= ARGV[1] then
    return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[3], 'data', ARGV[4], 'updated_at', ARGV[5],
           'seen', ARGV[6], 'outbox', ARGV[7], 'revision', (tonumber(revision) or 0) + 1)
if ARGV[8] ~= '' then redis.call('HDEL', KEYS[3], ARGV[8]) end
if ARGV[7] ~= '[]' or redis.call('HLEN', KEYS[3]) > 0 then
    redis.call('SADD', KEYS[2], ARGV[9])
else
    redis.call('SREM', KEYS[2], ARGV[9])
end
return 1
"""

# KEYS: inbox, pending, session. ARGV: update id, key.
_FORGET_SCRIPT = """
redis.call('HDEL', KEYS[1], ARGV[1])
local outbox = redis.call('HGET', KEYS[3], 'outbox')
if redis.call('HLEN', KEYS[1]) == 0 and (not outbox or outbox == '[]') then
    redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""

# KEYS: lease. ARGV: token.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class AsyncRedisStore(ThreadedStore):
    """The AsyncStore on Redis; several replicas share it.

    The per-update path (records, inbox, leases) uses ``redis.asyncio``; the rest (event log,
    tickets, plain get/put) is the synchronous ``RedisStore`` in a worker thread, so both
    share one key layout and one implementation.
    """

    def __init__(self, client: Any, sync: RedisStore, url: str, *, call_timeout: float) -> None:
        import redis.asyncio as aredis

        super().__init__(sync, timeout=call_timeout)
        self._client = client
        self._shown_url = redact(url)
        self.timeout = call_timeout
        self._errors: tuple[type[Exception], ...] = (aredis.RedisError, OSError)
        self._save = client.register_script(_SAVE_SCRIPT)
        self._forget = client.register_script(_FORGET_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)

    @classmethod
    async def open(cls, url: str, *, call_timeout: float) -> Self:
        """Connect and check the server answers; raise StoreError naming the URL if not."""
        import redis.asyncio as aredis

        sync = await asyncio.to_thread(RedisStore, url)  # pings; raises StoreError if down
        client = aredis.Redis.from_url(
            url,
            socket_timeout=call_timeout,
            socket_connect_timeout=call_timeout,
            decode_responses=True,
        )
        return cls(client, sync, url, call_timeout=call_timeout)

    async def _ask(self, awaitable: Awaitable[T], doing: str) -> T:
        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except TimeoutError as err:
            raise StoreUnavailable(
                f"session store {self._shown_url}: cannot {doing}: no answer within"
                f" {self.timeout:g}s"
            ) from err
        except self._errors as err:
            raise StoreUnavailable(
                f"session store {self._shown_url}: cannot {doing}: {err}"
            ) from err

    async def load(self, key: str) -> ChatRecord:
        """See AsyncStore."""
        fields = ("data", "revision", "seen", "outbox")
        values: Any = await self._ask(
            self._client.hmget(SESSION_PREFIX + key, fields), "read a session"
        )
        data, revision, seen, outbox = values
        if data is None:
            return ChatRecord(key=key)
        try:
            return ChatRecord(
                key=key,
                session=session_from_json(data),
                seen=seen_from_json(seen),
                outbox=outbox_from_json(outbox),
                revision=int(revision or 0),
            )
        except (StoreError, ValueError) as err:
            entry = json.dumps({"key": key, "raw": data, "reason": str(err), "at": time.time()})
            pipeline = self._client.pipeline(transaction=True)
            pipeline.rpush(QUARANTINE_KEY, entry)
            pipeline.delete(SESSION_PREFIX + key)
            await self._ask(pipeline.execute(), "quarantine a session")
            return ChatRecord(key=key, quarantined=True, reason=str(err))

    async def save(
        self, record: ChatRecord, *, done: int | None = None, token: int | None = None
    ) -> bool:
        """See AsyncStore; a save under a lease that is no longer ours is refused."""
        session = record.session
        assert session is not None, "a record is saved with a session"
        keys = [
            SESSION_PREFIX + record.key,
            PENDING_KEY,
            INBOX_PREFIX + record.key,
            LEASE_PREFIX + record.key,
        ]
        arguments = [
            "" if record.revision is None else str(record.revision),
            "" if token is None else str(token),
            str(session.version),
            session_to_json(session),
            repr(session.updated_at),
            seen_to_json(record.seen),
            outbox_to_json(record.outbox),
            "" if done is None else str(done),
            record.key,
            str(LEASE_MS),
        ]
        result = await self._ask(self._save(keys=keys, args=arguments), "write a session")
        return result == 1

    async def record_updates(self, updates: list[Incoming]) -> None:
        """See AsyncStore."""
        if not updates:
            return
        pipeline = self._client.pipeline(transaction=True)
        for update in updates:
            pipeline.hsetnx(INBOX_PREFIX + update.key, str(update.update_id), update.raw)
            pipeline.sadd(PENDING_KEY, update.key)
        await self._ask(pipeline.execute(), "record updates")

    async def inbox(self, key: str) -> list[Incoming]:
        """See AsyncStore."""
        entries: Any = await self._ask(self._client.hgetall(INBOX_PREFIX + key), "read inbox")
        return [
            Incoming(update_id=int(i), key=key, raw=raw)
            for i, raw in sorted(entries.items(), key=lambda item: int(item[0]))
        ]

    async def forget_update(self, key: str, update_id: int) -> None:
        """See AsyncStore."""
        keys = [INBOX_PREFIX + key, PENDING_KEY, SESSION_PREFIX + key]
        await self._ask(self._forget(keys=keys, args=[str(update_id), key]), "update inbox")

    async def pending_keys(self) -> list[str]:
        """See AsyncStore."""
        keys: Any = await self._ask(self._client.smembers(PENDING_KEY), "list pending work")
        return sorted(keys)

    async def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """See AsyncStore."""
        entry = json.dumps({"raw": raw, "reason": reason, "at": time.time()})
        await self._ask(
            self._client.hsetnx(SET_ASIDE_KEY, str(update_id), entry), "set an update aside"
        )

    async def acquire(self, key: str) -> int | None:
        """A lease on ``key`` for LEASE_MS (renewed by each save), or None if it is taken."""
        token: Any = await self._ask(self._client.incr(FENCE_KEY), "take a lease")
        taken = await self._ask(
            self._client.set(LEASE_PREFIX + key, str(token), nx=True, px=LEASE_MS),
            "take a lease",
        )
        return int(token) if taken else None

    async def release(self, key: str, token: int) -> None:
        """See AsyncStore."""
        await self._ask(
            self._release(keys=[LEASE_PREFIX + key], args=[str(token)]), "release a lease"
        )

    async def close(self) -> None:
        """Close the connection pool and the synchronous store's."""
        await self._client.aclose()
        await super().close()
