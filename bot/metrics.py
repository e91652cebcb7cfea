"""Prometheus metrics for the Telegram bot (served on ``BOT_METRICS``, off by default)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

logger = logging.getLogger(__name__)


class Metrics:
    """The bot's counters, in their own registry so tests can create several."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.updates = Counter(
            "alimail_bot_updates", "Updates handled, by kind", ["kind"], registry=self.registry
        )
        self.events = Counter(
            "alimail_bot_events",
            "Conversation events (matcher.decision, dialogue.resolved, ...)",
            ["kind"],
            registry=self.registry,
        )
        self.replies = Counter(
            "alimail_bot_replies",
            "Messages sent to Telegram, by result (sent, lost)",
            ["result"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "alimail_bot_handle_seconds",
            "Time from receiving an update to the last reply sent",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics over HTTP in a background thread."""
        start_http_server(port, addr=host, registry=self.registry)
        logger.info("metrics on http://%s:%d/metrics", host, port)
