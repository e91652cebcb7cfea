"""Session stores: one protocol, small backends (memory, SQLite, Redis) chosen by URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from bot.core.session import Session
from bot.errors import ConfigError
from bot.store.helpdesk import RecordStore


class SessionStore(RecordStore, Protocol):
    """Where sessions live between updates. ``put`` is compare-and-set on ``version``.

    The event log and the tickets (``RecordStore``) live in the same store.
    """

    def get(self, chat_id: str) -> Session | None:
        """Return the stored session for this chat, or None."""
        ...

    def put(self, session: Session, *, expected_version: int | None) -> bool:
        """Store ``session`` if the stored version equals ``expected_version``.

        ``expected_version=None`` means "only if nothing is stored yet". Returns False, storing
        nothing, when another writer got there first.
        """
        ...

    def delete(self, chat_id: str) -> None:
        """Forget this chat's session."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


STORE_URL_FORMS = "sqlite:///PATH, redis://HOST:PORT/DB or memory://"


def open_store(url: str) -> SessionStore:
    """Open the store a ``BOT_STORE`` URL names; raise ConfigError for an unknown form.

    ``sqlite:///rel/path.db`` is relative to the working directory and ``sqlite:////abs/path.db``
    absolute, as in SQLAlchemy. Opening can raise StoreError (unwritable file, no Redis server).
    """
    if url == "memory://":
        from bot.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from bot.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://")):
        from bot.store.redis import RedisStore

        return RedisStore(url)
    raise ConfigError(f"BOT_STORE has value {url!r}; expected {STORE_URL_FORMS}")


def default_sqlite_path(environ: Mapping[str, str]) -> Path:
    """Where the default SQLite file lives: ``$XDG_STATE_HOME`` or ``~/.local/state``."""
    state_home = environ.get("XDG_STATE_HOME", "")
    # The XDG spec says to ignore a relative value.
    if state_home and Path(state_home).is_absolute():
        return Path(state_home) / "alimail-bot" / "sessions.db"
    home = environ.get("HOME")
    return (Path(home) if home else _account_home()) / ".local/state/alimail-bot/sessions.db"


def _account_home() -> Path:
    """The home folder from the password database (``Path.home()`` would read os.environ)."""
    try:
        import pwd

        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, AttributeError, KeyError):  # no pwd/getuid (Windows), or no entry
        return Path.home()


def default_store_url(environ: Mapping[str, str]) -> str:
    """The ``BOT_STORE`` URL used when none is set: the default SQLite file."""
    return f"sqlite:///{default_sqlite_path(environ)}"
