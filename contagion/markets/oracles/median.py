"""A median of other oracles' latest answers, recomputed on chain whenever one of them publishes.

The answer is :func:`contagion.oracle_rules.median` (the upper median) of the sources' answers;
its exogenous price is the same median of their exogenous prices. It has no transaction of its
own: a source's publication updates it in the same transaction (or block hook), so it inherits
that publication's delay. Its ``observed_at`` is the observation time of the publication that
triggered it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contagion.markets.oracles.base import Feed, OracleUpdate
from contagion.oracle_rules import median
from contagion.scenario.models import MedianOracle as MedianSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["MedianOracle"]


class MedianOracle(Feed):
    """Median of several feeds, published when any of them publishes."""

    oracle_kind = "median"

    def __init__(self, sim: "Simulation", name: str, spec: MedianSpec):
        self.sources: list[Feed] = [sim.oracles[s] for s in spec.sources]
        quote = next((s.quote for s in self.sources if s.quote is not None), None)
        super().__init__(sim, name, spec, spec.asset, sim.chains[spec.chain], quote)
        for source in self.sources:
            source.subscribe(self)

    def aggregate(self) -> tuple[float, float]:
        """``(median answer, median exogenous answer)`` of the sources now."""
        return (median(s.answer for s in self.sources),
                median(s.answer_exogenous for s in self.sources))

    def refresh(self) -> None:
        for source in self.sources:
            source.refresh()

    def genesis(self) -> None:
        price, exo = self.aggregate()
        observed = max(s.latest.observed_at for s in self.sources)
        self._publish(self._update(price, exo, "genesis", observed), 0.0)

    def on_price_update(self, oracle: Feed, update: OracleUpdate) -> None:
        if self.latest is None:  # sources' genesis answers come before ours
            return
        price, exo = self.aggregate()
        self._publish(self._update(price, exo, "median", update.observed_at, update.submitted_at))
