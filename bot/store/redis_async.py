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
from collections import Counter
from collections.abc import Awaitable
from typing import Any, Self, TypeVar

from bot.core.session import Session, session_from_json, session_to_json
from bot.errors import StoreError, StoreUnavailable
from bot.store.records import (
    ChatRecord,
    Incoming,
    outbox_from_json,
    outbox_to_json,
    seen_from_json,
    seen_to_json,
)
from bot.store.redis import _CAS_SCRIPT, EVENT_LIMIT, EVENTS_KEY, SESSION_PREFIX, redact

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


class AsyncRedisStore:
    """The AsyncStore on Redis; several replicas share it."""

    def __init__(self, client: Any, url: str, *, call_timeout: float) -> None:
        import redis.asyncio as aredis

        self._client = client
        self._shown_url = redact(url)
        self.timeout = call_timeout
        self._errors: tuple[type[Exception], ...] = (aredis.RedisError, OSError)
        self._save = client.register_script(_SAVE_SCRIPT)
        self._forget = client.register_script(_FORGET_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)
        self._cas = client.register_script(_CAS_SCRIPT)

    @classmethod
    async def open(cls, url: str, *, call_timeout: float) -> Self:
        """Connect and check the server answers; raise StoreError naming the URL if not."""
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(
            url,
            socket_timeout=call_timeout,
            socket_connect_timeout=call_timeout,
            decode_responses=True,
        )
        store = cls(client, url, call_timeout=call_timeout)
        try:
            await store._call(client.ping(), "connect")
        except StoreError as err:
            await client.aclose()
            raise StoreError(f"cannot open session store {store._shown_url}: {err}") from err
        return store

    async def _call(self, awaitable: Awaitable[T], doing: str) -> T:
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
        values: Any = await self._call(
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
            await self._call(pipeline.execute(), "quarantine a session")
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
        result = await self._call(self._save(keys=keys, args=arguments), "write a session")
        return result == 1

    async def record_updates(self, updates: list[Incoming]) -> None:
        """See AsyncStore."""
        if not updates:
            return
        pipeline = self._client.pipeline(transaction=True)
        for update in updates:
            pipeline.hsetnx(INBOX_PREFIX + update.key, str(update.update_id), update.raw)
            pipeline.sadd(PENDING_KEY, update.key)
        await self._call(pipeline.execute(), "record updates")

    async def inbox(self, key: str) -> list[Incoming]:
        """See AsyncStore."""
        entries: Any = await self._call(self._client.hgetall(INBOX_PREFIX + key), "read inbox")
        return [
            Incoming(update_id=int(i), key=key, raw=raw)
            for i, raw in sorted(entries.items(), key=lambda item: int(item[0]))
        ]

    async def forget_update(self, key: str, update_id: int) -> None:
        """See AsyncStore."""
        keys = [INBOX_PREFIX + key, PENDING_KEY, SESSION_PREFIX + key]
        await self._call(self._forget(keys=keys, args=[str(update_id), key]), "update inbox")

    async def pending_keys(self) -> list[str]:
        """See AsyncStore."""
        keys: Any = await self._call(self._client.smembers(PENDING_KEY), "list pending work")
        return sorted(keys)

    async def set_aside(self, update_id: int, raw: str, reason: str) -> None:
        """See AsyncStore."""
        entry = json.dumps({"raw": raw, "reason": reason, "at": time.time()})
        await self._call(
            self._client.hsetnx(SET_ASIDE_KEY, str(update_id), entry), "set an update aside"
        )

    async def acquire(self, key: str) -> int | None:
        """A lease on ``key`` for LEASE_MS (renewed by each save), or None if it is taken."""
        token: Any = await self._call(self._client.incr(FENCE_KEY), "take a lease")
        taken = await self._call(
            self._client.set(LEASE_PREFIX + key, str(token), nx=True, px=LEASE_MS),
            "take a lease",
        )
        return int(token) if taken else None

    async def release(self, key: str, token: int) -> None:
        """See AsyncStore."""
        await self._call(
            self._release(keys=[LEASE_PREFIX + key], args=[str(token)]), "release a lease"
        )

    async def get(self, key: str) -> Session | None:
        """See AsyncStore."""
        raw: Any = await self._call(
            self._client.hget(SESSION_PREFIX + key, "data"), "read a session"
        )
        return None if raw is None else session_from_json(raw)

    async def put(self, session: Session, *, expected_version: int | None) -> bool:
        """See AsyncStore."""
        arguments = [
            "" if expected_version is None else str(expected_version),
            str(session.version),
            session_to_json(session),
            repr(session.updated_at),
        ]
        result = await self._call(
            self._cas(keys=[SESSION_PREFIX + session.chat_id], args=arguments),
            "write a session",
        )
        return result == 1

    async def log_event(
        self, kind: str, chat_id: str, topic: str | None, detail: str, at: float
    ) -> None:
        """See AsyncStore."""
        record = json.dumps(
            {"kind": kind, "chat_id": chat_id, "topic": topic, "detail": detail, "at": at},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        pipeline = self._client.pipeline(transaction=True)
        pipeline.lpush(EVENTS_KEY, record)
        pipeline.ltrim(EVENTS_KEY, 0, EVENT_LIMIT - 1)
        await self._call(pipeline.execute(), "log an event")

    async def event_counts(self, since: float = 0) -> dict[str, int]:
        """See AsyncStore."""
        records: Any = await self._call(self._client.lrange(EVENTS_KEY, 0, -1), "count events")
        counts: Counter[str] = Counter()
        for line in records:
            try:
                record = json.loads(line)
                if float(record["at"]) >= since:
                    counts[str(record["kind"])] += 1
            except (ValueError, KeyError, TypeError):
                continue
        return dict(counts)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
