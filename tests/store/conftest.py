"""Store test helpers (the Redis fixtures live in ``tests/helpers/redis_server.py``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from bot.core.session import Session
from bot.store import SessionStore


def assert_exactly_one_writer_wins(stores: Sequence[SessionStore], base: Session) -> None:
    """Several stores on one backing (file, server) race the same compare-and-set once.

    Closes the stores afterwards.
    """
    stores[0].put(base, expected_version=None)
    barrier = threading.Barrier(len(stores))

    def write(writer: int) -> bool:
        barrier.wait(timeout=5)
        return stores[writer].put(base.advance(step=writer), expected_version=base.version)

    try:
        with ThreadPoolExecutor(max_workers=len(stores)) as pool:
            results = list(pool.map(write, range(len(stores))))
        assert results.count(True) == 1
        assert stores[1].get(base.chat_id) == base.advance(step=results.index(True))
    finally:
        for opened in stores:
            opened.close()
