# cython: language_level=3
"""Compiled batch arithmetic of Maker's collateral auctions (Liquidations 2.0 price curves).

The executable specification of every function here is ``contagion._reference.auctions``; the
public, validated entry points are in ``contagion.auctions``. Inputs are trusted: the Python
wrappers check shapes, signs and ranges before calling.

Definitions (float64; ``top`` and prices in debt-asset units per unit of collateral, durations
in seconds since the auction's start)
------------------------------------------------------------------------------------------
linear       ``price = top * (tau - dur) / tau`` while ``dur < tau``, else 0
stairstep    ``price = top * cut ** floor(dur / step)``   (``cut`` per step, ``step`` seconds)
exponential  ``price = top * cut ** dur``                  (``cut`` per second)
redo         an auction needs a reset when ``dur > tail`` or ``price / top < cusp``
"""

from libc.math cimport floor, pow
from libc.stdint cimport uint8_t

from kernel_common cimport CONTAGION_DEBUG

BUILD_DEBUG = bool(CONTAGION_DEBUG)


cdef inline double _linear(double top, double dur, double tau) noexcept nogil:
    if dur >= tau:
        return 0.0
    return top * ((tau - dur) / tau)


cdef inline double _stairstep(double top, double dur, double cut, double step) noexcept nogil:
    return top * pow(cut, floor(dur / step))


cdef inline double _exponential(double top, double dur, double cut) noexcept nogil:
    return top * pow(cut, dur)


def linear_prices(const double[::1] top, const double[::1] dur, double tau, double[::1] out):
    """Linear-decrease price of each auction at its elapsed time ``dur``."""
    cdef Py_ssize_t i, n = top.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _linear(top[i], dur[i], tau)


def stairstep_prices(const double[::1] top, const double[::1] dur, double cut, double step,
                     double[::1] out):
    """Stairstep-exponential price of each auction at its elapsed time ``dur``."""
    cdef Py_ssize_t i, n = top.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _stairstep(top[i], dur[i], cut, step)


def exponential_prices(const double[::1] top, const double[::1] dur, double cut, double[::1] out):
    """Exponential-decrease price of each auction at its elapsed time ``dur``."""
    cdef Py_ssize_t i, n = top.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _exponential(top[i], dur[i], cut)


def redo_flags(const double[::1] top, const double[::1] price, const double[::1] dur, double tail,
               double cusp, uint8_t[::1] out):
    """1 where an auction needs a reset (``dur > tail`` or ``price / top < cusp``), else 0."""
    cdef Py_ssize_t i, n = top.shape[0]
    with nogil:
        for i in range(n):
            out[i] = 1 if (dur[i] > tail or price[i] / top[i] < cusp) else 0
