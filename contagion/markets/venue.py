"""Off-chain venues (CEX order books): an exogenous path plus a linear price-impact model.

The mid price is ``exogenous(t) * F`` where ``F`` accumulates the permanent impact of every
trade. A trade of signed size ``q`` (base units, positive = buy) at mid ``m``

* fills at the average price ``m (1 + (permanent_impact / 2 + temporary_impact) q)``: the
  permanent move is walked through linearly, the temporary part is paid on top;
* leaves the mid at ``m (1 + permanent_impact q)`` (``F`` is multiplied by ``1 + permanent_impact q``).

A trade large enough to take the mid or the fill price to zero is refused. The venue's other
side is the account ``venue:<name>``, so trades conserve tokens like any swap. Trades are
off-chain: they happen at once, at simulation time, without a mempool.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from contagion.errors import SimulationError
from contagion.markets.paths import make_path
from contagion.scenario.models import Venue as VenueSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["Venue", "VenueDepthError"]

DEFAULT_BASE_INVENTORY = 1e7


class VenueDepthError(SimulationError):
    """A trade larger than the venue's linear impact model can fill."""


class Venue:
    """A venue runtime: prices, quotes and trades for one base/quote pair."""

    kind = "venue"

    def __init__(self, sim: "Simulation", name: str, spec: VenueSpec):
        self.sim = sim
        self.name = name
        self.spec = spec
        self.base = spec.asset
        self.quote_asset = spec.quote
        self.permanent_impact = spec.permanent_impact
        self.temporary_impact = spec.temporary_impact
        self.path = make_path(spec.path, spec.tick, sim.rng.stream(f"venue:{name}:path"))
        self.impact_factor = 1.0
        self.account = sim.ledger.add_account(f"venue:{name}", "venue")
        start = self.path(0.0)
        inventory = spec.inventory or {}
        sim.ledger.mint(self.account, self.base, inventory.get(self.base, DEFAULT_BASE_INVENTORY))
        sim.ledger.mint(self.account, self.quote_asset,
                        inventory.get(self.quote_asset, DEFAULT_BASE_INVENTORY * start))

    # ------------------------------------------------------------------------------ prices
    def exogenous(self, t: float | None = None) -> float:
        """The exogenous path's price at ``t`` (default now)."""
        return self.path(self.sim.env.now if t is None else t)

    def mid(self, t: float | None = None) -> float:
        """Mid price now (or at ``t``, with today's accumulated impact)."""
        return self.exogenous(t) * self.impact_factor

    def price(self) -> float:
        return self.mid()

    def exogenous_price(self) -> float:
        return self.exogenous()

    def fill_price(self, qty: float) -> float:
        """Average fill price of a trade of signed size ``qty`` (base units; + buys)."""
        m = self.mid()
        factor = 1.0 + (0.5 * self.permanent_impact + self.temporary_impact) * qty
        if factor <= 0.0 or 1.0 + self.permanent_impact * qty <= 0.0:
            raise VenueDepthError(f"venue {self.name}: a trade of {qty!r} {self.base} exceeds its depth")
        return m * factor

    def max_sell(self) -> float:
        """Largest sale (base units) the impact model can fill at a positive price (x 0.99)."""
        slope = max(self.permanent_impact, 0.5 * self.permanent_impact + self.temporary_impact)
        return float("inf") if slope == 0 else 0.99 / slope

    def cost_to_buy(self, qty: float) -> float:
        """Quote paid to buy ``qty`` base now."""
        return qty * self.fill_price(qty)

    def proceeds_of_sale(self, qty: float) -> float:
        """Quote received for selling ``qty`` base now."""
        return qty * self.fill_price(-qty)

    def base_for_quote(self, quote_amount: float) -> float:
        """Base bought by spending exactly ``quote_amount`` of quote now.

        Solves ``q * m * (1 + k q) = quote_amount`` with ``k = permanent_impact/2 + temporary_impact``.
        """
        m = self.mid()
        k = 0.5 * self.permanent_impact + self.temporary_impact
        # the smaller root of k m q^2 + m q - Q = 0, in the form without cancellation
        return 2.0 * quote_amount / (m + math.sqrt(m * m + 4.0 * k * m * quote_amount))

    def base_to_raise(self, quote_amount: float) -> float:
        """Base to sell now to receive exactly ``quote_amount`` of quote.

        Solves ``q * m * (1 - k q) = quote_amount``; raises :class:`VenueDepthError` if no sale
        can raise that much.
        """
        m = self.mid()
        k = 0.5 * self.permanent_impact + self.temporary_impact
        disc = m * m - 4.0 * k * m * quote_amount
        if disc < 0.0:
            raise VenueDepthError(f"venue {self.name}: cannot raise {quote_amount!r} {self.quote_asset}")
        return 2.0 * quote_amount / (m + math.sqrt(disc))

    # ------------------------------------------------------------------------------ trades
    def _trade(self, account: str, agent_type: str, qty: float) -> float:
        before = self.mid()
        avg = self.fill_price(qty)
        ledger = self.sim.ledger
        notional = abs(qty) * avg
        if qty > 0:
            ledger.transfer(account, self.account, self.quote_asset, notional)
            ledger.transfer(self.account, account, self.base, qty)
            asset_in, amount_in, asset_out, amount_out = self.quote_asset, notional, self.base, qty
        else:
            ledger.transfer(account, self.account, self.base, -qty)
            ledger.transfer(self.account, account, self.quote_asset, notional)
            asset_in, amount_in, asset_out, amount_out = self.base, -qty, self.quote_asset, notional
        self.impact_factor *= 1.0 + self.permanent_impact * qty
        sim = self.sim
        sim.recorder.add("swaps", (sim.next_id("swap"), sim.env.now, -1, -1, self.name, "venue",
                                   account, agent_type, asset_in, amount_in, asset_out, amount_out,
                                   before, self.mid()))
        return notional

    def buy(self, account: str, qty: float, agent_type: str = "") -> float:
        """Buy ``qty`` base now; returns the quote paid."""
        return self._trade(account, agent_type, float(qty))

    def sell(self, account: str, qty: float, agent_type: str = "") -> float:
        """Sell ``qty`` base now; returns the quote received."""
        return self._trade(account, agent_type, -float(qty))
