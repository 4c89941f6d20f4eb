"""Buyers of a Comet market's collateral: ``buyCollateral`` at the store-front price, sold on a market.

Each buyer of a ``kind: collateral_buyer`` population is one process. After every block (plus its
reaction latency and a uniform jitter from its stream ``agents:<name>:latency``), for each watched
Comet market whose collateral is for sale (reserves below ``target_reserves``, or negative), and
for each collateral asset the protocol owns and no pending transaction already targets (its own
always, other buyers' too when ``skip_pending``):

1. the store-front price ``u`` (base per unit, at the oracles' answers) and the most it can buy,
   ``q_max = min(protocol's holding, base balance / u)``;
2. for each of its markets trading the asset against the base (``sell_into``, default the
   market's ``liquidates_into``; pools on the market's chain, venues), the proceeds of selling
   ``q`` on a geometric grid of 120 sizes from ``q_max / 10^4`` to ``q_max``, from the current
   state; the size and market with the largest ``proceeds(q) - q u`` win;
3. it sends the purchase if that profit, in USD, exceeds the gas by more than ``min_profit`` and
   it can pay the gas.

The transaction buys (reverting if it gets less than ``(1 - slippage_tolerance) q``: the oracle
moved) and, for a pool, sells what it bought in the same transaction (reverting if the sale
returns less than quoted, pro rata, minus the tolerance); a venue sale happens ``venue_delay``
after inclusion. Its base balance comes back with the sale, so capital only bounds one purchase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion.agents.base import Agent
from contagion.engine.chain import GWEI, Block
from contagion.engine.gas import GasPolicy
from contagion.markets.venue import Venue, VenueDepthError

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.protocols.comet import CometMarket

__all__ = ["CollateralBuyer"]

GRID = np.geomspace(1e-4, 1.0, 120)


class CollateralBuyer(Agent):
    """One buyer of Comet collateral."""

    agent_type = "collateral_buyer"
    tx_kind = "buy_collateral"

    def __init__(self, sim: "Simulation", population: str, number: int, spec):
        super().__init__(sim, population, number, spec)
        self.markets: list["CometMarket"] = [sim.protocols[p] for p in spec.watches]
        self.rng = sim.rng.stream(f"agents:{self.name}:latency")
        self.gas = GasPolicy(spec)
        self.routes = {m.name: self._routes(m) for m in self.markets}
        self.watch(m.chain for m in self.markets)

    def _routes(self, protocol: "CometMarket") -> dict[str, list]:
        """Markets trading each collateral asset against the base (pools on the market's chain)."""
        names = self.spec.sell_into if self.spec.sell_into is not None else protocol.spec.liquidates_into
        out: dict[str, list] = {}
        for asset in protocol.assets:
            pair = {asset, protocol.base_asset}
            found = []
            for name in names:
                market = self.sim.market(name)
                if isinstance(market, Venue):
                    if {market.base, market.quote_asset} == pair:
                        found.append(market)
                elif pair <= set(market.assets) and market.chain is protocol.chain:
                    found.append(market)
            out[asset] = found
        return out

    def reaction_delay(self) -> float:
        """Reaction latency plus a uniform draw in ``[0, latency_jitter]``, seconds."""
        jitter = self.spec.latency_jitter
        return self.spec.reaction_latency + (self.rng.uniform(0.0, jitter) if jitter > 0 else 0.0)

    def on_block(self, chain) -> None:
        """Act on every watched market of ``chain``."""
        for protocol in self.markets:
            if protocol.chain is chain:
                self.act(protocol)

    # ---------------------------------------------------------------------------- pricing
    @staticmethod
    def proceeds(market, asset: str, base: str, amounts: np.ndarray) -> np.ndarray:
        """Base received for selling each of ``amounts`` of ``asset`` from the current state
        (independently); ``-inf`` where the market cannot take it."""
        if not isinstance(market, Venue):
            out = market.quote_batch(asset, amounts, base)
            return np.where(np.isfinite(out), out, -np.inf)
        out = np.full(amounts.size, -np.inf)
        for k, amount in enumerate(amounts):
            try:
                out[k] = market.proceeds_of_sale(amount) if market.base == asset else market.base_for_quote(amount)
            except VenueDepthError:
                break
        return out

    def act(self, protocol: "CometMarket") -> int:
        """Plan and send this block's purchases on ``protocol``; returns how many were sent."""
        sim, spec = self.sim, self.spec
        if not protocol.for_sale():
            return 0
        chain = protocol.chain
        bid = self.gas.fixed(chain)
        gas_price = self.gas.expected_price(chain, bid)
        if not gas_price < float("inf"):
            return 0
        base = protocol.base_asset
        ledger = sim.ledger
        budget = ledger.balance(self.account, base)
        native = ledger.balance(self.account, chain.native_asset)
        native_usd, base_usd = sim.usd_price(chain.native_asset), sim.usd_price(base)
        busy = {target[2] for target, txs in chain.mempool.targets(viewer=self.account).items()
                if target[0] == self.tx_kind and target[1] == protocol.name
                and (spec.skip_pending or any(tx.sender == self.account for tx in txs))}
        sent = 0
        for j, asset in enumerate(protocol.assets):
            held = float(protocol.collateral_reserves[j])
            routes = self.routes[protocol.name][asset]
            if held <= 0 or asset in busy or not routes or budget <= 0:
                continue
            unit = protocol.store_front_price(asset)
            q_max = min(held, budget / unit)
            grid = q_max * GRID
            best = None
            for market in routes:
                profit = self.proceeds(market, asset, base, grid) - grid * unit
                k = int(np.argmax(profit))
                if np.isfinite(profit[k]) and (best is None or profit[k] > best[0]):
                    best = (float(profit[k]), float(grid[k]), market, float(profit[k] + grid[k] * unit))
            if best is None or best[0] <= 0:
                continue
            profit, amount, market, out = best
            gas = protocol.spec.buy_collateral_gas + (0 if isinstance(market, Venue) else market.swap_gas)
            fee = gas * gas_price * GWEI
            if fee > native or not profit * base_usd - fee * native_usd > spec.min_profit:
                continue
            self._submit(protocol, asset, amount, amount * unit, market, out / amount, gas, bid)
            budget -= amount * unit
            native -= fee
            sent += 1
        return sent

    def _submit(self, protocol: "CometMarket", asset: str, amount: float, base_amount: float, market,
                unit_out: float, gas: int, bid: dict) -> None:
        sim = self.sim
        account, name, tol = self.account, self.name, self.spec.slippage_tolerance
        base = protocol.base_asset
        venue = isinstance(market, Venue)

        def buy_and_sell(block: Block) -> float:
            got = protocol.buy_collateral(account, asset, amount * (1.0 - tol), base_amount, name)
            if not venue:
                market.swap(account, asset, got, got * unit_out * (1.0 - tol), self.agent_type, base)
            return got

        def done(tx) -> None:
            if tx.status == "included" and venue:
                sim.env.process(self._venue_sale(market, asset, float(tx.result)))

        protocol.chain.submit(sender=account, agent_type=self.agent_type, kind=self.tx_kind, gas_used=gas,
                              action=buy_and_sell, target=(self.tx_kind, protocol.name, asset), on_result=done,
                              **bid)

    def _venue_sale(self, venue: Venue, asset: str, amount: float):
        """Sell ``amount`` of ``asset`` on ``venue`` once it has arrived there."""
        yield self.sim.env.timeout(self.spec.venue_delay)
        amount = min(amount, self.sim.ledger.balance(self.account, asset))
        try:
            if venue.base == asset:
                venue.sell(self.account, min(amount, venue.max_sell()), self.agent_type)
            else:
                venue.buy(self.account, venue.base_for_quote(amount), self.agent_type)
        except VenueDepthError:
            pass   # the venue cannot absorb it now; the buyer keeps the collateral
