"""The bot under test, against ``FakeBotApi``: in this process, or as a real ``python -m bot run``.

``running_bot`` builds the real PTB application with ``build_application`` and runs it with
the bot's own ``Runtime`` (polling, the scheduler, the outbox) in the test's event loop. It
records which updates the bot has *finished* handling, so a test can await "the bot is done
with this update" and then assert what was sent, or that nothing was: no sleeps anywhere.

``BotProcess`` runs ``python -m bot run`` as a subprocess pointed at the fake through
``TELEGRAM_API_URL``; tests drive it with the fake's blocking ``wait_for*`` calls (the test
itself runs no event loop), kill it, restart it and read its log.

``Mirror`` replays the same events through the pure engine, giving the texts the user must
see on Telegram, message by message: what the channel delivers is compared to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.channels.render import render_parts
from bot.channels.telegram import Runtime, TelegramChannel, build_application, coalesce
from bot.channels.telegram.runtime import CHAT_QUEUE_LIMIT
from bot.channels.telegram.scheduler import WORKERS
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.replies import Action, Reply
from bot.core.session import Session
from bot.store import SessionStore
from bot.store.aio import AsyncStore, ThreadedStore
from bot.store.memory import MemoryStore
from tests.helpers.fake_bot_api import BotMessage, CallbackAnswer, FakeBotApi, parse_html

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CLEANUP_TIMEOUT = 60.0  # seconds for deferred keyboard clean-ups, once replies are done


def visible_parts(text: str) -> list[str]:
    """What a user sees for one core reply: one visible text per Telegram message."""
    return [parse_html(part).text.strip() for part in render_parts(text) or ["…"]]


def visible_texts(messages: Iterable[BotMessage]) -> list[str]:
    """The visible text of each bot message."""
    return [m.visible_text for m in messages]


# ---------------------------------------------------------------------------- the engine mirror


class Mirror:
    """One chat's conversation replayed through the pure engine: the expected transcript."""

    def __init__(self, engine: Engine, chat_id: int) -> None:
        self.engine = engine
        self.session: Session = engine.new_session(str(chat_id), now=time.time())

    def _apply(self, event: Event) -> list[Reply]:
        outcome = self.engine.handle(self.session, event, now=time.time())
        self.session = outcome.session
        return coalesce(outcome.replies)

    def say(self, text: str) -> list[str]:
        """Expected visible texts after the user types ``text``."""
        return [t for r in self._apply(UserText(text=text)) for t in visible_parts(r.text)]

    def command(self, name: str) -> list[str]:
        """Expected visible texts after ``/name``."""
        return [t for r in self._apply(Command(name=name)) for t in visible_parts(r.text)]

    def press(self, action: Action, arg: str = "") -> list[str]:
        """Expected visible texts after pressing a current button."""
        event = ButtonPress(action=action, version=self.session.version, arg=arg)
        return [t for r in self._apply(event) for t in visible_parts(r.text)]


@dataclass(frozen=True, slots=True)
class Move:
    """One thing a user does: type ``text`` (or a /command), or press the button ``text``."""

    kind: str  # "say" or "press"
    text: str
    action: Action | None = None
    arg: str = ""

    def expected(self, mirror: Mirror) -> list[str]:
        """What the user must see after this move, according to the engine."""
        if self.kind == "press":
            assert self.action is not None
            return mirror.press(self.action, self.arg)
        if self.text.startswith("/"):
            return mirror.command(self.text[1:].split()[0])
        return mirror.say(self.text)


def walkthrough(kb: KnowledgeBase, topic: str, *, by: str, describe: str = "") -> list[Move]:
    """A full walkthrough of one problem, by buttons or by typed words, ending resolved."""
    problem = kb.problem(topic)
    assert problem is not None, topic
    checks = len(problem.verification)
    if by == "buttons":
        return [
            Move("say", "/start"),
            Move("press", problem.title, Action.CHOOSE, topic),
            *[Move("press", "✅ Done", Action.DONE)] * len(problem.steps),
            *[Move("press", "✅ Checked, next", Action.DONE)] * (checks - 1),
            Move("press", "🎉 Yes, it works", Action.YES),
            Move("press", "👍 Helpful", Action.RATE, "up"),
        ]
    assert by == "words", by
    return [
        Move("say", describe),
        *[Move("say", "done")] * len(problem.steps),
        *[Move("say", "next")] * (checks - 1),
        Move("say", "yes it works"),
    ]


def answering_example(kb: KnowledgeBase, matcher: Matcher, topic: str) -> str:
    """An example phrasing of ``topic`` that the matcher answers with that topic directly."""
    problem = kb.problem(topic)
    assert problem is not None, topic
    for text in problem.examples:
        result = matcher.match(text)
        if result.decision is Decision.ANSWER and result.best and result.best.topic == topic:
            return text
    raise AssertionError(f"no example of {topic} is answered directly by the matcher")


