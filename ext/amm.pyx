# cython: language_level=3
"""Compiled AMM kernels (constant product, Uniswap v2 semantics) in float64 token units.

The executable specification of every function here is ``contagion._reference.amm``; the
public, validated entry points are in ``contagion.amm``. Functions in this module trust their
inputs: shapes, signs and zero reserves are checked by the Python wrappers before the call.

Conventions
-----------
``fee`` is a fraction of the input amount kept by the pool (Uniswap v2: 0.003).
The input side pays the fee: ``amount_out = a(1-fee) R_out / (R_in + a(1-fee))``.
"""

from kernel_common cimport CONTAGION_DEBUG

BUILD_DEBUG = bool(CONTAGION_DEBUG)


cdef inline double _amount_out(double amount_in, double reserve_in, double reserve_out,
                               double fee) noexcept nogil:
    cdef double effective = amount_in * (1.0 - fee)
    return effective * reserve_out / (reserve_in + effective)


cdef inline double _amount_in(double amount_out, double reserve_in, double reserve_out,
                              double fee) noexcept nogil:
    return reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))


cdef inline double _price_impact(double amount_in, double reserve_in, double fee) noexcept nogil:
    cdef double effective = amount_in * (1.0 - fee)
    return effective / (reserve_in + effective)


def cp_amount_out(double amount_in, double reserve_in, double reserve_out, double fee):
    """Output of one constant-product swap (token units of the output asset)."""
    return _amount_out(amount_in, reserve_in, reserve_out, fee)


def cp_amount_in(double amount_out, double reserve_in, double reserve_out, double fee):
    """Input needed for an exact output (``amount_out < reserve_out``)."""
    return _amount_in(amount_out, reserve_in, reserve_out, fee)


def cp_price_impact(double amount_in, double reserve_in, double fee):
    """Execution-price shortfall against the spot price, fee excluded (fraction)."""
    return _price_impact(amount_in, reserve_in, fee)


def cp_amount_out_batch(const double[::1] amount_in, const double[::1] reserve_in,
                        const double[::1] reserve_out, double fee, double[::1] out):
    """Element-wise ``cp_amount_out`` over equal-length arrays, written into ``out``."""
    cdef Py_ssize_t i, n = amount_in.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _amount_out(amount_in[i], reserve_in[i], reserve_out[i], fee)


def cp_amount_in_batch(const double[::1] amount_out, const double[::1] reserve_in,
                       const double[::1] reserve_out, double fee, double[::1] out):
    """Element-wise ``cp_amount_in`` over equal-length arrays, written into ``out``."""
    cdef Py_ssize_t i, n = amount_out.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _amount_in(amount_out[i], reserve_in[i], reserve_out[i], fee)


def cp_price_impact_batch(const double[::1] amount_in, const double[::1] reserve_in,
                          double fee, double[::1] out):
    """Element-wise ``cp_price_impact`` over equal-length arrays, written into ``out``."""
    cdef Py_ssize_t i, n = amount_in.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _price_impact(amount_in[i], reserve_in[i], fee)


def cp_sequential_out(const double[::1] amounts_in, double reserve_in, double reserve_out,
                      double fee, double[::1] out):
    """Outputs of consecutive swaps in one direction through the same pool.

    The fee stays in the pool, so after a swap ``reserve_in += amount_in`` and
    ``reserve_out -= amount_out``. Returns the final ``(reserve_in, reserve_out)``.
    """
    cdef Py_ssize_t i, n = amounts_in.shape[0]
    cdef double got
    with nogil:
        for i in range(n):
            got = _amount_out(amounts_in[i], reserve_in, reserve_out, fee)
            out[i] = got
            reserve_in += amounts_in[i]
            reserve_out -= got
    return reserve_in, reserve_out
