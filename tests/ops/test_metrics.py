"""Metric names and labels as documented, every label value initialised, labels bounded."""

from __future__ import annotations

import asyncio
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.knowledge import KnowledgeBase
from bot.errors import StoreError
from bot.ops.metrics import COMMANDS, Decision, Metrics, UpdateKind
from bot.ops.store import instrument_store
from tests.ops.conftest import README


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metrics(kb: KnowledgeBase) -> Metrics:
    return Metrics(topics=[kb.topic_of(i) for i in kb.ids], process=False)


def test_every_update_kind_is_exported_at_zero_before_any_update(metrics: Metrics) -> None:
    for kind in UpdateKind:
        assert value(metrics, "alimail_bot_updates_total", kind=kind.value) == 0.0


def test_decision_and_topic_labels_cover_every_knowledge_topic_and_none(
    metrics: Metrics, kb: KnowledgeBase
) -> None:
    topics = {kb.topic_of(i) for i in kb.ids} | {"none"}
    exported = {
        dict(labels)["topic"]
        for (name, labels) in samples(metrics)
        if name == "alimail_bot_decisions_total"
    }
    assert exported == topics
    for decision in Decision:
        assert (
            value(metrics, "alimail_bot_decisions_total", decision=decision.value, topic="none")
            == 0.0
        )


def test_a_topic_outside_the_knowledge_is_counted_as_other_not_a_new_series(
    metrics: Metrics,
) -> None:
    before = len(samples(metrics))

    metrics.count_decision("answer", "mailbox-full")
    metrics.count_decision("answer", "made-up-topic")
    metrics.count_decision("answer", "another-one")

    assert (
        value(metrics, "alimail_bot_decisions_total", decision="answer", topic="mailbox-full") == 1
    )
    assert value(metrics, "alimail_bot_decisions_total", decision="answer", topic="other") == 2
    assert len(samples(metrics)) == before + 1  # one "other" series, nothing per made-up topic


def test_unknown_commands_are_counted_as_other(metrics: Metrics) -> None:
    metrics.count_command("stats")
    metrics.count_command("rm-rf")

    assert value(metrics, "alimail_bot_commands_total", command="stats") == 1
    assert value(metrics, "alimail_bot_commands_total", command="other") == 1
    assert "stats" in COMMANDS


def test_process_and_platform_collectors_are_registered() -> None:
    names = {name for name, _ in samples(Metrics())}

    assert "process_resident_memory_bytes" in names
    assert "python_info" in names
    assert any(name.startswith("python_gc_") for name in names)


def test_store_calls_are_timed_and_failures_counted(metrics: Metrics) -> None:
    class Store:
        def get(self, chat_id: str) -> None:
            return None

        def put(self, session: object, *, expected_version: int | None) -> bool:
            raise StoreError("gone")

    store = instrument_store(Store(), metrics, None)
    store.get("1")
    with pytest.raises(StoreError):
        store.put(object(), expected_version=None)

    assert value(metrics, "alimail_bot_store_seconds_count", operation="get") == 1
    assert value(metrics, "alimail_bot_store_errors_total", operation="put") == 1
    assert value(metrics, "alimail_bot_store_errors_total", operation="get") == 0


def test_async_store_calls_are_timed_until_they_complete(metrics: Metrics) -> None:
    class AsyncStore:
        async def get(self, chat_id: str) -> str:
            await asyncio.sleep(0)
            return chat_id

    store = instrument_store(AsyncStore(), metrics, None)

    assert asyncio.run(store.get("7")) == "7"
    assert value(metrics, "alimail_bot_store_seconds_count", operation="get") == 1


def test_every_metric_the_readme_lists_exists_and_every_bot_metric_is_listed(
    metrics: Metrics,
) -> None:
    families = text_string_to_metric_families(metrics.exposition().decode())
    # Counters are scraped as NAME_total; the README names every metric as scraped.
    exported = {
        f"{f.name}_total" if f.type == "counter" else f.name
        for f in families
        if f.name.startswith("alimail_bot_")
    }
    section = README.split("## Operating the bot", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(alimail_bot_[a-z_]+)`", section))
    assert listed == exported
