"""Health and readiness: /healthz always, /readyz only with store, knowledge and Bot API fine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.ops.health import Health, probe_http
from bot.ops.metrics import Metrics
from bot.ops.server import OpsServer
from bot.ops.store import instrument_store
from bot.store.sqlite import SqliteStore


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ready_health(clock: Clock) -> Health:
    health = Health(clock=clock, api_fresh_seconds=120)
    health.knowledge_loaded("4 problems")
    health.store_ok()
    health.api_ok()
    return health


def answer_json(health: Health, path: str) -> tuple[int, dict[str, object]]:
    answer = health.answer(path)
    assert answer is not None
    return answer.status, json.loads(answer.body)


def test_liveness_is_200_even_when_nothing_is_ready() -> None:
    status, body = answer_json(Health(), "/healthz")

    assert status == 200
    assert body == {"status": "ok"}


def test_readiness_is_503_until_every_check_has_passed() -> None:
    clock = Clock()
    health = Health(clock=clock)

    status, body = answer_json(health, "/readyz")

    assert status == 503
    assert body["checks"] == {"store": "failing", "knowledge": "failing", "bot_api": "failing"}
    health.knowledge_loaded("kb")
    health.store_ok()
    health.api_ok()
    assert answer_json(health, "/readyz") == (
        200,
        {"status": "ready", "checks": {"store": "ok", "knowledge": "ok", "bot_api": "ok"}},
    )


def test_a_failed_store_call_makes_it_not_ready_until_one_succeeds() -> None:
    health = ready_health(Clock())

    health.store_failed("ConnectionError: redis down")
    status, body = answer_json(health, "/readyz")

    assert status == 503
    assert body["details"] == {"store": "ConnectionError: redis down"}
    health.store_ok()
    assert answer_json(health, "/readyz")[0] == 200


def test_the_bot_api_counts_as_reachable_only_recently() -> None:
    clock = Clock()
    health = ready_health(clock)

    clock.now += 119
    assert answer_json(health, "/readyz")[0] == 200
    clock.now += 2
    status, body = answer_json(health, "/readyz")

    assert status == 503
    assert body["checks"]["bot_api"] == "failing"
    assert "last success 121s ago" in body["details"]["bot_api"]


def test_other_paths_are_not_health_paths() -> None:
    assert Health().answer("/metrics") is None
    assert Health().answer("/") is None


def test_readiness_goes_false_when_the_sqlite_store_is_stopped(tmp_path: Path) -> None:
    health = Health()
    health.knowledge_loaded("kb")
    health.api_ok()
    store = SqliteStore(tmp_path / "s.db")
    probe = instrument_store(store, None, health)

    asyncio.run(health.probe_once(store=lambda: probe.get("readyz-probe"), bot_api=None))
    assert health.report().ready
    store.close()
    asyncio.run(health.probe_once(store=lambda: probe.get("readyz-probe"), bot_api=None))

    report = health.report()
    assert report.ready is False
    assert report.checks["store"] is False


def test_a_store_error_during_traffic_marks_the_store_down_at_once() -> None:
    class BrokenStore:
        def get(self, chat_id: str) -> None:
            raise StoreError("redis at redis:6379 unreachable")

    health = ready_health(Clock())
    store = instrument_store(BrokenStore(), None, health)

    with pytest.raises(StoreError):
        store.get("1")

    assert health.report().checks["store"] is False


@pytest.fixture
def server() -> Iterator[OpsServer]:
    health = ready_health(Clock())
    ops = OpsServer(host="127.0.0.1", port=0, health=health, metrics=Metrics(process=False))
    ops.start()
    yield ops
    ops.stop()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/metrics", 200),
        ("/", 404),
        ("/metrics/extra", 404),
        ("/favicon.ico", 404),
    ],
)
def test_the_ops_server_serves_metrics_only_on_metrics(
    server: OpsServer, path: str, status: int
) -> None:
    ok, line = probe_http(f"http://127.0.0.1:{server.port}{path}")

    assert ok is (status == 200)
    assert f": {status} " in line
    assert ("alimail_bot_updates_total" in line) is (path == "/metrics")


def test_the_ops_server_says_not_ready_with_503(server: OpsServer) -> None:
    server.health.store_failed("disk full")

    ok, line = probe_http(f"http://127.0.0.1:{server.port}/readyz")

    assert ok is False
    assert "503" in line
    assert "disk full" in line


def test_probe_http_reports_a_closed_port_in_one_line() -> None:
    ok, line = probe_http("http://127.0.0.1:9/healthz", timeout=1)

    assert ok is False
    assert "unreachable" in line
    assert "\n" not in line
