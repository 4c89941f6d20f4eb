"""Exogenous price paths of venues: what the market would do without the simulated agents.

A path is sampled on a grid of ``tick`` seconds and held constant within a tick:
``price(t) = value at floor(t / tick) * tick``.

* :class:`PiecewisePath` interpolates linearly between ``(time, price)`` points and is flat
  before the first and after the last point.
* :class:`GbmPath` is geometric Brownian motion with Merton jumps, simulated exactly on the
  grid: ``log S(t+dt) = log S(t) + (mu - sigma^2/2) dt + sigma sqrt(dt) Z + sum of N jumps``,
  ``N ~ Poisson(lambda dt)``, each jump ``~ Normal(jump_mean, jump_std^2)``, with ``dt`` in years
  (365 days). Steps are drawn lazily in fixed chunks from the venue's own stream, so the path is
  the same whatever horizon the run asks for.
"""

from __future__ import annotations

import math

import numpy as np

from contagion.scenario.models import GbmPath as GbmSpec
from contagion.scenario.models import PiecewisePath as PiecewiseSpec

__all__ = ["PiecewisePath", "GbmPath", "make_path", "SECONDS_PER_YEAR"]

SECONDS_PER_YEAR = 365.0 * 86400.0


class PiecewisePath:
    """Linear interpolation through points, sampled every ``tick`` seconds."""

    def __init__(self, spec: PiecewiseSpec, tick: float):
        self.tick = tick
        self.times = np.array([t for t, _ in spec.points], dtype=np.float64)
        self.prices = np.array([p for _, p in spec.points], dtype=np.float64)

    def __call__(self, t: float) -> float:
        grid = math.floor(t / self.tick + 1e-9) * self.tick
        return float(np.interp(grid, self.times, self.prices))

    def low(self, until: float) -> float:
        """Lowest price on ``[0, until]`` (a point or an endpoint, since it is piecewise linear)."""
        candidates = [self(0.0), self(until)] + [p for t, p in zip(self.times, self.prices) if 0 <= t <= until]
        return float(min(candidates))


class GbmPath:
    """GBM with Merton jumps on a ``tick`` grid, generated lazily from ``rng``."""

    CHUNK = 4096

    def __init__(self, spec: GbmSpec, tick: float, rng: np.random.Generator):
        self.spec = spec
        self.tick = tick
        self.rng = rng
        self._log = np.zeros(1)  # cumulative log return since time 0
        dt = tick / SECONDS_PER_YEAR
        self._drift = (spec.drift - 0.5 * spec.volatility**2) * dt
        self._scale = spec.volatility * math.sqrt(dt)
        self._jump_rate = spec.jump_intensity * dt

    def _extend(self, index: int) -> None:
        while self._log.size <= index:
            n = self.CHUNK
            steps = self._drift + self._scale * self.rng.standard_normal(n)
            if self._jump_rate > 0:
                counts = self.rng.poisson(self._jump_rate, n)
                total = int(counts.sum())
                if total:
                    sizes = self.rng.normal(self.spec.jump_mean, self.spec.jump_std, total)
                    owner = np.repeat(np.arange(n), counts)
                    steps += np.bincount(owner, weights=sizes, minlength=n)
            self._log = np.concatenate([self._log, self._log[-1] + np.cumsum(steps)])

    def __call__(self, t: float) -> float:
        index = int(math.floor(t / self.tick + 1e-9))
        self._extend(index)
        return float(self.spec.start * math.exp(self._log[index]))

    def low(self, until: float) -> float:
        last = int(math.floor(until / self.tick + 1e-9))
        self._extend(last)
        return float(self.spec.start * math.exp(self._log[: last + 1].min()))


def make_path(spec, tick: float, rng: np.random.Generator):
    """The path object for a venue's ``path`` entry."""
    if isinstance(spec, PiecewiseSpec):
        return PiecewisePath(spec, tick)
    return GbmPath(spec, tick, rng)
