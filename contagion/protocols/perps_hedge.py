"""Where a perps liquidation fill goes: the market maker's hedge on a pool or a venue.

The engine's liquidation order is filled by the protocol's market maker, which hedges each fill
at once on the market's ``liquidates_into``: it sells base there when it takes over a closed
long, and buys base when it takes over a closed short. The fill price is the hedge's average
execution price, so the liquidation's size moves that market exactly as a trade of that size.

A hedge is parametrized by a *control* ``x``: for a pool, the swap's input (base for a sale,
quote for a purchase — pools take exact inputs); for a venue, the base traded. The adapter
answers, without changing state, what a control closes (:meth:`MarketHedge.size_of`), what quote
it brings or costs (:meth:`MarketHedge.quote_of`), and the largest control whose *last* unit is
still within a price limit (:meth:`MarketHedge.limit_control`, from the pool's ``depth`` or the
venue's linear impact); :meth:`MarketHedge.execute` trades inside the current transaction. A
venue trade is off chain, so its state (impact, displacement) is journaled here to be undone
with the transaction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from contagion.errors import AmmError
from contagion.markets.venue import VenueDepthError

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["MarketHedge"]

_BISECTIONS = 200


class MarketHedge:
    """A pool or venue trading ``base`` against ``quote``, traded by ``account``."""

    def __init__(self, sim: "Simulation", market, base: str, quote: str, account: str, agent_type: str):
        self.sim = sim
        self.market = market
        self.name = market.name
        self.base = base
        self.quote = quote
        self.account = account
        self.agent_type = agent_type
        self.is_pool = market.kind == "pool"

    # ------------------------------------------------------------------------------ prices
    def price(self) -> float:
        """Marginal price of base in quote now (a pool's fee excluded; a venue's mid)."""
        if self.is_pool:
            return self.market.price_of(self.base, self.quote)
        return self.market.mid()

    def _slope(self) -> float:
        return self.market.permanent_impact + self.market.temporary_impact

    # ---------------------------------------------------------------------------- controls
    def size_of(self, sell: bool, x: float) -> float:
        """Base units a control ``x`` closes (NaN if the market cannot fill it)."""
        if x <= 0.0:
            return 0.0
        if sell or not self.is_pool:
            return x
        try:
            return self.market.quote(self.quote, x, self.base)
        except AmmError:
            return math.nan

    def quote_of(self, sell: bool, x: float) -> float:
        """Quote a control ``x`` brings (sale) or costs (purchase); NaN if it cannot be filled."""
        if x <= 0.0:
            return 0.0
        try:
            if self.is_pool:
                return self.market.quote(self.base, x, self.quote) if sell else x
            return self.market.proceeds_of_sale(x) if sell else self.market.cost_to_buy(x)
        except (AmmError, VenueDepthError):
            return math.nan

    def control_for_size(self, sell: bool, size: float) -> float:
        """The control that closes ``size`` base units (``inf`` if the market cannot deliver it)."""
        if size <= 0.0:
            return 0.0
        if sell or not self.is_pool:
            return size
        lo, hi = 0.0, size * self.price()
        for _ in range(200):                        # bracket: quote in until enough base comes out
            got = self.size_of(False, hi)
            if got >= size:
                break
            if not got == got:                      # NaN: the pool cannot fill
                return math.inf
            lo, hi = hi, hi * 2.0
        else:
            return math.inf
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            got = self.size_of(False, mid)
            if got == got and got >= size:
                hi = mid
            else:
                lo = mid
        return hi

    def limit_control(self, sell: bool, limit_price: float) -> float:
        """Largest control whose last unit trades at ``limit_price`` or better (at least that for
        a sale, at most that for a purchase), fees included."""
        if not limit_price > 0.0:
            return math.inf if sell else 0.0
        p = self.price()
        if self.is_pool:
            fee = self.market.fee
            if sell:
                first = p * (1.0 - fee)
                if limit_price >= first:
                    return 0.0
                return self.market.depth(self.base, 1.0 - limit_price / first)
            first = p / (1.0 - fee)
            if limit_price <= first:
                return 0.0
            return self.market.depth(self.quote, 1.0 - first / limit_price)
        slope = self._slope()
        if sell:
            if limit_price >= p:
                return 0.0
            return self.market.max_sell() if slope == 0.0 else min((1.0 - limit_price / p) / slope,
                                                                    self.market.max_sell())
        if limit_price <= p:
            return 0.0
        return math.inf if slope == 0.0 else (limit_price / p - 1.0) / slope

    def inventory_control(self, sell: bool) -> float:
        """Largest control the market maker's balances allow."""
        ledger = self.sim.ledger
        if sell:
            return ledger.balance(self.account, self.base)
        cash = ledger.balance(self.account, self.quote)
        if self.is_pool:
            return cash
        return self.market.base_for_quote(cash) if cash > 0 else 0.0

    # --------------------------------------------------------------------------- execution
    def execute(self, sell: bool, x: float) -> tuple[float, float]:
        """Trade control ``x`` inside the current transaction; returns ``(base, quote)`` moved."""
        if self.is_pool:
            if sell:
                out = self.market.swap(self.account, self.base, x, 0.0, self.agent_type, self.quote)
                return x, out
            out = self.market.swap(self.account, self.quote, x, 0.0, self.agent_type, self.base)
            return out, x
        venue = self.market
        state = (venue.impact_factor, venue.displacement, venue.displaced_at)

        def undo() -> None:
            venue.impact_factor, venue.displacement, venue.displaced_at = state

        self.sim.journal.record(undo)
        paid = venue.sell(self.account, x, self.agent_type) if sell else venue.buy(self.account, x, self.agent_type)
        return x, paid
