"""Flash loans: a lender that lends inside one transaction and is repaid with a fee before it ends.

A population with a ``flash_loan`` entry gets a lender account ``flash_lender:<population>``,
funded at genesis with the entry's ``liquidity``. :meth:`FlashLender.borrow` moves tokens to the
borrower and :meth:`FlashLender.repay` moves back the amount plus ``fee`` times it; both are
ledger transfers inside the borrower's transaction, so a borrower that cannot repay reverts the
whole transaction (``InsufficientBalance``) and the loan never happened. The fee stays with the
lender: tokens are conserved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contagion.engine.ledger import InsufficientBalance

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.scenario.models import FlashLoan

__all__ = ["FlashLender"]


class FlashLender:
    """The flash lender of an agent population (one account shared by its agents)."""

    def __init__(self, sim: "Simulation", population: str, spec: "FlashLoan"):
        self.sim = sim
        self.spec = spec
        self.fee = spec.fee
        self.gas = spec.gas
        self.account = f"flash_lender:{population}"
        if self.account not in sim.ledger.accounts:
            sim.ledger.add_account(self.account, "flash_lender")
            for asset, amount in spec.liquidity.items():
                sim.ledger.mint(self.account, asset, amount)

    def available(self, asset: str) -> float:
        """What the lender can lend now, token units."""
        return self.sim.ledger.balance(self.account, asset)

    def borrow(self, borrower: str, asset: str, amount: float) -> None:
        """Lend ``amount`` to ``borrower`` (inside a transaction)."""
        if amount > 0:
            if amount > self.available(asset) * (1 + 1e-12):
                raise InsufficientBalance(f"{self.account} holds {self.available(asset)!r} {asset}, "
                                          f"cannot lend {amount!r}")
            self.sim.ledger.transfer(self.account, borrower, asset, amount)

    def repay(self, borrower: str, asset: str, amount: float) -> float:
        """Take back ``amount`` plus the fee from ``borrower``; returns the fee."""
        if amount <= 0:
            return 0.0
        fee = amount * self.fee
        self.sim.ledger.transfer(borrower, self.account, asset, amount + fee)
        return fee
