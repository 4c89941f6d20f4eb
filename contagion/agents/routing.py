"""Where a keeper sells seized collateral: one market, or a greedy split across pools and venues.

A :class:`SaleRouter` prices sales of one asset into several markets given what is already going
to be sold into each before the keeper's sale (pending sales ahead in the mempool, and the keeper's
own earlier picks in the same block). ``first`` routing sends everything to the first market;
``greedy`` routing cuts the sale into equal slices and sends each to the market that pays most for
it after the slices already placed — the marginal-price split of a smart order router.
"""

from __future__ import annotations

import numpy as np

from contagion.errors import AmmError
from contagion.markets.venue import Venue, VenueDepthError

__all__ = ["SaleRouter"]


class SaleRouter:
    """Plans sales of ``asset_in`` for ``asset_out`` across ``markets`` (pools and venues)."""

    def __init__(self, markets: list, asset_in: str, asset_out: str):
        if not markets:
            raise ValueError("SaleRouter needs at least one market")
        self.markets = list(markets)
        self.asset_in = asset_in
        self.asset_out = asset_out
        self.planned = {m.name: 0.0 for m in self.markets}

    def _proceeds(self, market, total: float) -> float:
        """What selling ``total`` (from the current state) pays, in ``asset_out``."""
        if total <= 0:
            return 0.0
        try:
            if isinstance(market, Venue):
                if market.base == self.asset_in:
                    return market.proceeds_of_sale(total)
                return market.base_for_quote(total)
            return float(market.quote(self.asset_in, total, self.asset_out))
        except (VenueDepthError, AmmError):
            return -np.inf

    def output(self, market, amount: float, extra_before: float = 0.0) -> float:
        """Output of selling ``amount`` after what is planned (plus ``extra_before``); ``-inf``
        where the market cannot take it."""
        before = self.planned[market.name] + extra_before
        if amount <= 0:
            return 0.0
        if before <= 0:
            return self._proceeds(market, amount)
        if isinstance(market, Venue):
            return self._proceeds(market, before + amount) - self._proceeds(market, before)
        outs = market.quote_sequence(self.asset_in, [before, amount], self.asset_out)
        return float(outs[1]) if np.isfinite(outs[1]) else -np.inf

    def add_pending(self, market_name: str, amount: float) -> None:
        """A sale into ``market_name`` that will execute before the ones being planned."""
        if market_name in self.planned:
            self.planned[market_name] += amount

    def plan(self, amount: float, routing: str = "first", slices: int = 10) -> tuple[dict[str, float], float]:
        """``({market name: amount}, total output)`` for selling ``amount``."""
        if routing == "first" or len(self.markets) == 1:
            market = self.markets[0]
            return {market.name: amount}, self.output(market, amount)
        piece = amount / slices
        alloc = {m.name: 0.0 for m in self.markets}
        got = {m.name: 0.0 for m in self.markets}
        for _ in range(slices):
            best, best_gain, best_total = None, -np.inf, 0.0
            for market in self.markets:
                total = self.output(market, alloc[market.name] + piece)
                gain = total - got[market.name]
                if gain > best_gain:
                    best, best_gain, best_total = market, gain, total
            alloc[best.name] += piece
            got[best.name] = best_total
        alloc = {name: a for name, a in alloc.items() if a > 0}
        return alloc, float(sum(got[name] for name in alloc))

    def commit(self, allocation: dict[str, float]) -> None:
        """Record a planned sale so later plans are priced after it."""
        for name, amount in allocation.items():
            self.planned[name] += amount
