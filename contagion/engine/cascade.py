"""Cascade provenance: which liquidations caused which, and in how many generations.

A liquidation is triggered by the oracle update that made its position liquidatable. If the
position would not have been liquidatable at that update's *exogenous* price (the same feed
evaluated on the sources' exogenous paths), the liquidation is *induced*: only the simulated
trades — earlier liquidations' sales, carried to the feed's sources by arbitrage and impact —
pushed it over.

Generations:

* a liquidation that is not induced has generation 1 (the shock alone did it);
* an induced liquidation triggered by update ``U`` has generation ``1 + g``, where ``g`` is the
  highest generation among its *parents*: the liquidations executed between the feed's previous
  observation and ``U``'s observation (the sales that moved the price the feed saw), or, if
  there were none in that window, the latest liquidation before ``U``'s observation. Its
  ``parent_id`` is the largest (by seized value) of the parents of generation ``g``, so
  every edge of the cascade tree goes from generation ``g`` to ``g + 1``.

The depth of a cascade is its highest generation.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from contagion.engine.journal import Journal

if TYPE_CHECKING:  # pragma: no cover
    from contagion.markets.oracle import OracleUpdate

__all__ = ["CascadeTracker"]


class CascadeTracker:
    """Executed liquidations in time order, and the generation rule above."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self.times: list[float] = []
        self.generations: list[int] = []
        self.ids: list[int] = []
        self.values: list[float] = []
        self._parents: dict[int, tuple[int, int]] = {}

    def add(self, time: float, generation: int, liquidation_id: int, value_usd: float) -> None:
        """Register an executed liquidation (undone if its transaction reverts)."""
        self.times.append(time)
        self.generations.append(generation)
        self.ids.append(liquidation_id)
        self.values.append(value_usd)

        def undo() -> None:
            for seq in (self.times, self.generations, self.ids, self.values):
                seq.pop()

        self.journal.record(undo)

    def parents(self, update: "OracleUpdate", now: float) -> tuple[int, int]:
        """``(highest parent generation, parent id)`` for liquidations triggered by ``update``;
        ``(0, -1)`` if no liquidation preceded its observation."""
        cached = self._parents.get(update.update_id)
        if cached is not None:
            return cached
        lo = bisect.bisect_right(self.times, update.previous_observed_at)
        hi = bisect.bisect_right(self.times, update.observed_at)
        if lo == hi and hi > 0:
            lo = hi - 1
        if lo >= hi:
            result = (0, -1)
        else:
            top = max(self.generations[lo:hi])
            best = max((j for j in range(lo, hi) if self.generations[j] == top),
                       key=lambda j: (self.values[j], -self.ids[j]))
            result = (top, self.ids[best])
        if update.observed_at < now:  # the window is closed: nothing can join it any more
            self._parents[update.update_id] = result
        return result

    def generation(self, update: "OracleUpdate | None", induced: bool, now: float) -> tuple[int, int]:
        """``(generation, parent_id)`` of a liquidation triggered by ``update``."""
        if update is None or not induced:
            return 1, -1
        top, parent = self.parents(update, now)
        return (top + 1, parent) if parent >= 0 else (1, -1)
