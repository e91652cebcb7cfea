"""Redis session store for several replicas: one hash per chat, compare-and-set in a Lua script.

The ``redis`` package is imported when a store is opened, so only deployments that use Redis
need it installed (``pip install 'alimail-bot[redis]'``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bot.core.session import Session, session_from_json, session_to_json
from bot.errors import StoreError
from bot.store.redis_records import RedisRecords

if TYPE_CHECKING:
    import redis as redis_py

logger = logging.getLogger(__name__)

SESSION_PREFIX = "alimail:session:"
TIMEOUT_SECONDS = 2.0
RETRIES = 2

# KEYS[1] session hash; ARGV: expected version ("" = nothing stored), version, data, updated_at.
_CAS_SCRIPT = """
if ARGV[1] == '' then
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
elseif redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
    return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], 'updated_at', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'revision', 1)
return 1
"""


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, fit for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: keep the text only if it has no userinfo
        return url if "@" not in url else "(unparseable URL with a password)"
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


class RedisStore(RedisRecords):
    """Sessions in Redis under ``alimail:session:<chat_id>``; the client is thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._shown_url = redact(url)
        try:
            # Optional dependency, loaded only when Redis is used.
            import redis as redis_py
            from redis.backoff import ExponentialWithJitterBackoff
            from redis.retry import Retry
        except ImportError as err:
            raise StoreError(
                f"session store {self._shown_url} needs the redis package:"
                " pip install 'alimail-bot[redis]'"
            ) from err
        self._errors: tuple[type[Exception], ...] = (redis_py.RedisError, OSError)
        client: redis_py.Redis | None = None
        try:
            db = urlsplit(url).path.strip("/")
            if db and not db.isdigit():
                raise ValueError(f"database {db!r} is not a number")
            client = redis_py.Redis.from_url(
                url,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
                # A few quick retries ride out a blip; the default (10, up to 1 s each) stalls.
                retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=RETRIES),
                decode_responses=True,
            )
            client.ping()
        except (ValueError, *self._errors) as err:
            if client is not None:
                client.close()
            raise StoreError(f"cannot open session store {self._shown_url}: {err}") from err
        self._client = client
        self._cas = client.register_script(_CAS_SCRIPT)
        logger.info("session store: Redis at %s", self._shown_url)

    @contextmanager
    def _talking(self, doing: str) -> Iterator[redis_py.Redis]:
        """Turn Redis and socket errors into one StoreError naming the URL."""
        try:
            yield self._client
        except self._errors as err:
            raise StoreError(f"session store {self._shown_url}: cannot {doing}: {err}") from err

    def get(self, chat_id: str) -> Session | None:
        """Return the stored session for this chat, or None."""
        with self._talking("read a session") as client:
            raw: Any = client.hget(SESSION_PREFIX + chat_id, "data")
        if raw is None:
            return None
        try:
            return session_from_json(raw)
        except StoreError as err:
            raise StoreError(f"session store {self._shown_url}: chat {chat_id}: {err}") from err

    def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Store ``session`` if the stored version equals ``expected_version`` (None: absent)."""
        expected = "" if expected_version is None else str(expected_version)
        key = SESSION_PREFIX + session.chat_id
        arguments = [
            expected,
            str(session.version),
            session_to_json(session),
            repr(session.updated_at),
        ]
        with self._talking("write a session") as client:
            stored = self._cas(keys=[key], args=arguments, client=client)
        return stored == 1

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        with self._talking("delete a session") as client:
            client.delete(SESSION_PREFIX + chat_id)

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
