"""Prometheus metrics: names, labels and their closed sets of values.

Every label has a closed set of values (update kinds, decisions, knowledge topic ids, store
operations...), each initialised to zero at start so dashboards and ``rate()`` work from the
first scrape. Names and labels are an external contract: the README lists them and
``deploy/grafana-dashboard.json`` is built on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from bot.ops.health import Health
from bot.store.aio import RECORD_METHODS

PREFIX = "alimail_bot"
NO_TOPIC = "none"
OTHER = "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class UpdateKind(StrEnum):
    """What kind of Telegram update the bot handled: the ``kind`` label, a closed set."""

    COMMAND = "command"
    TEXT = "text"
    BUTTON = "button"
    INLINE_QUERY = "inline_query"
    FORWARD = "forward"
    STAFF_MESSAGE = "staff_message"
    MEDIA = "media"
    EDITED = "edited"
    MEMBER = "member"
    OTHER = "other"


class Decision(StrEnum):
    """The matcher's decision as a label (mirrors ``bot.core.matching.Decision``)."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    NONE = "none"


class ReplyResult(StrEnum):
    """What became of one message the bot tried to send."""

    SENT = "sent"
    BLOCKED = "blocked"
    LOST = "lost"
    UNCERTAIN = "uncertain"  # timed out after being written: probably delivered, not repeated


class RetryReason(StrEnum):
    """Why a Bot API call was tried again."""

    RATE_LIMITED = "rate_limited"
    NETWORK = "network"


