"""Fixed-spread liquidation math for a one-collateral / one-debt market (Aave, Compound v2 style).

Usable on scalars and arrays without a simulation. Amounts are token units; prices are in any
common unit (USD), and only their ratio matters. The arithmetic runs in the compiled kernel
``contagion._ext.liquidation`` (reference: ``contagion._reference.liquidation``).

Definitions
-----------
liquidation price
    ``debt * price_debt / (collateral * liquidation_threshold)``: the collateral price at which
    the health factor is 1.
health factor
    ``collateral * price_collateral * liquidation_threshold / (debt * price_debt)``, computed as
    ``price_collateral / liquidation_price`` so that "liquidatable" (``hf < 1``) and
    "collateral price below the liquidation price" agree exactly in floating point.
close factor
    The share of the debt one call may repay: ``close_factor`` (Aave, Compound: 0.5), or all of it
    when ``hf <= full_close_hf`` (Aave v3.0-v3.2: 0.95).
liquidation bonus
    Extra collateral the liquidator receives, a fraction (0.05 = 5 %; Aave's ``10500`` bps).

Examples
--------
>>> from contagion.liquidation import health_factor, seize_amounts
>>> health_factor(10.0, 15000.0, 1800.0, 0.825)       # 10 ETH at $1,800 against 15,000 USDC
0.99
>>> seize_amounts(float("inf"), 10.0, 15000.0, 1800.0, 0.825, liquidation_bonus=0.05)
(7500.0, 4.375)
"""

from __future__ import annotations

import numpy as np

from contagion import kernels
from contagion._validate import as_arrays, check_array, check_scalar, is_scalar
from contagion.errors import LiquidationError

__all__ = ["liquidation_price", "health_factor", "seize_amounts"]


def _params(where: str, liquidation_threshold: float, price_debt: float) -> tuple[float, float]:
    lt = check_scalar(LiquidationError, where, "liquidation_threshold", liquidation_threshold,
                      low=0.0, high=1.0, low_open=True)
    pd = check_scalar(LiquidationError, where, "price_debt", price_debt, low=0.0, low_open=True)
    return lt, pd


def liquidation_price(collateral, debt, liquidation_threshold: float, price_debt: float = 1.0):
    """Collateral price at which the health factor is 1 (units of ``price_debt``).

    0 for a position without debt; ``inf`` for debt without collateral.
    """
    where = "liquidation_price"
    lt, pd = _params(where, liquidation_threshold, price_debt)
    shape, (c, d) = as_arrays(LiquidationError, where, ("collateral", "debt"), collateral, debt)
    check_array(LiquidationError, where, "collateral", c, low=0.0)
    check_array(LiquidationError, where, "debt", d, low=0.0)
    out = np.empty_like(c)
    kernels.liquidation.liquidation_prices(c, d, lt, out)
    out *= pd
    return float(out[0]) if is_scalar(collateral, debt) else out.reshape(shape)


def health_factor(collateral, debt, price_collateral: float, liquidation_threshold: float,
                  price_debt: float = 1.0):
    """Health factor of positions at the given prices (``inf`` without debt)."""
    where = "health_factor"
    lt, pd = _params(where, liquidation_threshold, price_debt)
    pc = check_scalar(LiquidationError, where, "price_collateral", price_collateral, low=0.0)
    shape, (c, d) = as_arrays(LiquidationError, where, ("collateral", "debt"), collateral, debt)
    check_array(LiquidationError, where, "collateral", c, low=0.0)
    check_array(LiquidationError, where, "debt", d, low=0.0)
    out = np.empty_like(c)
    kernels.liquidation.health_factors(c, d, pc / pd, lt, out)
    return float(out[0]) if is_scalar(collateral, debt) else out.reshape(shape)


def seize_amounts(repay, collateral, debt, price_collateral: float, liquidation_threshold: float,
                  *, price_debt: float = 1.0, close_factor: float = 0.5,
                  full_close_hf: float | None = None, liquidation_bonus: float = 0.05):
    """Debt repaid and collateral seized by a liquidation call.

    Parameters
    ----------
    repay : float or array_like
        Debt the liquidator offers to repay, debt-asset units (``inf`` = as much as allowed).
    collateral, debt : float or array_like
        The position, token units.
    price_collateral, price_debt : float
        Oracle prices (same unit).
    liquidation_threshold : float
        In ``(0, 1]``.
    close_factor : float
        Share of the debt one call may repay, in ``(0, 1]``.
    full_close_hf : float, optional
        At or below this health factor the whole debt may be repaid (Aave v3.0: 0.95).
    liquidation_bonus : float
        Fraction of extra collateral paid to the liquidator.

    Returns
    -------
    (repaid, seized)
        Debt-asset units and collateral units; both 0 where the position is healthy. If the
        bonus-inclusive seizure exceeds the collateral, all collateral is seized and the
        repayment shrinks to match (the rest of the debt remains, possibly as bad debt).
    """
    where = "seize_amounts"
    lt, pd = _params(where, liquidation_threshold, price_debt)
    pc = check_scalar(LiquidationError, where, "price_collateral", price_collateral, low=0.0, low_open=True)
    cf = check_scalar(LiquidationError, where, "close_factor", close_factor, low=0.0, high=1.0, low_open=True)
    bonus = check_scalar(LiquidationError, where, "liquidation_bonus", liquidation_bonus, low=0.0)
    full = -1.0 if full_close_hf is None else check_scalar(
        LiquidationError, where, "full_close_hf", full_close_hf, low=0.0, high=1.0)
    ratio = pc / pd
    if is_scalar(repay, collateral, debt):
        r = check_scalar(LiquidationError, where, "repay", repay, low=0.0, allow_inf=True)
        c = check_scalar(LiquidationError, where, "collateral", collateral, low=0.0)
        d = check_scalar(LiquidationError, where, "debt", debt, low=0.0)
        return kernels.liquidation.seize(r, c, d, ratio, lt, cf, full, bonus)
    shape, (r, c, d) = as_arrays(LiquidationError, where, ("repay", "collateral", "debt"), repay, collateral, debt)
    if np.isnan(r).any() or (r < 0).any():
        raise LiquidationError(f"{where}: repay must be >= 0 (inf allowed)")
    check_array(LiquidationError, where, "collateral", c, low=0.0)
    check_array(LiquidationError, where, "debt", d, low=0.0)
    repaid = np.empty_like(r)
    seized = np.empty_like(r)
    kernels.liquidation.seize_batch(r, c, d, ratio, lt, cf, full, bonus, repaid, seized)
    return repaid.reshape(shape), seized.reshape(shape)
