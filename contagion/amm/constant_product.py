"""Constant-product AMM math (Uniswap v2 semantics) in float64 token units.

Every function takes scalars or array-likes (broadcast against each other) and returns a float
or an array of the broadcast shape. Inputs are validated here; the arithmetic runs in the
compiled kernel ``contagion._ext.amm`` (reference: ``contagion._reference.amm``).

Conventions
-----------
* Reserves and amounts are token units (not wei), ``float64``.
* ``fee`` is the fraction of the *input* kept by the pool (Uniswap v2: 0.003). The fee stays in
  the pool: after a swap, ``reserve_in += amount_in`` and ``reserve_out -= amount_out``.
* The output for an input ``a`` is the largest amount the pair's invariant check accepts::

      amount_out = a (1 - fee) R_out / (R_in + a (1 - fee))

  which is ``UniswapV2Library.getAmountOut`` without its integer floor; :mod:`contagion.amm.uniswap_v2`
  has the integer-exact port.

Examples
--------
>>> from contagion.amm import constant_product as cp
>>> round(cp.amount_out(1.0, 5.0, 10.0), 12)       # Uniswap v2 test case: 1.662497915624478906
1.662497915624
>>> cp.amount_out([1.0, 2.0], 5.0, 10.0).round(6)   # arrays broadcast against scalars
array([1.662498, 2.851015])
"""

from __future__ import annotations

import math

import numpy as np

from contagion import kernels
from contagion._validate import as_arrays, check_array, check_scalar, is_scalar
from contagion.errors import AmmError

__all__ = [
    "amount_out",
    "amount_in",
    "price_impact",
    "spot_price",
    "sequential_out",
    "arbitrage_trade",
    "ConstantProductPool",
]


def _fee(fee: float, where: str) -> float:
    return check_scalar(AmmError, where, "fee", fee, low=0.0, high=1.0, high_open=True)


def amount_out(amount_in, reserve_in, reserve_out, fee: float = 0.003):
    """Output of a swap of ``amount_in`` into a constant-product pool.

    Parameters
    ----------
    amount_in : float or array_like
        Input amount, token units, ``>= 0``.
    reserve_in, reserve_out : float or array_like
        Pool reserves of the input and output asset before the swap, token units, ``> 0``.
    fee : float
        Fraction of the input kept by the pool, in ``[0, 1)``.

    Returns
    -------
    float or numpy.ndarray
        Output amount, token units of the output asset: ``< reserve_out`` mathematically; in
        float64 it rounds to ``reserve_out`` once the input exceeds about 1e15 times
        ``reserve_in`` (``ConstantProductPool.swap`` refuses such a trade).
    """
    where = "amount_out"
    fee = _fee(fee, where)
    if is_scalar(amount_in, reserve_in, reserve_out):
        a = check_scalar(AmmError, where, "amount_in", amount_in, low=0.0)
        r_in = check_scalar(AmmError, where, "reserve_in", reserve_in, low=0.0, low_open=True)
        r_out = check_scalar(AmmError, where, "reserve_out", reserve_out, low=0.0, low_open=True)
        return kernels.amm.cp_amount_out(a, r_in, r_out, fee)
    shape, (a, r_in, r_out) = as_arrays(AmmError, where, ("amount_in", "reserve_in", "reserve_out"),
                                        amount_in, reserve_in, reserve_out)
    check_array(AmmError, where, "amount_in", a, low=0.0)
    check_array(AmmError, where, "reserve_in", r_in, low=0.0, low_open=True)
    check_array(AmmError, where, "reserve_out", r_out, low=0.0, low_open=True)
    out = np.empty_like(a)
    kernels.amm.cp_amount_out_batch(a, r_in, r_out, fee, out)
    return out.reshape(shape)


