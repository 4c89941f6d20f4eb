"""Liquidation keepers.

Each keeper of a ``kind: keeper`` population is one process. After every block of the chain its
protocols live on, it waits its reaction latency (plus a uniform jitter from its own stream),
then, for each watched protocol:

1. takes the liquidatable positions at the current on-chain prices (the protocol's sorted index);
2. drops those already targeted by a pending transaction — its own always, and other keepers'
   too when ``skip_pending`` (a public mempool shows them);
3. prices every candidate: the repayment it can make with its debt-asset balance
   (close factor and bonus from the protocol's rules), the seized collateral, and the sale of that
   collateral into the protocol's first ``liquidates_into`` pool;
4. ranks candidates by standalone profit ``(sale - repayment) * P_debt - gas`` (USD) and accepts
   them greedily, re-pricing each sale after the sales that will execute before it have moved
   the pool — liquidation sales pending in the public mempool with an equal or higher gas price
   (they arrived first), then its own earlier picks — while profit stays above ``min_profit``,
   up to ``max_liquidations_per_block`` and as long as it can pay the gas;
5. submits each as one transaction that liquidates and sells atomically; it reverts (paying gas)
   if the sale returns less than the quoted price minus ``slippage_tolerance``, if the position
   is no longer liquidatable, or if the keeper cannot fund the repayment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion import kernels
from contagion.agents.base import Agent
from contagion.engine.chain import GWEI, Block
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
        self.watch(m.chain for m in self.markets)

    def reaction_delay(self) -> float:
        jitter = self.spec.latency_jitter
        return self.spec.reaction_latency + (self.rng.uniform(0.0, jitter) if jitter > 0 else 0.0)

    def on_block(self, chain) -> None:
        for market in self.markets:
            if market.chain is chain:
                self.act(market)

    # ----------------------------------------------------------------------------- decision
    def _candidates(self, market: "LendingMarket") -> np.ndarray:
        ids = market.liquidatable_ids()
        if not ids.size:
            return ids
        mempool = market.chain.mempool
        busy = [target[2] for target, txs in mempool.targets().items()
                if target[0] == "liquidate" and target[1] == market.name
                and (self.spec.skip_pending or any(tx.sender == self.account for tx in txs))]
        if busy:
            ids = ids[~np.isin(ids, np.asarray(busy, dtype=np.int64))]
        return ids

    def act(self, market: "LendingMarket") -> int:
        """Plan and submit this block's liquidations on ``market``; returns how many were sent."""
        sim = self.sim
        spec = self.spec
        ids = self._candidates(market)
        if not ids.size:
            return 0
        budget = sim.ledger.balance(self.account, market.debt_asset)
        if budget <= 0:
            return 0
        c = np.ascontiguousarray(market.collateral[ids])
        d = np.ascontiguousarray(market.debt[ids])
        request = np.full(ids.size, budget)
        repay = np.empty_like(c)
        seize = np.empty_like(c)
        kernels.liquidation.seize_batch(request, c, d, market.ratio, market.lt, market.close_factor,
                                        market.full_close_hf, market.bonus, repay, seize)
        live = seize > 0
        if not live.any():
            return 0
        ids, repay, seize = ids[live], repay[live], seize[live]
        pool = market.sell_into[0]
        r_coll, r_debt = pool.reserves() if pool.base == market.collateral_asset else pool.reserves()[::-1]
        ahead = [tx.meta["sale"][2] for tx in market.chain.mempool.pending()
                 if tx.meta.get("sale", (None,))[0] == pool.name and tx.gas_price >= spec.gas_price]
        if ahead:
            out = np.empty(len(ahead))
            r_coll, r_debt = kernels.amm.cp_sequential_out(np.asarray(ahead, dtype=np.float64), r_coll,
                                                           r_debt, pool.fee, out)
        proceeds = np.empty_like(seize)
        kernels.amm.cp_amount_out_batch(seize, np.full(seize.size, r_coll), np.full(seize.size, r_debt),
                                        pool.fee, proceeds)
        gas = market.spec.liquidation_gas + pool.swap_gas
        gas_usd = gas * spec.gas_price * GWEI * sim.usd_price(market.chain.native_asset)
        usd_debt = sim.usd_price(market.debt_asset)
        profit = (proceeds - repay) * usd_debt - gas_usd
        order = np.argsort(-profit, kind="stable")
        order = order[profit[order] > spec.min_profit]
        fee_native = gas * spec.gas_price * GWEI
        affordable = int(sim.ledger.balance(self.account, market.chain.native_asset) // fee_native)
        sent = 0
        for j in order:
            if sent >= affordable:
                break
            got = kernels.amm.cp_amount_out(float(seize[j]), r_coll, r_debt, pool.fee)
            if (got - repay[j]) * usd_debt - gas_usd <= spec.min_profit:
                continue
            r_coll += float(seize[j])
            r_debt -= got
            self._submit(market, pool, int(ids[j]), float(repay[j]), float(seize[j]), got / float(seize[j]), gas)
            sent += 1
            if sent >= spec.max_liquidations_per_block:
                break
        return sent

    def _submit(self, market, pool, position: int, repay: float, seize: float, unit_price: float,
                gas: int) -> None:
        min_unit = unit_price * (1.0 - self.spec.slippage_tolerance)
        account, name = self.account, self.name

        def liquidate_and_sell(block: Block) -> float:
            repaid, seized = market.liquidate(account, position, repay, name)
            return pool.swap(account, market.collateral_asset, seized, seized * min_unit, "keeper")

        market.chain.submit(sender=account, agent_type=self.agent_type, kind="liquidation",
                            gas_used=gas, gas_price=self.spec.gas_price, action=liquidate_and_sell,
                            target=("liquidate", market.name, position),
                            sale=(pool.name, market.collateral_asset, seize))
