"""Reference liquidation math for one-collateral/one-debt markets (spec of ``contagion._ext.liquidation``).

``price_ratio`` is the collateral price divided by the debt price (debt-asset units per unit
of collateral). A position with ``collateral`` and ``debt`` (token units) under liquidation
threshold ``lt`` has

* liquidation price ``key = debt / (collateral * lt)`` (0 without debt; +inf with debt and no
  collateral),
* health factor ``hf = price_ratio / key`` (the same as ``collateral * price * lt / debt``),
* and is liquidatable iff ``hf < 1``, i.e. iff ``key > price_ratio``.

A liquidation call asking to repay ``request`` repays at most ``close_factor * debt`` (all of
the debt when ``hf <= full_close_hf``, as in Aave v3's 0.95 rule) and seizes
``repay * (1 + bonus) / price_ratio`` collateral; if that exceeds the collateral, all of the
collateral is seized and the repayment shrinks to ``collateral * price_ratio / (1 + bonus)``.
"""

from __future__ import annotations

import math

import numpy as np

BUILD_DEBUG = False


def _key(collateral: float, debt: float, threshold: float) -> float:
    if debt <= 0.0:
        return 0.0
    if collateral <= 0.0:
        return math.inf
    return debt / (collateral * threshold)


def _hf(key: float, price_ratio: float) -> float:
    return math.inf if key == 0.0 else price_ratio / key


def _keys(collateral, debt, threshold) -> np.ndarray:
    collateral = np.asarray(collateral, dtype=np.float64)
    debt = np.asarray(debt, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = debt / (collateral * threshold)
    keys = np.where(collateral <= 0.0, np.inf, keys)
    return np.where(debt <= 0.0, 0.0, keys)


def _hfs(keys: np.ndarray, price_ratio: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 and x/0 are masked by the where
        return np.where(keys == 0.0, np.inf, price_ratio / keys)


def liquidation_prices(collateral, debt, liquidation_threshold, out) -> None:
    out[:] = _keys(collateral, debt, liquidation_threshold)


def health_factors(collateral, debt, price_ratio, liquidation_threshold, out) -> None:
    out[:] = _hfs(_keys(collateral, debt, liquidation_threshold), price_ratio)


def count_above(keys_desc, price_ratio) -> int:
    # The specification is the plain count; the compiled kernel binary-searches the sorted keys.
    return int(np.count_nonzero(np.asarray(keys_desc) > price_ratio))


def merge_update(keys, ids, removed, new_keys, new_ids, out_keys, out_ids) -> int:
    keep = ~np.asarray(removed, dtype=bool)[np.asarray(ids)]
    all_keys = np.concatenate([np.asarray(keys)[keep], np.asarray(new_keys)])
    all_ids = np.concatenate([np.asarray(ids)[keep], np.asarray(new_ids)])
    order = np.lexsort((all_ids, -all_keys))  # key descending, then id ascending
    n = order.size
    out_keys[:n] = all_keys[order]
    out_ids[:n] = all_ids[order]
    return n


def seize(request, collateral, debt, price_ratio, liquidation_threshold, close_factor,
          full_close_hf, bonus):
    hf = _hf(_key(collateral, debt, liquidation_threshold), price_ratio)
    if not hf < 1.0:
        return 0.0, 0.0
    factor = 1.0 if hf <= full_close_hf else close_factor
    repay = min(request, factor * debt)
    seized = repay * (1.0 + bonus) / price_ratio
    if seized > collateral:
        seized = collateral
        repay = collateral * price_ratio / (1.0 + bonus)
    return repay, seized


def seize_batch(request, collateral, debt, price_ratio, liquidation_threshold, close_factor,
                full_close_hf, bonus, repay, seized) -> None:
    request = np.asarray(request, dtype=np.float64)
    collateral = np.asarray(collateral, dtype=np.float64)
    debt = np.asarray(debt, dtype=np.float64)
    hf = _hfs(_keys(collateral, debt, liquidation_threshold), price_ratio)
    factor = np.where(hf <= full_close_hf, 1.0, close_factor)
    r = np.minimum(request, factor * debt)
    s = r * (1.0 + bonus) / price_ratio
    capped = s > collateral
    s = np.where(capped, collateral, s)
    r = np.where(capped, collateral * price_ratio / (1.0 + bonus), r)
    healthy = ~(hf < 1.0)
    repay[:] = np.where(healthy, 0.0, r)
    seized[:] = np.where(healthy, 0.0, s)
