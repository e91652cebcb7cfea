"""A throwaway ``redis-server`` on a free loopback port, for store and channel tests.

The fixtures ``redis_server`` (one per run) and ``redis_url`` (database 0 emptied per test)
are re-exported by ``tests/conftest.py``. Tests that need to freeze the server (SIGSTOP)
start their own with ``running_redis_process``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REDIS_MISSING = "redis-server not installed (apt-get install redis-server)"
START_TIMEOUT_SECONDS = 5.0


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers_ping(port: int) -> bool:
    """Whether a Redis server on this loopback port answers PING (raw RESP, no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """Run ``redis-server`` on a free loopback port until the block ends; yield its URL."""
    with running_redis_process(workdir) as (url, _):
        yield url


@contextmanager
def running_redis_process(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``redis-server`` until the block ends; yield its URL and its process."""
    binary = shutil.which("redis-server")
    if binary is None:
        # CI installs redis-server and sets this, so a missing binary there is a failure.
        if os.environ.get("BOT_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"{REDIS_MISSING}; BOT_TEST_REQUIRE_REDIS=1 forbids skipping")
        pytest.skip(REDIS_MISSING)
    port = free_port()
    log_path = workdir / f"redis-{port}.log"
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not answers_ping(port):
            if server.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")
                pytest.fail(f"redis-server on port {port} did not answer PING:\n{output}")
            time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One throwaway ``redis-server`` for the whole run; skips with a reason when missing."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session server's URL with database 0 emptied, so each test starts clean."""
    redis = pytest.importorskip(
        "redis", reason="redis package not installed (pip install -e '.[test]')"
    )
    client = redis.Redis.from_url(redis_server)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server
