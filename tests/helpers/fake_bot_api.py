"""A strict fake of the Telegram Bot API HTTP server, for tests that drive the real PTB client.

``FakeBotApi`` listens on 127.0.0.1 (a free port, a background thread) and answers
``POST /bot{TOKEN}/{method}`` the way Telegram does, including its refusals: malformed HTML,
text over 4096 UTF-16 units, ``callback_data`` over 64 bytes, edits that change nothing,
unknown chats, stale callback queries. Tests simulate users with ``send_text``/``press``/...,
then wait (never sleep) for what the bot did with ``wait_for*``; faults (429 with
``retry_after``, 5xx, slow answers) are injected with ``fail_next``/``set_fault_rate``/
``set_delay``.

State is guarded by one re-entrant lock; every change wakes both threads blocked in
``wait_for`` and event loops awaiting ``wait_for_async`` (use the async variants from a test
that runs the bot in its own event loop: a blocking wait would freeze the bot).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BOT_TOKEN",
    "BOT_USERNAME",
    "BotMessage",
    "CallbackAnswer",
    "FakeBotApi",
    "HtmlParseError",
    "InlineAnswer",
    "MessageEdit",
    "ParsedText",
    "RecordedRequest",
    "WaitTimeout",
    "html_problem",
    "parse_html",
    "utf16_len",
]

BOT_ID = 7000000001
BOT_TOKEN = f"{BOT_ID}:AAFakeTokenForTestsOnly_0123456789abcd"
BOT_USERNAME = "alimail_test_bot"
BOT_FIRST_NAME = "Alibaba Mail Support (test)"
DEFAULT_GROUP_USER_ID = 1001
MAX_TEXT_UTF16 = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_CHARS = 200
MAX_INLINE_RESULTS = 50

T = TypeVar("T")
JsonDict = dict[str, Any]


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the way Telegram counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------------------------
# Telegram HTML: a real parser, as strict as Telegram (stricter about a bare '&').
# --------------------------------------------------------------------------------------------

_TAG_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_TAG_NAME_RE = re.compile(r"[A-Za-z0-9-]+")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_UNQUOTED_VALUE_RE = re.compile(r"[^\s>]+")
_HTML_SPACE = " \t\n\r\f"


class HtmlParseError(ValueError):
    """Telegram would answer "Bad Request: can't parse entities: <this message>"."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Text as the user sees it, with Telegram message entities (UTF-16 offsets)."""

    text: str
    entities: tuple[JsonDict, ...]


@dataclass(slots=True)
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the visible text
    attrs: dict[str, str]
    language: str | None = None


class _HtmlParser:
    """One pass over the source: visible text, entities, or an HtmlParseError."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.visible: list[str] = []
        self.units = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[JsonDict] = []

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8", "surrogatepass"))

    def fail(self, message: str, index: int | None = None) -> HtmlParseError:
        if index is not None:
            message = f"{message} at byte offset {self.byte_offset(index)}"
        return HtmlParseError(message)

    def emit(self, text: str) -> None:
        self.visible.append(text)
        self.units += utf16_len(text)

    def parse(self) -> ParsedText:
        source, i = self.source, 0
        while i < len(source):
            char = source[i]
            if char == "&":
                decoded, i = self.entity(i)
                self.emit(decoded)
            elif char == "<":
                i = self.end_tag(i) if source.startswith("</", i) else self.start_tag(i)
            else:
                # Bulk-copy the run of plain characters up to the next markup character.
                end = i + 1
                while end < len(source) and source[end] not in "&<":
                    end += 1
                self.emit(source[i:end])
                i = end
        if self.stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.visible), tuple(entities))

    def entity(self, index: int) -> tuple[str, int]:
        match = _ENTITY_RE.match(self.source, index)
        if match is None:
            raise self.fail(
                'Character "&" must start an HTML entity (&lt; &gt; &amp; &quot; &#N;)', index
            )
        name, decimal, hexadecimal = match.groups()
        if name:
            return _NAMED_ENTITIES[name], match.end()
        code_point = int(decimal) if decimal else int(hexadecimal, 16)
        if code_point == 0 or code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
            raise self.fail(f"Invalid character code {code_point} in HTML entity", index)
        return chr(code_point), match.end()

    def decode_attribute(self, raw: str, index: int) -> str:
        decoded: list[str] = []
        i = 0
        while i < len(raw):
            if raw[i] == "&":
                match = _ENTITY_RE.match(raw, i)
                if match is None:
                    raise self.fail('Character "&" in an attribute must start an entity', index)
                sub = _HtmlParser(match.group())
                text, _ = sub.entity(0)
                decoded.append(text)
                i = match.end()
            else:
                decoded.append(raw[i])
                i += 1
        return "".join(decoded)

    def skip_space(self, index: int) -> int:
        while index < len(self.source) and self.source[index] in _HTML_SPACE:
            index += 1
        return index

    def start_tag(self, index: int) -> int:
        source = self.source
        name_match = _TAG_NAME_RE.match(source, index + 1)
        if name_match is None:
            raise self.fail("Empty tag name", index)
        name = name_match.group().lower()
        if name not in _TAG_ENTITY_TYPES:
            raise self.fail(f'Unsupported start tag "{name}"', index)
        attrs: dict[str, str] = {}
        i = name_match.end()
        while True:
            i = self.skip_space(i)
            if i >= len(source):
                raise self.fail("Unclosed start tag", index)
            if source[i] == ">":
                i += 1
                break
            attr_match = _ATTR_NAME_RE.match(source, i)
            if attr_match is None:
                raise self.fail(f'Empty attribute name in the tag "{name}"', i)
            attr = attr_match.group().lower()
            i = self.skip_space(attr_match.end())
            if i < len(source) and source[i] == "=":
                i = self.skip_space(i + 1)
                if i >= len(source):
                    raise self.fail("Unclosed start tag", index)
                if source[i] in "\"'":
                    end = source.find(source[i], i + 1)
                    if end < 0:
                        raise self.fail("Unclosed end of attribute value", i)
                    raw_value, i = source[i + 1 : end], end + 1
                else:
                    value_match = _UNQUOTED_VALUE_RE.match(source, i)
                    if value_match is None:
                        raise self.fail(f'Empty attribute value in the tag "{name}"', i)
                    raw_value, i = value_match.group(), value_match.end()
                attrs[attr] = self.decode_attribute(raw_value, i)
            elif name == "blockquote" and attr == "expandable":
                attrs[attr] = ""
            else:
                raise self.fail(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}"', i
                )
        self.check_attributes(name, attrs, index)
        self.stack.append(_OpenTag(name=name, start=self.units, attrs=attrs))
        return i

    def check_attributes(self, name: str, attrs: Mapping[str, str], index: int) -> None:
        if name == "a" and not attrs.get("href"):
            raise self.fail('Tag "a" must have a non-empty attribute "href"', index)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', index)
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise self.fail('Tag "tg-emoji" must have a numeric attribute "emoji-id"', index)

    def end_tag(self, index: int) -> int:
        source = self.source
        name_match = _TAG_NAME_RE.match(source, index + 2)
        name = name_match.group().lower() if name_match else ""
        i = self.skip_space(name_match.end() if name_match else index + 2)
        if i >= len(source) or source[i] != ">":
            raise self.fail("Unclosed end tag", index)
        if not self.stack:
            raise self.fail("Unexpected end tag", index)
        tag = self.stack.pop()
        if tag.name != name:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(index)}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        self.close(tag)
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        length = self.units - tag.start
        language = tag.attrs.get("class", "")
        if tag.name == "code" and language.startswith("language-"):
            parent = self.stack[-1] if self.stack else None
            if parent is not None and parent.name == "pre":
                # <pre><code class="language-x"> is one pre entity with a language.
                parent.language = language.removeprefix("language-")
                return
        if length <= 0:
            return  # Telegram drops empty entities
        entity: JsonDict = {
            "type": _TAG_ENTITY_TYPES[tag.name],
            "offset": tag.start,
            "length": length,
        }
        if tag.name == "a":
            entity["url"] = tag.attrs["href"]
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and "expandable" in tag.attrs:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        self.entities.append(entity)


def parse_html(text: str) -> ParsedText:
    """Parse Telegram HTML into visible text and entities; raise HtmlParseError if malformed."""
    return _HtmlParser(text).parse()


def html_problem(text: str) -> str | None:
    """Return why Telegram would refuse ``text`` as HTML, or None when it is well-formed."""
    try:
        parse_html(text)
    except HtmlParseError as err:
        return str(err)
    return None


# --------------------------------------------------------------------------------------------
# What the fake records.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One HTTP call the bot made: method, parameters as received, and the answer given."""

    method: str
    params: JsonDict
    status: int
    response: JsonDict
    at: float

    @property
    def ok(self) -> bool:
        """Whether the fake answered with success."""
        return self.status == 200

    def json_param(self, name: str) -> Any:
        """A parameter decoded from its JSON text (form bodies carry objects as JSON)."""
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEdit:
    """One successful edit of a bot message: the content it set."""

    method: str
    text: str
    parse_mode: str | None
    visible_text: str
    reply_markup: JsonDict | None
    date: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BotMessage:
    """A message the bot has in a chat, in its current state (a new value after each edit).

    ``text`` is the source as sent (HTML when ``parse_mode`` is HTML); ``visible_text`` is what
    the user sees, trimmed, with tags removed and entities decoded.
    """

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    visible_text: str
    entities: tuple[JsonDict, ...] = ()
    reply_markup: JsonDict | None = None
    date: int
    edit_date: int | None = None
    reply_to_message_id: int | None = None
    edits: tuple[MessageEdit, ...] = ()
    deleted: bool = False
    # Forum topics and copyMessage (helpdesk tickets).
    message_thread_id: int | None = None
    media: JsonDict | None = None  # {"photo": [...]} etc. for a copied photo, sticker...
    copied_from: tuple[int, int] | None = None  # (chat_id, message_id) of the original

    @property
    def buttons(self) -> list[JsonDict]:
        """The inline keyboard buttons, row after row."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def button_labels(self) -> list[str]:
        """The text of every inline button."""
        return [button["text"] for button in self.buttons]

    def button_data(self, label: str) -> str:
        """The callback_data of the button labelled ``label`` (exact, else a unique substring)."""
        buttons = [b for b in self.buttons if "callback_data" in b]
        exact = [b for b in buttons if b["text"] == label]
        partial = [b for b in buttons if label.casefold() in b["text"].casefold()]
        found = exact or partial
        if len(found) != 1:
            raise LookupError(
                f"{len(found)} buttons match {label!r} in message {self.message_id}; "
                f"labels: {self.button_labels}"
            )
        return str(found[0]["callback_data"])


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackAnswer:
    """An answerCallbackQuery call, tied to the press it answered."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    data: str | None
    chat_id: int | None
    message_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InlineAnswer:
    """An answerInlineQuery call, tied to the query it answered."""

    query_id: str
    query: str
    results: list[JsonDict]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: JsonDict | None


