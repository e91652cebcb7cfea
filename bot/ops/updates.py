"""One INFO line and one set of counters per handled update, from one place: the update dispatch.

The channel opens ``UpdateObserver.observe(...)`` around the whole handling of an update; code
deeper down (the conversation) adds what it learns to the current trace through
``current_trace()`` (decision, topic, state change) without passing it around. When the block
ends, one line is logged, with no user text:

    update kind=text chat=3f2a9c1be0d4 decision=answer topic=mailbox-full state=idle->guide ms=12

and the counters and histograms of ``bot.ops.metrics`` are updated.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.ops.logging import Pseudonyms, fields
from bot.ops.metrics import Metrics, UpdateKind

logger = logging.getLogger("bot.updates")

_current: contextvars.ContextVar[UpdateTrace | None] = contextvars.ContextVar(
    "update_trace", default=None
)


# Not frozen: a trace is filled in while its update is handled, then logged once.
@dataclass(slots=True, kw_only=True)
class UpdateTrace:
    """What the per-update line reports about one update."""

    kind: UpdateKind
    chat: str
    command: str | None = None
    decision: str | None = None
    topic: str | None = None
    state_from: str | None = None
    state_to: str | None = None
    error: str | None = None

    def note_command(self, name: str) -> None:
        """The update was this slash command."""
        self.command = name

    def note_decision(self, decision: str, topic: str | None) -> None:
        """The matcher decided on the user's text."""
        self.decision = decision
        self.topic = topic

    def note_state(self, before: str, after: str) -> None:
        """The conversation went from one state to another (the first ``before`` is kept)."""
        if self.state_from is None:
            self.state_from = before
        self.state_to = after

    def line(self, elapsed_ms: float) -> str:
        """The text form of the per-update line (no user text, ever)."""
        parts = [f"kind={self.kind.value}", f"chat={self.chat}"]
        if self.command:
            parts.append(f"command=/{self.command}")
        if self.decision:
            parts.append(f"decision={self.decision}")
        if self.topic:
            parts.append(f"topic={self.topic}")
        if self.state_from and self.state_to:
            parts.append(f"state={self.state_from}->{self.state_to}")
        if self.error:
            parts.append(f"error={self.error}")
        parts.append(f"ms={elapsed_ms:.0f}")
        return " ".join(parts)


def current_trace() -> UpdateTrace | None:
    """The trace of the update being handled in this task, if any."""
    return _current.get()


class UpdateObserver:
    """Logs the per-update line and updates the per-update metrics."""

    def __init__(
        self,
        *,
        pseudonyms: Pseudonyms,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pseudonyms = pseudonyms
        self.metrics = metrics
        self.clock = clock

    @contextlib.contextmanager
    def observe(
        self,
        *,
        kind: UpdateKind,
        chat_id: int | str | None,
        sent_at: float | None = None,
        command: str | None = None,
    ) -> Iterator[UpdateTrace]:
        """Trace one update from taking it to its last reply; log and count at the end."""
        chat = "-" if chat_id is None else self.pseudonyms(chat_id)
        trace = UpdateTrace(kind=kind, chat=chat, command=command)
        token = _current.set(trace)
        started = time.perf_counter()
        if self.metrics is not None and sent_at is not None:
            self.metrics.update_lag_seconds.observe(max(0.0, self.clock() - sent_at))
        try:
            yield trace
        except BaseException as err:
            trace.error = type(err).__name__
            raise
        finally:
            _current.reset(token)
            self._finish(trace, (time.perf_counter() - started) * 1000)

    def _finish(self, trace: UpdateTrace, elapsed_ms: float) -> None:
        logger.info(
            "update %s",
            trace.line(elapsed_ms),
            extra=fields(
                kind=trace.kind.value,
                chat=trace.chat,
                command=trace.command,
                decision=trace.decision,
                topic=trace.topic,
                state_from=trace.state_from,
                state_to=trace.state_to,
                error=trace.error,
                handling_ms=round(elapsed_ms, 1),
            ),
        )
        metrics = self.metrics
        if metrics is None:
            return
        metrics.updates.labels(kind=trace.kind.value).inc()
        metrics.handle_seconds.labels(kind=trace.kind.value).observe(elapsed_ms / 1000)
        if trace.command:
            metrics.count_command(trace.command)
        if trace.decision:
            metrics.count_decision(trace.decision, trace.topic)
        if trace.state_from and trace.state_to:
            metrics.count_transition(trace.state_from, trace.state_to)
        if trace.error:
            metrics.update_errors.inc()


def note_outcome(state_before: str, state_after: str, log: Iterable[Any]) -> None:
    """Tell the current update's trace what the conversation did (no-op outside a trace).

    ``log`` is the engine's event-log records: the ``matcher.decision`` one carries the
    decision (its detail) and the topic.
    """
    trace = current_trace()
    if trace is None:
        return
    trace.note_state(state_before, state_after)
    for record in log:
        if record.kind == "matcher.decision":
            trace.note_decision(record.detail, record.topic)
