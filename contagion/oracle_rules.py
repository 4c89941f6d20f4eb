"""Oracle update rules, usable without a simulation (Chainlink OCR semantics).

* :func:`deviates` - the deviation test of ``libocr``'s ``DefaultDeviationFunc``:
  ``|new - old| / |old| >= threshold`` (inclusive; when ``old == 0`` any non-zero ``new`` deviates).
* :func:`median` - the on-chain aggregate of ``OffchainAggregator``: the element ``len // 2`` of
  the sorted observations (the upper median for an even count).
* :func:`should_report` - the per-round decision: report if the answer deviates from the
  on-chain one, or if the on-chain answer is older than the heartbeat (strictly:
  ``updated_at + heartbeat < now``).

Prices and thresholds are plain numbers: ``threshold`` is a fraction (0.005 = 0.5 % = 5,000,000
ppb); times are seconds.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Iterable

__all__ = ["deviates", "deviates_ppb", "median", "should_report"]


@lru_cache(maxsize=256)
def _decimal(threshold: float) -> Fraction:
    return Fraction(repr(float(threshold)))


def deviates(old: float, new: float, threshold: float) -> bool:
    """True if ``new`` differs from ``old`` by at least ``threshold`` (a fraction of ``|old|``).

    ``threshold`` is read as the decimal it is written as (``0.005`` is exactly 5,000,000 ppb) and
    the prices exactly as given, and the comparison is exact, so a move of exactly the threshold
    deviates, as in the nodes' integer rule.
    """
    if old == 0:
        return new != 0
    diff = abs(new - old)
    bound = threshold * abs(old)
    if diff > bound * (1 + 1e-9):  # clearly above or below: no need for exact arithmetic
        return True
    if diff < bound * (1 - 1e-9):
        return False
    return abs(Fraction(new) - Fraction(old)) >= _decimal(threshold) * abs(Fraction(old))


def deviates_ppb(threshold_ppb: int, old: int, new: int) -> bool:
    """Exact form used by the OCR nodes: thresholds in parts per billion, exact rational
    comparison (integers as in ``libocr``; floats exactly as given)."""
    if old == 0:
        return new != 0
    return abs(Fraction(new) - Fraction(old)) * 10**9 >= Fraction(threshold_ppb) * abs(Fraction(old))


def median(observations: Iterable[float]) -> float:
    """``sorted(observations)[len // 2]`` - the on-chain (upper) median."""
    values = sorted(observations)
    if not values:
        raise ValueError("median of no observations")
    return values[len(values) // 2]


def should_report(answer: float, onchain_answer: float | None, updated_at: float | None,
                  now: float, deviation_threshold: float, heartbeat: float) -> str | None:
    """Why a round should report ``answer`` now: ``"first"``, ``"deviation"``, ``"heartbeat"``, or None.

    ``onchain_answer``/``updated_at`` describe the latest on-chain answer (None before the first).
    """
    if onchain_answer is None or updated_at is None:
        return "first"
    if deviates(onchain_answer, answer, deviation_threshold):
        return "deviation"
    if updated_at + heartbeat < now:
        return "heartbeat"
    return None
