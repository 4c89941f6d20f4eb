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
