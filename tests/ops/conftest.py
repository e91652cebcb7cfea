"""Shared by the operations tests: the README text (its operator section is a contract)."""

from __future__ import annotations

from pathlib import Path

from tests.channels.conftest import fake_bot_api

__all__ = ["README", "fake_bot_api"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
