"""Liquidity providers who flee volatility, and may come back.

At genesis the population takes ``share`` of each watched pool's liquidity from the passive LPs,
split evenly (for a concentrated pool: a slice of every position). After each block an LP records
the pool price and looks back over ``window``:

* realized volatility, annualized: ``sqrt(sum(r_k^2) / covered_seconds * seconds_per_year)`` with
  ``r_k`` the log returns between consecutive block prices;
* drawdown: ``1 - price / highest price in the window``.

Each LP's thresholds are the population's times its own factors, drawn once from
``U(1 - threshold_dispersion, 1 + threshold_dispersion)`` (stream ``agents:<name>:thresholds``),
so a population leaves gradually as stress builds. When either measure crosses its threshold the
LP withdraws ``withdraw_fraction`` of its liquidity in a transaction (for concentrated pools the
positions nearest the price first). Once neither has been crossed for ``return_after`` it deposits
back what it took out. Every withdrawal and deposit is a row of the ``lp_events`` table.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from contagion.agents.base import Agent
from contagion.engine.chain import Block
from contagion.engine.gas import GasPolicy
from contagion.markets.volatility import realized_volatility
from contagion.scenario.models import LiquidityProviderAgents

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.pool import RuntimePool

__all__ = ["LiquidityProvider", "realized_volatility"]


class LiquidityProvider(Agent):
    """One LP of a ``kind: liquidity_provider`` population."""

    agent_type = "liquidity_provider"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: LiquidityProviderAgents):
        super().__init__(sim, population, number, spec)
        self.pools: list["RuntimePool"] = [sim.pools[p] for p in spec.watches]
        rng = sim.rng.stream(f"agents:{self.name}:thresholds")
        d = spec.threshold_dispersion
        f_vol, f_dd = rng.uniform(1 - d, 1 + d, 2)
        self.volatility_threshold = None if spec.volatility_threshold is None else spec.volatility_threshold * f_vol
        self.drawdown_threshold = None if spec.drawdown_threshold is None else min(0.999, spec.drawdown_threshold * f_dd)
        # LP number k takes share/count of the initial liquidity: a growing part of what remains passive
        part = spec.share / spec.count
        for pool in self.pools:
            pool.grant(self.name, part / (1.0 - number * part))
        self.history = {p.name: deque() for p in self.pools}
        self.out: dict[str, list[float] | None] = {p.name: None for p in self.pools}   # what was taken out
        self.calm_since: dict[str, float | None] = {p.name: None for p in self.pools}
        self.pending: set[str] = set()
        self.watch(p.chain for p in self.pools)

    def measures(self, pool: "RuntimePool") -> tuple[float, float]:
        """``(realized volatility, drawdown)`` of ``pool`` over the window, from recorded prices."""
        history = self.history[pool.name]
        times = [t for t, _ in history]
        prices = [p for _, p in history]
        if not prices:
            return 0.0, 0.0
        return realized_volatility(times, prices), 1.0 - prices[-1] / max(prices)

    def on_block(self, chain) -> None:
        now = self.sim.env.now
        for pool in self.pools:
            if pool.chain is not chain:
                continue
            history = self.history[pool.name]
            history.append((now, pool.price()))
            while history and history[0][0] < now - self.spec.window:
                history.popleft()
            if pool.name in self.pending:
                continue
            vol, dd = self.measures(pool)
            reasons = []
            if self.volatility_threshold is not None and vol > self.volatility_threshold:
                reasons.append("volatility")
            if self.drawdown_threshold is not None and dd > self.drawdown_threshold:
                reasons.append("drawdown")
            if reasons:
                self.calm_since[pool.name] = None
                if self.out[pool.name] is None and pool.holding_value(self.name) > 0:
                    self._submit(pool, "withdraw", "+".join(reasons), vol, dd)
            elif self.out[pool.name] is not None and self.spec.return_after is not None:
                since = self.calm_since[pool.name]
                if since is None:
                    self.calm_since[pool.name] = now
                elif now - since >= self.spec.return_after:
                    self._submit(pool, "deposit", "calm", vol, dd)

    def _submit(self, pool: "RuntimePool", action: str, reason: str, vol: float, dd: float) -> None:
        sim = self.sim

        def execute(block: Block) -> list[float]:
            if action == "withdraw":
                amounts = pool.withdraw(self.account, self.spec.withdraw_fraction)
            else:
                held = [sim.ledger.balance(self.account, a) for a in pool.assets]
                amounts = pool.deposit(self.account, [min(h, o) for h, o in zip(held, self.out[pool.name])])
            value = pool.value_of(amounts)
            sim.recorder.add("lp_events", (sim.env.now, block.number, sim.current_tx_id, pool.name, self.name,
                                           action, reason, amounts[0], amounts[1], value, vol, dd))
            return amounts

        def done(tx) -> None:
            self.pending.discard(pool.name)
            if tx.status == "included":
                self.out[pool.name] = list(tx.result) if action == "withdraw" else None
                self.calm_since[pool.name] = None

        self.pending.add(pool.name)
        pool.chain.submit(sender=self.account, agent_type=self.agent_type, kind=f"lp_{action}",
                          gas_used=self.spec.withdraw_gas, action=execute, **GasPolicy(self.spec).fixed(pool.chain),
                          target=("lp", pool.name, self.name), on_result=done)
