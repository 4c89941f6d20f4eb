"""Borrowers who defend their positions: top-ups and repayments that must get into a block.

One process acts for all the owners of a protocol's positions. After each block (plus the
reaction latency) it takes the positions whose health factor at the on-chain prices is below
``trigger_health_factor`` — a slice of the protocol's sorted liquidation-price index, so the cost
does not grow with the book — and, for each whose owner is attentive (a draw made once per
position) and has no transaction pending, sends one transaction, at most ``max_per_block`` per
block. When it executes, the transaction computes at the prices *then* what brings the health
factor back to ``target_health_factor``: collateral to add (``c' = d k_t / (P lt)``) or debt to
repay (``d' = c P lt / k_t``), and pays it from the population's outside funds (as much as is
left). A position already liquidated or healthy again by then is left alone (the transaction
reverts, paying gas in a public mempool). Every action is a row of the ``borrower_actions`` table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion.agents.base import Agent
from contagion.engine.chain import GWEI, Block, Revert
from contagion.engine.gas import GasPolicy
from contagion.scenario.models import BorrowerAgents

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.protocols.lending import LendingMarket

__all__ = ["Borrowers"]


class Borrowers(Agent):
    """The owners of the positions of the protocols a ``kind: borrowers`` population watches."""

    agent_type = "borrower"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: BorrowerAgents):
        super().__init__(sim, population, number, spec)
        self.markets: list["LendingMarket"] = [sim.protocols[p] for p in spec.watches]
        self.rng = sim.rng.stream(f"agents:{population}:decisions")
        self.attentive: dict[str, np.ndarray] = {}
        self.tops_up: dict[str, np.ndarray] = {}
        self.pending: dict[str, set[int]] = {m.name: set() for m in self.markets}
        self.watch(m.chain for m in self.markets)

    def _draws(self, market: "LendingMarket") -> None:
        """Once per protocol, when its book exists: who pays attention, and how they act."""
        n = market.debt.size
        u = self.rng.random((2, n))
        self.attentive[market.name] = u[0] < self.spec.probability
        self.tops_up[market.name] = u[1] < self.spec.top_up_share

    def bid(self, chain) -> dict[str, float]:
        """The owners' fixed bid: ``max_fee``/``priority_fee`` on an EIP-1559 chain when given."""
        return GasPolicy(self.spec).fixed(chain)

    def on_block(self, chain) -> None:
        for market in self.markets:
            if market.chain is chain and market.index is not None:
                self.act(market)

    def act(self, market: "LendingMarket") -> int:
        """Send this block's top-ups and repayments on ``market``; returns how many were sent."""
        if market.name not in self.attentive:
            self._draws(market)
        spec = self.spec
        # health factor < trigger  <=>  liquidation price > price / trigger
        ids = market.index.liquidatable(market.ratio / spec.trigger_health_factor)
        ids = ids[self.attentive[market.name][ids] & (market.debt[ids] > 0) & (market.collateral[ids] > 0)]
        pending = self.pending[market.name]
        chain = market.chain
        price = GasPolicy(spec).expected_price(chain, self.bid(chain))
        if not price < float("inf"):
            return 0                                   # priced out at this base fee
        fee = spec.gas_used * price * GWEI
        affordable = int(self.sim.ledger.balance(self.account, chain.native_asset) // fee) if fee > 0 else spec.max_per_block
        sent = 0
        for i in ids:
            if sent >= min(spec.max_per_block, affordable):
                break
            i = int(i)
            if i in pending:
                continue
            self._submit(market, i, bool(self.tops_up[market.name][i]))
            sent += 1
        return sent

    def _submit(self, market: "LendingMarket", i: int, top_up: bool) -> None:
        sim, spec = self.sim, self.spec
        account = self.account
        target = spec.target_health_factor

        def execute(block: Block) -> float:
            c, d = float(market.collateral[i]), float(market.debt[i])
            if c <= 0.0 or d <= 0.0:
                raise Revert(f"{market.name}: position {i} is closed")
            hf = c * market.ratio * market.lt / d
            if hf >= target:
                raise Revert(f"{market.name}: position {i} is already at health factor {hf:.4g}")
            asset = market.collateral_asset if top_up else market.debt_asset
            need = d * target / (market.ratio * market.lt) - c if top_up else d - c * market.ratio * market.lt / target
            amount = min(need, sim.ledger.balance(account, asset))
            if not amount > 0.0:
                raise Revert(f"{self.name}: no {asset} left to defend position {i}")
            if top_up:
                market.top_up(account, i, amount)
            else:
                market.repay(account, i, amount)
            sim.recorder.add("borrower_actions", (sim.env.now, block.number, sim.current_tx_id, market.name, i,
                                                  "top_up" if top_up else "repay", asset, amount, hf,
                                                  float(market.collateral[i]) * market.ratio * market.lt
                                                  / max(float(market.debt[i]), 1e-300)))
            return amount

        def done(tx) -> None:
            self.pending[market.name].discard(i)

        self.pending[market.name].add(i)
        market.chain.submit(sender=account, agent_type=self.agent_type, kind="top_up" if top_up else "repay",
                            gas_used=spec.gas_used, action=execute, target=("defend", market.name, i),
                            on_result=done, **self.bid(market.chain))
