"""``alimail-bot health [--ready]``: the container health check asks the running bot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.cli import main
from bot.ops.health import Health
from bot.ops.server import OpsServer


@pytest.fixture
def server() -> Iterator[OpsServer]:
    health = Health()
    health.knowledge_loaded("kb")
    health.api_ok()
    ops = OpsServer(host="127.0.0.1", port=0, health=health)
    ops.start()
    yield ops
    ops.stop()


def test_alive_is_exit_0_and_not_ready_is_exit_1(
    server: OpsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"BOT_METRICS": f"0.0.0.0:{server.port}"}  # as in the image: asks 127.0.0.1

    assert main(["health"], environ=environ) == 0
    assert main(["health", "--ready"], environ=environ) == 1
    server.health.store_ok()
    assert main(["health", "--ready"], environ=environ) == 0
    out, err = capsys.readouterr()
    assert "/readyz: 503" in err
    assert "/readyz: 200" in out


def test_no_bot_listening_is_exit_1_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health"], environ={"BOT_METRICS": "127.0.0.1:9"}) == 1
    _, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert "unreachable" in err


def test_metrics_off_is_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health"], environ={"BOT_METRICS": "off"}) == 2
    assert "BOT_METRICS is off" in capsys.readouterr().err
