"""Deploy checks: the files in deploy/ and the tools that validate them.

A missing tool skips its test with the reason; CI installs the tools and sets
``BOT_TEST_REQUIRE_DEPLOY_TOOLS=1``, so there a missing tool is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def require_tool(name: str, install: str) -> str:
    """The tool's path; skip (or fail in CI) with how to install it when it is missing."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} not installed ({install})"
    if os.environ.get("BOT_TEST_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(f"{reason}; BOT_TEST_REQUIRE_DEPLOY_TOOLS=1 forbids skipping")
    pytest.skip(reason)


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped), as systemd reads them."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values
