"""Throughput of the Telegram bot: N users walking through their problems at once.

``python bench/throughput.py --users 50`` starts the strict fake Bot API
(``tests/helpers/fake_bot_api.py``) in this process and the real bot as a subprocess
(``python -m bot run``, SQLite store, pointed at the fake with ``TELEGRAM_API_URL``). N
simulated users then each do a full walkthrough (half by buttons, half by typed words; the
four problems in turn), waiting for the bot's whole answer before their next move, all at
once. It reports:

* ``--rate-limit on`` (production): replies (``sendMessage``) and rate-limited requests
  (everything with a ``chat_id``: sends and keyboard edits, which share Telegram's ~30/s cap
  in PTB's ``AIORateLimiter``) per second, overall and in the steady middle 80 % of the run;
  p50/p99 time from a user's message to the bot's complete answer; replies lost.
* ``--rate-limit off`` (``BOT_RATE_LIMIT=off``): updates per second, and the same figure for a
  bare PTB echo bot (``bench/echo_bot.py``) fed the same update mix against the same fake in
  the same run, and the ratio of the two. The support bot makes more Bot API calls per
  update than an echo (it removes the previous step's buttons, and some answers are two
  messages), so a third contender, the echo bot with ``--same-calls``, makes exactly the
  bot's calls: the ratio to it is the cost of the bot's own work (engine, store, rendering).
  Bot API calls per update and the bot process's CPU time per update are printed too.

``--rate-limit both`` (the default) does both; ``--repeat`` runs the limiter-off contenders in
turn that many times and reports medians (a shared machine is noisy). ``--py-spy FILE``
records the bot process of the first limiter-off run with py-spy (a flame graph SVG;
``--py-spy-format raw`` or ``speedscope`` for other tools). Everything runs on loopback; the
fake server and the simulated users share this process, each bot has its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.cli import build_core  # noqa: E402
from bot.config import Settings  # noqa: E402
from tests.helpers.bot_process import Mirror, Move, answering_example, walkthrough  # noqa: E402
from tests.helpers.fake_bot_api import FakeBotApi  # noqa: E402

PROBLEMS = ("pop-deletion", "sent-not-saved", "missing-email", "mailbox-full")
FIRST_CHAT = 900_000
LIMITED = ("sendMessage", "editMessageText", "editMessageReplyMarkup")
START_TIMEOUT = 60.0
TURN_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class UserPlan:
    """One simulated user: a chat, its moves, and how many messages each move must bring."""

    chat_id: int
    moves: tuple[Move, ...]
    replies: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run measured."""

    name: str
    users: int
    updates: int
    seconds: float
    replies: int
    limited: int
    expected_replies: int
    steady_replies_per_s: float
    steady_limited_per_s: float
    latencies: tuple[float, ...]
    faults: int
    requests: int
    cpu: float | None  # seconds the bot process spent on the CPU while the users played
    # Keyboard clean-ups yield to replies: how many were made after the last answer, how long
    # after it the last one was made, and old keyboards still shown once the bot had stopped.
    late_cleanups: int = 0
    cleanup_tail: float = 0.0
    old_keyboards: int = 0

    @property
    def updates_per_s(self) -> float:
        """Updates handled per second, first user message to last answer."""
        return self.updates / self.seconds

    @property
    def lost(self) -> int:
        """Replies the users were owed and never got."""
        return max(0, self.expected_replies - self.replies)


def make_plans(users: int, *, by: str = "mixed") -> list[UserPlan]:
    """The walkthroughs, with the replies each move brings according to the engine.

    ``by``: ``mixed`` (half the users press buttons, half type), ``buttons`` or ``words``.
    """
    settings = Settings(knowledge_dir=ROOT / "knowledge")
    core = build_core(settings)
    engine, kb, matcher = core.engine, core.kb, core.matcher
    phrasing = {topic: answering_example(kb, matcher, topic) for topic in PROBLEMS}  # type: ignore[arg-type]
    plans = []
    for index in range(users):
        chat_id = FIRST_CHAT + index
        topic = PROBLEMS[index % len(PROBLEMS)]
        way = by if by != "mixed" else ("buttons" if index % 2 == 0 else "words")
        moves = walkthrough(kb, topic, by=way, describe=phrasing[topic])  # type: ignore[arg-type]
        mirror = Mirror(engine, chat_id)  # type: ignore[arg-type]
        replies = tuple(len(move.expected(mirror)) for move in moves)
        plans.append(UserPlan(chat_id=chat_id, moves=tuple(moves), replies=replies))
    return plans