async def play(
    bot: RunningBot, mirror: Mirror, chat_id: int, moves: Iterable[Move]
) -> list[BotMessage]:
    """Make each move and check the bot's new messages against the engine, move by move.

    Returns every message as the user saw it after each move (a step the next press edited
    appears in both of its states), oldest first.
    """
    shown: list[BotMessage] = []
    new: list[BotMessage] = []
    for move in moves:
        if move.kind == "press":
            new = await bot.press(chat_id, move.text)
        else:
            new = await bot.say(chat_id, move.text)
        expected = move.expected(mirror)
        assert visible_texts(new) == expected, f"chat {chat_id} after {move}"
        # The answer shows one keyboard at most. Older ones may wait for their clean-up (it
        # yields to replies; a press on them is refused as stale) but are removed in the end.
        fresh = {m.message_id for m in new}
        with_buttons = [m.message_id for m in bot.fake.messages(chat_id) if m.buttons]
        assert len(fresh & set(with_buttons)) <= 1, f"chat {chat_id}: two keyboards in {move}"
        shown.extend(new)
    live = {m.message_id for m in new if m.buttons}

    def keyboards_left() -> tuple[list[int]] | None:
        ids = [m.message_id for m in bot.fake.messages(chat_id) if m.buttons]
        return (ids,) if len(ids) <= 1 else None

    (left,) = await bot.fake.wait_for_async(
        keyboards_left,
        timeout=CLEANUP_TIMEOUT,
        description=f"chat {chat_id}: old keyboards removed",
    )
    assert set(left) == live, f"chat {chat_id}: the live keyboard is {live}, not {left}"
    return shown


# ---------------------------------------------------------------------------- in this process


