"""Off-chain venues (CEX order books): an exogenous path plus linear impact with resilience.

The mid price is ``exogenous(t) * F * (1 + T(t))``. ``F`` accumulates the permanent impact of
trades; ``T`` is the temporary displacement, which decays exponentially with half-life
``resilience_half_life`` (Obizhaeva-Wang style resilience; with half-life 0 it is gone right after
the trade and only costs the trader). With ``gamma`` the permanent and ``kappa`` the temporary
impact per unit of base, a trade of signed size ``q`` (positive buys) at mid ``m``

* walks the book linearly: it fills at the average price ``m (1 + (gamma + kappa) q / 2)``;
* leaves the mid at ``m (1 + (gamma + kappa) q)``, of which ``F`` keeps ``1 + gamma q`` for good.

A trade that would take the mid to zero or below is refused. The venue's other side is the
account ``venue:<name>``, so trades conserve tokens like any swap. Trades are off-chain: they
happen at once, at simulation time, without a mempool.
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
        self.path = make_path(spec.path, spec.tick, sim.rng.stream(f"venue:{name}:path"), sim.base_dir,
                              f"venues.{name}.path")
        self.impact_factor = 1.0       # F
        self.displacement = 0.0        # T at time `displaced_at`
        self.displaced_at = 0.0
        self.half_life = spec.resilience_half_life
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

    def temporary(self, t: float | None = None) -> float:
        """The temporary displacement ``T`` at ``t`` (default now), after resilience."""
        if self.displacement == 0.0:
            return 0.0
        t = self.sim.env.now if t is None else t
        if self.half_life <= 0.0:
            return 0.0 if t > self.displaced_at else self.displacement
        return self.displacement * 2.0 ** (-(t - self.displaced_at) / self.half_life)

    def mid(self, t: float | None = None) -> float:
        """Mid price now (or at ``t``, with the impact accumulated so far)."""
        return self.exogenous(t) * self.impact_factor * (1.0 + self.temporary(t))

    def price(self) -> float:
        return self.mid()

    def exogenous_price(self) -> float:
        return self.exogenous()

    @property
    def _slope(self) -> float:
        return self.permanent_impact + self.temporary_impact

    def fill_price(self, qty: float) -> float:
        """Average fill price of a trade of signed size ``qty`` (base units; + buys)."""
        if 1.0 + self._slope * qty <= 0.0:
            raise VenueDepthError(f"venue {self.name}: a trade of {qty!r} {self.base} exceeds its depth")
        return self.mid() * (1.0 + 0.5 * self._slope * qty)

    def max_sell(self) -> float:
        """Largest sale (base units) the impact model can fill (x 0.99 of the limit)."""
        return float("inf") if self._slope == 0 else 0.99 / self._slope

    def cost_to_buy(self, qty: float) -> float:
        """Quote paid to buy ``qty`` base now."""
        return qty * self.fill_price(qty)

    def proceeds_of_sale(self, qty: float) -> float:
        """Quote received for selling ``qty`` base now."""
        return qty * self.fill_price(-qty)

    def base_for_quote(self, quote_amount: float) -> float:
        """Base bought by spending exactly ``quote_amount`` of quote now.

        Solves ``q * m * (1 + k q) = quote_amount`` with ``k = (permanent_impact + temporary_impact) / 2``.
        """
        m = self.mid()
        k = 0.5 * self._slope
        # the smaller root of k m q^2 + m q - Q = 0, in the form without cancellation
        return 2.0 * quote_amount / (m + math.sqrt(m * m + 4.0 * k * m * quote_amount))

    def base_to_raise(self, quote_amount: float) -> float:
        """Base to sell now to receive exactly ``quote_amount`` of quote.

        Solves ``q * m * (1 - k q) = quote_amount``; raises :class:`VenueDepthError` if no sale
        can raise that much.
        """
        m = self.mid()
        k = 0.5 * self._slope
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
        # the mid walks to m (1 + (gamma + kappa) q); F keeps the permanent part, T the rest
        now = self.sim.env.now
        after = before * (1.0 + self._slope * qty)
        self.impact_factor *= 1.0 + self.permanent_impact * qty
        self.displacement = after / (self.exogenous() * self.impact_factor) - 1.0
        self.displaced_at = now
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
