"""Fixtures for the Telegram channel tests: a running fake Bot API server, loopback only."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers.fake_bot_api import FakeBotApi

# PTB 22 warns (an error under filterwarnings=error) unless durations are opted in as
# timedelta; httpx would route even loopback traffic through HTTP(S)_PROXY without NO_PROXY.
os.environ["PTB_TIMEDELTA"] = "true"
_no_proxy = [h for h in os.environ.get("NO_PROXY", "").split(",") if h]
for _host in ("127.0.0.1", "localhost"):
    if _host not in _no_proxy:
        _no_proxy.append(_host)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(_no_proxy)


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    """A started FakeBotApi, stopped after the test."""
    with FakeBotApi() as api:
        yield api
