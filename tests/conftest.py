"""Shared fixtures: the repository's knowledge base, loaded once, and engines built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.dialogue import DialogueSettings, Engine
from bot.core.knowledge import KnowledgeBase
from bot.core.loader import load_knowledge
from bot.core.matching import Matcher
from bot.locale import load_translators
from tests.helpers.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)

REPO_ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = REPO_ROOT / "knowledge"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding ``bot/`` and ``knowledge/``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def knowledge_dir() -> Path:
    """The repository's ``knowledge/`` folder."""
    return KNOWLEDGE_DIR


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The real knowledge base from ``knowledge/``, loaded once per test session."""
    return load_knowledge(KNOWLEDGE_DIR)


@pytest.fixture(scope="session")
def matcher(kb: KnowledgeBase) -> Matcher:
    """A matcher over the real knowledge base with the default thresholds."""
    return Matcher.from_knowledge(kb)


@pytest.fixture(scope="session")
def engine(kb: KnowledgeBase, matcher: Matcher) -> Engine:
    """An engine whose deployment has a staff chat, so /human hands over."""
    return Engine(
        kb, matcher, DialogueSettings(staff_available=True), translators=load_translators()
    )


@pytest.fixture(scope="session")
def engine_without_staff(kb: KnowledgeBase, matcher: Matcher) -> Engine:
    """An engine with no staff chat: /human says so instead of waiting forever."""
    return Engine(
        kb, matcher, DialogueSettings(staff_available=False), translators=load_translators()
    )