class WaitTimeout(AssertionError):
    """The condition a test waited for did not happen in time."""


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JsonDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "callback_game",
    "pay",
    "copy_text",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_AUTO_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_AUTO_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")
# Update kinds Telegram leaves out unless allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _utf16_entity(text: str, start: int, end: int, kind: str) -> JsonDict:
    return {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}


def _detect_entities(text: str) -> list[JsonDict]:
    found = [
        _utf16_entity(text, m.start(), m.end(), "bot_command")
        for m in _AUTO_COMMAND_RE.finditer(text)
    ]
    found += [
        _utf16_entity(text, m.start(), m.end(), "mention") for m in _AUTO_MENTION_RE.finditer(text)
    ]
    return sorted(found, key=lambda e: e["offset"])


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Parameter decoding: form bodies carry strings, JSON bodies carry native values.
# --------------------------------------------------------------------------------------------


def _int_param(params: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _bad_request(f'parameter "{name}" is required')
        return None
    if isinstance(value, bool):
        raise _bad_request(f"invalid {name} specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad_request(f"invalid {name} specified") from None


def _float_param(params: Mapping[str, Any], name: str, default: float) -> float:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad_request(f"invalid {name} specified") from None


def _bool_param(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _json_param(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None
    return value


def _str_param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _read_body(content_type: str, body: bytes) -> JsonDict:
    """Decode a urlencoded, JSON or multipart request body into a parameter dict."""
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise _bad_request("can't parse JSON request body") from None
        if not isinstance(decoded, dict):
            raise _bad_request("JSON request body must be an object")
        return decoded
    if kind == "multipart/form-data":
        header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=policy.HTTP).parsebytes(header + body)
        params: JsonDict = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is None:
                params[str(name)] = payload.decode("utf-8", "replace")
            else:
                params[str(name)] = {"filename": filename, "size": len(payload)}
        return params
    return dict(parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True))


# --------------------------------------------------------------------------------------------
# The HTTP layer.
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of new client connections (PTB
    # opens one per concurrent request) would overflow it and stall on SYN retransmits.
    request_queue_size = 256
    fake: FakeBotApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished (a killed bot process) is normal here; anything else is not."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm meets the
        # client's delayed ACK and every answer takes ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Telegram accepts GET with a query string."""
        self._answer()

    def do_POST(self) -> None:
        """The usual way PTB calls the Bot API."""
        self._answer()

    def _read(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self) -> None:
        url = urlsplit(self.path)
        body = self._read()
        status, payload = self.server.fake._handle_http(
            url.path, url.query, self.headers.get("Content-Type", ""), body
        )
        data = json.dumps(payload).encode("ascii")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. a cancelled long poll)


_Fault = tuple[int, float, str | None]  # status, retry_after, description


def _check_retry_after(retry_after: float) -> None:
    if not retry_after > 0:
        raise ValueError(f"retry_after must be above 0 seconds, got {retry_after}")


class FakeBotApi:
    """A strict fake Telegram Bot API server on 127.0.0.1; see the module docstring."""

    TOKEN: ClassVar[str] = BOT_TOKEN
    BOT_ID: ClassVar[int] = BOT_ID
    USERNAME: ClassVar[str] = BOT_USERNAME

    def __init__(self, *, token: str = BOT_TOKEN) -> None:
        self._token = token
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        # updates
        self._next_update_id = 100
        self._pending: list[JsonDict] = []
        self._updates: dict[int, JsonDict] = {}
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        # chats, users, messages
        self._chats: dict[int, JsonDict] = {}
        self._users: dict[int, JsonDict] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        self._bot_messages: dict[int, dict[int, BotMessage]] = {}
        self._user_messages: dict[int, dict[int, JsonDict]] = {}
        # queries and answers
        self._next_query_id = 5000
        self._open_callbacks: dict[str, tuple[int, int, str | None]] = {}
        self._open_inline: dict[str, str] = {}
        self._callback_answers: list[CallbackAnswer] = []
        self._inline_answers: list[InlineAnswer] = []
        # bot settings
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._menu_buttons: dict[int | None, JsonDict] = {}
        self._webhook: JsonDict = {}
        # forum topics and chat members (helpdesk staff groups)
        self._topics: dict[int, dict[int, str]] = {}
        self._members: dict[int, dict[int, str]] = {}
        # recording and faults
        self._requests: list[RecordedRequest] = []
        self._started: list[str] = []  # methods of requests received, answered or not
        self._scheduled_faults: dict[str, deque[_Fault]] = {}
        self._fault_rate = 0.0
        self._fault_statuses: tuple[int, ...] = (429, 502)
        self._fault_retry_after: float = 1
        self._random = random.Random()
        self._delay = 0.0
        self._delay_methods: frozenset[str] | None = None
        self._methods: dict[str, Callable[[JsonDict], Any]] = {
            "getMe": self._get_me,
            "logOut": self._log_out,
            "close": self._close,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._send_chat_action,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "createForumTopic": self._create_forum_topic,
            "closeForumTopic": self._close_forum_topic,
            "copyMessage": self._copy_message,
        }
        self._methods_by_lower = {name.lower(): name for name in self._methods}

    # ---------------------------------------------------------------- lifecycle

    @property
    def token(self) -> str:
        """The only token the fake accepts."""
        return self._token

    @property
    def base_url(self) -> str:
        """URL for ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        if self._server is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        if self._server is None:
            raise RuntimeError("FakeBotApi is not started")
        return int(self._server.server_address[1])

    @property
    def bot_user(self) -> JsonDict:
        """The bot's User object, as getMe returns it."""
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def start(self) -> Self:
        """Start serving on a free loopback port."""
        if self._server is not None:
            raise RuntimeError("FakeBotApi is already started")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeBotApi:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake long polls and close every open connection."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        with self._cond:
            self._changed()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def _track_connection(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: float = 1,
        count: int = 1,
        *,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``status`` (not applied).

        ``retry_after`` (seconds, for 429) may be fractional to keep tests fast; it must be
        above 0, as PTB reads a zero ``retry_after`` as no flood-control advice at all.
        """
        _check_retry_after(retry_after)
        canonical = self._canonical_method(method)
        with self._lock:
            queue = self._scheduled_faults.setdefault(canonical, deque())
            queue.extend([(status, retry_after, description)] * count)

    def set_fault_rate(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 502),
        seed: int | None = None,
        *,
        retry_after: float = 1,
    ) -> None:
        """Fail this share of send*/edit* calls at random with one of ``statuses``.

        ``retry_after`` is what 429s carry; fractional values (0.05) keep tests fast.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {rate}")
        _check_retry_after(retry_after)
        with self._lock:
            self._fault_rate = rate
            self._fault_statuses = tuple(statuses)
            self._fault_retry_after = retry_after
            self._random = random.Random(seed)

    def set_delay(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        """Answer slowly: wait before each call (every method but getUpdates by default)."""
        with self._lock:
            self._delay = seconds
            self._delay_methods = (
                None if methods is None else frozenset(self._canonical_method(m) for m in methods)
            )

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends to this chat answer 403 Forbidden."""
        with self._lock:
            self._blocked.add(chat_id)

    def _canonical_method(self, method: str) -> str:
        canonical = self._methods_by_lower.get(method.lower())
        if canonical is None:
            raise ValueError(f"FakeBotApi does not implement {method!r}")
        return canonical

    def _take_fault(self, method: str) -> _ApiError | None:
        queue = self._scheduled_faults.get(method)
        if queue:
            status, retry_after, description = queue.popleft()
            return self._fault(status, retry_after, description)
        if (
            self._fault_rate > 0
            and method.startswith(("send", "edit"))
            and self._random.random() < self._fault_rate
        ):
            status = self._random.choice(self._fault_statuses)
            return self._fault(status, self._fault_retry_after, None)
        return None

    @staticmethod
    def _fault(status: int, retry_after: float, description: str | None) -> _ApiError:
        if status == 429:
            return _ApiError(
                429,
                description or f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        return _ApiError(status, description or _DEFAULT_DESCRIPTIONS.get(status, "Error"))

    # ---------------------------------------------------------------- request handling

    def _handle_http(
        self, path: str, query: str, content_type: str, body: bytes
    ) -> tuple[int, JsonDict]:
        prefix, _, method = path.rpartition("/")
        if not prefix.startswith("/bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if prefix.removeprefix("/bot") != self._token:
            return self._record(
                method, {}, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        try:
            params = dict(parse_qsl(query, keep_blank_values=True))
            params.update(_read_body(content_type, body))
        except _ApiError as err:
            return self._record(method, {}, err.status, err.payload())
        canonical = self._methods_by_lower.get(method.lower())
        if canonical is None:
            return self._record(
                method, params, 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
        with self._cond:
            self._started.append(canonical)
            self._changed()
            delay = self._delay
            delayed = (
                canonical != "getUpdates"
                if self._delay_methods is None
                else canonical in self._delay_methods
            )
        if delay > 0 and delayed:
            self._stopping.wait(delay)
        try:
            with self._lock:
                fault = self._take_fault(canonical)
            if fault is not None:
                raise fault
            result = self._methods[canonical](params)
        except _ApiError as err:
            return self._record(canonical, params, err.status, err.payload())
        except Exception as err:  # a bug in the fake: answer 500 and keep the evidence
            description = f"Internal Server Error: fake Bot API bug: {err!r}"
            return self._record(
                canonical,
                params,
                500,
                {"ok": False, "error_code": 500, "description": description},
            )
        return self._record(canonical, params, 200, {"ok": True, "result": result})

    def _record(
        self, method: str, params: JsonDict, status: int, response: JsonDict
    ) -> tuple[int, JsonDict]:
        with self._cond:
            self._requests.append(
                RecordedRequest(
                    method=method,
                    params=params,
                    status=status,
                    response=response,
                    at=time.monotonic(),
                )
            )
            self._changed()
        return status, response

    def _changed(self) -> None:
        """Wake everybody waiting for a change; call with the lock held."""
        self._cond.notify_all()
        for entry in list(self._async_waiters):
            loop, event = entry
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed
                self._async_waiters.discard(entry)

    # ---------------------------------------------------------------- Bot API: bot and updates

    def _get_me(self, params: JsonDict) -> JsonDict:
        return self.bot_user

    def _log_out(self, params: JsonDict) -> bool:
        return True

    def _close(self, params: JsonDict) -> bool:
        return True

    def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        offset = _int_param(params, "offset")
        limit = max(1, min(100, _int_param(params, "limit") or 100))
        timeout = max(0.0, _float_param(params, "timeout", 0.0))
        allowed = _json_param(params, "allowed_updates")
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook.get("url"):
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed()  # an older long poll learns it was superseded
            if allowed is not None:
                self._allowed_updates = list(allowed) or None
            self._confirm(offset)
            while True:
                if self._stopping.is_set():
                    return []
                if generation != self._poll_generation:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                self._pending = [u for u in self._pending if self._is_allowed(u)]
                if self._pending:
                    return copy.deepcopy(self._pending[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _is_allowed(self, update: JsonDict) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _set_webhook(self, params: JsonDict) -> bool:
        url = _str_param(params, "url") or ""
        secret = _str_param(params, "secret_token")
        if url and not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        with self._cond:
            if _bool_param(params, "drop_pending_updates"):
                self._pending.clear()
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "allowed_updates": _json_param(params, "allowed_updates"),
                "max_connections": _int_param(params, "max_connections") or 40,
            }
            self._poll_generation += 1  # a running long poll ends with 409, as on Telegram
            self._changed()
        return True

    def _delete_webhook(self, params: JsonDict) -> bool:
        with self._cond:
            if _bool_param(params, "drop_pending_updates"):
                self._pending.clear()
            self._webhook = {}
            self._changed()
        return True

    def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        with self._lock:
            info: JsonDict = {
                "url": self._webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
            if self._webhook.get("url"):
                info["max_connections"] = self._webhook["max_connections"]
                if self._webhook.get("allowed_updates") is not None:
                    info["allowed_updates"] = self._webhook["allowed_updates"]
            return info

    # ---------------------------------------------------------------- Bot API: messages

    def _known_chat(self, params: JsonDict, *, name: str = "chat_id") -> int:
        raw = params.get(name)
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad_request("chat not found") from None  # "@username" chats are unknown
        with self._lock:
            if chat_id not in self._chats:
                raise _bad_request("chat not found")
            if chat_id in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _render_text(
        text: Any, parse_mode: str | None, entities: Any
    ) -> tuple[str, tuple[JsonDict, ...]]:
        """Check message text like Telegram; return the trimmed visible text and its entities."""
        if not isinstance(text, str) or text == "":
            raise _bad_request("message text is empty")
        mode = (parse_mode or "").strip().lower()
        if mode == "html":
            try:
                parsed = parse_html(text)
            except HtmlParseError as err:
                raise _bad_request(f"can't parse entities: {err}") from None
            visible, found = parsed.text, list(parsed.entities)
        elif mode == "":
            visible = text
            found = list(entities) if isinstance(entities, list) else []
        else:
            raise _bad_request(
                f"unsupported parse_mode {parse_mode!r} (this fake checks HTML only)"
            )
        stripped = visible.strip()
        if not stripped:
            raise _bad_request("message text is empty")
        if utf16_len(stripped) > MAX_TEXT_UTF16:
            raise _bad_request("message is too long")
        lead = utf16_len(visible[: len(visible) - len(visible.lstrip())])
        size = utf16_len(stripped)
        shifted: list[JsonDict] = []
        for entity in found:
            start = max(0, int(entity.get("offset", 0)) - lead)
            end = min(size, int(entity.get("offset", 0)) + int(entity.get("length", 0)) - lead)
            if end > start:
                shifted.append({**entity, "offset": start, "length": end - start})
        return stripped, tuple(shifted)

    @staticmethod
    def _check_inline_keyboard(markup: JsonDict) -> None:
        rows = markup.get("inline_keyboard")
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > 100:
            raise _bad_request("reply markup is too long")
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "InlineKeyboardButton must be an Object"
                    )
                label = button.get("text")
                if not isinstance(label, str):
                    raise _bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not label.strip():
                    raise _bad_request("BUTTON_TEXT_INVALID")
                actions = [key for key in _BUTTON_ACTIONS if key in button]
                if not actions:
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if len(actions) > 1:
                    raise _bad_request(
                        "can't parse inline keyboard button: exactly one of the optional fields "
                        f"must be used, got {actions}"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not (
                        1 <= len(data.encode("utf-8", "surrogatepass")) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise _bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S", url):
                        raise _bad_request("BUTTON_URL_INVALID")

    def _reply_markup(self, params: Mapping[str, Any], *, inline_only: bool) -> JsonDict | None:
        raw = params.get("reply_markup")
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):
            try:
                markup = json.loads(raw)
            except ValueError:
                raise _bad_request("can't parse reply keyboard markup JSON object") from None
        else:
            markup = raw
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup)
            return markup
        if inline_only:
            raise _bad_request("inline keyboard expected")
        if not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return markup

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _message_json(self, message: BotMessage, *, nested: bool = True) -> JsonDict:
        """The Message object Telegram would return for a bot message."""
        result: JsonDict = {
            "message_id": message.message_id,
            "from": {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")},
            "chat": copy.deepcopy(self._chats[message.chat_id]),
            "date": message.date,
        }
        if message.media is not None:
            result.update(copy.deepcopy(message.media))
            if message.visible_text:
                result["caption"] = message.visible_text
                if message.entities:
                    result["caption_entities"] = [dict(e) for e in message.entities]
        else:
            result["text"] = message.visible_text
            if message.entities:
                result["entities"] = [dict(e) for e in message.entities]
        if message.message_thread_id is not None:
            result["message_thread_id"] = message.message_thread_id
            result["is_topic_message"] = True
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = copy.deepcopy(message.reply_markup)
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        if nested and message.reply_to_message_id is not None:
            replied = self._any_message_json(message.chat_id, message.reply_to_message_id)
            if replied is not None:
                result["reply_to_message"] = replied
        return result

    def _any_message_json(self, chat_id: int, message_id: int) -> JsonDict | None:
        bot_message = self._bot_messages.get(chat_id, {}).get(message_id)
        if bot_message is not None and not bot_message.deleted:
            return self._message_json(bot_message, nested=False)
        user_message = self._user_messages.get(chat_id, {}).get(message_id)
        if user_message is not None:
            flat = copy.deepcopy(user_message)
            flat.pop("reply_to_message", None)
            return flat
        return None

    def _send_message(self, params: JsonDict) -> JsonDict:
        chat_id = self._known_chat(params)
        visible, entities = self._render_text(
            params.get("text"), _str_param(params, "parse_mode"), _json_param(params, "entities")
        )
        markup = self._reply_markup(params, inline_only=False)
        reply = _json_param(params, "reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        if reply_to is None:
            reply_to = _int_param(params, "reply_to_message_id")
        thread = self._thread_param(chat_id, params)
        with self._cond:
            if reply_to is not None and self._any_message_json(chat_id, int(reply_to)) is None:
                if not (
                    reply.get("allow_sending_without_reply")
                    or _bool_param(params, "allow_sending_without_reply")
                ):
                    raise _bad_request("message to be replied not found")
                reply_to = None
            message = BotMessage(
                chat_id=chat_id,
                message_id=self._new_message_id(chat_id),
                text=params["text"],
                parse_mode=_str_param(params, "parse_mode"),
                visible_text=visible,
                entities=entities,
                reply_markup=markup,
                date=int(time.time()),
                reply_to_message_id=None if reply_to is None else int(reply_to),
                message_thread_id=thread,
            )
            self._bot_messages.setdefault(chat_id, {})[message.message_id] = message
            self._changed()
            return self._message_json(message)

    # ---------------------------------------------------------------- Bot API: staff groups

    def _thread_param(self, chat_id: int, params: JsonDict) -> int | None:
        """``message_thread_id``, checked like Telegram: only in a forum, only a real topic."""
        thread = _int_param(params, "message_thread_id")
        if thread is None:
            return None
        with self._lock:
            if not self._chats[chat_id].get("is_forum"):
                return None  # Telegram ignores it outside forums
            if thread not in self._topics.get(chat_id, {}):
                raise _bad_request("message thread not found")
        return thread

    def _get_chat(self, params: JsonDict) -> JsonDict:
        chat_id = self._known_chat(params)
        with self._lock:
            chat = copy.deepcopy(self._chats[chat_id])
        # ChatFullInfo's required fields (PTB refuses the answer without them).
        chat.update({"accent_color_id": 0, "max_reaction_count": 11})
        chat["accepted_gift_types"] = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        return chat

    def _get_chat_member(self, params: JsonDict) -> JsonDict:
        chat_id = self._known_chat(params)
        user_id = _int_param(params, "user_id", required=True)
        assert user_id is not None
        with self._lock:
            status = self._members.get(chat_id, {}).get(user_id, "left")
        member: JsonDict = {"status": status, "user": self._user(user_id)}
        # The fields Telegram sends (and PTB requires) for each kind of member.
        rights = {
            "administrator": (
                "can_be_edited is_anonymous can_manage_chat can_delete_messages "
                "can_manage_video_chats can_restrict_members can_promote_members "
                "can_change_info can_invite_users can_post_stories can_edit_stories "
                "can_delete_stories"
            ),
            "creator": "is_anonymous",
            "restricted": (
                "is_member can_change_info can_invite_users can_pin_messages can_send_messages "
                "can_send_polls can_send_other_messages can_add_web_page_previews "
                "can_manage_topics can_send_audios can_send_documents can_send_photos "
                "can_send_videos can_send_video_notes can_send_voice_notes can_edit_tag "
                "can_react_to_messages"
            ),
        }.get(status, "")
        member.update(dict.fromkeys(rights.split(), False))
        if status == "restricted":
            member["is_member"] = True
        if status in ("restricted", "kicked"):
            member["until_date"] = 0
        return member

    def _create_forum_topic(self, params: JsonDict) -> JsonDict:
        chat_id = self._known_chat(params)
        name = _str_param(params, "name") or ""
        if not 1 <= len(name) <= 128:
            raise _bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        with self._cond:
            if not self._chats[chat_id].get("is_forum"):
                raise _bad_request("the chat is not a forum")
            thread = self._new_message_id(chat_id)  # the topic's creation message id
            self._topics.setdefault(chat_id, {})[thread] = name
            self._changed()
        return {"message_thread_id": thread, "name": name, "icon_color": 7322096}

    def _close_forum_topic(self, params: JsonDict) -> bool:
        chat_id = self._known_chat(params)
        thread = _int_param(params, "message_thread_id", required=True)
        with self._lock:
            if thread not in self._topics.get(chat_id, {}):
                raise _bad_request("message thread not found")
        return True

    def _copy_message(self, params: JsonDict) -> JsonDict:
        chat_id = self._known_chat(params)
        source_chat = self._known_chat(params, name="from_chat_id")
        message_id = _int_param(params, "message_id", required=True)
        assert message_id is not None
        thread = self._thread_param(chat_id, params)
        with self._cond:
            original = self._user_messages.get(source_chat, {}).get(message_id)
            if original is None:
                bot_message = self._bot_messages.get(source_chat, {}).get(message_id)
                original = None if bot_message is None else self._message_json(bot_message)
            if original is None:
                raise _bad_request("message to copy not found")
            kinds = ("photo", "document", "sticker", "voice", "video", "audio", "animation")
            media = {k: copy.deepcopy(original[k]) for k in kinds if k in original}
            if "caption" in params:
                caption, entities = (
                    self._render_text(
                        params["caption"],
                        _str_param(params, "parse_mode"),
                        _json_param(params, "caption_entities"),
                    )
                    if params["caption"]
                    else ("", ())
                )
                source = str(params["caption"])
            else:
                caption = str(original.get("caption") or original.get("text") or "")
                entities = tuple(
                    original.get("caption_entities") or original.get("entities") or ()
                )
                source = caption
            if "sticker" in media and caption:
                raise _bad_request("message can't have a caption")  # stickers have none
            message = BotMessage(
                chat_id=chat_id,
                message_id=self._new_message_id(chat_id),
                text=source,
                parse_mode=_str_param(params, "parse_mode"),
                visible_text=caption,
                entities=entities,
                reply_markup=self._reply_markup(params, inline_only=True),
                date=int(time.time()),
                message_thread_id=thread,
                media=media or None,
                copied_from=(source_chat, message_id),
            )
            self._bot_messages.setdefault(chat_id, {})[message.message_id] = message
            self._changed()
            return {"message_id": message.message_id}

    def _message_to_edit(self, params: JsonDict) -> BotMessage:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")  # inline messages are not tracked
        chat_id = self._known_chat(params)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        message = self._bot_messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            if message_id in self._user_messages.get(chat_id, {}):
                raise _bad_request("message can't be edited")
            raise _bad_request("message to edit not found")
        return message

    def _apply_edit(
        self,
        message: BotMessage,
        *,
        method: str,
        text: str,
        parse_mode: str | None,
        visible: str,
        entities: tuple[JsonDict, ...],
        markup: JsonDict | None,
    ) -> JsonDict:
        if (visible, _canonical(entities), _canonical(markup)) == (
            message.visible_text,
            _canonical(message.entities),
            _canonical(message.reply_markup),
        ):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        now = int(time.time())
        edited = replace(
            message,
            text=text,
            parse_mode=parse_mode,
            visible_text=visible,
            entities=entities,
            reply_markup=markup,
            edit_date=now,
            edits=(
                *message.edits,
                MessageEdit(
                    method=method,
                    text=text,
                    parse_mode=parse_mode,
                    visible_text=visible,
                    reply_markup=markup,
                    date=now,
                ),
            ),
        )
        self._bot_messages[message.chat_id][message.message_id] = edited
        self._changed()
        return self._message_json(edited)

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        with self._cond:
            message = self._message_to_edit(params)
            parse_mode = _str_param(params, "parse_mode")
            visible, entities = self._render_text(
                params.get("text"), parse_mode, _json_param(params, "entities")
            )
            # Like Telegram: an edit without reply_markup removes the inline keyboard.
            markup = self._reply_markup(params, inline_only=True)
            return self._apply_edit(
                message,
                method="editMessageText",
                text=params["text"],
                parse_mode=parse_mode,
                visible=visible,
                entities=entities,
                markup=markup,
            )

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        with self._cond:
            message = self._message_to_edit(params)
            markup = self._reply_markup(params, inline_only=True)
            return self._apply_edit(
                message,
                method="editMessageReplyMarkup",
                text=message.text,
                parse_mode=message.parse_mode,
                visible=message.visible_text,
                entities=message.entities,
                markup=markup,
            )

    def _delete_message(self, params: JsonDict) -> bool:
        chat_id = self._known_chat(params)
        message_id = _int_param(params, "message_id", required=True)
        assert message_id is not None
        with self._cond:
            message = self._bot_messages.get(chat_id, {}).get(message_id)
            if message is not None and not message.deleted:
                self._bot_messages[chat_id][message_id] = replace(message, deleted=True)
            elif message_id in self._user_messages.get(chat_id, {}):
                del self._user_messages[chat_id][message_id]
            else:
                raise _bad_request("message to delete not found")
            self._changed()
        return True

    def _send_chat_action(self, params: JsonDict) -> bool:
        self._known_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    # ---------------------------------------------------------------- Bot API: queries

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = _str_param(params, "callback_query_id") or ""
        text = _str_param(params, "text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_CHARS:
            raise _bad_request("MESSAGE_TOO_LONG")
        with self._cond:
            pressed = self._open_callbacks.pop(query_id, None)
            if pressed is None:
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            chat_id, message_id, data = pressed
            self._callback_answers.append(
                CallbackAnswer(
                    query_id=query_id,
                    text=text,
                    show_alert=_bool_param(params, "show_alert"),
                    url=_str_param(params, "url"),
                    cache_time=_int_param(params, "cache_time"),
                    data=data,
                    chat_id=chat_id,
                    message_id=message_id,
                )
            )
            self._changed()
        return True

    def _answer_inline_query(self, params: JsonDict) -> bool:
        query_id = _str_param(params, "inline_query_id") or ""
        results = _json_param(params, "results")
        if not isinstance(results, list):
            raise _bad_request('field "results" must be an Array')
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict) or not isinstance(result.get("type"), str):
                raise _bad_request("can't parse InlineQueryResult JSON object")
            result_id = result.get("id")
            if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= 64:
                raise _bad_request("RESULT_ID_INVALID")
            if result_id in seen:
                raise _bad_request("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            if result["type"] == "article" and not result.get("title"):
                raise _bad_request("RESULT_TITLE_EMPTY")
            content = result.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                self._render_text(
                    content["message_text"], content.get("parse_mode"), content.get("entities")
                )
            if result.get("reply_markup") is not None:
                self._reply_markup(result, inline_only=True)
        button = _json_param(params, "button")
        with self._cond:
            query = self._open_inline.pop(query_id, None)
            if query is None:
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._inline_answers.append(
                InlineAnswer(
                    query_id=query_id,
                    query=query,
                    results=results,
                    cache_time=_int_param(params, "cache_time"),
                    is_personal=_bool_param(params, "is_personal"),
                    next_offset=_str_param(params, "next_offset"),
                    button=button,
                )
            )
            self._changed()
        return True

    # ---------------------------------------------------------------- Bot API: commands, menu

    @staticmethod
    def _commands_key(params: JsonDict) -> tuple[str, str]:
        scope = _json_param(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad_request("can't parse BotCommandScope JSON object")
        return _canonical(scope), _str_param(params, "language_code") or ""

    def _set_my_commands(self, params: JsonDict) -> bool:
        commands = _json_param(params, "commands")
        if not isinstance(commands, list):
            raise _bad_request('field "commands" must be an Array')
        if len(commands) > 100:
            raise _bad_request("too many commands")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        with self._cond:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
            self._changed()
        return True

    def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        key = self._commands_key(params)
        with self._lock:
            return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, params: JsonDict) -> bool:
        key = self._commands_key(params)
        with self._cond:
            self._commands.pop(key, None)
            self._changed()
        return True

    def _set_chat_menu_button(self, params: JsonDict) -> bool:
        chat_id = self._known_chat(params) if params.get("chat_id") not in (None, "") else None
        button = _json_param(params, "menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad_request("can't parse MenuButton JSON object")
        with self._cond:
            self._menu_buttons[chat_id] = button
            self._changed()
        return True

    def _get_chat_menu_button(self, params: JsonDict) -> JsonDict:
        chat_id = self._known_chat(params) if params.get("chat_id") not in (None, "") else None
        with self._lock:
            button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
            if button is None or button.get("type") == "default":
                return {"type": "commands"}
            return copy.deepcopy(button)

    # ---------------------------------------------------------------- simulating users

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str = "private",
        title: str | None = None,
        is_forum: bool = False,
    ) -> JsonDict:
        """Make a chat known (as if it had talked to the bot) and return its Chat object.

        ``is_forum``: a supergroup with topics enabled (``createForumTopic`` works there).
        """
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is not None:
                return chat
            if is_forum and chat_type != "supergroup":
                raise ValueError("only a supergroup can be a forum")
            if chat_type == "private":
                if chat_id <= 0:
                    raise ValueError(f"a private chat id is the user's id (> 0), got {chat_id}")
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            elif chat_type in ("group", "supergroup", "channel"):
                if chat_id >= 0:
                    raise ValueError(f"a {chat_type} id is negative, got {chat_id}")
                chat = {"id": chat_id, "type": chat_type, "title": title or f"Chat {-chat_id}"}
                if is_forum:
                    chat["is_forum"] = True
            else:
                raise ValueError(f"unknown chat type {chat_type!r}")
            self._chats[chat_id] = chat
            return chat

    def add_forum_topic(self, chat_id: int, thread_id: int, name: str = "Topic") -> None:
        """A forum supergroup with a topic some member opened (thread id ``thread_id``)."""
        with self._lock:
            self.add_chat(chat_id, chat_type="supergroup", is_forum=True)
            self._topics.setdefault(chat_id, {})[thread_id] = name

    def inject_update(self, payload: JsonDict) -> int:
        """Queue an update of any shape (e.g. one PTB cannot parse); returns its update_id."""
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            update = {"update_id": update_id, **copy.deepcopy(payload)}
            self._updates[update_id] = update
            self._pending.append(update)
            self._changed()
            return update_id

    def add_member(self, chat_id: int, user_id: int, *, status: str = "member") -> None:
        """Make a user a member of a group (``getChatMember`` answers ``status``)."""
        if status not in ("creator", "administrator", "member", "restricted", "left", "kicked"):
            raise ValueError(f"unknown member status {status!r}")
        with self._lock:
            self._members.setdefault(chat_id, {})[user_id] = status
            self._user(user_id)

    def remove_chat(self, chat_id: int) -> None:
        """The bot was removed from a group (or it never existed): it answers "chat not found"."""
        with self._lock:
            self._chats.pop(chat_id, None)

    def topics(self, chat_id: int) -> dict[int, str]:
        """The forum topics the bot created in a chat: thread id to name."""
        with self._lock:
            return dict(self._topics.get(chat_id, {}))

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> JsonDict:
        """Register (or redefine) a user's profile and return its User object."""
        user: JsonDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"User {user_id}",
        }
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._lock:
            self._users[user_id] = user
        return user

    def _user(self, user_id: int) -> JsonDict:
        with self._lock:
            return copy.deepcopy(self._users.get(user_id) or self.add_user(user_id))

    def _enqueue(self, kind: str, payload: JsonDict) -> int:
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            update = {"update_id": update_id, kind: copy.deepcopy(payload)}
            self._updates[update_id] = update
            self._pending.append(update)
            self._changed()
            return update_id

    def _sender(self, chat_id: int, user_id: int | None, chat_type: str) -> int:
        if chat_type == "private":
            if user_id is not None and user_id != chat_id:
                raise ValueError(f"in a private chat the sender is the chat ({chat_id})")
            return chat_id
        return DEFAULT_GROUP_USER_ID if user_id is None else user_id

    def _user_message(
        self,
        chat_id: int,
        content: JsonDict,
        *,
        user_id: int | None,
        chat_type: str,
        forward_origin: JsonDict | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        with self._cond:
            chat = self.add_chat(chat_id, chat_type=chat_type)
            sender = self._user(self._sender(chat_id, user_id, chat["type"]))
            message: JsonDict = {
                "message_id": self._new_message_id(chat_id),
                "from": sender,
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
                **content,
            }
            if forward_origin is not None:
                message["forward_origin"] = forward_origin
            if reply_to is not None:
                replied = self._any_message_json(chat_id, reply_to)
                if replied is None:
                    raise ValueError(f"no message {reply_to} in chat {chat_id} to reply to")
                message["reply_to_message"] = replied
            if thread_id is not None:
                if thread_id not in self._topics.get(chat_id, {}):
                    raise ValueError(f"no forum topic {thread_id} in chat {chat_id}")
                message["message_thread_id"] = thread_id
                message["is_topic_message"] = True
                if reply_to is None:
                    # As Telegram does: a plain message in a topic "replies" to its creation.
                    message["reply_to_message"] = {
                        "message_id": thread_id,
                        "from": {k: self.bot_user[k] for k in ("id", "is_bot", "first_name")},
                        "chat": copy.deepcopy(chat),
                        "date": int(time.time()),
                        "message_thread_id": thread_id,
                        "forum_topic_created": {
                            "name": self._topics[chat_id][thread_id],
                            "icon_color": 7322096,
                        },
                        "is_topic_message": True,
                    }
            self._user_messages.setdefault(chat_id, {})[message["message_id"]] = message
            return self._enqueue("message", message)

    @staticmethod
    def _text_content(
        text: str, entities: list[JsonDict] | None, *, key: str = "text"
    ) -> JsonDict:
        entity_key = "entities" if key == "text" else "caption_entities"
        if entities is None:
            found = _detect_entities(text)
        else:
            found = list(entities)
            if text.startswith("/") and not any(
                e.get("type") == "bot_command" and e.get("offset") == 0 for e in found
            ):
                command = _AUTO_COMMAND_RE.match(text)
                if command:
                    found.insert(0, _utf16_entity(text, 0, command.end(), "bot_command"))
        content: JsonDict = {key: text}
        if found:
            content[entity_key] = found
        return content

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        forward_origin: JsonDict | None = None,
        entities: list[JsonDict] | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        """A user sends ``text`` (commands and @mentions get entities); returns the update_id."""
        if not text:
            raise ValueError("Telegram never delivers an empty text message")
        return self._user_message(
            chat_id,
            self._text_content(text, entities),
            user_id=user_id,
            chat_type=chat_type,
            forward_origin=forward_origin,
            reply_to=reply_to,
            thread_id=thread_id,
        )

    def _media(
        self,
        chat_id: int,
        kind: str,
        media: Any,
        caption: str | None,
        *,
        user_id: int | None,
        chat_type: str,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        content: JsonDict = {kind: media}
        if caption:
            content.update(self._text_content(caption, None, key="caption"))
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            chat_type=chat_type,
            reply_to=reply_to,
            thread_id=thread_id,
        )

    def _file_ids(self, prefix: str) -> JsonDict:
        with self._lock:
            self._next_query_id += 1
            number = self._next_query_id
        return {"file_id": f"{prefix}-{number}", "file_unique_id": f"u{prefix}{number}"}

    def send_photo(
        self,
        chat_id: int,
        caption: str | None = None,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        """A user sends a photo, optionally captioned; returns the update_id."""
        sizes = [
            {**self._file_ids("photo"), "width": 90, "height": 90, "file_size": 1200},
            {**self._file_ids("photo"), "width": 800, "height": 800, "file_size": 64000},
        ]
        return self._media(
            chat_id,
            "photo",
            sizes,
            caption,
            user_id=user_id,
            chat_type=chat_type,
            reply_to=reply_to,
            thread_id=thread_id,
        )

    def send_document(
        self,
        chat_id: int,
        file_name: str = "report.txt",
        caption: str | None = None,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        thread_id: int | None = None,
    ) -> int:
        """A user sends a document, optionally captioned; returns the update_id."""
        document = {**self._file_ids("doc"), "file_name": file_name, "file_size": 2048}
        return self._media(
            chat_id,
            "document",
            document,
            caption,
            user_id=user_id,
            chat_type=chat_type,
            thread_id=thread_id,
        )

    def send_sticker(
        self,
        chat_id: int,
        *,
        emoji: str = "👍",
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user sends a sticker; returns the update_id."""
        sticker = {
            **self._file_ids("sticker"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._media(chat_id, "sticker", sticker, None, user_id=user_id, chat_type=chat_type)

    def send_voice(
        self,
        chat_id: int,
        *,
        duration: int = 3,
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user sends a voice note; returns the update_id."""
        voice = {**self._file_ids("voice"), "duration": duration, "mime_type": "audio/ogg"}
        return self._media(chat_id, "voice", voice, None, user_id=user_id, chat_type=chat_type)

    def edit_text(
        self, chat_id: int, message_id: int, text: str, *, entities: list[JsonDict] | None = None
    ) -> int:
        """A user edits their earlier text message (edited_message); returns the update_id."""
        with self._cond:
            message = self._user_messages.get(chat_id, {}).get(message_id)
            if message is None or "text" not in message:
                raise ValueError(f"no user text message {message_id} in chat {chat_id}")
            message.pop("entities", None)
            message.update(self._text_content(text, entities))
            message["edit_date"] = int(time.time())
            return self._enqueue("edited_message", message)

    @staticmethod
    def make_forward_origin(
        origin_kind: str = "user",
        *,
        sender_id: int = 5550001,
        sender_name: str = "Original Sender",
        chat_id: int = -1005550002,
        chat_title: str = "Customer Chat",
        message_id: int = 42,
    ) -> JsonDict:
        """A MessageOrigin object of kind user, hidden_user, chat or channel."""
        date = int(time.time()) - 60
        if origin_kind == "user":
            user = {"id": sender_id, "is_bot": False, "first_name": sender_name}
            return {"type": "user", "date": date, "sender_user": user}
        if origin_kind == "hidden_user":
            return {"type": "hidden_user", "date": date, "sender_user_name": sender_name}
        if origin_kind == "chat":
            chat = {"id": chat_id, "type": "supergroup", "title": chat_title}
            return {"type": "chat", "date": date, "sender_chat": chat}
        if origin_kind == "channel":
            channel = {"id": chat_id, "type": "channel", "title": chat_title}
            return {"type": "channel", "date": date, "chat": channel, "message_id": message_id}
        raise ValueError(f"unknown forward origin kind {origin_kind!r}")

    def forward(
        self,
        chat_id: int,
        text: str,
        origin_kind: str = "user",
        *,
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user forwards someone else's text message to the bot; returns the update_id."""
        return self.send_text(
            chat_id,
            text,
            user_id=user_id,
            chat_type=chat_type,
            forward_origin=self.make_forward_origin(origin_kind),
        )

    def press(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        user_id: int | None = None,
        check_button: bool = True,
    ) -> int:
        """A user presses an inline button of a bot message; returns the update_id.

        With ``check_button`` the message must carry a button with this data (a real client
        can only send what a button holds); pass False to simulate forged or stale data.
        """
        with self._cond:
            message = self._bot_messages.get(chat_id, {}).get(message_id)
            if message is None or message.deleted:
                raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
            if check_button and callback_data not in [
                b.get("callback_data") for b in message.buttons
            ]:
                raise ValueError(
                    f"message {message_id} has no button with data {callback_data!r}; "
                    f"buttons: {message.buttons}"
                )
            chat_type = self._chats[chat_id]["type"]
            self._next_query_id += 1
            query_id = str(self._next_query_id * 7919)
            query = {
                "id": query_id,
                "from": self._user(self._sender(chat_id, user_id, chat_type)),
                "chat_instance": str(abs(chat_id) * 31 + 17),
                "data": callback_data,
                "message": self._message_json(message),
            }
            self._open_callbacks[query_id] = (chat_id, message_id, callback_data)
            return self._enqueue("callback_query", query)

    def press_button(
        self,
        chat_id: int,
        label: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> int:
        """Press the button labelled ``label`` on the latest bot message that has one."""
        with self._lock:
            candidates = [
                m
                for m in self.messages(chat_id)
                if message_id in (None, m.message_id) and m.buttons
            ]
            for message in reversed(candidates):
                try:
                    data = message.button_data(label)
                except LookupError:
                    continue
                return self.press(chat_id, message.message_id, data, user_id=user_id)
        raise LookupError(f"no bot message in chat {chat_id} has a button {label!r}")

    def inline_query(self, user_id: int, query: str, *, offset: str = "") -> int:
        """A user types ``@bot query`` in any chat; returns the update_id."""
        with self._cond:
            self._next_query_id += 1
            query_id = str(self._next_query_id * 104729)
            self._open_inline[query_id] = query
            payload = {
                "id": query_id,
                "from": self._user(user_id),
                "query": query,
                "offset": offset,
                "chat_type": "sender",
            }
            return self._enqueue("inline_query", payload)

    def update(self, update_id: int) -> JsonDict:
        """The update sent with this id (a copy)."""
        with self._lock:
            return copy.deepcopy(self._updates[update_id])

    # ---------------------------------------------------------------- what the bot did

    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        """Every request so far, or those of one method (case-insensitive)."""
        with self._lock:
            if method is None:
                return list(self._requests)
            wanted = method.lower()
            return [r for r in self._requests if r.method.lower() == wanted]

    @property
    def request_count(self) -> int:
        """How many requests were recorded: a mark for ``wait_for_request(after=...)``."""
        with self._lock:
            return len(self._requests)

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[BotMessage]:
        """The bot's messages in a chat, oldest first, in their current (edited) state."""
        with self._lock:
            found = list(self._bot_messages.get(chat_id, {}).values())
        return found if include_deleted else [m for m in found if not m.deleted]

    def last_message(self, chat_id: int) -> BotMessage:
        """The bot's latest message in a chat; LookupError when there is none."""
        found = self.messages(chat_id)
        if not found:
            raise LookupError(f"the bot has no message in chat {chat_id}")
        return found[-1]

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        """One bot message by id, in its current state."""
        with self._lock:
            return self._bot_messages[chat_id][message_id]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Every answerCallbackQuery accepted, in order."""
        with self._lock:
            return list(self._callback_answers)

    @property
    def inline_answers(self) -> list[InlineAnswer]:
        """Every answerInlineQuery accepted, in order."""
        with self._lock:
            return list(self._inline_answers)

    @property
    def commands(self) -> list[JsonDict]:
        """The command list for the default scope and language."""
        return self.commands_for()

    def commands_for(
        self, scope: JsonDict | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        """The command list set for one scope and language."""
        key = (_canonical(scope or {"type": "default"}), language_code)
        with self._lock:
            return copy.deepcopy(self._commands.get(key, []))

    @property
    def webhook(self) -> JsonDict:
        """The webhook as last set (empty when none)."""
        with self._lock:
            return dict(self._webhook)

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates queued and not yet confirmed by the bot."""
        with self._lock:
            return copy.deepcopy(self._pending)

    # ---------------------------------------------------------------- waiting

    def _timeout_error(self, description: str, timeout: float) -> WaitTimeout:
        with self._lock:
            recent = [r for r in self._requests if r.method != "getUpdates"][-8:]
        lines = [f"{r.method} -> {r.status} {dict(r.params)!r:.200}" for r in recent]
        return WaitTimeout(
            f"timed out after {timeout}s waiting for {description}; recent requests:\n  "
            + ("\n  ".join(lines) or "(none)")
        )

    @staticmethod
    def _refuse_inside_event_loop(name: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(
            f"{name}() blocks and would freeze the bot running in this event loop; "
            f"use 'await fake.{name}_async(...)'"
        )

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, *, description: str = ""
    ) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every change); return its value."""
        self._refuse_inside_event_loop("wait_for")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout_error(description or repr(predicate), timeout)
                self._cond.wait(remaining)

    async def wait_for_async(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the blocking variant
        *,
        description: str = "",
    ) -> T:
        """Await until ``predicate()`` is truthy without blocking the event loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._lock:
            self._async_waiters.add(entry)
        try:
            deadline = loop.time() + timeout
            while True:
                event.clear()
                with self._lock:
                    result = predicate()
                if result:
                    return result
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._timeout_error(description or repr(predicate), timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._lock:
                self._async_waiters.discard(entry)

    def _enough_messages(self, chat_id: int, count: int) -> Callable[[], list[BotMessage]]:
        def check() -> list[BotMessage]:
            found = self.messages(chat_id)
            return found if len(found) >= count else []

        return check

    def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 5.0
    ) -> list[BotMessage]:
        """Block until the bot has at least ``count`` messages in the chat; return them all."""
        self._refuse_inside_event_loop("wait_for_messages")
        return self.wait_for(
            self._enough_messages(chat_id, count),
            timeout,
            description=f"{count} bot message(s) in chat {chat_id}",
        )

    async def wait_for_messages_async(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the blocking variant
    ) -> list[BotMessage]:
        """Await until the bot has at least ``count`` messages in the chat; return them all."""
        return await self.wait_for_async(
            self._enough_messages(chat_id, count),
            timeout,
            description=f"{count} bot message(s) in chat {chat_id}",
        )

    def _matching_request(
        self, method: str, where: Callable[[RecordedRequest], bool] | None, after: int
    ) -> Callable[[], RecordedRequest | None]:
        wanted = method.lower()

        def check() -> RecordedRequest | None:
            with self._lock:
                recent = self._requests[after:]
            for request in recent:
                if request.method.lower() == wanted and (where is None or where(request)):
                    return request
            return None

        return check

    def wait_for_request(
        self,
        method: str,
        where: Callable[[RecordedRequest], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 5.0,
    ) -> RecordedRequest:
        """Block until a request of ``method`` (matching ``where``, after mark ``after``)."""
        self._refuse_inside_event_loop("wait_for_request")
        found = self.wait_for(
            self._matching_request(method, where, after), timeout, description=f"a {method} call"
        )
        assert found is not None
        return found

    async def wait_for_request_async(
        self,
        method: str,
        where: Callable[[RecordedRequest], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the blocking variant
    ) -> RecordedRequest:
        """Await a request of ``method`` (matching ``where``, after mark ``after``)."""
        found = await self.wait_for_async(
            self._matching_request(method, where, after), timeout, description=f"a {method} call"
        )
        assert found is not None
        return found

    @property
    def started_count(self) -> int:
        """How many requests were received so far (answered or still being answered)."""
        with self._lock:
            return len(self._started)

    def wait_for_started(self, method: str, *, after: int = 0, timeout: float = 5.0) -> None:
        """Block until a ``method`` request was *received* (after mark ``after``), even if the
        fake is still holding its answer back (``set_delay``): the bot is mid-call."""
        canonical = self._canonical_method(method)
        self.wait_for(
            lambda: canonical in self._started[after:] or None,
            timeout,
            description=f"a {method} call to start",
        )

    def wait_until_confirmed(self, update_id: int, timeout: float = 5.0) -> None:
        """Block until the bot has confirmed ``update_id`` (a later getUpdates offset)."""
        self.wait_for(
            lambda: all(u["update_id"] != update_id for u in self._pending) or None,
            timeout,
            description=f"confirmation of update {update_id}",
        )
