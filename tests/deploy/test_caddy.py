"""The Caddyfile: valid, and in a real run it forwards updates and refuses oversized bodies."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, require_tool

CADDYFILE = DEPLOY / "Caddyfile"
INSTALL = "apt-get install caddy"
START_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def caddy_env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **values,
    }


def test_caddy_validates_the_caddyfile_as_deployed(tmp_path: Path) -> None:
    caddy = require_tool("caddy", INSTALL)

    result = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=caddy_env(tmp_path, PUBLIC_HOST="bot.example.com"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_the_caddyfile_is_formatted(tmp_path: Path) -> None:
    caddy = require_tool("caddy", INSTALL)

    result = subprocess.run(
        [caddy, "fmt", str(CADDYFILE)], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout == CADDYFILE.read_text(encoding="utf-8")


class Upstream:
    """A stand-in for the bot's webhook server: records what reaches it."""

    def __init__(self) -> None:
        self.bodies: list[int] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                upstream.bodies.append(len(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[int, Upstream]]:
    """Caddy with the deployed Caddyfile on a loopback port, in front of an Upstream."""
    caddy = require_tool("caddy", INSTALL)
    upstream = Upstream()
    port = free_port()
    env = caddy_env(
        tmp_path,
        PUBLIC_HOST=f"http://127.0.0.1:{port}",
        BOT_UPSTREAM_NAME="localhost",
        BOT_UPSTREAM_PORT=str(upstream.port),
        CADDY_ADMIN=f"127.0.0.1:{free_port()}",
    )
    log = (tmp_path / "caddy.log").open("w")
    process = subprocess.Popen(
        [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("caddy did not start: " + (tmp_path / "caddy.log").read_text())
                time.sleep(0.05)
        yield port, upstream
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        upstream.server.shutdown()
        upstream.server.server_close()


def post(port: int, path: str, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        return connection.getresponse().status
    except (ConnectionResetError, BrokenPipeError):
        return -1  # refused before the whole body was sent
    finally:
        connection.close()


def test_caddy_forwards_updates_and_refuses_oversized_bodies(
    proxied: tuple[int, Upstream],
) -> None:
    port, upstream = proxied
    update = b'{"update_id": 1, "message": {"text": "mailbox full"}}'

    assert post(port, "/telegram", update) == 200
    assert post(port, "/telegram", b"x" * 2_000_000) in (413, -1)
    assert post(port, "/metrics", b"{}") == 404
    assert upstream.bodies == [len(update)]
