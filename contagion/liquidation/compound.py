"""Compound v2 liquidation math: an integer-exact port and a float API.

* **Integer port**, with the ``Exp`` arithmetic of ``ExponentialNoError`` (18-decimal mantissas,
  every product and quotient floored, overflow and division by zero revert):
  :func:`liquidate_calculate_seize_tokens` (``Comptroller.liquidateCalculateSeizeTokens``),
  :func:`seize_split` (``CToken.seizeInternal``, the protocol's 2.8 % share),
  :func:`account_liquidity` (``Comptroller.getHypotheticalAccountLiquidityInternal``),
  :func:`max_close` and :func:`liquidate_borrow_allowed` (the close-factor check), and
  :func:`liquidate_borrow`, which chains them like ``CToken.liquidateBorrowFresh``.
  Failures raise :class:`CompoundRevert` with the contract's reason (``"TOO_MUCH_REPAY"``,
  ``"INSUFFICIENT_SHORTFALL"``, ``"PRICE_ERROR"``, ``"LIQUIDATE_SEIZE_TOO_MUCH"``, ...).
* **Float API** on scalars or broadcasting numpy arrays: :func:`seize_amounts` and
  :func:`account_liquidity_usd`, plus unit conversions :func:`price_from_mantissa` and
  :func:`exchange_rate_from_mantissa`.

Units
-----
Integer port (as the contracts): underlying amounts in the token's smallest unit; cToken
amounts in cToken units (8 decimals on mainnet); oracle prices are ``USD * 10**(36 -
underlying_decimals)`` (USD per smallest unit, scaled by 1e18); the exchange rate is underlying
smallest units per cToken unit scaled by 1e18; factors and incentives are mantissas (``0.5e18``,
``1.08e18``). Account liquidity and shortfall are USD scaled by 1e18.

Float API: token units (whole tokens), prices in USD per token, the exchange rate in underlying
tokens per cToken (0.02 for a fresh cETH), the incentive as a multiplier (1.08 = 8 % extra, as
``liquidationIncentiveMantissa``), shares and factors as fractions.

Examples
--------
>>> liquidate_calculate_seize_tokens(price_borrowed_mantissa=10**30,           # USDC at $1
...                                  price_collateral_mantissa=2000 * 10**18,  # ETH at $2,000
...                                  exchange_rate_mantissa=2 * 10**26,        # 0.02 ETH per cETH
...                                  actual_repay_amount=5 * 10**18,
...                                  liquidation_incentive_mantissa=108 * 10**16)
13500000000000000000
>>> seize_amounts(1000.0, 1.0, 2000.0, 0.02, liquidation_incentive=1.08)
(27.0, 26.244, 0.756)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike

from contagion._validate import as_arrays, check_array, check_uint, is_scalar
from contagion.liquidation._arrays import out as _out
from contagion.liquidation._arrays import weighted_sums
from contagion.errors import LiquidationError

__all__ = [
    "EXP_SCALE",
    "MAX_UINT256",
    "PROTOCOL_SEIZE_SHARE_MANTISSA",
    "PROTOCOL_SEIZE_SHARE",
    "CompoundRevert",
    "AccountAsset",
    "AccountLiquidity",
    "SeizeSplit",
    "LiquidateBorrowResult",
    "liquidate_calculate_seize_tokens",
    "seize_split",
    "account_liquidity",
    "max_close",
    "liquidate_borrow_allowed",
    "liquidate_borrow",
    "seize_amounts",
    "account_liquidity_usd",
    "price_from_mantissa",
    "exchange_rate_from_mantissa",
]

EXP_SCALE = 10**18
"""The one of an ``Exp`` mantissa."""
MAX_UINT256 = 2**256 - 1
"""``type(uint256).max``."""
PROTOCOL_SEIZE_SHARE_MANTISSA = 28 * 10**15
"""``CTokenStorage.protocolSeizeShareMantissa``: 2.8 % of seized cTokens go to reserves."""
PROTOCOL_SEIZE_SHARE = 0.028
"""Float counterpart of :data:`PROTOCOL_SEIZE_SHARE_MANTISSA`."""

# ComptrollerErrorReporter.Error codes returned (not reverted) by the Comptroller
_ERROR_CODES = {"INSUFFICIENT_SHORTFALL": 3, "MATH_ERROR": 11, "PRICE_ERROR": 13,
                "TOO_MUCH_REPAY": 17}


class CompoundRevert(LiquidationError):
    """A Compound v2 call that fails, with the contract's reason.

    Attributes
    ----------
    reason : str
        ``"PRICE_ERROR"``, ``"INSUFFICIENT_SHORTFALL"``, ``"TOO_MUCH_REPAY"`` (Comptroller error
        codes, which make ``liquidateBorrow`` revert with ``LiquidateComptrollerRejection`` or
        ``LIQUIDATE_COMPTROLLER_CALCULATE_AMOUNT_SEIZE_FAILED``), ``"LIQUIDATE_SEIZE_TOO_MUCH"``,
        ``"LiquidateCloseAmountIsZero"``, ``"LiquidateCloseAmountIsUintMax"``, ``"Can not repay more
        than the total borrow"`` (deprecated markets) or ``"Panic(0x11)..."`` / ``"Panic(0x12)..."``
        for checked arithmetic.
    error_code : int or None
        The Comptroller's ``Error`` code, for the reasons that are one.
    """

    def __init__(self, reason: str, detail: str | None = None):
        self.reason = reason
        self.error_code = _ERROR_CODES.get(reason)
        super().__init__(f"Compound v2: {reason}" + (f" ({detail})" if detail else ""))


# ---------------------------------------------------------------------------------------------
# ExponentialNoError (Solidity 0.8: checked *, / by zero panics)
# ---------------------------------------------------------------------------------------------

def _uint(value: int, name: str) -> int:
    return check_uint(LiquidationError, "Compound v2", name, value)


def _mul(a: int, b: int, what: str) -> int:
    product = a * b
    if product > MAX_UINT256:
        raise CompoundRevert("Panic(0x11): arithmetic overflow", what)
    return product


def _div(a: int, b: int, what: str) -> int:
    if b == 0:
        raise CompoundRevert("Panic(0x12): division by zero", what)
    return a // b


def _mul_exp(a: int, b: int, what: str) -> int:
    """``mul_(Exp a, Exp b)`` and ``mul_(uint a, Exp b)``: ``a * b / 1e18``."""
    return _mul(a, b, what) // EXP_SCALE


def _div_exp(a: int, b: int, what: str) -> int:
    """``div_(Exp a, Exp b)``: ``a * 1e18 / b``."""
    return _div(_mul(a, EXP_SCALE, what), b, what)


# ---------------------------------------------------------------------------------------------
# integer port
# ---------------------------------------------------------------------------------------------

def liquidate_calculate_seize_tokens(price_borrowed_mantissa: int, price_collateral_mantissa: int,
                                     exchange_rate_mantissa: int, actual_repay_amount: int,
                                     liquidation_incentive_mantissa: int) -> int:
    """``Comptroller.liquidateCalculateSeizeTokens``: cTokens of collateral seized for a repayment.

    ``seizeTokens = floor(floor(floor(incentive * pB / 1e18) * 1e18 / floor(pC * rate / 1e18))
    * repay / 1e18)``.

    Parameters
    ----------
    price_borrowed_mantissa, price_collateral_mantissa : int
        Oracle prices of the borrowed and collateral underlyings (``USD * 10**(36 - decimals)``).
    exchange_rate_mantissa : int
        ``exchangeRateStored()`` of the collateral cToken.
    actual_repay_amount : int
        Borrowed underlying repaid, smallest units.
    liquidation_incentive_mantissa : int
        ``liquidationIncentiveMantissa`` (1.08e18 = 8 % extra).

    Returns
    -------
    int
        Collateral cTokens to seize (liquidator and protocol share together).

    Raises
    ------
    CompoundRevert
        ``PRICE_ERROR`` if a price is 0 (the Comptroller returns ``(PRICE_ERROR, 0)`` and the
        liquidation reverts); a Panic on overflow or when ``pC * rate < 1e18`` (division by 0).
    """
    pb = _uint(price_borrowed_mantissa, "price_borrowed_mantissa")
    pc = _uint(price_collateral_mantissa, "price_collateral_mantissa")
    rate = _uint(exchange_rate_mantissa, "exchange_rate_mantissa")
    repay = _uint(actual_repay_amount, "actual_repay_amount")
    incentive = _uint(liquidation_incentive_mantissa, "liquidation_incentive_mantissa")
    if pb == 0 or pc == 0:
        which = "borrowed" if pb == 0 else "collateral"
        raise CompoundRevert("PRICE_ERROR", f"oracle price of the {which} asset is 0")
    numerator = _mul_exp(incentive, pb, "liquidationIncentive * priceBorrowed")
    denominator = _mul_exp(pc, rate, "priceCollateral * exchangeRate")
    ratio = _div_exp(numerator, denominator, "numerator / denominator")
    return _mul_exp(ratio, repay, "ratio * actualRepayAmount")


class SeizeSplit(NamedTuple):
    """How ``seizeInternal`` splits the seized cTokens."""

    liquidator_seize_tokens: int
    """cTokens transferred to the liquidator."""
    protocol_seize_tokens: int
    """cTokens burned into reserves (``totalSupply`` decreases by this)."""
    protocol_seize_amount: int
    """Underlying added to ``totalReserves``, smallest units."""


def seize_split(seize_tokens: int, exchange_rate_mantissa: int,
                protocol_seize_share_mantissa: int = PROTOCOL_SEIZE_SHARE_MANTISSA) -> SeizeSplit:
    """``CToken.seizeInternal``: the liquidator's and the protocol's parts of a seizure.

    ``protocolSeizeTokens = floor(seizeTokens * share / 1e18)``; the liquidator gets the rest;
    ``protocolSeizeAmount = floor(exchangeRate * protocolSeizeTokens / 1e18)``.
    """
    tokens = _uint(seize_tokens, "seize_tokens")
    rate = _uint(exchange_rate_mantissa, "exchange_rate_mantissa")
    share = _uint(protocol_seize_share_mantissa, "protocol_seize_share_mantissa")
    protocol = _mul_exp(tokens, share, "seizeTokens * protocolSeizeShare")
    if protocol > tokens:
        raise CompoundRevert("Panic(0x11): arithmetic underflow", "protocol share above 100 %")
    amount = _mul_exp(rate, protocol, "exchangeRate * protocolSeizeTokens")
    return SeizeSplit(tokens - protocol, protocol, amount)


@dataclass(frozen=True)
class AccountAsset:
    """One market the account has entered (``getAccountSnapshot`` plus the market's parameters).

    Parameters
    ----------
    c_token_balance : int
        cTokens held, cToken units.
    borrow_balance : int
        ``borrowBalanceStored``, underlying smallest units.
    exchange_rate_mantissa : int
        ``exchangeRateStored``.
    oracle_price_mantissa : int
        ``getUnderlyingPrice`` (``USD * 10**(36 - underlying_decimals)``).
    collateral_factor_mantissa : int
        ``markets[cToken].collateralFactorMantissa`` (0.825e18 = 82.5 %).
    """

    c_token_balance: int
    borrow_balance: int
    exchange_rate_mantissa: int
    oracle_price_mantissa: int
    collateral_factor_mantissa: int

    def __post_init__(self) -> None:
        for name in ("c_token_balance", "borrow_balance", "exchange_rate_mantissa",
                     "oracle_price_mantissa", "collateral_factor_mantissa"):
            object.__setattr__(self, name, _uint(getattr(self, name), f"AccountAsset.{name}"))


class AccountLiquidity(NamedTuple):
    """``(liquidity, shortfall)``, USD scaled by 1e18; at most one is non-zero."""

    liquidity: int
    shortfall: int


def account_liquidity(assets: Sequence[AccountAsset], *, modify: int | None = None,
                      redeem_tokens: int = 0, borrow_amount: int = 0) -> AccountLiquidity:
    """``Comptroller.getHypotheticalAccountLiquidityInternal``: excess collateral or shortfall.

    For each asset: ``tokensToDenom = floor(floor(CF * rate / 1e18) * price / 1e18)``;
    ``sumCollateral += floor(tokensToDenom * cTokenBalance / 1e18)``;
    ``sumBorrow += floor(price * borrowBalance / 1e18)``. The account is liquidatable iff the
    shortfall ``sumBorrow - sumCollateral`` is positive.

    Parameters
    ----------
    assets : sequence of AccountAsset
        The markets in the account's ``accountAssets`` list.
    modify : int, optional
        Index in ``assets`` of a hypothetical redeem/borrow (``cTokenModify``).
    redeem_tokens, borrow_amount : int
        The hypothetical redeem (cTokens) and borrow (underlying) in that market.

    Raises
    ------
    CompoundRevert
        ``PRICE_ERROR`` when a price is 0; a Panic on overflow.
    """
    if modify is not None and not (isinstance(modify, int) and 0 <= modify < len(assets)):
        raise LiquidationError("account_liquidity: modify must be an index into assets "
                               f"(0..{len(assets) - 1}), got {modify!r}")
    redeem = _uint(redeem_tokens, "redeem_tokens")
    borrow_more = _uint(borrow_amount, "borrow_amount")
    if modify is None and (redeem or borrow_more):
        raise LiquidationError("account_liquidity: redeem_tokens and borrow_amount need modify "
                               "(the market index)")
    sum_collateral = sum_borrow = 0
    for i, asset in enumerate(assets):
        if not isinstance(asset, AccountAsset):
            raise LiquidationError("account_liquidity: assets must hold AccountAsset objects, "
                                   f"got {asset!r}")
        if asset.oracle_price_mantissa == 0:
            raise CompoundRevert("PRICE_ERROR", f"oracle price of asset {i} is 0")
        price = asset.oracle_price_mantissa
        factor_rate = _mul_exp(asset.collateral_factor_mantissa, asset.exchange_rate_mantissa,
                               "collateralFactor * exchangeRate")
        tokens_to_denom = _mul_exp(factor_rate, price, "collateralFactor * exchangeRate * price")
        sum_collateral = _add(sum_collateral, _mul_exp(tokens_to_denom, asset.c_token_balance,
                                                       "tokensToDenom * cTokenBalance"))
        sum_borrow = _add(sum_borrow, _mul_exp(price, asset.borrow_balance,
                                               "oraclePrice * borrowBalance"))
        if i == modify:  # the hypothetical redeem and borrow count as debt
            sum_borrow = _add(sum_borrow, _mul_exp(tokens_to_denom, redeem,
                                                   "tokensToDenom * redeemTokens"))
            sum_borrow = _add(sum_borrow, _mul_exp(price, borrow_more,
                                                   "oraclePrice * borrowAmount"))
    if sum_collateral > sum_borrow:
        return AccountLiquidity(sum_collateral - sum_borrow, 0)
    return AccountLiquidity(0, sum_borrow - sum_collateral)


def _add(a: int, b: int) -> int:
    if a + b > MAX_UINT256:
        raise CompoundRevert("Panic(0x11): arithmetic overflow", "sum")
    return a + b


def max_close(borrow_balance: int, close_factor_mantissa: int) -> int:
    """Largest repayment the close factor allows: ``floor(closeFactor * borrowBalance / 1e18)``."""
    return _mul_exp(_uint(close_factor_mantissa, "close_factor_mantissa"),
                    _uint(borrow_balance, "borrow_balance"), "closeFactor * borrowBalance")


def liquidate_borrow_allowed(repay_amount: int, borrow_balance: int, shortfall: int,
                             close_factor_mantissa: int, *, deprecated: bool = False) -> None:
    """``Comptroller.liquidateBorrowAllowed`` for listed markets; returns None if allowed.

    Raises
    ------
    CompoundRevert
        ``INSUFFICIENT_SHORTFALL`` (no shortfall) or ``TOO_MUCH_REPAY`` (``repay_amount >
        max_close(borrow_balance, close_factor_mantissa)``). A deprecated market (collateral
        factor 0, borrowing paused, reserve factor 100 %) skips both checks and only requires
        ``repay_amount <= borrow_balance``.
    """
    repay = _uint(repay_amount, "repay_amount")
    borrow = _uint(borrow_balance, "borrow_balance")
    if deprecated:
        if borrow < repay:
            raise CompoundRevert("Can not repay more than the total borrow", f"{repay} > {borrow}")
        return
    if _uint(shortfall, "shortfall") == 0:
        raise CompoundRevert("INSUFFICIENT_SHORTFALL", "the account has no shortfall")
    cap = max_close(borrow, close_factor_mantissa)
    if repay > cap:
        raise CompoundRevert("TOO_MUCH_REPAY", f"repay {repay} > closeFactor * borrow = {cap}")


class LiquidateBorrowResult(NamedTuple):
    """Outcome of ``liquidateBorrowFresh``."""

    actual_repay_amount: int
    """Borrowed underlying repaid, smallest units."""
    seize_tokens: int
    """Collateral cTokens taken from the borrower."""
    liquidator_seize_tokens: int
    """cTokens the liquidator receives."""
    protocol_seize_tokens: int
    """cTokens added to reserves."""
    protocol_seize_amount: int
    """Underlying added to ``totalReserves``."""


def liquidate_borrow(repay_amount: int, *, borrow_balance: int, shortfall: int,
                     borrower_c_token_balance: int, price_borrowed_mantissa: int,
                     price_collateral_mantissa: int, exchange_rate_mantissa: int,
                     close_factor_mantissa: int = 5 * 10**17,
                     liquidation_incentive_mantissa: int = 108 * 10**16,
                     protocol_seize_share_mantissa: int = PROTOCOL_SEIZE_SHARE_MANTISSA,
                     deprecated: bool = False) -> LiquidateBorrowResult:
    """``CToken.liquidateBorrowFresh`` without the transfers.

    Interest is taken as accrued and the liquidator as distinct from the borrower.

    Checks in the contract's order: :func:`liquidate_borrow_allowed`; ``repay_amount`` not 0 and
    not ``uint256`` max; the repayment (``repayBorrowFresh``, which must not exceed the borrow);
    :func:`liquidate_calculate_seize_tokens`; the borrower holds at least ``seizeTokens``
    (``LIQUIDATE_SEIZE_TOO_MUCH``); :func:`seize_split`. The defaults of the close factor (0.5) and
    incentive (1.08) are the usual governance values, not constants of the code.
    """
    repay = _uint(repay_amount, "repay_amount")
    borrow = _uint(borrow_balance, "borrow_balance")
    liquidate_borrow_allowed(repay, borrow, shortfall, close_factor_mantissa, deprecated=deprecated)
    if repay == 0:
        raise CompoundRevert("LiquidateCloseAmountIsZero", "repay_amount is 0")
    if repay == MAX_UINT256:
        raise CompoundRevert("LiquidateCloseAmountIsUintMax", "repay_amount is type(uint256).max")
    if repay > borrow:
        raise CompoundRevert("Panic(0x11): arithmetic underflow",
                             f"borrow {borrow} - repay {repay} in repayBorrowFresh")
    seize = liquidate_calculate_seize_tokens(price_borrowed_mantissa, price_collateral_mantissa,
                                             exchange_rate_mantissa, repay,
                                             liquidation_incentive_mantissa)
    balance = _uint(borrower_c_token_balance, "borrower_c_token_balance")
    if balance < seize:
        raise CompoundRevert("LIQUIDATE_SEIZE_TOO_MUCH",
                             f"seizeTokens {seize} > borrower balance {balance}")
    split = seize_split(seize, exchange_rate_mantissa, protocol_seize_share_mantissa)
    return LiquidateBorrowResult(repay, seize, *split)


# ---------------------------------------------------------------------------------------------
# float API
# ---------------------------------------------------------------------------------------------

def seize_amounts(repay_amount: ArrayLike, price_borrowed_usd: ArrayLike,
                  price_collateral_usd: ArrayLike, exchange_rate: ArrayLike, *,
                  liquidation_incentive: ArrayLike = 1.08,
                  protocol_seize_share: ArrayLike = PROTOCOL_SEIZE_SHARE):
    """Collateral cTokens seized for a repayment, and how they are split.

    ``seized = repay * incentive * price_borrowed / (price_collateral * exchange_rate)``;
    the protocol keeps ``seized * protocol_seize_share``, the liquidator receives the rest.
    All arguments broadcast together.

    Parameters
    ----------
    repay_amount : float or array_like
        Borrowed underlying repaid, tokens (apply the close factor before: at most
        ``close_factor * borrow``).
    price_borrowed_usd, price_collateral_usd : float or array_like
        Underlying prices, USD per token (> 0).
    exchange_rate : float or array_like
        Collateral underlying tokens per cToken (> 0); see :func:`exchange_rate_from_mantissa`.
    liquidation_incentive : float or array_like
        Multiplier >= 0 (1.08 for ``1.08e18``).
    protocol_seize_share : float or array_like
        Fraction of the seized cTokens kept by the protocol, in ``[0, 1]`` (0.028).

    Returns
    -------
    (seize_tokens, liquidator_tokens, protocol_tokens)
        cTokens; floats for scalar inputs. The contract floors each ``Exp`` step, so its
        ``seizeTokens`` differs by at most ``repay / 1e18 * (1 + r * (1 / num + 1 / den)) + 1``
        cToken units (``num = incentive * price_borrowed``, ``den = price_collateral * rate`` as
        mantissas, ``r`` their ratio): a few units unless ``den`` is tiny. The protocol share is
        floored to a cToken unit.

    Examples
    --------
    >>> seize_amounts(1000.0, 1.0, 2000.0, 0.02, liquidation_incentive=1.08)
    (27.0, 26.244, 0.756)
    """
    where = "seize_amounts"
    names = ("repay_amount", "price_borrowed_usd", "price_collateral_usd", "exchange_rate",
             "liquidation_incentive", "protocol_seize_share")
    inputs = (repay_amount, price_borrowed_usd, price_collateral_usd, exchange_rate,
              liquidation_incentive, protocol_seize_share)
    shape, arrays = as_arrays(LiquidationError, where, names, *inputs)
    repay, pb, pc, rate, incentive, share = arrays
    check_array(LiquidationError, where, "repay_amount", repay, low=0.0)
    for name, arr in zip(names[1:4], (pb, pc, rate)):
        check_array(LiquidationError, where, name, arr, low=0.0, low_open=True)
    check_array(LiquidationError, where, "liquidation_incentive", incentive, low=0.0)
    check_array(LiquidationError, where, "protocol_seize_share", share, low=0.0, high=1.0)
    seized = repay * incentive * pb / (pc * rate)
    protocol = seized * share
    return _out(is_scalar(*inputs), shape, seized, seized - protocol, protocol)


def account_liquidity_usd(collateral_values_usd: ArrayLike, collateral_factors: ArrayLike,
                          borrow_values_usd: ArrayLike, *, axis: int | None = None):
    """Liquidity and shortfall: ``sum(collateral_value * CF) - sum(borrow_value)``, by sign.

    Parameters
    ----------
    collateral_values_usd : float or array_like
        Value of the supplied underlying, USD (``cTokens * exchange_rate * price``).
    collateral_factors : float or array_like
        Collateral factors, fractions in ``[0, 1]`` (0.825).
    borrow_values_usd : float or array_like
        Borrow balances times prices, USD.
    axis : int, optional
        None (default): element-wise, one account per element. An integer: the markets of one
        account lie along this axis of ``collateral_values_usd * collateral_factors`` and of
        ``borrow_values_usd``, which are summed over it.

    Returns
    -------
    (liquidity, shortfall)
        USD, both >= 0 and at most one positive; the account is liquidatable where
        ``shortfall > 0``. The contract floors each product to 1e-18 USD.

    Examples
    --------
    >>> account_liquidity_usd([2000.0, 0.0], [0.825, 0.855], [0.0, 16_000.0], axis=0)
    (0.0, 14350.0)
    """
    names = ("collateral_values_usd", "collateral_factors", "borrow_values_usd")
    values = (collateral_values_usd, collateral_factors, borrow_values_usd)
    shape, scalar, collateral, borrow = weighted_sums("account_liquidity_usd", names, values, axis)
    net = collateral - borrow
    return _out(scalar, shape, np.maximum(net, 0.0), np.maximum(-net, 0.0))


def _mantissa_to_float(where: str, mantissa, exponent: int):
    if isinstance(mantissa, int) and not isinstance(mantissa, bool):
        if mantissa < 0:
            raise LiquidationError(f"{where}: the mantissa must be >= 0, got {mantissa}")
        return mantissa / 10**exponent if exponent >= 0 else float(mantissa * 10 ** (-exponent))
    shape, (values,) = as_arrays(LiquidationError, where, ("mantissa",), mantissa)
    check_array(LiquidationError, where, "mantissa", values, low=0.0)
    out = values / 10.0**exponent
    return float(out[0]) if is_scalar(mantissa) else out.reshape(shape)


def _decimals(where: str, name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36:
        raise LiquidationError(f"{where}: {name} must be an int in [0, 36], got {value!r}")
    return value


def price_from_mantissa(price_mantissa, underlying_decimals: int):
    """USD per whole token from an oracle price mantissa: ``mantissa / 10**(36 - decimals)``.

    Python integers are converted exactly (correctly rounded); arrays as float64.

    Examples
    --------
    >>> price_from_mantissa(10**30, 6), price_from_mantissa(2000 * 10**18, 18)
    (1.0, 2000.0)
    """
    where = "price_from_mantissa"
    decimals = _decimals(where, "underlying_decimals", underlying_decimals)
    return _mantissa_to_float(where, price_mantissa, 36 - decimals)


def exchange_rate_from_mantissa(rate_mantissa, underlying_decimals: int, c_token_decimals: int = 8):
    """Underlying tokens per cToken from ``exchangeRateMantissa``:
    ``mantissa / 10**(18 + underlying_decimals - c_token_decimals)``.

    Examples
    --------
    >>> exchange_rate_from_mantissa(2 * 10**26, 18), exchange_rate_from_mantissa(2 * 10**14, 6)
    (0.02, 0.02)
    """
    where = "exchange_rate_from_mantissa"
    u = _decimals(where, "underlying_decimals", underlying_decimals)
    c = _decimals(where, "c_token_decimals", c_token_decimals)
    return _mantissa_to_float(where, rate_mantissa, 18 + u - c)
