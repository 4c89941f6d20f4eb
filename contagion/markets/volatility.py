"""Realized volatility of a price series, as agents and background demand measure it.

``realized_volatility`` annualizes the sum of squared log returns over the time the series
covers: ``sqrt(sum(r_k^2) / (t_last - t_first) * seconds_per_year)`` (365-day year).
:class:`RollingVolatility` keeps the observations of the last ``window`` seconds and updates the
sum incrementally (O(1) per observation).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["SECONDS_PER_YEAR", "realized_volatility", "RollingVolatility"]

SECONDS_PER_YEAR = 365.0 * 86400.0


def realized_volatility(times, prices) -> float:
    """Annualized realized volatility of a price series (0 with fewer than two points or no time)."""
    if len(prices) < 2 or times[-1] <= times[0]:
        return 0.0
    total = sum(math.log(b / a) ** 2 for a, b in zip(prices, prices[1:]))
    return math.sqrt(total / (times[-1] - times[0]) * SECONDS_PER_YEAR)


class RollingVolatility:
    """Realized volatility over the last ``window`` seconds of observations ``(time, price)``."""

    def __init__(self, window: float):
        self.window = float(window)
        self._obs: deque[tuple[float, float, float]] = deque()   # (time, price, squared return into it)
        self._sum = 0.0

    def add(self, time: float, price: float) -> None:
        r2 = math.log(price / self._obs[-1][1]) ** 2 if self._obs else 0.0
        self._obs.append((time, price, r2))
        self._sum += r2
        while self._obs and self._obs[0][0] < time - self.window:
            self._obs.popleft()
            if self._obs:          # the oldest kept point no longer has a return inside the window
                self._sum -= self._obs[0][2]
                self._obs[0] = (self._obs[0][0], self._obs[0][1], 0.0)
        if len(self._obs) == 1:
            self._sum = 0.0

    def value(self) -> float:
        """Annualized realized volatility of the kept observations."""
        if len(self._obs) < 2:
            return 0.0
        span = self._obs[-1][0] - self._obs[0][0]
        return math.sqrt(max(self._sum, 0.0) / span * SECONDS_PER_YEAR) if span > 0 else 0.0
