"""The Grafana dashboard queries only metrics the bot exports, with labels they carry."""

from __future__ import annotations

import json
import re

from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import Metrics
from tests.deploy.conftest import DEPLOY

DASHBOARD = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))


def exported() -> dict[str, set[str]]:
    """Every sample name the bot exports, with its label names."""
    page = Metrics(topics=["mailbox-full"]).exposition().decode()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def expressions() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]


def test_every_panel_has_a_query_and_a_unique_id() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]

    assert len(ids) == len(set(ids))
    assert all(p["targets"] for p in DASHBOARD["panels"])


def test_every_metric_in_a_query_is_exported_with_the_labels_used() -> None:
    names = exported()
    for expr in expressions():
        for metric, selector in re.findall(
            r"\b((?:alimail_bot|process)_[a-z_]+)(\{[^}]*\})?", expr
        ):
            assert metric in names, f"{metric} in {expr!r}"
            used = set(re.findall(r"(\w+)=~?\"", selector)) - {"job"}
            assert used <= names[metric], f"{used - names[metric]} on {metric}"
        for grouped in re.findall(r"by \(([^)]*)\)", expr):
            labels = {g.strip() for g in grouped.split(",")} - {"le", "instance"}
            metric = re.search(r"(alimail_bot_[a-z_]+)", expr)
            assert metric is not None
            assert labels <= names[metric.group(1)], expr


def test_the_dashboard_covers_updates_decisions_api_store_tickets_lag_and_outbox() -> None:
    text = " ".join(expressions())

    for metric in (
        "alimail_bot_updates_total",
        "alimail_bot_decisions_total",
        "alimail_bot_rate_limited_total",
        "alimail_bot_send_retries_total",
        "alimail_bot_sends_given_up_total",
        "alimail_bot_store_seconds_bucket",
        "alimail_bot_store_errors_total",
        "alimail_bot_open_tickets",
        "alimail_bot_update_lag_seconds_bucket",
        "alimail_bot_outbox_depth",
        "process_resident_memory_bytes",
    ):
        assert metric in text
