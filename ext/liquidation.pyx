# cython: language_level=3
"""Compiled liquidation kernels for fixed-spread lending markets (one collateral, one debt).

The executable specification of every function here is ``contagion._reference.liquidation``;
the public, validated entry points are in ``contagion.liquidation``. Inputs are trusted: the
Python wrappers check shapes, signs and ordering before calling.

Definitions (token units; ``price_ratio`` = collateral price / debt price, i.e. the price of
one unit of collateral in debt-asset units)
------------------------------------------------------------------------------------------
liquidation price   ``key = debt / (collateral * liquidation_threshold)``
                    (0 without debt, +inf with debt and no collateral)
health factor       ``hf = price_ratio / key``; liquidatable iff ``hf < 1`` iff ``key > price_ratio``
close factor        ``1`` when ``hf <= full_close_hf``, else ``close_factor``
seize               ``repay * (1 + bonus) / price_ratio``, capped at the collateral; when
                    capped, ``repay = collateral * price_ratio / (1 + bonus)``
"""

from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint8_t

from kernel_common cimport CONTAGION_DEBUG

BUILD_DEBUG = bool(CONTAGION_DEBUG)


cdef inline double _key(double collateral, double debt, double threshold) noexcept nogil:
    if debt <= 0.0:
        return 0.0
    if collateral <= 0.0:
        return INFINITY
    return debt / (collateral * threshold)


cdef inline double _hf(double key, double price_ratio) noexcept nogil:
    if key == 0.0:
        return INFINITY
    return price_ratio / key


cdef inline void _seize(double request, double collateral, double debt, double price_ratio,
                        double threshold, double close_factor, double full_close_hf,
                        double bonus, double* repay, double* seized) noexcept nogil:
    cdef double hf = _hf(_key(collateral, debt, threshold), price_ratio)
    cdef double factor, r, s
    if not (hf < 1.0):
        repay[0] = 0.0
        seized[0] = 0.0
        return
    factor = 1.0 if hf <= full_close_hf else close_factor
    r = factor * debt
    if request < r:
        r = request
    s = r * (1.0 + bonus) / price_ratio
    if s > collateral:
        s = collateral
        r = collateral * price_ratio / (1.0 + bonus)
    repay[0] = r
    seized[0] = s


def liquidation_prices(const double[::1] collateral, const double[::1] debt,
                       double liquidation_threshold, double[::1] out):
    """Liquidation price of each position (debt-asset units per unit of collateral)."""
    cdef Py_ssize_t i, n = collateral.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _key(collateral[i], debt[i], liquidation_threshold)


def health_factors(const double[::1] collateral, const double[::1] debt, double price_ratio,
                   double liquidation_threshold, double[::1] out):
    """Health factor of each position at ``price_ratio``."""
    cdef Py_ssize_t i, n = collateral.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _hf(_key(collateral[i], debt[i], liquidation_threshold), price_ratio)


def count_above(const double[::1] keys_desc, double price_ratio):
    """Number of leading keys strictly greater than ``price_ratio`` (keys sorted descending).

    This is the size of the liquidatable set: binary search, O(log n).
    """
    cdef Py_ssize_t lo = 0, hi = keys_desc.shape[0], mid
    with nogil:
        while lo < hi:
            mid = (lo + hi) >> 1
            if keys_desc[mid] > price_ratio:
                lo = mid + 1
            else:
                hi = mid
    return lo


def merge_update(const double[::1] keys, const int64_t[::1] ids, const uint8_t[::1] removed,
                 const double[::1] new_keys, const int64_t[::1] new_ids,
                 double[::1] out_keys, int64_t[::1] out_ids):
    """Rebuild a sorted index after some positions changed, in one O(n + m) pass.

    ``keys``/``ids`` are sorted by key descending, then id ascending. Entries whose id is
    flagged in ``removed`` (indexed by id) are dropped; ``new_keys``/``new_ids`` (sorted the
    same way) are merged in. Returns the number of entries written to ``out_*``.
    """
    cdef Py_ssize_t i = 0, j = 0, k = 0
    cdef Py_ssize_t n = keys.shape[0], m = new_keys.shape[0]
    cdef bint take_new
    with nogil:
        while i < n or j < m:
            if i < n and removed[ids[i]]:
                i += 1
                continue
            if i >= n:
                take_new = True
            elif j >= m:
                take_new = False
            else:
                take_new = (new_keys[j] > keys[i]) or (new_keys[j] == keys[i] and new_ids[j] < ids[i])
            if take_new:
                out_keys[k] = new_keys[j]
                out_ids[k] = new_ids[j]
                j += 1
            else:
                out_keys[k] = keys[i]
                out_ids[k] = ids[i]
                i += 1
            k += 1
    return k


