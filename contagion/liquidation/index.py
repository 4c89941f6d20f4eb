"""Sorted liquidation-price index: the liquidatable set of a one-pair market in O(log n).

A position is liquidatable iff its liquidation price (its *key*, in debt-asset units per unit
of collateral) is strictly above the current price ratio. Keeping the keys sorted in descending
order turns "which positions are liquidatable at this price?" into a binary search whose answer
is a prefix of the id array; "which became liquidatable when the price fell from ``a`` to
``b``?" is a contiguous slice.

Changes to positions are buffered with :meth:`LiquidationIndex.update` and merged in one
O(n + m) pass on the next query (compiled ``merge_update``), so a block with m liquidations
costs one linear merge, not m insertions.
"""

from __future__ import annotations

import numpy as np

from contagion import kernels
from contagion.errors import LiquidationError

__all__ = ["LiquidationIndex"]


class LiquidationIndex:
    """Position ids sorted by liquidation price, descending (ties: id ascending).

    Parameters
    ----------
    keys : array_like of float
        Liquidation price of each position, indexed by position id ``0..n-1`` (``>= 0``;
        ``inf`` for debt without collateral, 0 for no debt).

    Examples
    --------
    >>> idx = LiquidationIndex([1500.0, 1900.0, 1200.0])
    >>> idx.liquidatable(1600.0).tolist()
    [1]
    >>> idx.entered(1600.0, 1300.0).tolist()       # newly liquidatable on a fall 1600 -> 1300
    [0]
    """

    def __init__(self, keys):
        keys = np.ascontiguousarray(keys, dtype=np.float64).reshape(-1)
        if np.isnan(keys).any() or (keys < 0).any():
            raise LiquidationError("LiquidationIndex: keys must be >= 0 (inf allowed), not NaN")
        n = keys.size
        ids = np.arange(n, dtype=np.int64)
        order = np.lexsort((ids, -keys))
        self._keys = np.ascontiguousarray(keys[order])
        self._ids = np.ascontiguousarray(ids[order])
        self._spare_keys = np.empty_like(self._keys)
        self._spare_ids = np.empty_like(self._ids)
        self._removed = np.zeros(n, dtype=np.uint8)
        self._pending: dict[int, float] = {}

    def __len__(self) -> int:
        return self._keys.size

    def update(self, ids, keys) -> None:
        """Record new keys for some positions; merged before the next query.

        All-or-nothing: nothing is recorded if any id or key is invalid. A later update of the
        same id before the merge replaces the earlier one.
        """
        ids = np.atleast_1d(np.asarray(ids))
        keys = np.atleast_1d(np.asarray(keys, dtype=np.float64))
        if ids.shape != keys.shape or ids.ndim != 1:
            raise LiquidationError(f"LiquidationIndex.update: ids and keys must be 1-d of equal length, "
                                   f"got shapes {ids.shape} and {keys.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise LiquidationError(f"LiquidationIndex.update: ids must be integers, got dtype {ids.dtype}")
        bad = (ids < 0) | (ids >= self._keys.size)
        if bad.any():
            raise LiquidationError(f"LiquidationIndex.update: id {int(ids[bad][0])} out of range")
        bad = ~(keys >= 0)
        if bad.any():
            raise LiquidationError(f"LiquidationIndex.update: key must be >= 0, got {float(keys[bad][0])!r}")
        self._pending.update(zip(ids.tolist(), keys.tolist()))

    def flush(self) -> None:
        """Merge buffered updates into the sorted arrays (no-op when none are pending)."""
        if not self._pending:
            return
        new_ids = np.fromiter(self._pending.keys(), dtype=np.int64, count=len(self._pending))
        new_keys = np.fromiter(self._pending.values(), dtype=np.float64, count=len(self._pending))
        self._pending.clear()
        order = np.lexsort((new_ids, -new_keys))
        new_ids = np.ascontiguousarray(new_ids[order])
        new_keys = np.ascontiguousarray(new_keys[order])
        self._removed[new_ids] = 1
        n = kernels.liquidation.merge_update(self._keys, self._ids, self._removed, new_keys,
                                             new_ids, self._spare_keys, self._spare_ids)
        self._removed[new_ids] = 0
        if n != self._keys.size:  # pragma: no cover - would mean a corrupted index
            raise LiquidationError(f"LiquidationIndex: merge produced {n} entries, expected {self._keys.size}")
        self._keys, self._spare_keys = self._spare_keys, self._keys
        self._ids, self._spare_ids = self._spare_ids, self._ids

    @property
    def keys(self) -> np.ndarray:
        """Sorted keys (descending), read-only view."""
        self.flush()
        view = self._keys.view()
        view.flags.writeable = False
        return view

    @property
    def ids(self) -> np.ndarray:
        """Position ids in key order, read-only view."""
        self.flush()
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def count(self, price_ratio: float) -> int:
        """Number of positions liquidatable at ``price_ratio`` (keys strictly above it)."""
        self.flush()
        return int(kernels.liquidation.count_above(self._keys, float(price_ratio)))

    def liquidatable(self, price_ratio: float) -> np.ndarray:
        """Ids of the positions liquidatable at ``price_ratio`` (a read-only view, riskiest first)."""
        return self.ids[: self.count(price_ratio)]

    def entered(self, old_ratio: float, new_ratio: float) -> np.ndarray:
        """Ids that became liquidatable when the price moved from ``old_ratio`` down to ``new_ratio``."""
        if new_ratio >= old_ratio:
            return self._ids[:0]
        return self.ids[self.count(old_ratio): self.count(new_ratio)]

    def left(self, old_ratio: float, new_ratio: float) -> np.ndarray:
        """Ids that stopped being liquidatable when the price rose from ``old_ratio`` to ``new_ratio``."""
        if new_ratio <= old_ratio:
            return self._ids[:0]
        return self.ids[self.count(new_ratio): self.count(old_ratio)]
