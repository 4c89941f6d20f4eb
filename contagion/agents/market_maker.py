"""Options market makers who delta-hedge a written book: the gamma feedback loop.

Each market maker of a ``kind: market_maker`` population has written its ``book`` in an options
protocol (:class:`~contagion.protocols.options.OptionsMarket`: premiums from the buyers at
genesis, ``collateral`` posted from its inventory). A written book is short gamma: its delta
rises as the underlying falls (written puts gain delta), so holding the hedge ``-h x delta``
means *selling* the underlying into a fall and buying into a rise.

Every ``rebalance_interval`` (a process of its own; the first at ``rebalance_interval`` after the
start) the market maker

1. reads the price ``S`` of its hedge market (``hedge_on``: the venue's mid, or the pool's marginal
   price, in quote units per underlying unit) and the protocol's volatility level ``sigma``;
2. computes its book's Black-Scholes delta ``Delta = -sum(contracts x delta_i(S, sigma, tau_i))``
   (underlying units; the options it wrote count negatively) and the target hedge
   ``-hedge_ratio x Delta``;
3. trades ``target - position`` of the underlying on the hedge market, unless that is smaller
   than ``min_trade``. On a venue the trade is immediate, through its impact model (it moves the
   mid, and oracles that read the venue see it). On a pool it is a swap transaction, bid at
   ``gas_price``, with a minimum output ``slippage_tolerance`` below the quote; a purchase asks
   the pool for the quote amount whose output is the wanted underlying. One pool hedge is in
   flight at a time.

``position`` counts the hedge held, in underlying units. A market maker starts hedged: at time 0
``position`` is set to the target at the hedge market's price and the protocol's initial level,
without trading (the hedge was put on before the run). So each trade is ``-hedge_ratio`` times
the change of the book's delta since the last trade. Sales need the underlying in the inventory
and purchases the quote asset: a trade is cut to what the inventory allows. ``hedge: false``
leaves the book unhedged (``position`` stays 0, nothing is traded).

Every trade is a row of ``hedges``: the price and level it was computed at, the book's delta and
gamma, the target, the position before, the trade wanted and what was executed, and the hedge
market's price before and after.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from contagion.agents.base import Agent
from contagion.engine.chain import Block
from contagion.engine.gas import GasPolicy
from contagion.errors import AmmError
from contagion.markets.venue import Venue, VenueDepthError
from contagion.scenario.families.options import MarketMakerAgents

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.protocols.options import OptionsMarket

__all__ = ["MarketMaker"]

_BISECTIONS = 100


class MarketMaker(Agent):
    """One options market maker."""

    agent_type = "market_maker"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: MarketMakerAgents):
        super().__init__(sim, population, number, spec)
        self.protocol: "OptionsMarket" = sim.protocols[spec.protocol]
        asset, amount = next(iter(spec.collateral.items()))
        self.protocol.add_market_maker(self, spec.book, asset, amount)
        self.market = sim.market(spec.hedge_on)
        self.underlying, self.quote = self.protocol.underlying, self.protocol.quote
        self.position = 0.0
        self.pending = None
        self._accounts = None
        sim.env.process(self._run())

    # ------------------------------------------------------------------------------ views
    @property
    def accounts(self):
        """This market maker's account ids in the protocol."""
        if self._accounts is None:
            self._accounts = self.protocol.accounts_of(self.account)
        return self._accounts

    def market_price(self) -> float:
        """Price of the underlying on the hedge market, quote units."""
        market = self.market
        if isinstance(market, Venue):
            mid = market.mid()
            return mid if market.base == self.underlying else 1.0 / mid
        return market.price_of(self.underlying, self.quote)

    def book(self) -> tuple[float, float, float, float]:
        """``(spot, level, delta, gamma)`` of the book now, at the hedge market's price."""
        spot, iv = self.market_price(), self.protocol.iv
        delta, gamma = self.protocol.book_greeks(self.accounts, spot, iv, self.sim.env.now)
        return spot, iv, delta, gamma

    def target(self, delta: float) -> float:
        """Hedge wanted for a book delta (underlying units)."""
        return -self.spec.hedge_ratio * delta

    # ------------------------------------------------------------------------------ loop
    def _run(self):
        env, spec = self.sim.env, self.spec
        if spec.hedge:
            self.position = self.target(self.book()[2])
        while True:
            yield env.timeout(spec.rebalance_interval)
            if spec.hedge:
                self.rebalance()

    def rebalance(self) -> None:
        """Trade towards the target hedge (see the module docstring)."""
        if self.pending is not None:
            return
        spot, iv, delta, gamma = self.book()
        target = self.target(delta)
        trade = target - self.position
        if trade == 0.0 or abs(trade) < self.spec.min_trade:
            return
        decision = (self.sim.env.now, spot, iv, delta, gamma, target, self.position, trade)
        if isinstance(self.market, Venue):
            self._venue_trade(decision)
        else:
            self._pool_trade(decision)

    def _record(self, decision, executed: float, before: float, after: float, block: int, tx_id: int) -> None:
        sim, spec = self.sim, self.spec
        time, spot, iv, delta, gamma, target, position, trade = decision
        sim.recorder.add("hedges", (
            sim.next_id("hedge"), time, sim.env.now, block, tx_id, self.name, spec.protocol, self.market.name,
            self.market.kind, spot, iv, delta, gamma, spec.hedge_ratio, target, position, trade, executed,
            before, after))

    # ----------------------------------------------------------------------------- venue
    def _venue_trade(self, decision) -> None:
        venue, ledger = self.market, self.sim.ledger
        trade = decision[-1]
        direct = venue.base == self.underlying
        before = self.market_price()
        try:
            if trade < 0:     # sell the underlying
                qty = min(-trade, ledger.balance(self.account, self.underlying))
                if qty <= 0:
                    return
                if direct:
                    venue.sell(self.account, qty, self.agent_type)
                else:
                    venue.buy(self.account, venue.base_for_quote(qty), self.agent_type)
                executed = -qty
            else:             # buy the underlying
                budget = ledger.balance(self.account, self.quote)
                qty = trade
                if direct:
                    if venue.cost_to_buy(qty) > budget:
                        qty = venue.base_for_quote(budget)
                    if qty <= 0:
                        return
                    venue.buy(self.account, qty, self.agent_type)
                else:
                    cost = venue.base_to_raise(qty)
                    if cost > budget:
                        cost = budget
                        qty = venue.proceeds_of_sale(cost)
                    if cost <= 0:
                        return
                    venue.sell(self.account, cost, self.agent_type)
                executed = qty
        except VenueDepthError:
            return
        self.position += executed
        self._record(decision, executed, before, self.market_price(), -1, -1)   # off chain: no block

    # ------------------------------------------------------------------------------ pool
    def _pool_trade(self, decision) -> None:
        pool, ledger, sim = self.market, self.sim.ledger, self.sim
        trade = decision[-1]
        bid = GasPolicy(self.spec).fixed(pool.chain)
        if not GasPolicy(self.spec).expected_price(pool.chain, bid) < math.inf:
            return
        try:
            if trade < 0:
                asset_in, asset_out = self.underlying, self.quote
                amount_in = min(-trade, ledger.balance(self.account, self.underlying))
            else:
                asset_in, asset_out = self.quote, self.underlying
                amount_in = min(self._input_for(trade), ledger.balance(self.account, self.quote))
            if not amount_in > 0:
                return
            expected = pool.quote(asset_in, amount_in, asset_out)
        except AmmError:
            return
        min_out = expected * (1.0 - self.spec.slippage_tolerance)
        account = self.account

        def action(block: Block) -> float:
            before = self.market_price()
            out = pool.swap(account, asset_in, amount_in, min_out, self.agent_type, asset_out)
            executed = -amount_in if asset_in == self.underlying else out
            self._record(decision, executed, before, self.market_price(), block.number, sim.current_tx_id)
            return executed

        def done(tx) -> None:
            self.pending = None
            if tx.status == "included":
                self.position += tx.result

        self.pending = pool.chain.submit(
            sender=account, agent_type=self.agent_type, kind="hedge", gas_used=pool.swap_gas, action=action,
            target=("hedge", pool.name, self.name), on_result=done, **bid)

    def _input_for(self, out: float) -> float:
        """Quote amount whose swap into the pool returns ``out`` of the underlying (bisection on
        the pool's quotes); raises :class:`AmmError` if the pool cannot deliver ``out``."""
        pool = self.market

        def got(x: float) -> float:
            return pool.quote(self.quote, x, self.underlying)

        hi = out * pool.price_of(self.underlying, self.quote) / max(1e-12, 1.0 - pool.fee) * 1.01
        for _ in range(200):
            if got(hi) >= out:
                break
            hi *= 2.0
        else:  # pragma: no cover - a pool that never delivers raises AmmError first
            raise AmmError(f"pool {pool.name} cannot deliver {out!r} {self.underlying}")
        lo = 0.0
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            if got(mid) >= out:
                hi = mid
            else:
                lo = mid
            if hi - lo <= 1e-13 * hi:
                break
        return hi