def seize(double request, double collateral, double debt, double price_ratio,
          double liquidation_threshold, double close_factor, double full_close_hf,
          double bonus):
    """``(repay, seized)`` for one liquidation call; ``(0, 0)`` if the position is healthy."""
    cdef double repay, seized
    _seize(request, collateral, debt, price_ratio, liquidation_threshold, close_factor,
           full_close_hf, bonus, &repay, &seized)
    return repay, seized


def seize_batch(const double[::1] request, const double[::1] collateral, const double[::1] debt,
                double price_ratio, double liquidation_threshold, double close_factor,
                double full_close_hf, double bonus, double[::1] repay, double[::1] seized):
    """Element-wise ``seize`` at one price, written into ``repay`` and ``seized``."""
    cdef Py_ssize_t i, n = request.shape[0]
    with nogil:
        for i in range(n):
            _seize(request[i], collateral[i], debt[i], price_ratio, liquidation_threshold,
                   close_factor, full_close_hf, bonus, &repay[i], &seized[i])


# ============================================================================================
# Multi-collateral accounts (money markets).
#
# Balances are in compressed sparse rows: account ``i`` holds collateral
# ``coll_amount[coll_ptr[i]:coll_ptr[i+1]]`` of assets ``coll_asset[...]``, and debt likewise.
# ``prices[a]`` is the USD price of asset ``a``; ``lt_table[c * n_assets + a]`` the liquidation
# threshold of asset ``a`` for an account in e-mode category ``c`` (row 0: no e-mode), so
# ``emode[i]`` selects the row.
#     health factor = sum(coll * price * lt) / sum(debt * price)    (+inf without debt)
# ============================================================================================

cdef inline double _ratio(double num, double den) noexcept nogil:
    return INFINITY if den <= 0.0 else num / den


cdef inline const int64_t* _ip(const int64_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] else NULL


