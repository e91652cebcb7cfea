"""Errors a user or operator can cause, caught at the edges and shown as one line.

BotError
├── ConfigError      a bad environment variable or command-line value
├── KnowledgeError   a knowledge file that does not validate (lists every problem found)
└── StoreError       a session store that cannot be opened, read or written
    └── StoreUnavailable  the store did not answer in time (down, hung, locked): try later
"""


class BotError(Exception):
    """Base of every error the bot reports to a person instead of crashing."""


class ConfigError(BotError):
    """A configuration value is missing or malformed."""


class KnowledgeError(BotError):
    """The knowledge base does not validate; ``problems`` holds every message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class StoreError(BotError):
    """The session store failed or holds data this version cannot read."""


class StoreUnavailable(StoreError):
    """The store did not answer in time or refused the connection; the work can be retried."""