def amount_in(amount_out, reserve_in, reserve_out, fee: float = 0.003):
    """Input needed to receive exactly ``amount_out`` (``0 <= amount_out < reserve_out``).

    The inverse of :func:`amount_out`: ``amount_in = R_in x / ((R_out - x)(1 - fee))``.
    """
    where = "amount_in"
    fee = _fee(fee, where)
    if is_scalar(amount_out, reserve_in, reserve_out):
        x = check_scalar(AmmError, where, "amount_out", amount_out, low=0.0)
        r_in = check_scalar(AmmError, where, "reserve_in", reserve_in, low=0.0, low_open=True)
        r_out = check_scalar(AmmError, where, "reserve_out", reserve_out, low=0.0, low_open=True)
        if x >= r_out:
            raise AmmError(f"{where}: amount_out must be < reserve_out ({r_out!r}), got {amount_out!r}")
        return kernels.amm.cp_amount_in(x, r_in, r_out, fee)
    shape, (x, r_in, r_out) = as_arrays(AmmError, where, ("amount_out", "reserve_in", "reserve_out"),
                                        amount_out, reserve_in, reserve_out)
    check_array(AmmError, where, "amount_out", x, low=0.0)
    check_array(AmmError, where, "reserve_in", r_in, low=0.0, low_open=True)
    check_array(AmmError, where, "reserve_out", r_out, low=0.0, low_open=True)
    check_array(AmmError, where, "reserve_out - amount_out", r_out - x, low=0.0, low_open=True)
    out = np.empty_like(x)
    kernels.amm.cp_amount_in_batch(x, r_in, r_out, fee, out)
    return out.reshape(shape)


def price_impact(amount_in, reserve_in, fee: float = 0.003):
    """Shortfall of the execution price against the spot price, fee excluded (fraction).

    ``a(1-fee) / (R_in + a(1-fee))``: the share of the trade's value lost to the curve, the
    quantity DEX interfaces call "price impact". The pool's marginal price moves by
    ``1 - (1 - impact)^2`` in the direction of the trade.
    """
    where = "price_impact"
    fee = _fee(fee, where)
    if is_scalar(amount_in, reserve_in):
        a = check_scalar(AmmError, where, "amount_in", amount_in, low=0.0)
        r_in = check_scalar(AmmError, where, "reserve_in", reserve_in, low=0.0, low_open=True)
        return kernels.amm.cp_price_impact(a, r_in, fee)
    shape, (a, r_in) = as_arrays(AmmError, where, ("amount_in", "reserve_in"), amount_in, reserve_in)
    check_array(AmmError, where, "amount_in", a, low=0.0)
    check_array(AmmError, where, "reserve_in", r_in, low=0.0, low_open=True)
    out = np.empty_like(a)
    kernels.amm.cp_price_impact_batch(a, r_in, fee, out)
    return out.reshape(shape)


def spot_price(reserve_base, reserve_quote):
    """Marginal price of the base asset in quote units, fee excluded: ``R_quote / R_base``."""
    where = "spot_price"
    if is_scalar(reserve_base, reserve_quote):
        x = check_scalar(AmmError, where, "reserve_base", reserve_base, low=0.0, low_open=True)
        y = check_scalar(AmmError, where, "reserve_quote", reserve_quote, low=0.0, low_open=True)
        return y / x
    shape, (x, y) = as_arrays(AmmError, where, ("reserve_base", "reserve_quote"), reserve_base, reserve_quote)
    check_array(AmmError, where, "reserve_base", x, low=0.0, low_open=True)
    check_array(AmmError, where, "reserve_quote", y, low=0.0, low_open=True)
    return (y / x).reshape(shape)


def sequential_out(amounts_in, reserve_in: float, reserve_out: float, fee: float = 0.003):
    """Outputs of consecutive swaps in the same direction through one pool.

    Returns ``(outputs, (reserve_in_after, reserve_out_after))``. Useful to price a sequence
    of liquidation sales that hit the same pool one after another.
    """
    where = "sequential_out"
    fee = _fee(fee, where)
    r_in = check_scalar(AmmError, where, "reserve_in", reserve_in, low=0.0, low_open=True)
    r_out = check_scalar(AmmError, where, "reserve_out", reserve_out, low=0.0, low_open=True)
    _, (amounts,) = as_arrays(AmmError, where, ("amounts_in",), amounts_in)
    check_array(AmmError, where, "amounts_in", amounts, low=0.0)
    out = np.empty_like(amounts)
    reserves = kernels.amm.cp_sequential_out(amounts, r_in, r_out, fee, out)
    return out, (float(reserves[0]), float(reserves[1]))


