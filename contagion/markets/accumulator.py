"""Time-weighted price accumulators of pools (Uniswap v2 and v3 oracle conventions).

A :class:`PriceAccumulator` holds the cumulative sums ``cum0(t) = ∫ v0 dt`` and ``cum1(t) = ∫ v1
dt`` of two values of a pool's state, as a ring buffer of *observations* ``(t, cum0, cum1)``:

* **arithmetic** (constant product and StableSwap pools, Uniswap v2's ``price0CumulativeLast``
  / ``price1CumulativeLast``): ``v0`` is the price of ``assets[0]`` in ``assets[1]`` and ``v1`` its
  inverse. A time-weighted average over ``[t - w, t]`` is ``(cum(t) - cum(t - w)) / w`` — the
  arithmetic mean price;
* **geometric** (concentrated pools, Uniswap v3's ``tickCumulative``): ``v0`` is the pool's current
  tick and ``v1 = -v0``; the average is a mean tick ``m`` and the price ``1.0001^m`` — the
  geometric mean price. (Uniswap's ``OracleLibrary.consult`` also floors ``m`` to an integer,
  which moves the result by less than one basis point; here ``m`` is kept as a real number.)

Writing follows the contracts: at the *first* interaction of each block (the first swap, mint or
burn at a new timestamp) the pool writes one observation with the value its state had **before**
that interaction — the state at the end of the last block that touched it. A swap therefore never
changes the contribution of the block it happens in; a price held for one block contributes
``block time x value``. Writes are journaled, so a reverted transaction leaves no observation.

Reading interpolates between observations, which is exact because the value is constant between
them; after the last observation it extrapolates with the current value (Uniswap's counterfactual
``transform``). Before time 0 the pool is taken to have been at its initial state forever. Memory
is O(observations in the longest window read): a reader declares its window with
:meth:`PriceAccumulator.require`, and the ring buffer overwrites an observation only when no
window can need it any more (it grows when it must, so writing is O(1) amortized).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from contagion.errors import SimulationError

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.journal import Journal

__all__ = ["PriceAccumulator", "TICK_BASE"]

TICK_BASE = 1.0001  # price = TICK_BASE ** tick


class PriceAccumulator:
    """Cumulative time integrals of two values, written at most once per timestamp.

    Parameters
    ----------
    values : callable () -> (float, float)
        The two accumulated values of the current state (e.g. price and 1 / price, or tick and
        -tick).
    journal : Journal
        Undo journal of the run (writes inside a transaction are undone if it reverts).
    geometric : bool
        Whether the values are ticks (the averages are turned into prices by ``1.0001**m``).
    start : float
        Time (s) of the first observation.
    """

    def __init__(self, values: Callable[[], tuple[float, float]], journal: "Journal", geometric: bool,
                 start: float = 0.0, capacity: int = 4):
        self.values = values
        self.journal = journal
        self.geometric = geometric
        self.horizon = 0.0
        self.initial = tuple(float(v) for v in values())
        cap = max(2, int(capacity))
        self._t = np.zeros(cap)
        self._c0 = np.zeros(cap)
        self._c1 = np.zeros(cap)
        self._t[0] = start
        self._first = 0
        self._count = 1
        self._dropped = False

    # --------------------------------------------------------------------------- properties
    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        return self._t.size

    def _at(self, k: int) -> int:
        return (self._first + k) % self._t.size

    @property
    def last_time(self) -> float:
        """Time (s) of the newest observation."""
        return float(self._t[self._at(self._count - 1)])

    def observations(self) -> np.ndarray:
        """``(n, 3)`` array of ``(time, cum0, cum1)``, oldest first."""
        idx = [self._at(k) for k in range(self._count)]
        return np.column_stack([self._t[idx], self._c0[idx], self._c1[idx]])

    def require(self, window: float) -> None:
        """Keep enough history to read averages over ``window`` seconds."""
        self.horizon = max(self.horizon, float(window))

    # -------------------------------------------------------------------------------- write
    def write(self, now: float) -> bool:
        """Write an observation at ``now`` if none exists at this timestamp; returns whether it did."""
        last = self._at(self._count - 1)
        t_last = float(self._t[last])
        if not now > t_last:
            return False
        v0, v1 = self.values()
        dt = now - t_last
        c0 = float(self._c0[last]) + v0 * dt
        c1 = float(self._c1[last]) + v1 * dt
        state = (self._t, self._c0, self._c1, self._first, self._count, self._dropped)
        if self._count == self._t.size:
            second = float(self._t[self._at(1)])
            if second <= now - self.horizon:  # the oldest is no longer needed by any window
                slot = self._first
                old = (self._t[slot], self._c0[slot], self._c1[slot])
                self._first = self._at(1)
                self._dropped = True
                self._store(slot, now, c0, c1)

                def undo() -> None:
                    self._t[slot], self._c0[slot], self._c1[slot] = old
                    (_, _, _, self._first, self._count, self._dropped) = state
                self.journal.record(undo)
                return True
            self._grow()
        slot = self._at(self._count)
        self._store(slot, now, c0, c1)
        self._count += 1

        def undo_append() -> None:
            self._t, self._c0, self._c1, self._first, self._count, self._dropped = state
        self.journal.record(undo_append)
        return True

    def _store(self, slot: int, t: float, c0: float, c1: float) -> None:
        self._t[slot], self._c0[slot], self._c1[slot] = t, c0, c1

    def _grow(self) -> None:
        """Double the ring buffer, oldest observation first (new arrays: undo keeps the old ones)."""
        obs = self.observations()
        cap = 2 * self._t.size
        self._t, self._c0, self._c1 = np.zeros(cap), np.zeros(cap), np.zeros(cap)
        n = obs.shape[0]
        self._t[:n], self._c0[:n], self._c1[:n] = obs[:, 0], obs[:, 1], obs[:, 2]
        self._first = 0

    # --------------------------------------------------------------------------------- read
    def cumulative(self, t: float) -> tuple[float, float]:
        """``(cum0(t), cum1(t))``: interpolated, extrapolated with the current values after the last
        observation, and with the initial values before the first (if it was never dropped)."""
        last = self._at(self._count - 1)
        t_last = float(self._t[last])
        if t >= t_last:
            v0, v1 = self.values()
            dt = t - t_last
            return float(self._c0[last]) + v0 * dt, float(self._c1[last]) + v1 * dt
        first = self._first
        t_first = float(self._t[first])
        if t < t_first:
            if self._dropped:
                raise SimulationError(f"price accumulator: no observation as old as {t:g}s (oldest "
                                      f"{t_first:g}s); the reader needs a longer history")
            dt = t - t_first
            return float(self._c0[first]) + self.initial[0] * dt, float(self._c1[first]) + self.initial[1] * dt
        lo, hi = 0, self._count - 1  # times[lo] <= t < times[hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if float(self._t[self._at(mid)]) <= t:
                lo = mid
            else:
                hi = mid
        a, b = self._at(lo), self._at(hi)
        ta, tb = float(self._t[a]), float(self._t[b])
        w = (t - ta) / (tb - ta)
        return (float(self._c0[a]) + (float(self._c0[b]) - float(self._c0[a])) * w,
                float(self._c1[a]) + (float(self._c1[b]) - float(self._c1[a])) * w)

    def mean(self, t: float, window: float) -> tuple[float, float]:
        """Time-weighted means of the two values over ``[t - window, t]``."""
        c0a, c1a = self.cumulative(t - window)
        c0b, c1b = self.cumulative(t)
        return (c0b - c0a) / window, (c1b - c1a) / window

    def average_price(self, t: float, window: float, inverse: bool = False) -> float:
        """Time-weighted average price over ``[t - window, t]`` of ``assets[0]`` (or, with
        ``inverse``, of ``assets[1]``): arithmetic mean, or ``1.0001**(mean tick)`` when geometric."""
        m0, m1 = self.mean(t, window)
        m = m1 if inverse else m0
        return TICK_BASE ** m if self.geometric else m


def log_tick(price: float) -> float:
    """A price as a real-valued tick: ``log(price) / log(1.0001)``."""
    return math.log(price) / math.log(TICK_BASE)