cdef inline const double* _dp(const double[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] else NULL


cdef inline void _flag(int64_t i, const double* num, const double* den, double* hf, uint8_t* flags,
                       int64_t* entered, Py_ssize_t* n_entered) noexcept nogil:
    cdef double h = _ratio(num[i], den[i])
    hf[i] = h
    if h < 1.0:
        if not flags[i]:
            flags[i] = 1
            entered[n_entered[0]] = i
            n_entered[0] += 1
    else:
        flags[i] = 0


cdef inline void _mm_sums(Py_ssize_t i, const int64_t* coll_ptr, const int64_t* coll_asset,
                          const double* coll_amount, const int64_t* debt_ptr, const int64_t* debt_asset,
                          const double* debt_amount, const int64_t* emode, const double* prices,
                          const double* lt_table, Py_ssize_t n_assets, double* num, double* den) noexcept nogil:
    cdef double n_ = 0.0, d_ = 0.0
    cdef Py_ssize_t k
    cdef int64_t a
    cdef const double* lt = lt_table + emode[i] * n_assets
    for k in range(coll_ptr[i], coll_ptr[i + 1]):
        a = coll_asset[k]
        n_ += coll_amount[k] * prices[a] * lt[a]
    for k in range(debt_ptr[i], debt_ptr[i + 1]):
        a = debt_asset[k]
        d_ += debt_amount[k] * prices[a]
    num[0] = n_
    den[0] = d_


cdef inline double _mm_hf(Py_ssize_t i, const int64_t* coll_ptr, const int64_t* coll_asset,
                          const double* coll_amount, const int64_t* debt_ptr, const int64_t* debt_asset,
                          const double* debt_amount, const int64_t* emode, const double* prices,
                          const double* lt_table, Py_ssize_t n_assets) noexcept nogil:
    cdef double num, den
    _mm_sums(i, coll_ptr, coll_asset, coll_amount, debt_ptr, debt_asset, debt_amount, emode, prices, lt_table,
             n_assets, &num, &den)
    return _ratio(num, den)


def mm_health_factors(const int64_t[::1] ids, const int64_t[::1] coll_ptr, const int64_t[::1] coll_asset,
                      const double[::1] coll_amount, const int64_t[::1] debt_ptr, const int64_t[::1] debt_asset,
                      const double[::1] debt_amount, const int64_t[::1] emode, const double[::1] prices,
                      const double[::1] lt_table, double[::1] out):
    """Health factors of accounts ``ids`` into ``out`` (same length)."""
    cdef Py_ssize_t j, m = ids.shape[0], n_assets = prices.shape[0]
    if m == 0:
        return
    with nogil:
        for j in range(m):
            out[j] = _mm_hf(ids[j], &coll_ptr[0], _ip(coll_asset), _dp(coll_amount), &debt_ptr[0],
                            _ip(debt_asset), _dp(debt_amount), &emode[0], &prices[0], &lt_table[0], n_assets)


def mm_update(const int64_t[::1] ids, const int64_t[::1] coll_ptr, const int64_t[::1] coll_asset,
              const double[::1] coll_amount, const int64_t[::1] debt_ptr, const int64_t[::1] debt_asset,
              const double[::1] debt_amount, const int64_t[::1] emode, const double[::1] prices,
              const double[::1] lt_table, double[::1] num, double[::1] den, double[::1] hf, uint8_t[::1] flags,
              int64_t[::1] entered):
    """Recompute from the balances the sums ``num``/``den``, ``hf`` and the flags ``hf < 1`` of
    accounts ``ids``; write the accounts whose flag turned on into ``entered`` and return how many."""
    cdef Py_ssize_t j, m = ids.shape[0], n_assets = prices.shape[0], n_entered = 0
    cdef int64_t i
    if m == 0:
        return 0
    with nogil:
        for j in range(m):
            i = ids[j]
            _mm_sums(i, &coll_ptr[0], _ip(coll_asset), _dp(coll_amount), &debt_ptr[0], _ip(debt_asset),
                     _dp(debt_amount), &emode[0], &prices[0], &lt_table[0], n_assets, &num[i], &den[i])
            _flag(i, &num[0], &den[0], &hf[0], &flags[0], &entered[0], &n_entered)
    return n_entered


cdef Py_ssize_t _reprice(const int64_t* coll_entries, Py_ssize_t m, const int64_t* coll_owner,
                         const double* coll_amount, const int64_t* debt_entries, Py_ssize_t md,
                         const int64_t* debt_owner, const double* debt_amount, const int64_t* holders,
                         Py_ssize_t nh, const int64_t* emode, const double* lt_table, Py_ssize_t n_assets,
                         int64_t asset, double delta, double* num, double* den, double* hf, uint8_t* flags,
                         int64_t* entered) noexcept nogil:
    cdef Py_ssize_t j, n_entered = 0
    cdef int64_t e, i
    for j in range(m):
        e = coll_entries[j]
        i = coll_owner[e]
        num[i] += coll_amount[e] * delta * lt_table[emode[i] * n_assets + asset]
        if md == 0:                      # the debt sums do not move: flag at once, in one pass
            _flag(i, num, den, hf, flags, entered, &n_entered)
    if md == 0:
        return n_entered
    for j in range(md):
        e = debt_entries[j]
        den[debt_owner[e]] += debt_amount[e] * delta
    for j in range(nh):
        _flag(holders[j], num, den, hf, flags, entered, &n_entered)
    return n_entered


def mm_reprice(const int64_t[::1] coll_entries, const int64_t[::1] coll_owner, const double[::1] coll_amount,
               const int64_t[::1] debt_entries, const int64_t[::1] debt_owner, const double[::1] debt_amount,
               const int64_t[::1] holders, const int64_t[::1] emode, const double[::1] lt_table,
               Py_ssize_t n_assets, int64_t asset, double delta, double[::1] num, double[::1] den,
               double[::1] hf, uint8_t[::1] flags, int64_t[::1] entered):
    """The price of ``asset`` moved by ``delta`` (USD): shift the collateral sums of the accounts
    holding it as collateral (``amount * delta * lt``) and the debt sums of those owing it
    (``amount * delta``), then recompute ``hf`` and the flags of ``holders`` (the union of both);
    returns how many accounts entered (flag turned on), written to ``entered``. One pass when no
    account owes the asset. Each account appears at most once per side (one entry per asset)."""
    cdef Py_ssize_t n_entered
    if holders.shape[0] == 0:
        return 0
    with nogil:
        n_entered = _reprice(_ip(coll_entries), coll_entries.shape[0], _ip(coll_owner), _dp(coll_amount),
                             _ip(debt_entries), debt_entries.shape[0], _ip(debt_owner), _dp(debt_amount),
                             &holders[0], holders.shape[0], &emode[0], &lt_table[0], n_assets, asset, delta,
                             &num[0], &den[0], &hf[0], &flags[0], &entered[0])
    return n_entered