def arbitrage_trade(reserve_base: float, reserve_quote: float, target_price: float,
                    fee: float = 0.003) -> tuple[int, float]:
    """The swap that maximizes profit against an outside price ``target_price`` (quote per base).

    Closed form for a constant-product pool with the fee on the input. Selling base into the
    pool is profitable while its marginal output ``(1-f) R_b R_q / (R_b + (1-f) x)^2`` exceeds
    ``target_price``; buying base while ``(1-f) R_b R_q / (R_q + (1-f) y)^2 > 1 / target_price``.
    At the optimum the marginal output of the trade equals the outside price. (The pool's spot
    price afterwards differs from it slightly, because the fee stays in the pool.)

    Returns
    -------
    (side, amount_in) : (int, float)
        ``side`` is 0 when the base asset goes in (pool price above ``target_price``), 1 when
        the quote asset goes in (pool price below), and ``amount_in`` the optimal input in that
        asset's units; ``(0, 0.0)`` inside the no-arbitrage band
        ``(1-f) R_q/R_b <= target_price <= R_q / ((1-f) R_b)``.
    """
    where = "arbitrage_trade"
    fee = _fee(fee, where)
    x = check_scalar(AmmError, where, "reserve_base", reserve_base, low=0.0, low_open=True)
    y = check_scalar(AmmError, where, "reserve_quote", reserve_quote, low=0.0, low_open=True)
    p = check_scalar(AmmError, where, "target_price", target_price, low=0.0, low_open=True)
    gamma = 1.0 - fee
    if gamma * y / x > p:
        return 0, max(0.0, (math.sqrt(gamma * x * y / p) - x) / gamma)
    if y / (gamma * x) < p:
        return 1, max(0.0, (math.sqrt(gamma * x * y * p) - y) / gamma)
    return 0, 0.0


class ConstantProductPool:
    """A constant-product pool's state and math, without a simulation.

    Parameters
    ----------
    reserve0, reserve1 : float
        Reserves of ``assets[0]`` and ``assets[1]``, token units, ``> 0``.
    fee : float
        Fraction of the input kept by the pool (default 0.003).
    assets : tuple of str
        Names of the two assets.

    Examples
    --------
    >>> pool = ConstantProductPool(5.0, 10.0, assets=("ETH", "USDC"))
    >>> out = pool.swap(1.0, "ETH")
    >>> round(out, 9), pool.reserves
    (1.662497916, (6.0, 8.33750208437552))
    """

    def __init__(self, reserve0: float, reserve1: float, fee: float = 0.003,
                 assets: tuple[str, str] = ("token0", "token1")):
        self.fee = _fee(fee, "ConstantProductPool")
        r0 = check_scalar(AmmError, "ConstantProductPool", "reserve0", reserve0, low=0.0, low_open=True)
        r1 = check_scalar(AmmError, "ConstantProductPool", "reserve1", reserve1, low=0.0, low_open=True)
        if len(assets) != 2 or assets[0] == assets[1]:
            raise AmmError(f"ConstantProductPool: assets must be two distinct names, got {assets!r}")
        self.assets = (str(assets[0]), str(assets[1]))
        self._reserves = [r0, r1]

    def __repr__(self) -> str:
        return (f"ConstantProductPool({self._reserves[0]!r}, {self._reserves[1]!r}, "
                f"fee={self.fee!r}, assets={self.assets!r})")

    def _side(self, asset: str) -> int:
        try:
            return self.assets.index(asset)
        except ValueError:
            raise AmmError(f"ConstantProductPool: asset must be one of {self.assets}, got {asset!r}") from None

    @property
    def reserves(self) -> tuple[float, float]:
        """``(reserve0, reserve1)`` in token units."""
        return self._reserves[0], self._reserves[1]

    @property
    def k(self) -> float:
        """The invariant ``reserve0 * reserve1`` (grows with fees)."""
        return self._reserves[0] * self._reserves[1]

    def price(self, asset: str | None = None) -> float:
        """Spot price of ``asset`` (default ``assets[0]``) in units of the other asset."""
        i = 0 if asset is None else self._side(asset)
        return self._reserves[1 - i] / self._reserves[i]

    def quote(self, amount: float, asset_in: str) -> float:
        """Output for ``amount`` of ``asset_in``, without changing the pool."""
        i = self._side(asset_in)
        return amount_out(amount, self._reserves[i], self._reserves[1 - i], self.fee)

    def quote_in(self, amount: float, asset_out: str) -> float:
        """Input of the other asset needed to receive ``amount`` of ``asset_out``."""
        j = self._side(asset_out)
        return amount_in(amount, self._reserves[1 - j], self._reserves[j], self.fee)

    def swap(self, amount: float, asset_in: str) -> float:
        """Swap ``amount`` of ``asset_in`` and return the output; the fee stays in the pool."""
        i = self._side(asset_in)
        out = amount_out(amount, self._reserves[i], self._reserves[1 - i], self.fee)
        if out >= self._reserves[1 - i]:
            raise AmmError(f"ConstantProductPool.swap: {amount!r} {asset_in} would drain the pool in "
                           "float64 (input too large relative to the reserve)")
        self._reserves[i] += float(amount)
        self._reserves[1 - i] -= out
        return out
