"""Compound v3 (Comet) liquidation math: ``isLiquidatable``, ``absorb``, ``quoteCollateral``, reserves.

Usable without a simulation, in two forms:

* **float** functions on scalars and numpy arrays, in token units (not wei) and prices in any
  common unit (USD): what the simulator uses;
* **integer** ports (``*_int``) of ``compound-finance/comet`` ``contracts/Comet.sol`` and
  ``contracts/CometCore.sol`` that reproduce the contract to the wei: Python ints with the
  contract's scales and its floor / truncation at every step.

Definitions (float form, base units; interest indices are parameters of the integer port only —
the float functions take present values)
----------------------------------------------------------------------------------------------
liquidity
    ``sum_i c_i * P_i * liquidate_cf_i - debt * P_base`` (price units). An account with debt is
    liquidatable iff its liquidity is negative; an account without debt never is.
absorb
    All of the account's collateral goes to the protocol. The account is credited
    ``credit = sum_i c_i * P_i * liquidation_factor_i / P_base`` base units: its debt is
    forgiven, and what the credit exceeds the debt by becomes its base *supply*
    (``new_balance = max(0, credit - debt)``). The protocol pays for it out of its reserves:
    ``base_paid_out = new_balance + debt = max(credit, debt)``; the part of the debt the credit
    does not cover, ``shortfall = max(0, debt - credit)``, is the absorb's loss beyond the
    collateral's discounted value.
store-front price (``quoteCollateral``)
    ``discount = store_front_price_factor * (1 - liquidation_factor)``; one unit of collateral
    costs ``P_asset * (1 - discount) / P_base`` base units. Collateral is for sale only while
    ``reserves < target_reserves`` (or reserves are negative).
reserves (``getReserves``)
    ``base balance held - total supply + total borrow`` (present values): negative reserves are
    the protocol's bad debt.

Integer conventions (Comet): ``FACTOR_SCALE = 1e18``, ``BASE_INDEX_SCALE = 1e15``, prices with 8
decimals, ``scale = 10**decimals``; ``mulPrice(n, p, s) = n*p // s``, ``mulFactor(n, f) = n*f //
1e18``, ``divPrice(n, p, s) = n*s // p``; signed products truncate toward zero.

Examples
--------
>>> from contagion.comet import quote_collateral, absorb_amounts
>>> quote_collateral(200.0, 200.0, store_front_price_factor=0.5, liquidation_factor=0.6)  # 200 USDC of COMP at $200
1.25
>>> absorb_amounts(15_000.0, [10.0], [1_600.0], [0.95])      # (credit, new_balance, paid_out, shortfall)
(15200.0, 200.0, 15200.0, 0.0)
"""

from __future__ import annotations

import numpy as np

from contagion._validate import check_scalar
from contagion.errors import LiquidationError

__all__ = [
    "FACTOR_SCALE",
    "BASE_INDEX_SCALE",
    "PRICE_SCALE",
    "liquidity",
    "is_liquidatable",
    "absorb_amounts",
    "store_front_price",
    "quote_collateral",
    "reserves",
    "present_value_int",
    "principal_value_int",
    "repay_and_supply_amount_int",
    "is_liquidatable_int",
    "absorb_int",
    "quote_collateral_int",
]

FACTOR_SCALE = 10**18
BASE_INDEX_SCALE = 10**15
PRICE_SCALE = 10**8


