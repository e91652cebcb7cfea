"""Settings read once from the environment into a frozen dataclass; errors name the variable."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bot.core.settings import MatchSettings
from bot.errors import ConfigError

DEFAULT_API_URL = "https://api.telegram.org/bot"
TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,60}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
STORE_SCHEMES = ("sqlite:///", "redis://", "rediss://", "memory://")


class LogFormat(StrEnum):
    """``BOT_LOG_FORMAT``: plain text lines, or one JSON object per line for log shippers."""

    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the bot is configured with; built by ``Settings.from_env`` in ``cli.main``."""

    token: str | None = None
    api_url: str = DEFAULT_API_URL
    knowledge_dir: Path = Path("knowledge")
    store_url: str | None = None
    default_store_url: str = "memory://"
    admins: frozenset[int] = frozenset()
    staff_chat: int | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    metrics: tuple[str, int] | None = None
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT
    log_user_text: bool = False
    rate_limit: bool = True
    session_timeout_minutes: float = 30.0
    # The people behind the bot (issue 8): how long events and closed tickets are kept, where
    # users go when no staff chat answers, and the salt that pseudonymises chat ids in events.
    retention_days: int = 90
    fallback_contact: str | None = None
    event_salt: str | None = None  # None: derived from the token; "" (BOT_EVENT_SALT=off): none
    match: MatchSettings = field(default_factory=MatchSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every variable; raise ConfigError naming the first bad one."""
        # Imported here: the CLI's ask/eval paths load this module and must not pull in the
        # store layer.
        from bot.store import default_store_url

        token = environ.get("TELEGRAM_BOT_TOKEN") or None
        if token is not None and not TOKEN_PATTERN.match(token):
            # Never echo the token itself: it is a secret even when malformed.
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is malformed; expected <digits>:<35 letters> as given by "
                "@BotFather"
            )
        api_url = environ.get("TELEGRAM_API_URL") or DEFAULT_API_URL
        if not re.match(r"^https?://[^\s/]+", api_url):
            raise ConfigError(
                f"TELEGRAM_API_URL has value {api_url!r}; expected an http(s) URL such as "
                f"{DEFAULT_API_URL}"
            )
        store_url = environ.get("BOT_STORE") or None
        if store_url is not None and not store_url.startswith(STORE_SCHEMES):
            raise ConfigError(
                f"BOT_STORE has value {store_url!r}; expected sqlite:///PATH, "
                "redis://HOST:PORT/DB or memory://"
            )
        webhook_url = environ.get("BOT_WEBHOOK_URL") or None
        if webhook_url is not None and not webhook_url.startswith("https://"):
            raise ConfigError(
                f"BOT_WEBHOOK_URL has value {webhook_url!r}; expected an https:// URL"
            )
        secret = environ.get("BOT_WEBHOOK_SECRET") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ConfigError(
                "BOT_WEBHOOK_SECRET is malformed; expected 1-256 characters A-Z, a-z, 0-9, _ or -"
            )
        level = (environ.get("BOT_LOG_LEVEL") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise ConfigError(
                f"BOT_LOG_LEVEL has value {environ['BOT_LOG_LEVEL']!r}; expected one of "
                + ", ".join(LOG_LEVELS)
            )
        log_format = (environ.get("BOT_LOG_FORMAT") or "text").strip().lower()
        if log_format not in LogFormat.__members__.values():
            raise ConfigError(
                f"BOT_LOG_FORMAT has value {environ['BOT_LOG_FORMAT']!r}; expected text or json"
            )
        contact = (environ.get("BOT_FALLBACK_CONTACT") or "").strip() or None
        if contact is not None and (len(contact) > 300 or "\n" in contact):
            raise ConfigError(
                f"BOT_FALLBACK_CONTACT has value {contact[:40]!r}...; expected one line of at "
                "most 300 characters (an address, a phone number or a URL)"
            )
        return cls(
            token=token,
            api_url=api_url,
            knowledge_dir=Path(environ.get("BOT_KNOWLEDGE") or default_knowledge_dir()),
            store_url=store_url,
            default_store_url=default_store_url(environ),
            admins=_parse_ids("BOT_ADMINS", environ.get("BOT_ADMINS", "")),
            staff_chat=_parse_chat("BOT_STAFF_CHAT", environ.get("BOT_STAFF_CHAT")),
            webhook_url=webhook_url,
            webhook_secret=secret,
            listen=_parse_address("BOT_LISTEN", environ.get("BOT_LISTEN"), ("127.0.0.1", 8080)),
            metrics=_parse_optional_address("BOT_METRICS", environ.get("BOT_METRICS")),
            log_level=level,
            log_format=LogFormat(log_format),
            log_user_text=_parse_switch(
                "BOT_LOG_USER_TEXT", environ.get("BOT_LOG_USER_TEXT"), False
            ),
            rate_limit=_parse_switch("BOT_RATE_LIMIT", environ.get("BOT_RATE_LIMIT"), True),
            session_timeout_minutes=_parse_minutes(
                "BOT_SESSION_TIMEOUT", environ.get("BOT_SESSION_TIMEOUT"), 30.0
            ),
            retention_days=_parse_days("BOT_RETENTION_DAYS", environ.get("BOT_RETENTION_DAYS")),
            fallback_contact=contact,
            event_salt=_parse_salt("BOT_EVENT_SALT", environ.get("BOT_EVENT_SALT")),
        )

    @property
    def salt(self) -> str:
        """The secret that pseudonymises chat ids in the event log ("" when switched off).

        Unset, it is derived from the bot token, a secret every replica already shares; a
        console or CLI session without a token uses a fixed local salt.
        """
        if self.event_salt is not None:
            return self.event_salt
        seed = self.token or "alimail-bot-local"
        return hmac.new(seed.encode(), b"alimail-bot event salt", hashlib.sha256).hexdigest()


def default_knowledge_dir() -> Path:
    """``./knowledge`` if there is one, else the folder shipped beside the package."""
    here = Path("knowledge")
    if here.is_dir():
        return here
    beside = Path(__file__).resolve().parent.parent / "knowledge"
    return beside if beside.is_dir() else here


def _parse_ids(name: str, raw: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in re.split(r"[,\s]+", raw.strip()):
        if not part:
            continue
        if not re.fullmatch(r"-?\d{1,20}", part):
            raise ConfigError(
                f"{name} has value {raw!r}; expected Telegram user ids separated by commas"
            )
        ids.add(int(part))
    return frozenset(ids)


def _parse_chat(name: str, raw: str | None) -> int | None:
    if not raw:
        return None
    if not re.fullmatch(r"-?\d{1,20}", raw.strip()):
        raise ConfigError(f"{name} has value {raw!r}; expected a numeric Telegram chat id")
    return int(raw)


def _parse_address(name: str, raw: str | None, default: tuple[str, int]) -> tuple[str, int]:
    if not raw:
        return default
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} has value {raw!r}; expected HOST:PORT, e.g. 127.0.0.1:8080")
    return (host or "0.0.0.0", int(port))


def _parse_optional_address(name: str, raw: str | None) -> tuple[str, int] | None:
    if not raw or raw.lower() == "off":
        return None
    return _parse_address(name, raw, ("127.0.0.1", 9000))


def _parse_switch(name: str, raw: str | None, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} has value {raw!r}; expected on or off")


def _parse_minutes(name: str, raw: str | None, default: float) -> float:
    if not raw:
        return default
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not 0 < minutes <= 60 * 24 * 30:
        raise ConfigError(f"{name} has value {raw!r}; expected minutes, a number above 0")
    return minutes


def _parse_days(name: str, raw: str | None) -> int:
    if not raw:
        return 90
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 3650:
        raise ConfigError(f"{name} has value {raw!r}; expected whole days from 1 to 3650")
    return int(raw)


def _parse_salt(name: str, raw: str | None) -> str | None:
    if not raw:
        return None
    if raw.strip().lower() == "off":
        return ""
    if len(raw) < 16 or any(ch.isspace() for ch in raw):
        # A secret: named, never echoed.
        raise ConfigError(
            f"{name} is too weak; expected at least 16 characters without spaces "
            "(e.g. from `openssl rand -hex 16`), or off"
        )
    return raw
