"""Prometheus metrics, and the small HTTP server that serves them beside the health checks.

Every label has a closed set of values (update kinds, decisions, knowledge topic ids, store
operations...), each initialised to zero at start so dashboards and ``rate()`` work from the
first scrape. Names and labels are an external contract: the README lists them and
``deploy/grafana-dashboard.json`` is built on them.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import wraps
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
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

from bot.errors import StoreError
from bot.ops.health import Health, HttpAnswer

logger = logging.getLogger(__name__)

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
COMMANDS = ("start", "help", "topics", "cancel", "human", "language", "forget", "close", "stats")
COMMANDS += ("inbox",)
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
    # sessions, events and tickets (bot.store.SessionStore)
    "get",
    "put",
    "delete",
    "log_event",
    "events",
    "event_counts",
    "purge",
    "forget",
    "new_ticket_number",
    "put_ticket",
    "get_ticket",
    "open_ticket_of",
    "ticket_of_thread",
    "ticket_of_message",
    "count_open_tickets",
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


def instrument_store(store: Any, metrics: Metrics | None, health: Health | None) -> Any:
    """Wrap a session store so every call is timed, errors counted, and health told.

    Works for synchronous and asynchronous stores alike: a method returning an awaitable is
    timed until the awaitable completes.
    """
    return _InstrumentedStore(store, metrics, health)


class _InstrumentedStore:
    """A transparent proxy over a store (attributes other than methods pass through)."""

    def __init__(self, store: Any, metrics: Metrics | None, health: Health | None) -> None:
        self._store = store
        self._metrics = metrics
        self._health = health

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name.startswith("_") or not callable(target):
            return target
        operation = name if name in STORE_OPERATIONS else OTHER
        # Closing succeeds on a dead server too: only real calls say the store is reachable.
        reads = name not in ("close", "aclose")

        @wraps(target)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = target(*args, **kwargs)
            except Exception as err:
                self._failed(operation, err)
                raise
            if inspect.isawaitable(result):
                return self._finish_async(result, operation, started, reads=reads)
            self._succeeded(operation, started, reads=reads)
            return result

        return call

    async def _finish_async(
        self, awaitable: Any, operation: str, started: float, *, reads: bool
    ) -> Any:
        try:
            result = await awaitable
        except Exception as err:
            self._failed(operation, err)
            raise
        self._succeeded(operation, started, reads=reads)
        return result

    def _succeeded(self, operation: str, started: float, *, reads: bool) -> None:
        if self._metrics is not None:
            self._metrics.store_seconds.labels(operation=operation).observe(
                time.perf_counter() - started
            )
        if self._health is not None and reads:
            self._health.store_ok()

    def _failed(self, operation: str, err: Exception) -> None:
        if self._metrics is not None:
            self._metrics.store_errors.labels(operation=operation).inc()
        # A StoreError is the store saying it is unreachable; anything else is a bug in a call.
        if self._health is not None and isinstance(err, StoreError):
            self._health.store_failed(str(err))


class OpsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` over HTTP in a background thread; 404 elsewhere.

    prometheus_client's own server answers the metrics page on every path, which hides a
    wrong scrape path and leaves no room for health checks; this one serves exact paths only.
    """

    def __init__(
        self, *, host: str, port: int, health: Health, metrics: Metrics | None = None
    ) -> None:
        self.health = health
        self.metrics = metrics
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful when asked for port 0)."""
        return int(self._server.server_address[1])

    def answer(self, path: str) -> HttpAnswer:
        """The answer to a GET of ``path`` (query string ignored)."""
        path = path.split("?", 1)[0]
        if path == "/metrics" and self.metrics is not None:
            self.metrics.reflect(self.health)
            return HttpAnswer(
                status=200, content_type=CONTENT_TYPE_LATEST, body=self.metrics.exposition()
            )
        return self.health.answer(path) or HttpAnswer.not_found()

    def start(self) -> None:
        """Serve in a daemon thread until ``stop``."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ops-http", daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        logger.info(
            "metrics and health checks on http://%s:%d (/metrics /healthz /readyz)", host, port
        )

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


def _handler_for(server: OpsServer) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(server.answer(self.path), body=True)

        def do_HEAD(self) -> None:
            self._reply(server.answer(self.path), body=False)

        def _reply(self, answer: HttpAnswer, *, body: bool) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            # Scrapes and probes every few seconds would drown the per-update lines.
            logger.debug("ops http: %s", format % args)

    return Handler
