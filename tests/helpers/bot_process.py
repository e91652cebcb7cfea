"""The bot under test, against ``FakeBotApi``: in this process, or as a real ``python -m bot run``.

``running_bot`` builds the real PTB application with ``build_application`` and starts it by
hand in the test's event loop (``post_init`` included, as ``run_polling`` would). It records
which updates the bot has *finished* handling, so a test can await "the bot is done with this
update" and then assert what was sent, or that nothing was: no sleeps anywhere.

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
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Update

from bot.channels.render import render_parts
from bot.channels.telegram import TelegramChannel, build_application, coalesce
from bot.config import Settings
from bot.core.dialogue import Engine
from bot.core.events import ButtonPress, Command, Event, UserText
from bot.core.knowledge import KnowledgeBase
from bot.core.matching import Decision, Matcher
from bot.core.replies import Action, Reply
from bot.core.session import Session
from bot.store import SessionStore
from bot.store.memory import MemoryStore
from tests.helpers.fake_bot_api import BotMessage, CallbackAnswer, FakeBotApi, parse_html

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


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
    """Make each move and check the bot's new messages against the engine, move by move."""
    for move in moves:
        if move.kind == "press":
            new = await bot.press(chat_id, move.text)
        else:
            new = await bot.say(chat_id, move.text)
        expected = move.expected(mirror)
        assert visible_texts(new) == expected, f"chat {chat_id} after {move}"
        with_buttons = [m.message_id for m in bot.fake.messages(chat_id) if m.buttons]
        assert len(with_buttons) <= 1, f"chat {chat_id}: old buttons left after {move}"
    return bot.fake.messages(chat_id)


# ---------------------------------------------------------------------------- in this process


@dataclass
class RunningBot:
    """The real application, started by hand against the fake, plus what tests need."""

    fake: FakeBotApi
    channel: TelegramChannel
    store: SessionStore
    application: Any
    done: set[int] = field(default_factory=set)
    presses: list[int] = field(default_factory=list)
    _finished: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _update_finished(self, update_id: int | None) -> None:
        async with self._finished:
            if update_id is not None:
                self.done.add(update_id)
            self._finished.notify_all()

    async def processed(self, update_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has finished handling ``update_id`` (all its requests answered)."""
        try:
            async with self._finished:
                await asyncio.wait_for(
                    self._finished.wait_for(lambda: update_id in self.done), timeout
                )
        except TimeoutError:
            raise AssertionError(
                f"the bot did not finish update {update_id} within {timeout}s"
            ) from None

    async def turn(self, chat_id: int, update_id: int) -> list[BotMessage]:
        """Wait for one update to be handled; return the bot messages it added to the chat.

        Call it right after making the update: the bot cannot run before the test awaits.
        """
        before = {m.message_id for m in self.fake.messages(chat_id)}
        await self.processed(update_id)
        return [m for m in self.fake.messages(chat_id) if m.message_id not in before]

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

    def session(self, chat_id: int) -> Session | None:
        """The stored session of a chat."""
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
    staff_chat: int | None = None,
    admins: Iterable[int] = (),
    rate_limit: bool = False,
    fallback_contact: str | None = None,
) -> AsyncIterator[RunningBot]:
    """Start the real application against ``fake`` in this event loop; stop it afterwards."""
    settings = Settings(
        token=fake.token,
        api_url=fake.base_url,
        staff_chat=staff_chat,
        admins=frozenset(admins),
        rate_limit=rate_limit,
        fallback_contact=fallback_contact,
    )
    store = store if store is not None else MemoryStore()
    with _ssl_context_reused():
        application, channel = build_application(settings, engine, store)
    bot = RunningBot(fake=fake, channel=channel, store=store, application=application)
    processor = application.update_processor
    handle = processor.do_process_update

    async def tracked(update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await handle(update, coroutine)
        finally:
            await bot._update_finished(update.update_id if isinstance(update, Update) else None)

    processor.do_process_update = tracked
    await application.initialize()
    await application.post_init(application)
    await application.start()
    await application.updater.start_polling(
        poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
    )
    try:
        yield bot
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


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
