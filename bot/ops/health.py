"""Liveness and readiness: ``/healthz`` says the process serves, ``/readyz`` that it can work.

Ready means three checks pass: the session store answered its last call or probe, the
knowledge base is loaded, and the Bot API answered within the last ``api_fresh_seconds``.
The checks are fed by what the bot does anyway (every store call, every Bot API call) and by
a small watcher task that probes the store and the Bot API when nothing else has lately. HTTP
handlers only read the result, so any server (the webhook server in the bot's event loop, the
metrics server in its thread) can answer without touching the store itself.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

HEALTHZ = "/healthz"
READYZ = "/readyz"
JSON = "application/json"
API_FRESH_SECONDS = 120.0
WATCH_INTERVAL_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 5.0

Probe = Callable[[], Any]  # returns anything (or an awaitable of anything); raising = failing


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAnswer:
    """A transport-neutral HTTP answer: any server can send it as is."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def json(cls, status: int, payload: dict[str, Any]) -> HttpAnswer:
        """A JSON answer."""
        return cls(status=status, content_type=JSON, body=json.dumps(payload).encode() + b"\n")

    @classmethod
    def not_found(cls) -> HttpAnswer:
        """404 for every path nobody serves."""
        return cls.json(404, {"error": "not found"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The readiness checks at one moment."""

    checks: dict[str, bool]
    details: dict[str, str]

    @property
    def ready(self) -> bool:
        """All checks pass."""
        return all(self.checks.values())


class Health:
    """Thread-safe record of the readiness checks; the servers read, the bot writes."""

    CHECKS: ClassVar[tuple[str, ...]] = ("store", "knowledge", "bot_api")

    def __init__(
        self,
        *,
        api_fresh_seconds: float = API_FRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_fresh_seconds = api_fresh_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._store_error: str | None = "not checked yet"
        self._knowledge: str | None = "not loaded yet"
        self._api_last_success: float | None = None
        self._api_error: str | None = "not reached yet"
        self.api_last_success_wall: float | None = None

    # what the bot reports ----------------------------------------------------------------

    def knowledge_loaded(self, summary: str) -> None:
        """The knowledge base is loaded (it never unloads while the process runs)."""
        with self._lock:
            self._knowledge = None
        logger.debug("knowledge loaded: %s", summary)

    def store_ok(self) -> None:
        """A store call or probe succeeded."""
        with self._lock:
            self._store_error = None

    def store_failed(self, reason: str) -> None:
        """A store call or probe failed: not ready until one succeeds."""
        with self._lock:
            self._store_error = reason

    def api_ok(self) -> None:
        """The Bot API answered (any HTTP answer means it is reachable)."""
        with self._lock:
            self._api_last_success = self._clock()
            self._api_error = None
            self.api_last_success_wall = self._wall_clock()

    def api_failed(self, reason: str) -> None:
        """A Bot API call failed at the network level."""
        with self._lock:
            self._api_error = reason

    def api_is_stale(self) -> bool:
        """No Bot API success for half the freshness window: time for a probe."""
        with self._lock:
            last = self._api_last_success
        return last is None or self._clock() - last > self.api_fresh_seconds / 2

    # what the servers read --------------------------------------------------------------

    def report(self) -> Report:
        """The three checks now."""
        with self._lock:
            store_error = self._store_error
            knowledge = self._knowledge
            last = self._api_last_success
            api_error = self._api_error
        details: dict[str, str] = {}
        if store_error is not None:
            details["store"] = store_error
        if knowledge is not None:
            details["knowledge"] = knowledge
        fresh = last is not None and self._clock() - last <= self.api_fresh_seconds
        if not fresh:
            age = "never" if last is None else f"{self._clock() - last:.0f}s ago"
            details["bot_api"] = f"last success {age}" + (f": {api_error}" if api_error else "")
        checks = {
            "store": store_error is None,
            "knowledge": knowledge is None,
            "bot_api": fresh,
        }
        return Report(checks=checks, details=details)

    def answer(self, path: str) -> HttpAnswer | None:
        """The answer to GET ``/healthz`` or ``/readyz``; None for any other path."""
        path = path.split("?", 1)[0]
        if path == HEALTHZ:
            return HttpAnswer.json(200, {"status": "ok"})
        if path == READYZ:
            report = self.report()
            payload: dict[str, Any] = {
                "status": "ready" if report.ready else "not ready",
                "checks": {k: "ok" if v else "failing" for k, v in report.checks.items()},
            }
            if report.details:
                payload["details"] = report.details
            return HttpAnswer.json(200 if report.ready else 503, payload)
        return None

    # the watcher --------------------------------------------------------------------------

    async def probe_once(self, *, store: Probe | None, bot_api: Probe | None) -> None:
        """Probe the store always, and the Bot API when nothing else reached it lately."""
        if store is not None:
            try:
                await _call(store)
            except Exception as err:  # any failure of a probe means "not ready", with why
                self.store_failed(f"{type(err).__name__}: {err}")
            else:
                self.store_ok()
        if bot_api is not None and self.api_is_stale():
            try:
                await _call(bot_api)
            except Exception as err:  # the request observer has already counted and logged
                self.api_failed(f"{type(err).__name__}: {err}")

    async def watch(
        self,
        *,
        store: Probe | None,
        bot_api: Probe | None,
        interval: float = WATCH_INTERVAL_SECONDS,
        extra: tuple[Callable[[], Awaitable[None] | None], ...] = (),
    ) -> None:
        """Probe every ``interval`` seconds until cancelled; ``extra`` samplers run too."""
        while True:
            await self.probe_once(store=store, bot_api=bot_api)
            for sample in extra:
                try:
                    await _call(sample)
                except Exception:  # a gauge sampler must never stop the health checks
                    logger.debug("metrics sampler failed", exc_info=True)
            await asyncio.sleep(interval)


async def _call(probe: Callable[[], Any]) -> Any:
    result = probe()
    if inspect.isawaitable(result):
        return await asyncio.wait_for(result, PROBE_TIMEOUT_SECONDS)
    return result


def probe_http(url: str, *, timeout: float = 3.0) -> tuple[bool, str]:
    """GET a health endpoint directly (never through a proxy); (passed, one line saying so)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as answer:
            body = answer.read().decode("utf-8", "replace").strip()
            return True, f"{url}: {answer.status} {body}"
    except urllib.error.HTTPError as err:
        body = err.read().decode("utf-8", "replace").strip()
        return False, f"{url}: {err.code} {body}"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return False, f"{url}: unreachable ({reason})"
