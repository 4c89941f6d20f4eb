"""Liquity stability-pool depositors who withdraw when the system looks risky.

At construction the population registers with each watched Liquity system for ``share`` of its
stability pool's initial deposits, split evenly (the rest belongs to passive depositors). Each
depositor's thresholds are the population's times its own factors, drawn once from
``U(1 - threshold_dispersion, 1 + threshold_dispersion)`` (stream ``agents:<name>:thresholds``).

After each block (plus the reaction latency) a depositor records the system's collateral price
(the oracle's on-chain answer) and looks back over ``window``: when the drawdown
``1 - price / highest price in the window`` exceeds its drawdown threshold, or the TCR is below its
TCR threshold, it sends a withdrawal of ``withdraw_fraction`` of its compounded deposit, with all
its collateral gain. Liquity refuses a withdrawal while any trove has ICR < MCR, so in a crash the
transaction may revert (paying gas in a public mempool); the depositor tries again after the
next block. Once its deposit is gone it stops. Withdrawals are rows of ``sp_withdrawals``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from contagion.agents.base import Agent
from contagion.engine.chain import Block
from contagion.engine.gas import GasPolicy

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.protocols.liquity import LiquitySystem

__all__ = ["StabilityDepositor"]


class StabilityDepositor(Agent):
    """One depositor of a ``kind: stability_depositor`` population."""

    agent_type = "depositor"

    def __init__(self, sim: "Simulation", population: str, number: int, spec):
        super().__init__(sim, population, number, spec)
        self.systems: list["LiquitySystem"] = [sim.protocols[p] for p in spec.watches]
        rng = sim.rng.stream(f"agents:{self.name}:thresholds")
        d = spec.threshold_dispersion
        f_dd, f_tcr = rng.uniform(1 - d, 1 + d, 2)
        self.drawdown_threshold = None if spec.drawdown_threshold is None else min(0.999, spec.drawdown_threshold * f_dd)
        self.tcr_threshold = None if spec.tcr_threshold is None else spec.tcr_threshold * f_tcr
        for system in self.systems:
            system.register_depositor(self.account, spec.share / spec.count)
        self.history = {s.name: deque() for s in self.systems}
        self.pending: set[str] = set()
        self.watch(s.chain for s in self.systems)

    def drawdown(self, system: "LiquitySystem") -> float:
        """``1 - price / highest price`` over the recorded window."""
        prices = [p for _, p in self.history[system.name]]
        return 1.0 - prices[-1] / max(prices) if prices else 0.0

    def on_block(self, chain) -> None:
        """Record the price; withdraw when a threshold is crossed (one transaction at a time)."""
        now = self.sim.env.now
        for system in self.systems:
            if system.chain is not chain:
                continue
            history = self.history[system.name]
            history.append((now, system.price()))
            while history and history[0][0] < now - self.spec.window:
                history.popleft()
            if system.name in self.pending:
                continue
            deposit, _ = system.deposit_of(self.account)
            if deposit <= 0:
                continue
            dd = self.drawdown(system)
            reasons = []
            if self.drawdown_threshold is not None and dd > self.drawdown_threshold:
                reasons.append("drawdown")
            if self.tcr_threshold is not None and system.tcr() < self.tcr_threshold:
                reasons.append("tcr")
            if reasons:
                self._submit(system, deposit * self.spec.withdraw_fraction, "+".join(reasons), dd)

    def _submit(self, system: "LiquitySystem", amount: float, reason: str, dd: float) -> None:
        account, name = self.account, self.name

        def withdraw(block: Block) -> tuple[float, float]:
            return system.withdraw_from_sp(account, amount, name, reason, dd)

        def done(tx) -> None:
            self.pending.discard(system.name)

        self.pending.add(system.name)
        system.chain.submit(sender=account, agent_type=self.agent_type, kind="sp_withdraw",
                            gas_used=self.spec.withdraw_gas, action=withdraw,
                            target=("sp_withdraw", system.name, name), on_result=done,
                            **GasPolicy(self.spec).fixed(system.chain))
