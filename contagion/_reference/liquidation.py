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


# ---------------------------------------------------------------------------- money markets
def _mm_hf(i, coll_ptr, coll_asset, coll_amount, debt_ptr, debt_asset, debt_amount, emode, prices, lt_table):
    n_assets = len(prices)
    row = int(emode[i]) * n_assets
    num = 0.0
    for k in range(coll_ptr[i], coll_ptr[i + 1]):
        a = int(coll_asset[k])
        num += coll_amount[k] * prices[a] * lt_table[row + a]
    den = 0.0
    for k in range(debt_ptr[i], debt_ptr[i + 1]):
        den += debt_amount[k] * prices[int(debt_asset[k])]
    return math.inf if den <= 0.0 else num / den


def mm_health_factors(ids, coll_ptr, coll_asset, coll_amount, debt_ptr, debt_asset, debt_amount, emode, prices,
                      lt_table, out) -> None:
    """Health factors ``sum(coll * price * lt) / sum(debt * price)`` of accounts ``ids``."""
    for j, i in enumerate(ids):
        out[j] = _mm_hf(int(i), coll_ptr, coll_asset, coll_amount, debt_ptr, debt_asset, debt_amount, emode, prices,
                        lt_table)


def mm_update(ids, coll_ptr, coll_asset, coll_amount, debt_ptr, debt_asset, debt_amount, emode, prices, lt_table,
              num, den, hf, flags, entered) -> int:
    """Recompute ``num`` (sum of collateral * price * lt), ``den`` (sum of debt * price), ``hf`` and
    ``flags`` (hf < 1) of accounts ``ids`` from their balances; accounts whose flag turned on go
    to ``entered``; returns their number."""
    n_assets = len(prices)
    n = 0
    for i in ids:
        i = int(i)
        row = int(emode[i]) * n_assets
        num[i] = sum(coll_amount[k] * prices[int(coll_asset[k])] * lt_table[row + int(coll_asset[k])]
                     for k in range(coll_ptr[i], coll_ptr[i + 1]))
        den[i] = sum(debt_amount[k] * prices[int(debt_asset[k])] for k in range(debt_ptr[i], debt_ptr[i + 1]))
        n = _set_flag(i, num, den, hf, flags, entered, n)
    return n


def _set_flag(i, num, den, hf, flags, entered, n):
    h = math.inf if den[i] <= 0.0 else num[i] / den[i]
    hf[i] = h
    if h < 1.0:
        if not flags[i]:
            flags[i] = 1
            entered[n] = i
            n += 1
    else:
        flags[i] = 0
    return n


def _mm_shift(entries, owner, amount, emode, lt_table, n_assets, asset, delta, weighted, acc) -> None:
    """``acc[owner[e]] += amount[e] * delta`` (times the owner's lt of ``asset`` when ``weighted``)."""
    for e in entries:
        i = int(owner[e])
        w = lt_table[int(emode[i]) * n_assets + asset] if weighted else 1.0
        acc[i] += amount[e] * delta * w


def _mm_flags(ids, num, den, hf, flags, entered) -> int:
    """``hf = num / den`` and flags (hf < 1) for ``ids``; returns how many entered."""
    n = 0
    for i in ids:
        n = _set_flag(int(i), num, den, hf, flags, entered, n)
    return n


def mm_reprice(coll_entries, coll_owner, coll_amount, debt_entries, debt_owner, debt_amount, holders, emode,
               lt_table, n_assets, asset, delta, num, den, hf, flags, entered) -> int:
    """The price of ``asset`` moved by ``delta``: shift the sums of the accounts holding it, then
    recompute ``hf`` and the flags of ``holders``; returns how many entered."""
    _mm_shift(coll_entries, coll_owner, coll_amount, emode, lt_table, n_assets, asset, delta, True, num)
    _mm_shift(debt_entries, debt_owner, debt_amount, emode, lt_table, n_assets, asset, delta, False, den)
    return _mm_flags(holders, num, den, hf, flags, entered)
