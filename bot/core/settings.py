"""The matcher's decision thresholds: plain values, calibrated by ``alimail-bot eval``.

They live in the core (not in ``bot.config``) so the matcher depends on nothing outside it;
``bot.config.Settings`` carries one of these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchSettings:
    """Decision thresholds of the matcher (calibrated with ``alimail-bot eval``)."""

    answer_floor: float = 0.20
    margin: float = 0.02
    clarify_floor: float = 0.18
    band: float = 0.12
    # None only when an out-of-scope group leads the best topic by at least this much.
    oos_margin: float = 0.0
    # Answer only when the best topic leads every out-of-scope group by at least this much;
    # in between, ask ("Is this about ...?") rather than reject.
    oos_answer_margin: float = 0.12
    oos_weight: float = 0.5
    max_choices: int = 3