def percentile(samples: Sequence[float], share: float) -> float:
    """The ``share`` percentile (0..1) of the samples, inclusive method."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(share * 100) - 1]


def shown(fake: FakeBotApi, chat_id: int) -> int:
    """Messages the chat was shown: each new message, and each one edited into a new step."""
    return sum(
        1 + sum(1 for e in m.edits if e.method == "editMessageText")
        for m in fake.messages(chat_id)
    )


class Arrivals:
    """Wakes each simulated user when its chat has the messages it waits for.

    One waiter on the fake for everybody: with one ``wait_for_async`` per user, every change
    in the fake would wake all N users (N cross-thread calls made while the fake holds its
    lock), and the harness, not the bot, would set the pace.
    """

    def __init__(self, fake: FakeBotApi) -> None:
        self.fake = fake
        self.waiting: dict[int, tuple[int, asyncio.Future[float]]] = {}
        self.done = False

    def expect(self, chat_id: int, count: int) -> asyncio.Future[float]:
        """A future resolved (with the time) once the chat was shown ``count`` messages."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = (count, future)
        return future

    def _arrived(self) -> bool:
        now = time.monotonic()
        ready = [
            chat_id
            for chat_id, (count, _) in self.waiting.items()
            if shown(self.fake, chat_id) >= count
        ]
        for chat_id in ready:
            self.waiting.pop(chat_id)[1].set_result(now)
        return bool(ready) or self.done

    async def run(self) -> None:
        """Resolve futures as messages arrive, until ``done``."""
        while not self.done:
            await self.fake.wait_for_async(self._arrived, timeout=TURN_TIMEOUT)


BOT, ECHO, SAME_CALLS = "bot", "echo", "same-calls"


async def drive(fake: FakeBotApi, arrivals: Arrivals, plan: UserPlan, *, mode: str) -> list[float]:
    """One user's walkthrough; returns the seconds from each move to its complete answer.

    ``mode``: ``bot`` presses the support bot's buttons by label; ``echo`` presses the echo's
    first button and expects one reply per update; ``same-calls`` tells the echo bot (in the
    text, or in the data of a press on its live keyboard) how many replies the support bot
    gives this move.
    """
    latencies = []
    for move, count in zip(plan.moves, plan.replies, strict=True):
        if mode == ECHO:
            count = 1  # the bare echo bot answers every update with one message
        have = shown(fake, plan.chat_id)
        arrived = arrivals.expect(plan.chat_id, have + count)
        sent_at = time.monotonic()
        if move.kind == "say":
            text = f"{count}|{move.text}" if mode == SAME_CALLS else move.text
            fake.send_text(plan.chat_id, text)
        elif mode == BOT:
            fake.press_button(plan.chat_id, move.text)
        else:
            live = [m for m in fake.messages(plan.chat_id) if m.buttons][-1]
            data = f"echo:{count}" if mode == SAME_CALLS else live.buttons[0]["callback_data"]
            fake.press(plan.chat_id, live.message_id, data, check_button=mode == ECHO)
        # As the user sees it: until the last message of the answer is in the chat.
        latencies.append(await asyncio.wait_for(arrived, TURN_TIMEOUT) - sent_at)
    return latencies


