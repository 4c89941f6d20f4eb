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

Gas: each transaction is bid by the keeper's ``gas_strategy`` (:mod:`contagion.agents.gas`):
``fixed``, ``fraction_of_profit`` and ``sealed_bid`` bids are made once; with ``pga`` the keeper
also competes for positions others already target, and re-bids (replacing its pending
transaction) each time a competitor's transaction for the same position outbids it, after its
reaction latency, while the bid stays below break-even. Candidates whose bid cannot be included
at the current base fee are not sent. Profit is counted after gas (for the share-of-profit
strategies, after the share bid).

Capital: the repayment is paid from the keeper's debt-asset balance; with a ``flash_loan`` the
shortfall is flash-borrowed inside the transaction and repaid, with the fee, from the sale of the
seized collateral into pools (the venue part of a route cannot repay it); the fee is counted in
the profit.

If the protocol reads pull oracles, the keeper prices candidates at the newest signed prices
(:meth:`~contagion.protocols.lending.LendingMarket.pull_bundle`) and each transaction first
stores them, then liquidates (the update's gas is added). It sends nothing while a price the
liquidation would read is already stale (the protocol would revert).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion.agents.base import Agent
from contagion.agents.flash import FlashLender
from contagion.engine.gas import GasPolicy, price_of
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
        self._routes: dict[tuple, list] = {}
        self.gas = GasPolicy(spec)
        self.lender = FlashLender(sim, population, spec.flash_loan) if spec.flash_loan is not None else None
        self.live: dict[tuple, tuple] = {}     # pga: target -> (own pending tx, gas, profit in native units)
        self._rebidding: set[tuple] = set()
        if spec.gas_strategy == "pga":
            for chain in dict.fromkeys(m.chain for m in self.markets):
                chain.mempool.listen(self._on_pending)
        self.watch(m.chain for m in self.markets)

    def routes(self, protocol, collateral: str, debt: str) -> list:
        """Markets (pools on the protocol's chain, venues) where this keeper sells ``collateral``
        for ``debt``: its ``sell_into``, or the protocol's ``liquidates_into``, that trade the pair."""
        key = (protocol.name, collateral, debt)
        if key not in self._routes:
            names = self.spec.sell_into or [p.name for p in protocol.sell_into]
            pair = {collateral, debt}
            out = []
            for name in names:
                market = self.sim.market(name)
                if isinstance(market, Venue):
                    if {market.base, market.quote_asset} == pair:
                        out.append(market)
                elif pair <= set(market.assets) and market.chain is protocol.chain:
                    out.append(market)
            self._routes[key] = out
        return self._routes[key]

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
                and ((self.spec.skip_pending and self.spec.gas_strategy != "pga")
                     or any(tx.sender == self.account for tx in txs))]
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
        own_balance: dict[str, float] = {}
        budget: dict[str, float] = {}
        for asset in market.debt_assets():
            own_balance[asset] = sim.ledger.balance(self.account, asset)
            budget[asset] = own_balance[asset] + (self.lender.available(asset) if self.lender is not None else 0.0)
        sent = 0
        for group in market.liquidation_groups(ids, budget, ratio):
            sent += self._act_on(market, group, own_balance[group.debt_asset], bundle,
                                 spec.max_liquidations_per_block - sent)
            if sent >= spec.max_liquidations_per_block:
                break
        return sent

    def _act_on(self, market, group, own: float, bundle, limit: int) -> int:
        """Price, rank and submit the liquidations of one (collateral, debt) group; returns how many."""
        sim, spec = self.sim, self.spec
        ids, repay, seize = group.ids, group.repay, group.seize
        coll, debt_asset = group.collateral_asset, group.debt_asset
        routes = self.routes(market, coll, debt_asset)
        if not routes:
            return 0
        pools = [m for m in routes if not isinstance(m, Venue)]
        update_gas = sum(oracle.update_gas for oracle, _ in bundle)
        flash_gas = self.lender.gas if self.lender is not None else 0
        gas = market.spec.liquidation_gas + update_gas + flash_gas + (pools[0].swap_gas if pools else 0)
        chain = market.chain
        native_usd = sim.usd_price(chain.native_asset)
        usd_debt = sim.usd_price(debt_asset)
        flash_fee = self.lender.fee if self.lender is not None else 0.0
        proceeds = self._standalone(routes, coll, debt_asset, seize)
        gross = (proceeds - repay - flash_fee * np.maximum(repay - own, 0.0)) * usd_debt   # before gas, USD
        fixed_price = self.gas.expected_price(chain, self.gas.fixed(chain))
        if spec.gas_strategy in ("fraction_of_profit", "sealed_bid"):
            profit = gross * (1.0 - spec.profit_fraction)
        elif np.isfinite(fixed_price):
            profit = gross - gas * fixed_price * GWEI * native_usd
        else:
            return 0                      # the bid cannot be included at this base fee
        order = np.argsort(-profit, kind="stable")
        order = order[profit[order] > spec.min_profit]
        if not order.size:
            return 0
        router = SaleRouter(routes, coll, debt_asset)
        base = chain.base_fee
        own_price = fixed_price if np.isfinite(fixed_price) else 0.0
        for tx in chain.mempool.pending(viewer=self.account):
            if price_of(tx, base) >= own_price:
                for name, amount in tx.meta.get("sales", ()):
                    router.add_pending(name, amount)
        native = sim.ledger.balance(self.account, chain.native_asset)
        sent = 0
        for j in order:
            if sent >= limit:
                break
            allocation, got = router.plan(float(seize[j]), spec.routing, spec.route_slices)
            borrowed = max(0.0, float(repay[j]) - own) if self.lender is not None else 0.0
            if borrowed > 0 and any(name in sim.venues for name in allocation):
                continue                  # a flash loan must be repaid from the pool sale
            before_gas = (got - repay[j] - flash_fee * borrowed) * usd_debt      # -inf when got is
            tx_gas = market.spec.liquidation_gas + update_gas + (flash_gas if borrowed > 0 else 0) + sum(
                sim.pools[n].swap_gas for n in allocation if n in sim.pools)
            bid = self.gas.opening(chain, tx_gas, max(before_gas, 0.0) / native_usd)
            fee_native = tx_gas * self.gas.expected_price(chain, bid) * GWEI
            if not (before_gas - fee_native * native_usd > spec.min_profit) or fee_native > native:
                continue
            prices = {name: router.output(sim.market(name), amount) / amount for name, amount in allocation.items()}
            router.commit(allocation)
            self._submit(market, int(ids[j]), float(repay[j]), float(seize[j]), allocation, prices, tx_gas,
                         bundle, bid, before_gas / native_usd, borrowed, coll, debt_asset)
            native -= fee_native
            sent += 1
        return sent

    def _submit(self, market, position: int, repay: float, seize: float, allocation: dict[str, float],
                unit_prices: dict[str, float], gas: int, bundle=(), bid=None, profit_native: float = 0.0,
                borrowed: float = 0.0, coll: str | None = None, debt_asset: str | None = None) -> None:
        sim = self.sim
        submitted_at = sim.env.now
        tol = self.spec.slippage_tolerance
        account, name = self.account, self.name
        coll = market.collateral_asset if coll is None else coll
        debt_asset = market.debt_asset if debt_asset is None else debt_asset
        shares = {m: a / seize for m, a in allocation.items()}
        pool_shares = {m: s for m, s in shares.items() if m not in sim.venues}
        venue_shares = {m: s for m, s in shares.items() if m in sim.venues}

        lender = self.lender

        def liquidate_and_sell(block: Block) -> float:
            for oracle, signed in bundle:  # update price, then liquidate
                oracle.push(signed, submitted_at)
            short = max(0.0, repay - sim.ledger.balance(account, debt_asset)) if lender is not None else 0.0
            if short > 0:
                lender.borrow(account, debt_asset, short)
            repaid, seized = market.liquidate(account, position, repay, name, collateral_asset=coll,
                                              debt_asset=debt_asset)
            got = 0.0
            for pool_name, share in pool_shares.items():
                amount = seized * share
                got += sim.pools[pool_name].swap(account, coll, amount, amount * unit_prices[pool_name] * (1 - tol),
                                                 "keeper", debt_asset)
            if short > 0:
                lender.repay(account, debt_asset, short)   # reverts the whole transaction if short of funds
            return seized

        target = ("liquidate", market.name, position)

        def sell_on_venues(tx) -> None:
            if tx.status != "replaced":
                self.live.pop(target, None)
            if tx.status == "included" and venue_shares:
                sim.env.process(self._venue_sale(tx.result, venue_shares, coll))

        tx = market.chain.submit(sender=account, agent_type=self.agent_type, kind="liquidation",
                                 gas_used=gas, action=liquidate_and_sell, target=target, on_result=sell_on_venues,
                                 sales=[(m, a) for m, a in allocation.items() if m in pool_shares],
                                 **(bid or self.gas.fixed(market.chain)))
        if self.spec.gas_strategy == "pga" and tx.status == "pending":
            self.live[target] = (tx, gas, profit_native)
            for rival in market.chain.mempool.targeted(target, viewer=account):
                if rival.sender != account:      # already contested: answer at once
                    self._on_pending(rival)
                    break

    # ---------------------------------------------------------------------- gas auctions
    def _on_pending(self, tx) -> None:
        """A transaction entered the mempool: if it competes for one of ours, answer it."""
        target = tx.target
        if tx.sender != self.account and target in self.live and target not in self._rebidding:
            self._rebidding.add(target)
            self.sim.env.process(self._rebid(target))

    def _rebid(self, target):
        """After the reaction latency, outbid the competitors for ``target`` (one replacement)."""
        try:
            yield self.sim.env.timeout(self.reaction_delay())
        finally:
            self._rebidding.discard(target)
        live = self.live.get(target)
        if live is None:
            return
        own, gas, profit_native = live
        chain = next(m.chain for m in self.markets if m.name == target[1])
        if own not in chain.mempool:
            return
        rivals = [t for t in chain.mempool.targeted(target, viewer=self.account) if t.sender != self.account]
        bid = self.gas.counter(chain, own, rivals, gas, profit_native)
        if bid is None:
            return
        new = chain.submit(sender=own.sender, agent_type=own.agent_type, kind=own.kind, gas_used=own.gas_used,
                           action=own.action, target=target, on_result=own.on_result, replaces=own,
                           **own.meta, **bid)
        if new.status == "pending":
            self.live[target] = (new, gas, profit_native)

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
