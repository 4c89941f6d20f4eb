"""Liquidation keepers.

Each keeper of a ``kind: keeper`` population is one process. After every block of the chain its
protocols live on, it waits its reaction latency (plus a uniform jitter from its own stream),
then, for each watched protocol:

1. takes the liquidatable positions at the current on-chain prices (the protocol's sorted index);
2. drops those already targeted by a pending transaction — its own always, and other keepers'
   too when ``skip_pending`` (a public mempool shows them);
3. prices every candidate: the repayment it can make with its debt-asset balance (close factor
   and bonus from the protocol's rules), the seized collateral, and a standalone sale of that
   collateral into its best market; candidates are ranked by that profit
   ``(sale - repayment) * P_debt - gas`` (USD);
4. accepts them in that order after re-pricing each sale exactly — routed by ``routing`` across its
   markets (``sell_into``, default the protocol's ``liquidates_into``), after the sales that will
   execute before it: liquidation sales pending in the public mempool with an equal or higher gas
   price (they arrived first), then its own earlier picks — while profit stays above
   ``min_profit``, up to ``max_liquidations_per_block`` and as long as it can pay the gas;
5. submits each as one transaction that liquidates and sells the pool part of the route
   atomically; it reverts (paying gas) if a pool sale returns less than quoted minus
   ``slippage_tolerance``, if the position is no longer liquidatable, or if the keeper cannot fund
   the repayment. The venue part of the route is sold off-chain ``venue_delay`` after inclusion.

If the protocol reads pull oracles, the keeper prices candidates at the newest signed prices
(:meth:`~contagion.protocols.lending.LendingMarket.pull_bundle`) and each transaction first
stores them, then liquidates (the update's gas is added). It sends nothing while a price the
liquidation would read is already stale (the protocol would revert).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion import kernels
from contagion.agents.base import Agent
from contagion.agents.routing import SaleRouter
from contagion.engine.chain import GWEI, Block
from contagion.markets.venue import Venue, VenueDepthError
from contagion.scenario.models import KeeperAgents

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.protocols.lending import LendingMarket

__all__ = ["Keeper"]


class Keeper(Agent):
    """One liquidation bot."""

    agent_type = "keeper"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: KeeperAgents):
        super().__init__(sim, population, number, spec)
        self.markets: list["LendingMarket"] = [sim.protocols[p] for p in spec.watches]
        self.rng = sim.rng.stream(f"agents:{self.name}:latency")
        self.routes = {m.name: self._sale_markets(m) for m in self.markets}
        self.watch(m.chain for m in self.markets)

    def _sale_markets(self, protocol: "LendingMarket") -> list:
        """Markets (pools on the protocol's chain, venues) trading its collateral for its debt."""
        names = self.spec.sell_into or [p.name for p in protocol.sell_into]
        pair = {protocol.collateral_asset, protocol.debt_asset}
        out = []
        for name in names:
            market = self.sim.market(name)
            if isinstance(market, Venue):
                if {market.base, market.quote_asset} == pair:
                    out.append(market)
            elif pair <= set(market.assets) and market.chain is protocol.chain:
                out.append(market)
        return out or list(protocol.sell_into)

    def reaction_delay(self) -> float:
        jitter = self.spec.latency_jitter
        return self.spec.reaction_latency + (self.rng.uniform(0.0, jitter) if jitter > 0 else 0.0)

    def on_block(self, chain) -> None:
        for market in self.markets:
            if market.chain is chain:
                self.act(market)

    # ----------------------------------------------------------------------------- decision
    def _candidates(self, market: "LendingMarket", ratio: float | None = None) -> np.ndarray:
        ids = market.liquidatable_ids(ratio)
        if not ids.size:
            return ids
        mempool = market.chain.mempool
        busy = [target[2] for target, txs in mempool.targets(viewer=self.account).items()
                if target[0] == "liquidate" and target[1] == market.name
                and (self.spec.skip_pending or any(tx.sender == self.account for tx in txs))]
        if busy:
            ids = ids[~np.isin(ids, np.asarray(busy, dtype=np.int64))]
        return ids

    def _standalone(self, markets: list, asset_in: str, asset_out: str, amounts: np.ndarray) -> np.ndarray:
        """Best single-market output for each amount, from the current state (vectorized)."""
        best = np.full(amounts.size, -np.inf)
        for market in markets:
            if isinstance(market, Venue):
                try:
                    out = amounts * np.array([market.fill_price(-a) for a in amounts]) \
                        if market.base == asset_in else np.array([market.base_for_quote(a) for a in amounts])
                except VenueDepthError:
                    continue
            else:
                out = market.quote_batch(asset_in, amounts, asset_out)
            best = np.maximum(best, np.nan_to_num(out, nan=-np.inf))
        return best

    def act(self, market: "LendingMarket") -> int:
        """Plan and submit this block's liquidations on ``market``; returns how many were sent."""
        sim = self.sim
        spec = self.spec
        bundle = market.pull_bundle()
        if market.oracle_problem(sim.env.now, bundle) is not None:
            return 0
        ratio = market.ratio_with(bundle) if bundle else market.ratio
        ids = self._candidates(market, ratio)
        if not ids.size:
            return 0
        budget = sim.ledger.balance(self.account, market.debt_asset)
        if budget <= 0:
            return 0
        c = np.ascontiguousarray(market.collateral[ids])
        d = np.ascontiguousarray(market.debt[ids])
        repay = np.empty_like(c)
        seize = np.empty_like(c)
        kernels.liquidation.seize_batch(np.full(ids.size, budget), c, d, ratio, market.lt,
                                        market.close_factor, market.full_close_hf, market.bonus, repay, seize)
        live = seize > 0
        if not live.any():
            return 0
        ids, repay, seize = ids[live], repay[live], seize[live]
        coll, debt_asset = market.collateral_asset, market.debt_asset
        routes = self.routes[market.name]
        pools = [m for m in routes if not isinstance(m, Venue)]
        update_gas = sum(oracle.update_gas for oracle, _ in bundle)
        gas = market.spec.liquidation_gas + update_gas + (pools[0].swap_gas if pools else 0)
        gas_usd = gas * spec.gas_price * GWEI * sim.usd_price(market.chain.native_asset)
        usd_debt = sim.usd_price(debt_asset)
        proceeds = self._standalone(routes, coll, debt_asset, seize)
        profit = (proceeds - repay) * usd_debt - gas_usd
        order = np.argsort(-profit, kind="stable")
        order = order[profit[order] > spec.min_profit]
        if not order.size:
            return 0
        router = SaleRouter(routes, coll, debt_asset)
        for tx in market.chain.mempool.pending(viewer=self.account):
            if tx.gas_price >= spec.gas_price:
                for name, amount in tx.meta.get("sales", ()):
                    router.add_pending(name, amount)
        fee_native = gas * spec.gas_price * GWEI
        affordable = int(sim.ledger.balance(self.account, market.chain.native_asset) // fee_native)
        sent = 0
        for j in order:
            if sent >= min(affordable, spec.max_liquidations_per_block):
                break
            allocation, got = router.plan(float(seize[j]), spec.routing, spec.route_slices)
            if not (got - repay[j]) * usd_debt - gas_usd > spec.min_profit:  # also when got is -inf
                continue
            prices = {name: router.output(sim.market(name), amount) / amount for name, amount in allocation.items()}
            router.commit(allocation)
            tx_gas = market.spec.liquidation_gas + update_gas + sum(
                sim.pools[n].swap_gas for n in allocation if n in sim.pools)
            self._submit(market, int(ids[j]), float(repay[j]), float(seize[j]), allocation, prices, tx_gas,
                         bundle)
            sent += 1
        return sent

    def _submit(self, market, position: int, repay: float, seize: float, allocation: dict[str, float],
                unit_prices: dict[str, float], gas: int, bundle=()) -> None:
        sim = self.sim
        submitted_at = sim.env.now
        tol = self.spec.slippage_tolerance
        account, name = self.account, self.name
        coll, debt_asset = market.collateral_asset, market.debt_asset
        shares = {m: a / seize for m, a in allocation.items()}
        pool_shares = {m: s for m, s in shares.items() if m not in sim.venues}
        venue_shares = {m: s for m, s in shares.items() if m in sim.venues}

        def liquidate_and_sell(block: Block) -> float:
            for oracle, signed in bundle:  # update price, then liquidate
                oracle.push(signed, submitted_at)
            repaid, seized = market.liquidate(account, position, repay, name)
            got = 0.0
            for pool_name, share in pool_shares.items():
                amount = seized * share
                got += sim.pools[pool_name].swap(account, coll, amount, amount * unit_prices[pool_name] * (1 - tol),
                                                 "keeper", debt_asset)
            return seized

        def sell_on_venues(tx) -> None:
            if tx.status == "included" and venue_shares:
                sim.env.process(self._venue_sale(tx.result, venue_shares, coll))

        market.chain.submit(sender=account, agent_type=self.agent_type, kind="liquidation",
                            gas_used=gas, gas_price=self.spec.gas_price, action=liquidate_and_sell,
                            target=("liquidate", market.name, position), on_result=sell_on_venues,
                            sales=[(m, a) for m, a in allocation.items() if m in pool_shares])

    def _venue_sale(self, seized: float, venue_shares: dict[str, float], asset: str):
        """Sell ``asset`` on venues once it has arrived there (``venue_delay`` after inclusion)."""
        yield self.sim.env.timeout(self.spec.venue_delay)
        for venue_name, share in venue_shares.items():
            venue = self.sim.venues[venue_name]
            amount = min(seized * share, self.sim.ledger.balance(self.account, asset))
            try:
                if venue.base == asset:
                    venue.sell(self.account, min(amount, venue.max_sell()), self.agent_type)
                else:  # the venue quotes the collateral: buy its base (the debt asset) with it
                    venue.buy(self.account, venue.base_for_quote(amount), self.agent_type)
            except VenueDepthError:
                pass  # the venue cannot absorb it now; the keeper keeps the collateral