# ------------------------------------------------------------------------------ float form
def _book(where: str, debt, collateral, prices, factors, factor_name: str):
    """Validated ``(debt (n,), collateral (n, k), prices (k,), factors (k,), scalar?)``."""
    try:
        d = np.asarray(debt, dtype=np.float64)
        c = np.asarray(collateral, dtype=np.float64)
        p = np.asarray(prices, dtype=np.float64).reshape(-1)
        f = np.asarray(factors, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise LiquidationError(f"{where}: debt, collateral, prices and {factor_name} must be numbers") from None
    scalar = d.ndim == 0
    d = d.reshape(-1)
    if c.ndim <= 1:
        c = c.reshape(1, -1) if scalar else c.reshape(-1, p.size if p.size else 1)
    if c.ndim != 2 or c.shape[0] != d.size:
        raise LiquidationError(f"{where}: collateral must have shape (accounts, assets) = ({d.size}, {p.size}), "
                               f"got {np.shape(collateral)}")
    if c.shape[1] != p.size or f.size != p.size:
        raise LiquidationError(f"{where}: one price and one {factor_name[:-1]} per collateral asset: "
                               f"{c.shape[1]} assets, {p.size} prices, {f.size} factors")
    for name, values in (("debt", d), ("collateral", c), ("prices", p)):
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise LiquidationError(f"{where}: {name} must be finite and >= 0")
    if not np.all((f > 0) & (f <= 1)):
        raise LiquidationError(f"{where}: {factor_name} must be in (0, 1], got {f.tolist()}")
    return d, np.ascontiguousarray(c), p, f, scalar


def liquidity(debt, collateral, prices, liquidate_collateral_factors, base_price: float = 1.0):
    """Comet's account liquidity at liquidation: ``sum c_i P_i lcf_i - debt P_base`` (price units).

    Parameters
    ----------
    debt : float or array_like, shape (n,)
        Borrowed base, present value, base units (>= 0).
    collateral : array_like, shape (k,) or (n, k)
        Collateral of each account in each asset, token units.
    prices : array_like, shape (k,)
        Oracle price of each collateral asset (USD).
    liquidate_collateral_factors : array_like, shape (k,)
        ``liquidateCollateralFactor`` of each asset, in (0, 1].
    base_price : float
        Oracle price of the base asset (USD).

    Returns
    -------
    float or numpy.ndarray
        Liquidity in price units (USD); negative means liquidatable when the account has debt.
    """
    where = "liquidity"
    d, c, p, f, scalar = _book(where, debt, collateral, prices, liquidate_collateral_factors,
                               "liquidate_collateral_factors")
    pb = check_scalar(LiquidationError, where, "base_price", base_price, low=0.0, low_open=True)
    out = c @ (p * f) - d * pb
    return float(out[0]) if scalar else out


def is_liquidatable(debt, collateral, prices, liquidate_collateral_factors, base_price: float = 1.0):
    """``isLiquidatable``: the account has debt and negative :func:`liquidity`."""
    value = liquidity(debt, collateral, prices, liquidate_collateral_factors, base_price)
    d = np.asarray(debt, dtype=np.float64)
    out = (np.asarray(value) < 0) & (d.reshape(np.shape(value)) > 0)
    return bool(out) if np.ndim(out) == 0 else out


def absorb_amounts(debt, collateral, prices, liquidation_factors, base_price: float = 1.0):
    """What ``absorb`` does to one account or to each of several (base units).

    Parameters
    ----------
    debt : float or array_like, shape (n,)
        Borrowed base, present value, base units.
    collateral : array_like, shape (k,) or (n, k)
        Collateral seized (all of it), token units.
    prices : array_like, shape (k,)
        Oracle prices of the collateral assets (USD).
    liquidation_factors : array_like, shape (k,)
        ``liquidationFactor`` of each asset, in (0, 1].
    base_price : float
        Oracle price of the base asset (USD).

    Returns
    -------
    (credit, new_balance, base_paid_out, shortfall)
        ``credit = sum c_i P_i lf_i / P_base``; ``new_balance = max(0, credit - debt)`` (the
        account's base supply afterwards); ``base_paid_out = new_balance + debt`` (the fall of the
        reserves); ``shortfall = max(0, debt - credit)``. Floats for one account, arrays for several.
    """
    where = "absorb_amounts"
    d, c, p, f, scalar = _book(where, debt, collateral, prices, liquidation_factors, "liquidation_factors")
    pb = check_scalar(LiquidationError, where, "base_price", base_price, low=0.0, low_open=True)
    credit = (c @ (p * f)) / pb
    new_balance = np.maximum(credit - d, 0.0)
    paid = new_balance + d
    shortfall = np.maximum(d - credit, 0.0)
    if scalar:
        return float(credit[0]), float(new_balance[0]), float(paid[0]), float(shortfall[0])
    return credit, new_balance, paid, shortfall


def store_front_price(asset_price, base_price: float = 1.0, *, store_front_price_factor: float,
                      liquidation_factor: float):
    """Price at which ``buyCollateral`` sells one unit of collateral, base units per unit.

    ``asset_price * (1 - store_front_price_factor * (1 - liquidation_factor)) / base_price``.
    """
    where = "store_front_price"
    sf = check_scalar(LiquidationError, where, "store_front_price_factor", store_front_price_factor,
                      low=0.0, high=1.0)
    lf = check_scalar(LiquidationError, where, "liquidation_factor", liquidation_factor, low=0.0, high=1.0,
                      low_open=True)
    pb = check_scalar(LiquidationError, where, "base_price", base_price, low=0.0, low_open=True)
    price = np.asarray(asset_price, dtype=np.float64)
    if not np.all(np.isfinite(price)) or np.any(price <= 0):
        raise LiquidationError(f"{where}: asset_price must be finite and > 0, got {asset_price!r}")
    out = price * (1.0 - sf * (1.0 - lf)) / pb
    return float(out) if out.ndim == 0 else out


def quote_collateral(base_amount, asset_price, base_price: float = 1.0, *, store_front_price_factor: float,
                     liquidation_factor: float):
    """``quoteCollateral``: collateral bought with ``base_amount`` base units (token units)."""
    unit = store_front_price(asset_price, base_price, store_front_price_factor=store_front_price_factor,
                             liquidation_factor=liquidation_factor)
    amount = np.asarray(base_amount, dtype=np.float64)
    if not np.all(np.isfinite(amount)) or np.any(amount < 0):
        raise LiquidationError(f"quote_collateral: base_amount must be finite and >= 0, got {base_amount!r}")
    out = amount / unit
    return float(out) if np.ndim(out) == 0 else out


def reserves(base_balance: float, total_supply: float, total_borrow: float) -> float:
    """``getReserves``: ``base_balance - total_supply + total_borrow`` (base units, present values)."""
    return float(base_balance) - float(total_supply) + float(total_borrow)


# ----------------------------------------------------------------------------- integer ports
def _tdiv(a: int, b: int) -> int:
    """Solidity signed division: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def present_value_int(principal: int, supply_index: int = BASE_INDEX_SCALE,
                      borrow_index: int = BASE_INDEX_SCALE) -> int:
    """``CometCore.presentValue``: ``principal * index / 1e15``, floor on the magnitude."""
    if principal >= 0:
        return principal * supply_index // BASE_INDEX_SCALE
    return -((-principal) * borrow_index // BASE_INDEX_SCALE)


def principal_value_int(present: int, supply_index: int = BASE_INDEX_SCALE,
                        borrow_index: int = BASE_INDEX_SCALE) -> int:
    """``CometCore.principalValue``: supply rounds down, borrow rounds up (in magnitude)."""
    if present >= 0:
        return present * BASE_INDEX_SCALE // supply_index
    return -((-present * BASE_INDEX_SCALE + borrow_index - 1) // borrow_index)


def repay_and_supply_amount_int(old_principal: int, new_principal: int) -> tuple[int, int]:
    """``CometCore.repayAndSupplyAmount``: principal repaid and supplied by a balance change."""
    if new_principal < old_principal:
        return 0, 0
    if new_principal <= 0:
        return new_principal - old_principal, 0
    if old_principal >= 0:
        return 0, new_principal - old_principal
    return -old_principal, new_principal


def is_liquidatable_int(principal: int, collaterals: list[dict], *, base_price: int = PRICE_SCALE,
                        base_scale: int = 10**6, supply_index: int = BASE_INDEX_SCALE,
                        borrow_index: int = BASE_INDEX_SCALE) -> bool:
    """``Comet.isLiquidatable`` with the contract's order of operations.

    ``collaterals`` lists the account's assets in asset order, each a mapping with ``balance``,
    ``price8`` (8-decimal price), ``scale`` and ``liquidateCollateralFactor`` (1e18 scale). The
    loop returns ``False`` as soon as the running liquidity is non-negative, before adding the
    next asset.
    """
    if principal >= 0:
        return False
    liquidity_ = _tdiv(present_value_int(principal, supply_index, borrow_index) * base_price, base_scale)
    for asset in collaterals:
        if liquidity_ >= 0:
            return False
        value = int(asset["balance"]) * int(asset["price8"]) // int(asset["scale"])
        liquidity_ += value * int(asset["liquidateCollateralFactor"]) // FACTOR_SCALE
    return liquidity_ < 0


def absorb_int(principal: int, collaterals: list[dict], *, base_price: int = PRICE_SCALE,
               base_scale: int = 10**6, supply_index: int = BASE_INDEX_SCALE,
               borrow_index: int = BASE_INDEX_SCALE) -> dict[str, int]:
    """``Comet.absorbInternal`` on one account, to the wei.

    ``collaterals``: mappings with ``balance``, ``price8``, ``scale`` and ``liquidationFactor``.
    Returns ``deltaValue`` (8-decimal price units), ``deltaBalance``, ``newBalance``,
    ``newPrincipal``, ``basePaidOut`` (base wei), ``repayAmount`` and ``supplyAmount`` (principal
    units, the changes of ``totalBorrowBase`` and ``totalSupplyBase``).
    """
    old_balance = present_value_int(principal, supply_index, borrow_index)
    delta_value = 0
    for asset in collaterals:
        value = int(asset["balance"]) * int(asset["price8"]) // int(asset["scale"])
        delta_value += value * int(asset["liquidationFactor"]) // FACTOR_SCALE
    delta_balance = delta_value * base_scale // base_price
    new_balance = max(0, old_balance + delta_balance)
    new_principal = principal_value_int(new_balance, supply_index, borrow_index)
    repay, supply = repay_and_supply_amount_int(principal, new_principal)
    return {"deltaValue": delta_value, "deltaBalance": delta_balance, "newBalance": new_balance,
            "newPrincipal": new_principal, "basePaidOut": new_balance - old_balance,
            "repayAmount": repay, "supplyAmount": supply}


def quote_collateral_int(base_amount: int, asset_price8: int, *, store_front_price_factor: int,
                         liquidation_factor: int, asset_scale: int, base_price8: int = PRICE_SCALE,
                         base_scale: int = 10**6) -> int:
    """``Comet.quoteCollateral`` to the wei (factors with 1e18 scale, prices with 8 decimals)."""
    discount = store_front_price_factor * (FACTOR_SCALE - liquidation_factor) // FACTOR_SCALE
    discounted = asset_price8 * (FACTOR_SCALE - discount) // FACTOR_SCALE
    return base_price8 * base_amount * asset_scale // discounted // base_scale