@dataclass
class RunningBot:
    """The real application and runtime, started by hand against the fake."""

    fake: FakeBotApi
    channel: TelegramChannel
    store: Any  # the synchronous store behind the channel's async one, for assertions
    application: Any
    runtime: Runtime
    done: set[int] = field(default_factory=set)
    presses: list[int] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _update_finished(self, update_id: int) -> None:
        self.done.add(update_id)
        self._changed.set()

    async def processed(self, update_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has finished handling ``update_id`` (all its requests answered)."""
        try:
            async with asyncio.timeout(timeout):
                while update_id not in self.done:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"the bot did not finish update {update_id} within {timeout}s"
            ) from None

    async def turn(self, chat_id: int, update_id: int) -> list[BotMessage]:
        """Wait for one update to be handled; return the bot messages it added or edited.

        Call it right after making the update: the bot cannot run before the test awaits.
        Edited messages (a pressed step turned into the next one) come first, as they are
        older; then the new ones.
        """
        before = {m.message_id: m.edits for m in self.fake.messages(chat_id)}
        await self.processed(update_id)
        return [
            m
            for m in self.fake.messages(chat_id)
            if m.message_id not in before
            or (m.edits != before[m.message_id] and m.edits[-1].method == "editMessageText")
        ]

    async def say(self, chat_id: int, text: str, **kwargs: Any) -> list[BotMessage]:
        """The user sends ``text``; return the bot's new messages once it is done."""
        return await self.turn(chat_id, self.fake.send_text(chat_id, text, **kwargs))

    async def press(self, chat_id: int, label: str, **kwargs: Any) -> list[BotMessage]:
        """The user presses the button ``label`` on the latest message that has it."""
        update_id = self.fake.press_button(chat_id, label, **kwargs)
        self.presses.append(update_id)
        return await self.turn(chat_id, update_id)

    async def press_data(
        self, chat_id: int, message_id: int, data: str, *, check_button: bool = True
    ) -> list[BotMessage]:
        """The user presses a button by its callback data (False: forged or left-over data)."""
        update_id = self.fake.press(chat_id, message_id, data, check_button=check_button)
        self.presses.append(update_id)
        return await self.turn(chat_id, update_id)

    def answer_to(self, update_id: int) -> CallbackAnswer:
        """The answerCallbackQuery that answered the press ``update_id``."""
        query_id = self.fake.update(update_id)["callback_query"]["id"]
        found = [a for a in self.fake.callback_answers if a.query_id == query_id]
        assert len(found) == 1, f"press {update_id} was answered {len(found)} times"
        return found[0]

    def assert_every_press_answered(self) -> None:
        """Every button press got exactly one answerCallbackQuery (no endless spinners)."""
        for update_id in self.presses:
            self.answer_to(update_id)

    def session(self, chat_id: int | str) -> Session | None:
        """The stored session of a chat (or of a group member: ``"chat:user"``)."""
        return self.store.get(str(chat_id))


_SSL_CONTEXTS: dict[tuple[Any, ...], Any] = {}


@contextlib.contextmanager
def _ssl_context_reused() -> Iterator[None]:
    """Build httpx's SSL context once per test session, not twice per application.

    Loading the CA bundle costs ~75 ms per HTTP client and PTB builds two; the fake is plain
    HTTP on loopback, so sharing one context changes nothing but the test suite's run time.
    """
    transports = sys.modules.get("httpx._transports.default")
    create = getattr(transports, "create_ssl_context", None)
    if create is None:  # another httpx layout: just build them
        yield
        return

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        key = (verify, cert, trust_env)
        if key not in _SSL_CONTEXTS:
            _SSL_CONTEXTS[key] = create(verify=verify, cert=cert, trust_env=trust_env)
        return _SSL_CONTEXTS[key]

    transports.create_ssl_context = shared  # type: ignore[union-attr]
    try:
        yield
    finally:
        transports.create_ssl_context = create  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeBotApi,
    engine: Engine,
    *,
    store: SessionStore | None = None,
    async_store: AsyncStore | None = None,
    staff_chat: int | None = None,
    admins: Iterable[int] = (),
    rate_limit: bool = False,
    fallback_contact: str | None = None,
    workers: int = WORKERS,
    chat_queue_limit: int = CHAT_QUEUE_LIMIT,
    read_timeout: float | None = None,
    store_timeout: float = 3.0,
) -> AsyncIterator[RunningBot]:
    """Start the real application and runtime against ``fake`` in this event loop (polling).

    ``store`` (a synchronous store, memory by default) is run in a thread as in production;
    ``async_store`` is used as it is instead (Redis).
    """
    settings = Settings(
        token=fake.token,
        api_url=fake.base_url,
        staff_chat=staff_chat,
        admins=frozenset(admins),
        rate_limit=rate_limit,
        fallback_contact=fallback_contact,
    )
    sync_store = store if store is not None else getattr(async_store, "sync", None)
    if sync_store is None:
        sync_store = MemoryStore()
    channel_store = (
        async_store
        if async_store is not None
        else ThreadedStore(sync_store, timeout=store_timeout)
    )
    with _ssl_context_reused():
        application, channel = build_application(
            settings, engine, channel_store, read_timeout=read_timeout
        )
    runtime = Runtime(
        application,
        channel,
        channel_store,
        workers=workers,
        chat_queue_limit=chat_queue_limit,
        store_retry_seconds=0.2,  # retry a store outage quickly: tests wait for the recovery
    )
    channel.outbox_retry_seconds = 0.05
    channel.policy.backoff = 0.02
    bot = RunningBot(
        fake=fake, channel=channel, store=sync_store, application=application, runtime=runtime
    )
    runtime.on_done = bot._update_finished
    await runtime.start()
    polling = asyncio.create_task(runtime.poll())
    try:
        yield bot
    finally:
        runtime.stopping.set()
        await polling
        await runtime.stop()
        if async_store is None:
            await channel_store.close()


# ---------------------------------------------------------------------------- a real process


class BotProcess:
    """``python -m bot run`` as a subprocess pointed at the fake; stderr goes to a file."""

    def __init__(
        self,
        fake: FakeBotApi,
        workdir: Path,
        *,
        extra_env: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.fake = fake
        self.workdir = workdir
        self.store_path = workdir / "s.db"
        self.log_path = workdir / "bot.log"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            "PTB_TIMEDELTA": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "TELEGRAM_BOT_TOKEN": fake.token if token is None else token,
            "TELEGRAM_API_URL": fake.base_url,
            "BOT_STORE": f"sqlite:///{self.store_path}",
            "BOT_RATE_LIMIT": "off",
            "BOT_KNOWLEDGE": str(REPO_ROOT / "knowledge"),
            "BOT_LOG_LEVEL": "DEBUG",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> BotProcess:
        """Start the bot; return once it has registered its commands (polling comes next).

        Updates sent from then on are delivered by its first getUpdates. (A long poll is
        recorded by the fake only when it ends, so it is no use as a start signal.)
        """
        mark = self.fake.request_count
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.fake.wait_for_request("setMyCommands", after=mark, timeout=30)
        except AssertionError:
            self.stop()
            raise AssertionError(f"the bot did not start; its log:\n{self.log()}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a crash or an OOM kill."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self._close_log()

    def terminate(self, timeout: float = 5.0) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds until the process was gone)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            self._close_log()
            raise AssertionError(
                f"the bot did not stop within {timeout}s of SIGTERM; its log:\n{self.log()}"
            ) from None
        self._close_log()
        return code, time.monotonic() - started

    def stop(self) -> None:
        """Make sure the process is gone (for fixture teardown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """Everything the process wrote so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")