def steady_rate(times: Sequence[float]) -> float:
    """Events per second in the middle 80 % of the run (no ramp-up, no tail)."""
    if len(times) < 10:
        return 0.0
    ordered = sorted(times)
    low, high = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
    inside = sum(1 for t in ordered if low <= t <= high)
    return inside / (high - low) if high > low else 0.0


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_started(fake: FakeBotApi, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for the bot's bootstrap (deleteWebhook comes right before polling)."""
    deadline = time.monotonic() + START_TIMEOUT
    while not fake.requests("deleteWebhook"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the bot did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)


def run_once(
    name: str,
    command: list[str],
    env: dict[str, str],
    plans: list[UserPlan],
    *,
    mode: str,
    workdir: Path,
    spy: list[str] | None = None,
) -> RunResult:
    """Start the fake and the bot, play every user at once, stop the bot, measure.

    ``spy``: py-spy ``record`` options; py-spy then attaches to the bot while users play.
    """
    log = workdir / f"{name}.log"
    with FakeBotApi() as fake, log.open("wb") as sink:
        env = {**env, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_started(fake, process, log)
            if spy is not None:
                recorder = subprocess.Popen(
                    ["py-spy", "record", "--pid", str(process.pid), "--rate", "250", *spy],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(0.5)  # py-spy needs a moment to attach
            mark = fake.request_count
            cpu_before = cpu_seconds(process.pid)
            started = time.monotonic()

            async def everyone() -> tuple[list[list[float]], float]:
                arrivals = Arrivals(fake)
                watcher = asyncio.create_task(arrivals.run())
                try:
                    per_user = await asyncio.gather(
                        *(drive(fake, arrivals, p, mode=mode) for p in plans)
                    )
                    return per_user, time.monotonic()
                finally:
                    arrivals.done = True
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher

            per_user, finished = asyncio.run(everyone())
            cpu_after = cpu_seconds(process.pid)
            latencies = [x for user in per_user for x in user]
            seconds = finished - started
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if spy is not None:
                recorder.wait(timeout=60)  # py-spy writes its file when the bot exits
        requests = fake.requests()[mark:]
        old_keyboards = sum(
            max(0, sum(1 for m in fake.messages(p.chat_id) if m.buttons) - 1) for p in plans
        )
    end = started + seconds
    late = [r.at for r in requests if r.method == "editMessageReplyMarkup" and r.at > end]
    # A reply is a new message or, for a button press, the pressed message edited into it.
    sends = [r.at for r in requests if r.method in ("sendMessage", "editMessageText") and r.ok]
    # Within the run: clean-ups made after the last answer are reported on their own.
    limited = [r.at for r in requests if r.method in LIMITED and r.ok and r.at <= end]
    expected = sum(1 if mode == ECHO else n for p in plans for n in p.replies)
    return RunResult(
        name=name,
        users=len(plans),
        updates=sum(len(p.moves) for p in plans),
        seconds=seconds,
        replies=len(sends),
        limited=len(limited),
        expected_replies=expected,
        steady_replies_per_s=steady_rate(sends),
        steady_limited_per_s=steady_rate(limited),
        latencies=tuple(latencies),
        # getUpdates aside: stopping the bot ends its abandoned long poll with a 409.
        faults=sum(1 for r in requests if not r.ok and r.method != "getUpdates"),
        requests=sum(1 for r in requests if r.method != "getUpdates"),
        cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        late_cleanups=len(late),
        cleanup_tail=max(late) - end if late else 0.0,
        old_keyboards=old_keyboards,
    )


def bot_env(workdir: Path, *, rate_limit: bool) -> dict[str, str]:
    """Environment for ``python -m bot run`` (the fake's token and URL are added per run)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "BOT_KNOWLEDGE": str(ROOT / "knowledge"),
        "BOT_STORE": f"sqlite:///{workdir / 'sessions.db'}",
        "BOT_RATE_LIMIT": "on" if rate_limit else "off",
        "BOT_LOG_LEVEL": "WARNING",
    }


def describe(result: RunResult) -> str:
    """One block of figures for a run."""
    ms = sorted(x * 1000 for x in result.latencies)
    return "\n".join(
        [
            f"{result.name}: {result.users} users, {result.updates} updates in "
            f"{result.seconds:.2f} s",
            f"  updates/s            {result.updates_per_s:8.1f}",
            f"  replies/s            {result.replies / result.seconds:8.1f} overall, "
            f"{result.steady_replies_per_s:.1f} steady",
            f"  rate-limited req/s   {result.limited / result.seconds:8.1f} overall, "
            f"{result.steady_limited_per_s:.1f} steady (sendMessage + keyboard edits)",
            f"  answer time ms       p50 {percentile(ms, 0.50):.1f}  p99 "
            f"{percentile(ms, 0.99):.1f}  max {ms[-1]:.1f}",
            f"  replies {result.replies}/{result.expected_replies}, lost {result.lost}, "
            f"refused requests {result.faults}",
            f"  bot process CPU      {_cpu_per_update(result)} per update, "
            f"{result.requests / result.updates:.2f} Bot API calls per update",
            f"  keyboard clean-ups   {result.late_cleanups} made after the last answer "
            f"(the last {result.cleanup_tail:.2f} s after it); old keyboards left at the end: "
            f"{result.old_keyboards}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated users at once")
    parser.add_argument(
        "--rate-limit",
        choices=["on", "off", "both"],
        default="both",
        help="on: production limiter; off: updates/s against an echo bot; both (default)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="limiter off: the three contenders in turn, this many times each (medians)",
    )
    parser.add_argument(
        "--by",
        choices=["mixed", "buttons", "words"],
        default="mixed",
        help="how users answer: half press buttons, half type (default), or all one way",
    )
    parser.add_argument("--py-spy", type=Path, help="record the limiter-off bot with py-spy")
    parser.add_argument("--py-spy-format", default="flamegraph", help="py-spy output format")
    args = parser.parse_args(argv)
    if args.users < 1 or args.repeat < 1:
        parser.error("--users and --repeat must be at least 1")
    # A plain SIGTERM would skip the finally blocks that stop the bot processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    plans = make_plans(args.users, by=args.by)
    bot = [sys.executable, "-m", "bot", "run"]
    echo = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
    with tempfile.TemporaryDirectory(prefix="alimail-bench-") as tmp:
        workdir = Path(tmp)
        if args.rate_limit in ("on", "both"):
            on = _mkdir(workdir / "on")
            env = bot_env(on, rate_limit=True)
            result = run_once("bot, rate limiter on", bot, env, plans, mode=BOT, workdir=on)
            print(describe(result), flush=True)
        if args.rate_limit in ("off", "both"):
            contenders = [
                ("bot, rate limiter off", bot, BOT),
                ("bare PTB echo bot", echo, ECHO),
                (
                    "PTB echo bot making the bot's Bot API calls",
                    [*echo, "--same-calls"],
                    SAME_CALLS,
                ),
            ]
            results: dict[str, list[RunResult]] = {mode: [] for _, _, mode in contenders}
            for attempt in range(args.repeat):
                for name, command, mode in contenders:
                    spy = None
                    if args.py_spy and attempt == 0 and mode == BOT:
                        spy = ["--format", args.py_spy_format, "-o", str(args.py_spy.resolve())]
                    run_dir = _mkdir(workdir / f"{mode}{attempt}")
                    env = bot_env(run_dir, rate_limit=False)
                    result = run_once(
                        name, command, env, plans, mode=mode, workdir=run_dir, spy=spy
                    )
                    results[mode].append(result)
                    print(describe(result), flush=True)
            print(summary(results, args.repeat))
    return 0


def summary(results: dict[str, list[RunResult]], repeat: int) -> str:
    """The limiter-off comparison: medians and the bot/echo ratios."""
    rate = {
        mode: statistics.median(r.updates_per_s for r in runs) for mode, runs in results.items()
    }
    calls = {
        mode: statistics.median(_api_calls(r) for r in runs) for mode, runs in results.items()
    }
    lines = [
        f"limiter off, medians of {repeat}: updates/s bot {rate[BOT]:.1f}, bare echo "
        f"{rate[ECHO]:.1f}, echo with the bot's calls {rate[SAME_CALLS]:.1f}",
        f"  ratio bot / bare echo bot              {rate[BOT] / rate[ECHO]:.2f}",
        f"  ratio bot / echo making the same calls {rate[BOT] / rate[SAME_CALLS]:.2f}",
        f"  Bot API calls per update: bot {calls[BOT]:.2f}, bare echo {calls[ECHO]:.2f}, "
        f"same-calls echo {calls[SAME_CALLS]:.2f}",
    ]
    cpu = {
        mode: [r.cpu / r.updates for r in runs if r.cpu is not None]
        for mode, runs in results.items()
    }
    if all(cpu.values()):
        mine, bare, same = (statistics.median(cpu[m]) * 1000 for m in (BOT, ECHO, SAME_CALLS))
        lines.append(
            f"  bot process CPU per update: bot {mine:.2f} ms, bare echo {bare:.2f} ms, "
            f"same-calls echo {same:.2f} ms"
        )
    return "\n".join(lines)


def _cpu_per_update(result: RunResult) -> str:
    if result.cpu is None:
        return "n/a"
    return f"{result.cpu / result.updates * 1000:.2f} ms"


def _api_calls(result: RunResult) -> float:
    return result.requests / result.updates


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
