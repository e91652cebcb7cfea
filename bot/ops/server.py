"""The operations HTTP server: ``/metrics``, ``/healthz`` and ``/readyz``, 404 elsewhere."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops.health import Health, HttpAnswer
from bot.ops.metrics import Metrics

logger = logging.getLogger(__name__)


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
