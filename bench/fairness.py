"""Fairness: one user floods the bot with 1 000 messages while others walk through problems.

``python bench/fairness.py --users 20`` starts the strict fake Bot API in this process and the
real bot as a subprocess (``python -m bot run``, SQLite store, rate limiter on as in
production). One user sends 1 000 messages at once; right after, ``--users`` simulated users
each do a full walkthrough (the same plans as ``throughput.py``), waiting for each answer
before their next move. It prints the other users' answer times (p50, p90, p99, max), the
same figures without the flood (a second run), and what the flooding user got: the messages
the bot took on, the one "slow down" notice, and how many it skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throughput import (  # noqa: E402
    BOT,
    Arrivals,
    UserPlan,
    bot_env,
    drive,
    make_plans,
    percentile,
    wait_started,
)
from tests.helpers.fake_bot_api import FakeBotApi  # noqa: E402

FLOOD_CHAT = 800_000
FLOOD = 1_000


def run(plans: list[UserPlan], *, flood: int, workdir: Path) -> dict[str, float]:
    """One run: the flood (if any), then everybody's walkthroughs; the figures."""
    log = workdir / "bot.log"
    env = bot_env(workdir, rate_limit=True)
    with FakeBotApi() as fake, log.open("wb") as sink:
        env |= {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_started(fake, process, log)
            for i in range(flood):
                fake.send_text(FLOOD_CHAT, f"hello, are you there? ({i})")

            async def everyone() -> list[list[float]]:
                arrivals = Arrivals(fake)
                watcher = asyncio.create_task(arrivals.run())
                try:
                    return await asyncio.gather(
                        *(drive(fake, arrivals, p, mode=BOT) for p in plans)
                    )
                finally:
                    arrivals.done = True
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher

            started = time.monotonic()
            per_user = asyncio.run(everyone())
            seconds = time.monotonic() - started
            flooded = len(fake.messages(FLOOD_CHAT))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    ms = sorted(x * 1000 for user in per_user for x in user)
    return {
        "seconds": seconds,
        "answers": len(ms),
        "p50": percentile(ms, 0.50),
        "p90": percentile(ms, 0.90),
        "p99": percentile(ms, 0.99),
        "max": ms[-1],
        "flood_replies": flooded,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run with and without the flood; print both."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="users walking through")
    parser.add_argument("--flood", type=int, default=FLOOD, help="messages from one user")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plans = make_plans(args.users)
    with tempfile.TemporaryDirectory(prefix="alimail-fairness-") as tmp:
        for name, flood in (("with the flood", args.flood), ("without it", 0)):
            workdir = Path(tmp) / name.replace(" ", "-")
            workdir.mkdir()
            r = run(plans, flood=flood, workdir=workdir)
            print(
                f"{name}: {args.users} users, {r['answers']:.0f} answers in {r['seconds']:.1f} s;"
                f" answer time ms p50 {r['p50']:.0f}, p90 {r['p90']:.0f}, p99 {r['p99']:.0f},"
                f" max {r['max']:.0f}",
                flush=True,
            )
            if flood:
                print(
                    f"  the flooding user sent {flood} messages and, by the time the others were"
                    f" done, had {r['flood_replies']:.0f} messages back (answers to the ones"
                    " taken on, and one 'slow down' notice)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
