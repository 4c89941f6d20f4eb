"""Undo journal that makes each transaction atomic.

While a transaction executes, every state change registers how to undo itself. If the
transaction reverts, the journal replays the undo steps in reverse order, restoring the exact
previous values (not by applying an inverse operation, which could differ by rounding).
"""

from __future__ import annotations

from typing import Callable

from contagion.errors import SimulationError

__all__ = ["Journal"]


class Journal:
    """Records undo callbacks between :meth:`begin` and :meth:`commit` / :meth:`rollback`."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] | None = None

    @property
    def active(self) -> bool:
        return self._undo is not None

    def begin(self) -> None:
        if self._undo is not None:
            raise SimulationError("journal: a transaction is already open")
        self._undo = []

    def record(self, undo: Callable[[], None]) -> None:
        """Register how to undo a change (ignored outside a transaction)."""
        if self._undo is not None:
            self._undo.append(undo)

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo or [], None
        for step in reversed(undo):
            step()
