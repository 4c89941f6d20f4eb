"""What every protocol runtime offers the simulation.

A protocol of any family (``type`` in the scenario) is built as ``cls(sim, name, spec)`` after the
oracles; then, after every oracle's genesis, :meth:`Protocol.genesis` creates its book. After each
block of its chain the simulation records :meth:`Protocol.snapshot_row` in the ``protocols``
table; :meth:`Protocol.positions_columns` gives the ``positions`` snapshots (initial and final);
:meth:`Protocol.check` verifies its bookkeeping against the ledger (after every block with
``check_invariants=True``, and once when a result is built). State changes happen inside
transactions and are journaled, so they revert with them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Block
    from contagion.engine.simulation import Simulation

__all__ = ["Protocol", "LiquidationGroup"]


class LiquidationGroup:
    """Liquidation candidates of one (collateral, debt) pair for a given budget: account ``ids``,
    the ``repay`` each would make (debt-asset units) and the ``seize`` the liquidator would
    receive (collateral units), as arrays."""

    def __init__(self, collateral_asset: str, debt_asset: str, ids, repay, seize):
        self.collateral_asset = collateral_asset
        self.debt_asset = debt_asset
        self.ids = ids
        self.repay = repay
        self.seize = seize


class Protocol:
    """Base of protocol runtimes: ``name``, ``spec``, ``chain`` and a ledger ``account``."""

    kind = "protocol"
    #: collateral price in debt units at genesis (single-pair books; used by the summary's indicators)
    initial_ratio: float = math.nan

    def __init__(self, sim: "Simulation", name: str, spec):
        self.sim = sim
        self.name = name
        self.spec = spec
        self.chain = sim.chains[spec.chain]
        self.account = sim.ledger.add_account(f"protocol:{name}", "protocol")

    def genesis(self) -> None:
        """Create the book (the oracles have published their time-0 answers)."""

    def snapshot_row(self, block: "Block") -> tuple:
        """A ``protocols`` row: ``(time, block, protocol, collateral, debt, collateral_value,
        debt_value, bad_debt, n_active, n_liquidatable, price)`` — amounts in token units where the
        book has one collateral and one debt asset (NaN otherwise), values in USD."""
        raise NotImplementedError

    def positions_columns(self, snapshot: str) -> dict | None:
        """A ``positions`` snapshot of the book as columns, or None if the family has none."""
        return None

    def check(self) -> None:
        """Raise :class:`~contagion.errors.InvariantError` if the book disagrees with the ledger."""


def stamp_triggers(protocol, old: float, new: float, update_id: int, exogenous: float) -> None:
    """After an oracle update moved a sorted-index protocol's price from ``old`` to ``new``: stamp
    the positions that became liquidatable with ``update_id`` (and whether they would have been at
    the exogenous price ``exogenous``), clear the stamps of those that stopped being so, and journal
    both for a reverted block. ``protocol`` has ``index`` (a :class:`LiquidationIndex`),
    ``trigger``, ``induced``, ``keys(ids)`` and ``sim``."""
    journal = protocol.sim.journal
    trigger, induced = protocol.trigger, protocol.induced
    entered = protocol.index.entered(old, new)
    if entered.size:
        fresh = entered[trigger[entered] < 0].copy()
        if fresh.size:
            trigger[fresh] = update_id
            induced[fresh] = protocol.keys(fresh) <= exogenous
            journal.record(lambda: (trigger.__setitem__(fresh, -1), induced.__setitem__(fresh, False)))
    left = protocol.index.left(old, new)
    if left.size:
        left = left.copy()
        previous = trigger[left].copy(), induced[left].copy()
        trigger[left] = -1
        induced[left] = False
        journal.record(lambda: (trigger.__setitem__(left, previous[0]), induced.__setitem__(left, previous[1])))
