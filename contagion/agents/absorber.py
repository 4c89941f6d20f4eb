"""Keepers that call a protocol's own liquidation entry point: Comet absorbers, Liquity liquidators.

Neither sells anything: an absorb hands the collateral to the Comet market, a Liquity
liquidation hands it to the stability pool's depositors (or to the other troves). Each keeper of
a population is one process. After every block of the chain its protocols live on, it waits its
reaction latency (plus a uniform jitter from its own stream ``agents:<name>:latency``), then, for
each watched protocol:

1. takes the liquidatable accounts at the current on-chain prices, riskiest first (Comet: largest
   shortfall; Liquity: lowest ICR);
2. drops those a pending transaction already targets — its own always, other keepers' too when
   ``skip_pending`` (a public mempool shows them);
3. cuts the rest into batches of ``batch_size`` and, for up to ``batches_per_block`` of them,
   prices the reward (Comet: the market's ``absorb_rebate`` per account; Liquity: the LUSD
   reserves and collateral of the troves the liquidation sequence would liquidate, valued at the
   oracle price) against the gas at its bid, and sends the batch if the difference exceeds
   ``min_profit`` (always, when ``min_profit`` is none) and it can pay the gas.

A batch is one transaction (``absorb`` / ``batchLiquidateTroves``). In a race the loser's Comet
absorb reverts (``NotLiquidatable``: an absorbed account is not liquidatable any more) and pays
its gas in a public mempool; a Liquity batch reverts only if none of its troves is left to
liquidate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion.agents.base import Agent
from contagion.engine.chain import GWEI, Block, Revert
from contagion.engine.gas import GasPolicy

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["ProtocolKeeper", "Absorber", "TroveLiquidator"]


class ProtocolKeeper(Agent):
    """Shared loop of :class:`Absorber` and :class:`TroveLiquidator` (subclasses price and call)."""

    agent_type = "keeper"
    #: transaction kind and mempool target tag
    tx_kind = "liquidation"

    def __init__(self, sim: "Simulation", population: str, number: int, spec):
        super().__init__(sim, population, number, spec)
        self.protocols = [sim.protocols[p] for p in spec.watches]
        self.rng = sim.rng.stream(f"agents:{self.name}:latency")
        self.gas = GasPolicy(spec)
        self.watch(p.chain for p in self.protocols)

    def reaction_delay(self) -> float:
        """Reaction latency plus a uniform draw in ``[0, latency_jitter]``, seconds."""
        jitter = self.spec.latency_jitter
        return self.spec.reaction_latency + (self.rng.uniform(0.0, jitter) if jitter > 0 else 0.0)

    def on_block(self, chain) -> None:
        """Act on every watched protocol of ``chain``."""
        for protocol in self.protocols:
            if protocol.chain is chain:
                self.act(protocol)

    # --------------------------------------------------------------------- to implement
    def plan(self, protocol, ids: np.ndarray) -> tuple[np.ndarray, int, float]:
        """``(ids to send, gas, reward in USD)`` for a batch of candidates."""
        raise NotImplementedError

    def call(self, protocol, ids: list[int]):
        """The transaction's action: calls the protocol with ``ids``."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- loop
    def _busy(self, protocol) -> set[int]:
        busy: set[int] = set()
        for target, txs in protocol.chain.mempool.targets(viewer=self.account).items():
            if target[0] == self.tx_kind and target[1] == protocol.name and (
                    self.spec.skip_pending or any(tx.sender == self.account for tx in txs)):
                busy.update(target[2])
        return busy

    def act(self, protocol) -> int:
        """Send this block's batches on ``protocol``; returns how many were sent."""
        sim, spec = self.sim, self.spec
        ids = protocol.liquidatable_ids()
        if not ids.size:
            return 0
        busy = self._busy(protocol)
        if busy:
            ids = ids[~np.isin(ids, np.fromiter(busy, dtype=np.int64, count=len(busy)))]
        chain = protocol.chain
        bid = self.gas.fixed(chain)
        price = self.gas.expected_price(chain, bid)
        if not price < float("inf"):
            return 0                                       # priced out at this base fee
        native_usd = sim.usd_price(chain.native_asset)
        native = sim.ledger.balance(self.account, chain.native_asset)
        sent = 0
        for start in range(0, ids.size, spec.batch_size):
            if sent >= spec.batches_per_block:
                break
            batch, gas, reward_usd = self.plan(protocol, ids[start:start + spec.batch_size])
            if not batch.size:
                continue
            fee = gas * price * GWEI
            if fee > native:
                break
            if spec.min_profit is not None and not reward_usd - fee * native_usd > spec.min_profit:
                continue
            chosen = [int(i) for i in batch]
            chain.submit(sender=self.account, agent_type=self.agent_type, kind=self.tx_kind, gas_used=gas,
                         action=self.call(protocol, chosen), target=(self.tx_kind, protocol.name, tuple(chosen)),
                         **bid)
            native -= fee
            sent += 1
        return sent


class Absorber(ProtocolKeeper):
    """One Comet absorber (``kind: absorber``)."""

    agent_type = "absorber"
    tx_kind = "absorb"

    def plan(self, protocol, ids):
        """All of ``ids``, their absorb gas, and the market's rebate for them in USD."""
        rebate_usd = protocol.spec.absorb_rebate * self.sim.usd_price(protocol.base_asset)
        return ids, protocol.absorb_gas(ids.size), rebate_usd * ids.size

    def call(self, protocol, ids):
        """An action that absorbs ``ids``."""
        account, name = self.account, self.name

        def absorb(block: Block) -> int:
            return protocol.absorb(account, ids, name)

        return absorb


class TroveLiquidator(ProtocolKeeper):
    """One Liquity liquidator (``kind: trove_liquidator``)."""

    tx_kind = "liquidation"

    def plan(self, protocol, ids):
        """The troves of ``ids`` the liquidation sequence would liquidate, its gas, and their gas
        compensation (LUSD reserves and collateral at the oracle price) in USD."""
        try:
            rows = protocol.sequence(ids)
        except Revert:                      # it would close the last trove
            return ids[:0], 0, 0.0
        batch = np.array([r["trove"] for r in rows], dtype=np.int64)
        price = protocol.price()
        reward = sum(r["debt_gas"] * self.sim.usd_price(protocol.debt_asset) + r["coll_gas"] * price for r in rows)
        return batch, protocol.liquidation_gas(batch.size), reward

    def call(self, protocol, ids):
        """An action that runs ``batchLiquidateTroves(ids)``."""
        account, name = self.account, self.name

        def liquidate(block: Block) -> int:
            return len(protocol.batch_liquidate(account, ids, name))

        return liquidate
