"""A small webhook server: the secret is checked before the body is read, bodies are bounded.

Telegram POSTs each update to the webhook path with ``X-Telegram-Bot-Api-Secret-Token``. A
request without the right secret, with a body over ``MAX_BODY_BYTES`` or without a length is
answered (403, 413, 411) and the connection closed without reading the body; JSON with or
without parameters (``application/json; charset=utf-8``) is accepted; malformed JSON is a 400
with one log line, never a traceback. ``on_update`` decides the status of a good update:
200 once it is recorded, 503 when the store cannot record it (Telegram will send it again).

Other components serve plain GET routes on the same port with ``add_get`` (health checks).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_HEADERS = 100
READ_TIMEOUT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 60.0
SECRET_HEADER = "x-telegram-bot-api-secret-token"


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """What a route answers."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


GetRoute = Callable[[], Awaitable[Response]]
UpdateHandler = Callable[[dict[str, Any]], Awaitable[int]]


class _Refused(Exception):
    """Answer with this status and close the connection (the body was not read)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class WebhookServer:
    """HTTP/1.1 on asyncio streams: POST updates to ``path``, GET the registered routes."""

    def __init__(
        self,
        *,
        path: str,
        secret: str | None,
        on_update: UpdateHandler,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.path = "/" + path.strip("/")
        self._secret = secret
        self._on_update = on_update
        self._max_body = max_body
        self._get_routes: dict[str, GetRoute] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    def add_get(self, path: str, route: GetRoute) -> None:
        """Serve ``GET path`` with ``route`` (e.g. ``/healthz``)."""
        self._get_routes["/" + path.strip("/")] = route

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free port, see ``port``)."""
        self._server = await asyncio.start_server(self._serve, host, port)

    @property
    def port(self) -> int:
        """The port listened on."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            keep_alive = True
            while keep_alive:
                line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT_SECONDS)
                if not line:
                    break
                try:
                    response, keep_alive = await self._request(line, reader)
                except _Refused as refusal:
                    response, keep_alive = _text(refusal.status, str(refusal)), False
                await _write(writer, response, keep_alive=keep_alive)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a client that stalls, hangs up or sends garbage framing: just close
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _request(self, line: bytes, reader: asyncio.StreamReader) -> tuple[Response, bool]:
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Refused(HTTPStatus.BAD_REQUEST, "bad request line")
        method, target, version = parts
        headers = await _read_headers(reader)
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        path = target.split("?", 1)[0]
        if method in ("GET", "HEAD"):
            route = self._get_routes.get(path)
            if route is None:
                return _text(HTTPStatus.NOT_FOUND, "not found"), keep_alive
            return await route(), keep_alive
        if method != "POST":
            raise _Refused(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")
        if path != self.path:
            raise _Refused(HTTPStatus.NOT_FOUND, "not found")
        # The secret first: a stranger's body is never read, however large.
        if self._secret is not None and not hmac.compare_digest(
            headers.get(SECRET_HEADER, "").encode(), self._secret.encode()
        ):
            raise _Refused(HTTPStatus.FORBIDDEN, "forbidden")
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected application/json")
        if "transfer-encoding" in headers:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
        length_text = headers.get("content-length", "")
        if not length_text.isdigit():
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
        length = int(length_text)
        if length > self._max_body:
            raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_SECONDS)
        try:
            update = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            logger.info("webhook: malformed JSON refused (%s)", err)
            return _text(HTTPStatus.BAD_REQUEST, "malformed JSON"), keep_alive
        if not isinstance(update, dict) or type(update.get("update_id")) is not int:
            logger.info("webhook: a JSON body that is not an update refused")
            return _text(HTTPStatus.BAD_REQUEST, "not an update"), keep_alive
        status = await self._on_update(update)
        return _text(status, "ok" if status == HTTPStatus.OK else "try again later"), keep_alive


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_SECONDS)
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise _Refused(HTTPStatus.BAD_REQUEST, "bad header")
        headers[name.strip().lower()] = value.strip()
    raise _Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")


def _text(status: int, text: str) -> Response:
    return Response(status=int(status), body=text.encode())


async def _write(writer: asyncio.StreamWriter, response: Response, *, keep_alive: bool) -> None:
    reason = HTTPStatus(response.status).phrase
    head = (
        f"HTTP/1.1 {response.status} {reason}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + response.body)
    await writer.drain()
