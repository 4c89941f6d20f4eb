"""CEX-DEX arbitrageurs: they keep pools in line with the venue, through the mempool.

After each block (plus ``reaction_latency``) an arbitrageur compares each watched pool with the
venue's mid price. The pool's ``arbitrage_trade`` gives the swap whose marginal output (net of
fee) equals the mid — closed form for constant product, a tick walk for concentrated liquidity, a
compiled bisection for StableSwap; the trade actually sent maximizes
``pool output - venue hedge cost - gas`` over ``[0, that size]`` (the venue's impact makes smaller
trades better), limited by the arbitrageur's inventory, and only if the profit exceeds
``min_profit`` (USD). The swap is a transaction with a minimum output
(``slippage_tolerance``); once it is included, the arbitrageur reverses the position on the
venue after ``hedge_latency``: that hedge is how pool pressure (e.g. liquidation sales) reaches
the venue and, through it, the oracles that read the venue.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from contagion.agents.base import Agent
from contagion.engine.chain import GWEI, Block, Revert
from contagion.engine.gas import GasPolicy
from contagion.errors import AmmError
from contagion.markets.venue import VenueDepthError
from contagion.scenario.models import ArbitrageurAgents

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.pool import Pool

__all__ = ["Arbitrageur"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _maximize(f, hi: float, iterations: int = 60) -> tuple[float, float]:
    """Golden-section search for the maximum of a concave ``f`` on ``[0, hi]``."""
    a, b = 0.0, hi
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
        if b - a <= 1e-9 * max(1.0, hi):
            break
    x = 0.5 * (a + b)
    return x, f(x)


class Arbitrageur(Agent):
    """One CEX-DEX arbitrageur."""

    agent_type = "arbitrageur"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: ArbitrageurAgents):
        super().__init__(sim, population, number, spec)
        self.venue = sim.venues[spec.venue]
        self.pools: list["Pool"] = [sim.pools[p] for p in spec.watches]
        self.pending: dict[str, object] = {}
        self.watch(p.chain for p in self.pools)

    def on_block(self, chain) -> None:
        for pool in self.pools:
            if pool.chain is chain:
                self.act(pool)

    # ------------------------------------------------------------------------------- hedging
    def _hedge_cost(self, pool: "Pool", base_amount: float) -> float:
        """Pool-quote units paid on the venue to buy back ``base_amount`` of the pool's base."""
        venue = self.venue
        if venue.base == pool.base:
            return venue.cost_to_buy(base_amount)
        return venue.base_to_raise(base_amount)

    def _hedge_proceeds(self, pool: "Pool", base_amount: float) -> float:
        """Pool-quote units received on the venue for selling ``base_amount`` of the pool's base."""
        venue = self.venue
        if venue.base == pool.base:
            return venue.proceeds_of_sale(base_amount)
        return venue.base_for_quote(base_amount)

    def _hedge(self, pool: "Pool", side: int, base_amount: float):
        yield self.sim.env.timeout(self.spec.hedge_latency)
        venue = self.venue
        try:
            if side == 0:  # sold base into the pool: buy it back
                if venue.base == pool.base:
                    venue.buy(self.account, base_amount, self.agent_type)
                else:
                    venue.sell(self.account, venue.base_to_raise(base_amount), self.agent_type)
            else:  # bought base from the pool: sell it
                if venue.base == pool.base:
                    venue.sell(self.account, base_amount, self.agent_type)
                else:
                    venue.buy(self.account, venue.base_for_quote(base_amount), self.agent_type)
        except VenueDepthError:
            pass  # the venue cannot absorb it now; the position stays open

    # ------------------------------------------------------------------------------ decision
    def act(self, pool: "Pool") -> bool:
        """Send this block's arbitrage swap on ``pool`` if profitable; returns whether one was sent."""
        if pool.name in self.pending:
            return False
        sim, spec, venue = self.sim, self.spec, self.venue
        mid = venue.mid() if venue.base == pool.base else 1.0 / venue.mid()
        asset_in, size = pool.arbitrage_trade(mid)
        side = 0 if asset_in == pool.base else 1
        if size <= 0.0:
            return False
        usd_quote = sim.usd_price(pool.quote_asset)
        bid = GasPolicy(spec).fixed(pool.chain)
        gas_price = GasPolicy(spec).expected_price(pool.chain, bid)
        if not gas_price < math.inf:
            return False                               # priced out at this base fee
        gas_quote = pool.swap_gas * gas_price * GWEI * sim.usd_price(pool.chain.native_asset) / usd_quote
        ledger = sim.ledger
        if side == 0:
            cap = min(size, ledger.balance(self.account, pool.base))

            def profit(a: float) -> float:
                if a <= 0.0:
                    return -gas_quote
                try:
                    return pool.quote(pool.base, a) - self._hedge_cost(pool, a) - gas_quote
                except (VenueDepthError, AmmError, Revert):
                    return -math.inf
        else:
            cap = min(size, ledger.balance(self.account, pool.quote_asset))

            def profit(a: float) -> float:
                if a <= 0.0:
                    return -gas_quote
                try:
                    return self._hedge_proceeds(pool, pool.quote(pool.quote_asset, a)) - a - gas_quote
                except (VenueDepthError, AmmError, Revert):
                    return -math.inf

        if cap <= 0.0:
            return False
        amount, best = _maximize(profit, cap)
        if not best * usd_quote > spec.min_profit or amount <= 0.0:
            return False
        asset_out = pool.quote_asset if side == 0 else pool.base
        expected = pool.quote(asset_in, amount, asset_out)
        min_out = expected * (1.0 - spec.slippage_tolerance)
        account = self.account

        def swap(block: Block) -> float:
            return pool.swap(account, asset_in, amount, min_out, self.agent_type, asset_out)

        def done(tx) -> None:
            self.pending.pop(pool.name, None)
            if tx.status == "included":
                base_amount = amount if side == 0 else tx.result
                sim.env.process(self._hedge(pool, side, base_amount))

        self.pending[pool.name] = pool.chain.submit(
            sender=account, agent_type=self.agent_type, kind="swap", gas_used=pool.swap_gas,
            action=swap, target=("swap", pool.name, self.name), on_result=done, **bid)
        return True
