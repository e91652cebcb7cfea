"""Logging for the Telegram channel: quiet httpx, and the bot token redacted everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any


class _RedactToken(logging.Filter):
    """Replaces the bot token in a log record: message, arguments and traceback text."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        self.redact(record)
        return True

    def redact(self, record: logging.LogRecord) -> None:
        """Replace the token wherever the record would show it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return  # a broken format string: the handler reports it as usual
        if self.token in message:
            record.msg = message.replace(self.token, "<token>")
            record.args = ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is redacted too.
            text = logging.Formatter().formatException(record.exc_info)
            if self.token in text:
                record.exc_text = text.replace(self.token, "<token>")


class _RedactingRecordFactory:
    """Wraps the log record factory: every record is redacted once, as it is created."""

    def __init__(self, base: Callable[..., logging.LogRecord], redactor: _RedactToken) -> None:
        self.base = base
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self.redactor.redact(record)
        return record


def quiet_logging(token: str) -> None:
    """Turn httpx's per-request logging down and redact the token everywhere.

    A filter on handlers would miss handlers added later (and records that reach them by
    other routes), and a filter on a logger sees only records logged on that very logger, not
    its children (``telegram.ext.Updater``...). So the record factory redacts every record
    when it is made; the ``httpx``/``httpcore`` loggers, which log request URLs, get a filter
    as well in case something replaces the factory later.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    redactor = _RedactToken(token)
    factory = logging.getLogRecordFactory()
    installed = factory
    while isinstance(installed, _RedactingRecordFactory):
        if installed.redactor.token == token:
            break
        installed = installed.base
    else:
        logging.setLogRecordFactory(_RedactingRecordFactory(factory, redactor))
    for name in ("httpx", "httpcore"):
        source = logging.getLogger(name)
        if not any(isinstance(f, _RedactToken) and f.token == token for f in source.filters):
            source.addFilter(redactor)
