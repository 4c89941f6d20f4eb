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

__all__ = ["Protocol", "PROTOCOL_ROW_NAN"]

PROTOCOL_ROW_NAN = math.nan


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
