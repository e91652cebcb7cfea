"""Settings.from_env: every variable's good values, and one clear error naming each bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_API_URL, LogFormat, Settings
from bot.errors import ConfigError

TOKEN = "123456789:AAHk3PzSeCr3tT0kenValue_abcdefghijkl"


def test_an_empty_environment_gives_the_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.token is None
    assert settings.api_url == DEFAULT_API_URL
    assert settings.store_url is None
    assert settings.admins == frozenset()
    assert settings.staff_chat is None
    assert settings.webhook_url is None
    assert settings.webhook_secret is None
    assert settings.listen == ("127.0.0.1", 8080)
    assert settings.metrics is None
    assert settings.log_level == "INFO"
    assert settings.log_format is LogFormat.TEXT
    assert settings.log_user_text is False
    assert settings.rate_limit is True
    assert settings.session_timeout_minutes == 30.0
    assert settings.retention_days == 90
    assert settings.fallback_contact is None
    assert settings.event_salt is None


VARIABLES = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "BOT_STORE",
    "BOT_ADMINS",
    "BOT_STAFF_CHAT",
    "BOT_WEBHOOK_URL",
    "BOT_WEBHOOK_SECRET",
    "BOT_LISTEN",
    "BOT_METRICS",
    "BOT_LOG_LEVEL",
    "BOT_RATE_LIMIT",
    "BOT_SESSION_TIMEOUT",
    "BOT_LOG_FORMAT",
    "BOT_LOG_USER_TEXT",
    "BOT_RETENTION_DAYS",
    "BOT_FALLBACK_CONTACT",
    "BOT_EVENT_SALT",
]


def test_empty_values_count_as_unset() -> None:
    assert Settings.from_env(dict.fromkeys(VARIABLES, "")) == Settings.from_env({})


GOOD = [
    ("TELEGRAM_BOT_TOKEN", TOKEN, "token", TOKEN),
    ("TELEGRAM_API_URL", "http://127.0.0.1:8081/bot", "api_url", "http://127.0.0.1:8081/bot"),
    ("TELEGRAM_API_URL", "https://tg.example.com/bot", "api_url", "https://tg.example.com/bot"),
    ("BOT_STORE", "sqlite:///var/lib/bot/s.db", "store_url", "sqlite:///var/lib/bot/s.db"),
    ("BOT_STORE", "redis://127.0.0.1:6379/0", "store_url", "redis://127.0.0.1:6379/0"),
    ("BOT_STORE", "rediss://cache:6380/1", "store_url", "rediss://cache:6380/1"),
    ("BOT_STORE", "memory://", "store_url", "memory://"),
    ("BOT_ADMINS", "1001", "admins", frozenset({1001})),
    ("BOT_ADMINS", "1001, 1002 1003", "admins", frozenset({1001, 1002, 1003})),
    ("BOT_ADMINS", " 7 ,", "admins", frozenset({7})),
    ("BOT_STAFF_CHAT", "-1001234567890", "staff_chat", -1001234567890),
    ("BOT_STAFF_CHAT", "42", "staff_chat", 42),
    (
        "BOT_WEBHOOK_URL",
        "https://bot.example.com/hook",
        "webhook_url",
        "https://bot.example.com/hook",
    ),
    ("BOT_WEBHOOK_SECRET", "s3cret_Token-1", "webhook_secret", "s3cret_Token-1"),
    ("BOT_LISTEN", "0.0.0.0:8443", "listen", ("0.0.0.0", 8443)),
    ("BOT_LISTEN", ":9000", "listen", ("0.0.0.0", 9000)),
    ("BOT_LISTEN", "[::1]:8080", "listen", ("[::1]", 8080)),
    ("BOT_METRICS", "127.0.0.1:9100", "metrics", ("127.0.0.1", 9100)),
    ("BOT_METRICS", "off", "metrics", None),
    ("BOT_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("BOT_LOG_LEVEL", "WARNING", "log_level", "WARNING"),
    ("BOT_RATE_LIMIT", "off", "rate_limit", False),
    ("BOT_RATE_LIMIT", "ON", "rate_limit", True),
    ("BOT_RATE_LIMIT", "false", "rate_limit", False),
    ("BOT_SESSION_TIMEOUT", "15", "session_timeout_minutes", 15.0),
    ("BOT_SESSION_TIMEOUT", "0.5", "session_timeout_minutes", 0.5),
    ("BOT_KNOWLEDGE", "/srv/knowledge", "knowledge_dir", Path("/srv/knowledge")),
    ("BOT_LOG_FORMAT", "json", "log_format", LogFormat.JSON),
    ("BOT_LOG_FORMAT", "TEXT", "log_format", LogFormat.TEXT),
    ("BOT_LOG_USER_TEXT", "on", "log_user_text", True),
    ("BOT_LOG_USER_TEXT", "off", "log_user_text", False),
    ("BOT_RETENTION_DAYS", "30", "retention_days", 30),
    ("BOT_FALLBACK_CONTACT", " helpdesk@example.com ", "fallback_contact", "helpdesk@example.com"),
    ("BOT_EVENT_SALT", "0123456789abcdef0123", "event_salt", "0123456789abcdef0123"),
    ("BOT_EVENT_SALT", "off", "event_salt", ""),
]


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"), GOOD, ids=[f"{n}={v}" for n, v, _, _ in GOOD]
)
def test_a_good_value_is_read_into_settings(
    name: str, value: str, field: str, expected: object
) -> None:
    settings = Settings.from_env({name: value})

    assert getattr(settings, field) == expected


BAD = [
    ("TELEGRAM_API_URL", "ftp://example.com/bot"),
    ("TELEGRAM_API_URL", "api.telegram.org"),
    ("BOT_STORE", "mysql://x"),
    ("BOT_STORE", "sessions.db"),
    ("BOT_STORE", "sqlite://relative.db"),
    ("BOT_ADMINS", "alice,bob"),
    ("BOT_ADMINS", "12;13"),
    ("BOT_STAFF_CHAT", "staff-group"),
    ("BOT_STAFF_CHAT", "@helpdesk"),
    ("BOT_WEBHOOK_URL", "http://bot.example.com/hook"),
    ("BOT_WEBHOOK_URL", "bot.example.com"),
    ("BOT_LISTEN", "8080"),
    ("BOT_LISTEN", "localhost:http"),
    ("BOT_LISTEN", "localhost:0"),
    ("BOT_LISTEN", "localhost:70000"),
    ("BOT_METRICS", "9100"),
    ("BOT_METRICS", "on"),
    ("BOT_LOG_LEVEL", "verbose"),
    ("BOT_RATE_LIMIT", "sometimes"),
    ("BOT_SESSION_TIMEOUT", "0"),
    ("BOT_SESSION_TIMEOUT", "-5"),
    ("BOT_SESSION_TIMEOUT", "ten"),
    ("BOT_SESSION_TIMEOUT", "nan"),
    ("BOT_SESSION_TIMEOUT", "1e9"),
    ("BOT_LOG_FORMAT", "logfmt"),
    ("BOT_LOG_USER_TEXT", "sometimes"),
    ("BOT_RETENTION_DAYS", "0"),
    ("BOT_RETENTION_DAYS", "forever"),
    ("BOT_RETENTION_DAYS", "90.5"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_a_bad_value_is_one_error_naming_the_variable_and_the_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})

    message = str(caught.value)
    assert message.startswith(name)
    assert repr(value) in message
    assert "expected" in message
    assert "\n" not in message


SECRETS = [
    ("TELEGRAM_BOT_TOKEN", "123456:short"),
    ("TELEGRAM_BOT_TOKEN", "not a token at all"),
    ("TELEGRAM_BOT_TOKEN", TOKEN + " "),
    ("TELEGRAM_BOT_TOKEN", "bot" + TOKEN),
    ("BOT_WEBHOOK_SECRET", "has spaces and !"),
    ("BOT_WEBHOOK_SECRET", "x" * 257),
    ("BOT_EVENT_SALT", "short"),
    ("BOT_EVENT_SALT", "long enough but spaced"),
]


@pytest.mark.parametrize(
    ("name", "value"), SECRETS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SECRETS)]
)
def test_a_malformed_secret_is_named_but_never_echoed(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})

    message = str(caught.value)
    assert message.startswith(name)
    assert value.strip() not in message
    assert "expected" in message


def test_the_token_is_not_echoed_even_in_part() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": "987654321:tooShortSecretPart"})

    assert "tooShortSecretPart" not in str(caught.value)
    assert "987654321" not in str(caught.value)


def test_the_first_bad_variable_is_reported_when_several_are_bad() -> None:
    with pytest.raises(ConfigError, match=r"^BOT_STORE"):
        Settings.from_env({"BOT_STORE": "mysql://x", "BOT_LOG_LEVEL": "loud"})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.token = TOKEN  # type: ignore[misc]


def test_the_event_salt_is_derived_from_the_token_unless_set() -> None:
    from_token = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN}).salt
    other = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN.replace("1", "2")}).salt

    assert from_token != other
    assert TOKEN not in from_token
    assert Settings.from_env({"BOT_EVENT_SALT": "x" * 16}).salt == "x" * 16
    assert Settings.from_env({"BOT_EVENT_SALT": "off"}).salt == ""


def test_a_multi_line_fallback_contact_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^BOT_FALLBACK_CONTACT .*one line"):
        Settings.from_env({"BOT_FALLBACK_CONTACT": "call\nus"})
