"""The compose files: valid against the compose-spec schema, and built as the README says."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, env_file

WEBHOOK = DEPLOY / "compose.yaml"
POLLING = DEPLOY / "compose.polling.yaml"


def load(path: Any) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose_schema() -> dict[str, Any]:
    """The compose-spec JSON schema that check-jsonschema ships (no network)."""
    try:
        vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.skip('check-jsonschema not installed (pip install ".[test]")')
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [WEBHOOK, POLLING], ids=lambda p: p.name)
def test_the_compose_file_is_valid_against_the_compose_spec(path: Any) -> None:
    import jsonschema

    validator = jsonschema.Draft7Validator(compose_schema())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(load(path))
    ]

    assert errors == []


def test_the_schema_check_catches_a_mistake() -> None:
    import jsonschema

    broken = load(WEBHOOK)
    broken["services"]["bot"]["depends_on"]["redis"]["condition"] = "service_up"

    assert list(jsonschema.Draft7Validator(compose_schema()).iter_errors(broken))


def default_of(value: str) -> str:
    """The default of a ``${VAR:-default}`` interpolation, or the value itself."""
    found = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return found.group(1) if found else str(value)


def test_webhook_mode_runs_replicas_behind_caddy_with_redis_healthy_first() -> None:
    services = load(WEBHOOK)["services"]
    bot, redis, caddy = services["bot"], services["redis"], services["caddy"]

    assert int(default_of(bot["deploy"]["replicas"])) >= 2
    assert bot["environment"]["BOT_STORE"].startswith("redis://redis:")
    assert bot["environment"]["BOT_WEBHOOK_URL"].startswith("https://${PUBLIC_HOST")
    assert bot["environment"]["BOT_WEBHOOK_URL"].endswith("/telegram")
    assert "BOT_WEBHOOK_SECRET" in bot["environment"]
    assert bot["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert caddy["depends_on"] == {"bot": {"condition": "service_healthy"}}
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    # The bots publish nothing on the host: Caddy is the only way in.
    assert "ports" not in bot


def test_webhook_mode_exposes_metrics_and_checks_readiness() -> None:
    bot = load(WEBHOOK)["services"]["bot"]
    listen_port = bot["environment"]["BOT_LISTEN"].rpartition(":")[2]
    metrics_port = bot["environment"]["BOT_METRICS"].rpartition(":")[2]

    assert {listen_port, metrics_port} <= set(bot["expose"])
    assert bot["healthcheck"]["test"] == ["CMD", "alimail-bot", "health", "--ready"]
    prometheus = load(DEPLOY / "prometheus.yml")["scrape_configs"][0]["dns_sd_configs"][0]
    assert (prometheus["names"], prometheus["port"]) == (["bot"], int(metrics_port))


def test_the_caddy_upstream_is_the_bot_service_on_its_listen_port() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    bot = load(WEBHOOK)["services"]["bot"]

    assert "{$BOT_UPSTREAM_NAME:bot}" in caddyfile
    assert (
        "{$BOT_UPSTREAM_PORT:" + bot["environment"]["BOT_LISTEN"].rpartition(":")[2] + "}"
        in caddyfile
    )


def test_the_polling_variant_has_exactly_one_replica_and_no_webhook() -> None:
    services = load(POLLING)["services"]

    assert list(services) == ["bot"]
    bot = services["bot"]
    assert bot["deploy"]["replicas"] == 1
    assert bot["environment"]["BOT_WEBHOOK_URL"] == ""
    assert bot["environment"]["BOT_STORE"].startswith("sqlite:////data/")
    assert "bot-data:/data" in bot["volumes"]
    assert bot["ports"] == ["127.0.0.1:9000:9000"]


@pytest.mark.parametrize("path", [WEBHOOK, POLLING], ids=lambda p: p.name)
def test_compose_sets_the_paths_so_the_env_file_cannot_move_them(path: Any) -> None:
    bot = load(path)["services"]["bot"]

    assert bot["env_file"] == ".env"
    assert bot["environment"]["BOT_KNOWLEDGE"] == "/app/knowledge"
    assert "BOT_STORE" in bot["environment"]


def test_env_example_names_every_variable_the_bot_reads() -> None:
    config = (DEPLOY.parent / "bot" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r"environ(?:\.get\(|\[)\"((?:BOT|TELEGRAM)_[A-Z_]+)\"", config))
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?((?:BOT|TELEGRAM)_[A-Z_]+)=", example, flags=re.MULTILINE))

    assert read - named == set()
    assert {"BOT_KNOWLEDGE", "BOT_STORE"}.isdisjoint(env_file(DEPLOY / "env.example"))
