"""The systemd unit: verify clean, exposure at most 3.0, and paths the env file cannot move."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from tests.deploy.conftest import DEPLOY, env_file, require_tool

UNIT = DEPLOY / "alimail-bot.service"
INSTALL = "apt-get install systemd"


def service_section() -> dict[str, list[str]]:
    """The [Service] keys with every value (systemd allows a key several times)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze", INSTALL)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text(encoding="utf-8"), encoding="utf-8")

    result = subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_analyze_security_exposure_is_at_most_3() -> None:
    tool = require_tool("systemd-analyze", INSTALL)

    result = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=30", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    assert float(found.group(1)) <= 3.0
    assert result.returncode == 0


def test_a_configuration_error_is_not_restarted_and_memory_is_capped() -> None:
    service = service_section()

    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]
    assert re.fullmatch(r"\d+[KMG]", service["MemoryMax"][0])
    assert service["StateDirectory"] == ["alimail-bot"]
    assert service["EnvironmentFile"] == ["/etc/alimail-bot/env"]


def test_the_env_example_cannot_move_the_units_paths(tmp_path: Path) -> None:
    """Run the unit's ExecStart with the env file's environment, as systemd would."""
    service = service_section()
    environment = env_file(DEPLOY / "env.example")
    # The worst an operator can do: uncomment the path lines with values of their own.
    environment |= {"BOT_KNOWLEDGE": "knowledge", "BOT_STORE": ""}
    command = shlex.split(service["ExecStart"][0])
    assert command[0] == "/usr/bin/env"
    assert command[-2:] == ["/opt/alimail-bot/venv/bin/alimail-bot", "run"]
    show_environment = "import json, os; print(json.dumps(dict(os.environ)))"
    probe = [*command[:-2], sys.executable, "-c", show_environment]

    result = subprocess.run(
        probe, env=environment, capture_output=True, text=True, timeout=60, check=True
    )

    settings = Settings.from_env(json.loads(result.stdout))
    assert settings.knowledge_dir == Path("/opt/alimail-bot/knowledge")
    assert settings.store_url == "sqlite:////var/lib/alimail-bot/sessions.db"
