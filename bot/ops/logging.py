"""Logging of ``alimail-bot run``: text or JSON lines, quiet libraries, no user text by default.

- ``BOT_LOG_FORMAT=json`` writes one JSON object per line (python-json-logger), with the
  fields of the per-update line as keys, for log shippers.
- python-telegram-bot logs whole updates (user text, names) and every request at DEBUG, and
  httpx logs request URLs with the token at INFO: those loggers never go below INFO/WARNING,
  whatever ``BOT_LOG_LEVEL`` says.
- What users write is logged only at DEBUG and only with ``BOT_LOG_USER_TEXT=on``
  (``log_user_text``).
- Network trouble is an episode: one WARNING when it starts, DEBUG while it lasts, one INFO
  when it ends (``NetworkEpisode``), never a traceback per retry.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from bot.config import LogFormat
from bot.core.privacy import pseudonym

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")
# Loggers that must stay above DEBUG: PTB dumps updates (user text) and request parameters,
# httpx/httpcore log each request URL (the token is in it).
LIBRARY_FLOORS = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "asyncio": logging.INFO,
}
USER_TEXT_LOGGER = "bot.user_text"
MAX_USER_TEXT = 500


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always sys.stderr


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter for one format: plain text lines or one JSON object per line."""
    if log_format is LogFormat.JSON:
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(
    *, level: str, log_format: LogFormat, user_text: bool, handler: logging.Handler | None = None
) -> logging.Handler:
    """Install the one root handler of ``run``; call again to reconfigure (tests do)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_alimail_bot", False)]:
        root.removeHandler(old)
    handler = handler or _StderrHandler()
    handler.setFormatter(make_formatter(log_format))
    handler._alimail_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    numeric = logging.getLevelName(level)
    root.setLevel(numeric)
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    # Library warnings (PTBUserWarning...) as log records: a JSON log stays all JSON.
    logging.captureWarnings(True)
    # User text needs both: DEBUG on, and the operator's explicit consent.
    logging.getLogger(USER_TEXT_LOGGER).disabled = not user_text
    return handler


def log_user_text(chat: str, text: str) -> None:
    """Log what a user wrote: DEBUG only, and only with ``BOT_LOG_USER_TEXT=on``."""
    user_logger = logging.getLogger(USER_TEXT_LOGGER)
    if user_logger.isEnabledFor(logging.DEBUG):
        user_logger.debug(
            "chat=%s text=%r", chat, text[:MAX_USER_TEXT], extra={"chat": chat, "text": text}
        )


class Pseudonyms:
    """Chat names for logs: the same keyed-hash pseudonyms as the event log (``p`` + 20 hex).

    With the event log's salt an operator can follow a chat from a log line to the reports;
    nobody without the salt can map a name back to a chat id. When the event log's
    pseudonyms are switched off (empty salt), logs still never show chat ids: a salt derived
    from ``fallback_secret`` (the token) is used instead.
    """

    def __init__(self, salt: str, *, fallback_secret: str = "") -> None:
        self._salt = (
            salt
            or hmac.new(
                fallback_secret.encode(), b"alimail-bot log pseudonym", hashlib.sha256
            ).hexdigest()
        )

    def __call__(self, chat_id: int | str) -> str:
        """The pseudonym of one chat."""
        return pseudonym(str(chat_id), self._salt)


class NetworkEpisode:
    """Turns a run of network failures into one WARNING at the start and one INFO at the end.

    ``failed`` for every failure (the first one logs a WARNING; the rest DEBUG), ``recovered``
    on the next success (one INFO with how long it lasted and how many calls failed).
    """

    def __init__(
        self,
        what: str,
        *,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.logger = logger
        self.clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0

    @property
    def ongoing(self) -> bool:
        """Whether the last call failed."""
        return self._since is not None

    def failed(self, err: BaseException | str) -> None:
        """One failed call."""
        reason = err if isinstance(err, str) else describe_error(err)
        with self._lock:
            first = self._since is None
            if first:
                self._since = self.clock()
            self._failures += 1
            failures = self._failures
        if first:
            self.logger.warning("%s unreachable (%s); retrying quietly", self.what, reason)
        else:
            self.logger.debug("%s still unreachable (%s), failure %d", self.what, reason, failures)

    def recovered(self) -> None:
        """One successful call; ends an episode if there was one."""
        with self._lock:
            since, failures = self._since, self._failures
            self._since, self._failures = None, 0
        if since is not None:
            self.logger.info(
                "%s reachable again after %.0fs (%d failed calls)",
                self.what,
                self.clock() - since,
                failures,
            )


def describe_error(err: BaseException) -> str:
    """``ExceptionName: message`` on one line, the cause's message when there is one."""
    message = str(err) or repr(err)
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message} ({type(cause).__name__}: {cause})"
    return f"{type(err).__name__}: {' '.join(message.split())}"


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: the values as JSON keys (None values left out)."""
    return {k: v for k, v in values.items() if v is not None}
