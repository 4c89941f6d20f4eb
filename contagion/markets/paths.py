"""Exogenous price paths of venues: what the market would do without the simulated agents.

A path is sampled on a grid of ``tick`` seconds and held constant within a tick:
``price(t) = value at floor(t / tick) * tick``.

* :class:`PiecewisePath` interpolates linearly between ``(time, price)`` points and is flat
  before the first and after the last point.
* :class:`GbmPath` is geometric Brownian motion, or Merton's jump diffusion, simulated exactly
  on the grid: ``log S(t+dt) = log S(t) + (mu - sigma^2/2) dt + sigma sqrt(dt) Z + sum of N jumps``,
  ``N ~ Poisson(lambda dt)``, each jump ``~ Normal(jump_mean, jump_std^2)``, with ``dt`` in years
  (365 days). Steps are drawn lazily in fixed chunks from the venue's own stream, so the path is
  the same whatever horizon the run asks for.
* :class:`ReplayPath` replays ``(time, price)`` rows from a CSV file, linearly or stepwise,
  flat before the first and after the last row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from contagion.errors import ScenarioError
from contagion.scenario.models import PiecewisePath as PiecewiseSpec
from contagion.scenario.models import ReplayPath as ReplaySpec

__all__ = ["PiecewisePath", "GbmPath", "ReplayPath", "make_path", "SECONDS_PER_YEAR"]

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
    """GBM (with Merton jumps for a ``jump_diffusion`` spec) on a ``tick`` grid, drawn lazily from ``rng``."""

    CHUNK = 4096

    def __init__(self, spec, tick: float, rng: np.random.Generator):
        self.spec = spec
        self.tick = tick
        self.rng = rng
        self._log = np.zeros(1)  # cumulative log return since time 0
        dt = tick / SECONDS_PER_YEAR
        self._drift = (spec.drift - 0.5 * spec.volatility**2) * dt
        self._scale = spec.volatility * math.sqrt(dt)
        self._jump_rate = getattr(spec, "jump_intensity", 0.0) * dt
        self._jump_mean = getattr(spec, "jump_mean", 0.0)
        self._jump_std = getattr(spec, "jump_std", 0.0)

    def _extend(self, index: int) -> None:
        while self._log.size <= index:
            n = self.CHUNK
            steps = self._drift + self._scale * self.rng.standard_normal(n)
            if self._jump_rate > 0:
                counts = self.rng.poisson(self._jump_rate, n)
                total = int(counts.sum())
                if total:
                    sizes = self.rng.normal(self._jump_mean, self._jump_std, total)
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


class ReplayPath:
    """Prices from a CSV file of ``(time, price)`` rows, sampled on the ``tick`` grid.

    ``time`` is seconds from the start, or timestamps (then seconds since the first row). Rows are
    sorted by time; between rows the price is interpolated linearly or held (``step``).
    """

    def __init__(self, spec: ReplaySpec, tick: float, base_dir: Path, where: str):
        self.tick = tick
        self.step = spec.interpolation == "step"
        path = Path(base_dir) / spec.path
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError) as err:
            raise ScenarioError(f"{path}: {where}: cannot read: {err}") from err
        missing = [c for c in ("time", "price") if c not in table.columns]
        if missing:
            raise ScenarioError(f"{path}: {where}: missing column(s) {missing}, got {list(table.columns)}")
        def bad_row(column: str, rule: str, bad: pd.Series) -> ScenarioError:
            row = int(bad.to_numpy().argmax())
            value = table[column].iloc[row]
            value = value.item() if hasattr(value, "item") else value
            return ScenarioError(f"{path}: {where}: {rule}, got {value!r} in row {row + 1}")

        times = pd.to_numeric(table["time"], errors="coerce")
        if times.isna().all():  # timestamps
            stamps = pd.to_datetime(table["time"].astype(str), errors="coerce", utc=True, format="mixed")
            if stamps.isna().any():
                raise bad_row("time", "time must be seconds or a timestamp", stamps.isna())
            times = (stamps - stamps.min()).dt.total_seconds()
        elif times.isna().any():
            raise bad_row("time", "time must be seconds or a timestamp (all rows alike)", times.isna())
        prices = pd.to_numeric(table["price"], errors="coerce")
        bad = prices.isna() | ~(prices > 0)
        if bad.any():
            raise bad_row("price", "price must be a number > 0", bad)
        order = np.argsort(times.to_numpy(), kind="stable")
        self.times = times.to_numpy(dtype=np.float64)[order]
        self.prices = prices.to_numpy(dtype=np.float64)[order] * spec.scale
        if len(np.unique(self.times)) != len(self.times):
            raise ScenarioError(f"{path}: {where}: times must be distinct")

    def __call__(self, t: float) -> float:
        grid = math.floor(t / self.tick + 1e-9) * self.tick
        if self.step:
            k = int(np.searchsorted(self.times, grid, side="right")) - 1
            return float(self.prices[max(k, 0)])
        return float(np.interp(grid, self.times, self.prices))

    def low(self, until: float) -> float:
        inside = self.prices[(self.times >= 0) & (self.times <= until)]
        return float(min(self(0.0), self(until), *inside))


def make_path(spec, tick: float, rng: np.random.Generator, base_dir: Path = Path("."), where: str = "path"):
    """The path object for a venue's ``path`` entry."""
    if isinstance(spec, PiecewiseSpec):
        return PiecewisePath(spec, tick)
    if isinstance(spec, ReplaySpec):
        return ReplayPath(spec, tick, base_dir, where)
    return GbmPath(spec, tick, rng)
