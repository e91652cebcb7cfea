"""The per-conversation scheduler: one worker per conversation at a time, turns in rotation."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.telegram.scheduler import ChatScheduler

pytestmark = pytest.mark.asyncio


async def test_one_conversation_never_runs_twice_at_once_and_others_run_beside_it() -> None:
    running: set[str] = set()
    overlaps: list[str] = []
    most_at_once = 0
    runs: list[str] = []

    async def work(key: str) -> bool:
        nonlocal most_at_once
        if key in running:
            overlaps.append(key)
        running.add(key)
        most_at_once = max(most_at_once, len(running))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running.discard(key)
        runs.append(key)
        return False

    scheduler = ChatScheduler(work, workers=3)
    scheduler.start()
    for key in ["a", "a", "b", "a", "c", "d", "a"]:
        scheduler.submit(key)
        await asyncio.sleep(0)
    await scheduler.wait_idle()
    await scheduler.stop(grace=1)

    assert overlaps == []
    assert most_at_once == 3
    assert set(runs) == {"a", "b", "c", "d"}


async def test_a_busy_conversation_goes_to_the_back_of_the_queue_after_each_turn() -> None:
    turns: list[str] = []
    left = {"flood": 5, "x": 1, "y": 1, "z": 1}

    async def work(key: str) -> bool:
        turns.append(key)
        left[key] -= 1
        await asyncio.sleep(0)
        return left[key] > 0

    scheduler = ChatScheduler(work, workers=1)
    for key in ["flood", "x", "y", "z"]:
        scheduler.submit(key)
    scheduler.start()
    await scheduler.wait_idle()
    await scheduler.stop(grace=1)

    assert turns == ["flood", "x", "y", "z", "flood", "flood", "flood", "flood"]


async def test_stopping_lets_the_running_turn_finish_and_drops_the_waiting_ones() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def work(key: str) -> bool:
        started.set()
        await release.wait()
        finished.append(key)
        return False

    scheduler = ChatScheduler(work, workers=1)
    scheduler.start()
    scheduler.submit("in-hand")
    scheduler.submit("waiting")
    await started.wait()
    stopping = asyncio.create_task(scheduler.stop(grace=5))
    await asyncio.sleep(0)
    release.set()
    await stopping

    assert finished == ["in-hand"]
