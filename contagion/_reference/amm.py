"""Reference constant-product AMM math (specification of ``contagion._ext.amm``).

Token units, float64. ``fee`` is the fraction of the input kept by the pool (Uniswap v2: 0.003);
the pool's invariant after a swap is checked on the fee-adjusted input, as in
``UniswapV2Pair.swap``, so the largest output it accepts is::

    amount_out = a (1 - fee) R_out / (R_in + a (1 - fee))
"""

from __future__ import annotations

import numpy as np

BUILD_DEBUG = False


def cp_amount_out(amount_in: float, reserve_in: float, reserve_out: float, fee: float) -> float:
    effective = amount_in * (1.0 - fee)
    return effective * reserve_out / (reserve_in + effective)


def cp_amount_in(amount_out: float, reserve_in: float, reserve_out: float, fee: float) -> float:
    return reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))


def cp_price_impact(amount_in: float, reserve_in: float, fee: float) -> float:
    effective = amount_in * (1.0 - fee)
    return effective / (reserve_in + effective)


def cp_amount_out_batch(amount_in, reserve_in, reserve_out, fee, out) -> None:
    effective = np.asarray(amount_in) * (1.0 - fee)
    out[:] = effective * reserve_out / (reserve_in + effective)


def cp_amount_in_batch(amount_out, reserve_in, reserve_out, fee, out) -> None:
    amount_out = np.asarray(amount_out)
    out[:] = reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))


def cp_price_impact_batch(amount_in, reserve_in, fee, out) -> None:
    effective = np.asarray(amount_in) * (1.0 - fee)
    out[:] = effective / (reserve_in + effective)


def cp_sequential_out(amounts_in, reserve_in: float, reserve_out: float, fee: float, out):
    for i, amount in enumerate(amounts_in):
        got = cp_amount_out(float(amount), reserve_in, reserve_out, fee)
        out[i] = got
        reserve_in += float(amount)
        reserve_out -= got
    return reserve_in, reserve_out