class ApiResult(StrEnum):
    """The outcome of one HTTP call to the Bot API."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"
    CLIENT_ERROR = "client_error"
    SERVER_ERROR = "server_error"
    NETWORK_ERROR = "network_error"


# The commands users and staff can send (``/stats`` included); anything else is "other".
COMMANDS = (
    "start",
    "help",
    "topics",
    "cancel",
    "human",
    "language",
    "forget",
    "close",
    "stats",
    "inbox",
)
# Store methods timed by ``instrument_store``; a method not listed is timed as "other".
STORE_OPERATIONS = (
    # the conversation path (bot.store.aio.AsyncStore)
    "load",
    "save",
    "record_updates",
    "inbox",
    "forget_update",
    "pending_keys",
    "set_aside",
    "acquire",
    "release",
    "records",
    # sessions (bot.store.SessionStore), then the event log and tickets the async face hands on
    "get",
    "put",
    "delete",
    *sorted(RECORD_METHODS),
)
# The event-log kinds the engine writes (bot.core.dialogue); unknown kinds are still counted.
EVENT_KINDS = (
    "matcher.decision",
    "dialogue.started",
    "dialogue.faq",
    "dialogue.unanswered",
    "dialogue.resolved",
    "dialogue.unresolved",
    "dialogue.stuck",
    "dialogue.switched",
    "dialogue.escalated",
    "dialogue.cancelled",
    "dialogue.feedback",
    "handoff.message",
)
STATES = ("idle", "clarify", "guide", "verify", "handoff")


class Metrics:
    """The bot's metrics, in their own registry (tests create several side by side)."""

    def __init__(
        self,
        *,
        topics: Iterable[str] = (),
        registry: CollectorRegistry | None = None,
        process: bool = True,
    ) -> None:
        # The *_created series double the page and no dashboard of ours reads them.
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        self.topics = frozenset(topics)
        if process:
            # A custom registry has none of the default collectors: add them back.
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        r = self.registry
        self.updates = Counter(
            f"{PREFIX}_updates", "Updates handled, by kind", ["kind"], registry=r
        )
        self.commands = Counter(
            f"{PREFIX}_commands", "Slash commands received, by command", ["command"], registry=r
        )
        self.decisions = Counter(
            f"{PREFIX}_decisions",
            "Matcher decisions on user text, by decision and knowledge topic",
            ["decision", "topic"],
            registry=r,
        )
        self.transitions = Counter(
            f"{PREFIX}_state_changes",
            "Conversation state changes, by state before and after",
            ["from_state", "to_state"],
            registry=r,
        )
        self.events = Counter(
            f"{PREFIX}_events", "Event-log records written, by kind", ["kind"], registry=r
        )
        self.handle_seconds = Histogram(
            f"{PREFIX}_handle_seconds",
            "Time from taking an update to the last reply sent, by update kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.update_lag_seconds = Histogram(
            f"{PREFIX}_update_lag_seconds",
            "Now minus the update's date when the bot takes it (queueing, downtime)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.update_errors = Counter(
            f"{PREFIX}_update_errors", "Updates whose handling raised an error", registry=r
        )
        self.replies = Counter(
            f"{PREFIX}_replies",
            "Messages the bot tried to send, by result",
            ["result"],
            registry=r,
        )
        self.api_requests = Counter(
            f"{PREFIX}_api_requests",
            "HTTP calls to the Bot API, by result",
            ["result"],
            registry=r,
        )
        self.rate_limited = Counter(
            f"{PREFIX}_rate_limited", "429 Too Many Requests answers from the Bot API", registry=r
        )
        self.send_retries = Counter(
            f"{PREFIX}_send_retries",
            "Bot API calls tried again, by reason",
            ["reason"],
            registry=r,
        )
        self.sends_given_up = Counter(
            f"{PREFIX}_sends_given_up", "Bot API calls abandoned after the last retry", registry=r
        )
        self.store_seconds = Histogram(
            f"{PREFIX}_store_seconds",
            "Session store call latency, by operation",
            ["operation"],
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            f"{PREFIX}_store_errors",
            "Session store calls that failed, by operation",
            ["operation"],
            registry=r,
        )
        self.open_tickets = Gauge(
            f"{PREFIX}_open_tickets", "Hand-off tickets open right now", registry=r
        )
        self.outbox_depth = Gauge(
            f"{PREFIX}_outbox_depth",
            "Conversations with replies saved but not yet sent, or updates recorded but not yet "
            "handled",
            registry=r,
        )
        self.ready = Gauge(
            f"{PREFIX}_ready", "1 when a readiness check passes, by check", ["check"], registry=r
        )
        self.api_last_success = Gauge(
            f"{PREFIX}_api_last_success_timestamp_seconds",
            "Unix time of the last successful Bot API call",
            registry=r,
        )
        self._initialise_labels()

    def _initialise_labels(self) -> None:
        for kind in UpdateKind:
            self.updates.labels(kind=kind.value)
            self.handle_seconds.labels(kind=kind.value)
        for command in (*COMMANDS, OTHER):
            self.commands.labels(command=command)
        for decision in Decision:
            for topic in (*sorted(self.topics), NO_TOPIC):
                self.decisions.labels(decision=decision.value, topic=topic)
        for before in STATES:
            for after in STATES:
                self.transitions.labels(from_state=before, to_state=after)
        for kind in EVENT_KINDS:
            self.events.labels(kind=kind)
        for result in ReplyResult:
            self.replies.labels(result=result.value)
        for api_result in ApiResult:
            self.api_requests.labels(result=api_result.value)
        for reason in RetryReason:
            self.send_retries.labels(reason=reason.value)
        for operation in (*STORE_OPERATIONS, OTHER):
            self.store_seconds.labels(operation=operation)
            self.store_errors.labels(operation=operation)
        for check in Health.CHECKS:
            self.ready.labels(check=check)

    # Label guards: a value outside the closed set is counted as "other", never a new series.

    def count_command(self, name: str) -> None:
        """Count one slash command (unknown names as "other")."""
        self.commands.labels(command=name if name in COMMANDS else OTHER).inc()

    def count_decision(self, decision: str, topic: str | None) -> None:
        """Count one matcher decision; the topic label is a knowledge topic id or "none"."""
        label = NO_TOPIC if topic is None else topic if topic in self.topics else OTHER
        value = decision if decision in Decision.__members__.values() else OTHER
        self.decisions.labels(decision=value, topic=label).inc()

    def count_transition(self, before: str, after: str) -> None:
        """Count one conversation state change."""
        if before != after:
            self.transitions.labels(from_state=before, to_state=after).inc()

    def reflect(self, health: Health) -> None:
        """Copy the readiness checks into the ``ready`` gauge (called before each scrape)."""
        report = health.report()
        for check, ok in report.checks.items():
            self.ready.labels(check=check).set(1 if ok else 0)
        if health.api_last_success_wall is not None:
            self.api_last_success.set(health.api_last_success_wall)

    def exposition(self) -> bytes:
        """The metrics page in Prometheus' text format."""
        return generate_latest(self.registry)
