"""Session store calls timed and counted, and the readiness check told how they went."""

from __future__ import annotations

import inspect
import time
from functools import wraps
from typing import Any

from bot.errors import StoreError
from bot.ops.health import Health
from bot.ops.metrics import OTHER, STORE_OPERATIONS, Metrics


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
