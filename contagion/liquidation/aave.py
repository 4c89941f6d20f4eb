"""Aave liquidation math (v2, v3.0, v3.3, v3.6, v3.7): an integer-exact port and a float API.

Two layers, usable without a simulation:

* **Integer port** (:func:`user_account_data`, :func:`liquidation` and the fixed-point
  primitives): wei in, wei out, with each version's rounding and each revert raised as
  :class:`AaveRevert` carrying the contract's reason (``"HEALTH_FACTOR_NOT_BELOW_THRESHOLD"``,
  ``"MUST_NOT_LEAVE_DUST"``, ...). Use it to check a liquidation to the wei.
* **Float API** (:func:`health_factor`, :func:`close_factor`, :func:`liquidation_amounts`,
  :func:`apply_emode`): token units, USD prices and fractions, on scalars or numpy arrays that
  broadcast together. This is the arithmetic the simulator runs; it equals the integer port up to
  the contracts' integer rounding (a few smallest token units per amount, see each function).

Versions
--------
``"v2"``
    ``aave/protocol-v2`` (``LendingPoolCollateralManager``): close factor always 50 %, no
    protocol fee, the bonus applied *before* the division (different rounding from v3), base
    currency ETH (18 decimals).
``"v3.0"``
    ``aave-v3-core`` v3.0.x (same liquidation math in aave-v3-origin v3.1/v3.2; ``"v3.1"`` and
    ``"v3.2"`` are accepted as aliases): close factor 50 %, or 100 % when the health factor is at
    or below 0.95; protocol fee as a share of the bonus.
``"v3.3"``
    aave-v3-origin v3.3.0 (alias ``"v3.4"``): 100 % close factor unless the position's
    collateral and debt in the two reserves are both worth at least $2,000 and HF > 0.95; the
    dust rule (no leftover below $1,000 unless the debt or collateral reserve is cleared); the
    remaining debt of a user left without collateral is written off as a reserve deficit.
``"v3.6"``
    aave-v3-origin v3.6.0 (alias ``"v3.5"``): as v3.3, with the debt valued rounding up, the
    health factor computed from ``sum(collateral * LT)`` without an intermediate average, and the
    bad-debt repayment rounded up (``percentDivCeil``).
``"v3.7"``
    aave-v3-origin development head (3.7): as v3.6 with explicit rounding of the bonus
    (``percentMulFloor``), of the bonus split (``percentDivFloor``) and of the fee
    (``percentMulCeil``), and without the price-oracle-sentinel check.

Units
-----
Integer port: balances in the token's smallest unit; prices in the base currency per whole token
(v3: USD with 8 decimals, ``2000_00000000`` = $2,000; v2: ETH wei); thresholds, bonuses and fees
in basis points (``8250`` = 82.5 %; a bonus of ``10500`` = 105 % = a 5 % bonus; a protocol fee of
``1000`` = 10 % *of the bonus*); health factors in WAD (``10**18`` = 1.0). Interest indices are
taken as 1: pass current (accrued) balances.

Float API: token units, prices in USD (for v2, any common numeraire such as ETH), fractions
(``liquidation_bonus=0.05`` for 5 %, ``protocol_fee=0.1`` for 10 % of the bonus), health factor
as a plain number.

Examples
--------
>>> weth = Collateral(balance=10 * 10**18, price=2000_00000000, decimals=18,
...                   liquidation_threshold_bps=8250, liquidation_bonus_bps=10500,
...                   protocol_fee_bps=1000)
>>> usdc = Debt(balance=17_000 * 10**6, price=1_00000000, decimals=6)
>>> liquidation(weth, usdc, MAX_UINT256, "v3.3").collateral_to_liquidator
4441250000000000000
>>> health_factor(20_000.0, 0.825, 17_000.0)
0.9705882352941176
>>> liquidation_amounts(float("inf"), 10.0, 17_000.0, 2000.0, 1.0, 0.9705882352941176, "v3.3",
...                     liquidation_bonus=0.05, protocol_fee=0.1)
(8500.0, 4.44125, 0.02125)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike

from contagion._validate import as_arrays, check_array, check_uint, is_scalar
from contagion.liquidation._arrays import out as _out
from contagion.liquidation._arrays import weighted_sums
from contagion.errors import LiquidationError

__all__ = [
    "VERSIONS",
    "MAX_UINT256",
    "WAD",
    "PERCENTAGE_FACTOR",
    "HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "CLOSE_FACTOR_HF_THRESHOLD",
    "MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD",
    "MIN_LEFTOVER_BASE",
    "CLOSE_FACTOR_HF",
    "MIN_CLOSE_FACTOR_THRESHOLD_USD",
    "MIN_LEFTOVER_USD",
    "AaveRevert",
    "Collateral",
    "Debt",
    "AccountData",
    "LiquidationResult",
    "percent_mul",
    "percent_mul_floor",
    "percent_mul_ceil",
    "percent_div",
    "percent_div_floor",
    "percent_div_ceil",
    "wad_div",
    "mul_div_ceil",
    "user_account_data",
    "liquidation",
    "health_factor",
    "close_factor",
    "liquidation_amounts",
    "apply_emode",
]

VERSIONS = ("v2", "v3.0", "v3.3", "v3.6", "v3.7")
"""The version keys; each stands for a range of releases with identical liquidation math."""
_ALIASES = {"v3.1": "v3.0", "v3.2": "v3.0", "v3.4": "v3.3", "v3.5": "v3.6"}

MAX_UINT256 = 2**256 - 1
"""``type(uint256).max``: ``debt_to_cover`` meaning "as much as allowed"; the HF without debt."""
WAD = 10**18
"""Fixed-point one of health factors."""
PERCENTAGE_FACTOR = 10**4
"""Basis points in 100 %."""
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD
"""A position is liquidatable iff its health factor is strictly below this (1.0)."""
CLOSE_FACTOR_HF_THRESHOLD = 95 * 10**16
"""0.95 in WAD: at or below it the close factor is 100 % (v3.0+)."""
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2000 * 10**8
"""$2,000 (8-decimal base currency): smaller positions are always fully liquidatable (v3.3+)."""
MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD // 2
"""$1,000: the least a partial liquidation may leave of debt and of collateral (v3.3+)."""
CLOSE_FACTOR_HF = 0.95
"""Float counterpart of :data:`CLOSE_FACTOR_HF_THRESHOLD`."""
MIN_CLOSE_FACTOR_THRESHOLD_USD = 2000.0
"""Float counterpart of :data:`MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD` (USD)."""
MIN_LEFTOVER_USD = 1000.0
"""Float counterpart of :data:`MIN_LEFTOVER_BASE` (USD)."""

_HALF_PERCENT = PERCENTAGE_FACTOR // 2
_DEFAULT_CLOSE_FACTOR = 5000
_MAX_CLOSE_FACTOR = 10000
_DUST_VERSIONS = ("v3.3", "v3.6", "v3.7")


class AaveRevert(LiquidationError):
    """A call the contracts would revert, with the contract's reason.

    Attributes
    ----------
    reason : str
        The contract's reason in the ``Errors.sol`` spelling of v3.0-v3.3
        (``"HEALTH_FACTOR_NOT_BELOW_THRESHOLD"``, ``"MUST_NOT_LEAVE_DUST"``, ...; v3.4+ raise the
        same conditions as custom errors, e.g. ``MustNotLeaveDust()``), or a description of a
        failed arithmetic check (``"Panic(0x11): arithmetic overflow ..."``).
    version : str or None
        The version key whose rules were applied (None for the version-independent primitives).
    """

    def __init__(self, reason: str, detail: str | None = None, version: str | None = None):
        self.reason = reason
        self.version = version
        where = f"Aave {version}" if version else "Aave"
        super().__init__(f"{where}: {reason}" + (f" ({detail})" if detail else ""))


# ---------------------------------------------------------------------------------------------
# fixed-point primitives (PercentageMath, WadRayMath, MathUtils)
# ---------------------------------------------------------------------------------------------

def _uint(value: int, name: str) -> int:
    """ABI check of an integer argument: it must fit a uint256."""
    return check_uint(LiquidationError, "Aave", name, value)


def _checked(value: int, what: str, version: str | None = None) -> int:
    """Solidity >= 0.8 checked arithmetic: a result outside uint256 is a Panic revert."""
    if value > MAX_UINT256:
        raise AaveRevert("Panic(0x11): arithmetic overflow", what, version)
    if value < 0:
        raise AaveRevert("Panic(0x11): arithmetic underflow", what, version)
    return value


def _div(a: int, b: int, what: str, version: str | None = None) -> int:
    if b == 0:
        raise AaveRevert("Panic(0x12): division by zero", what, version)
    return a // b


def percent_mul(value: int, percentage: int) -> int:
    """``PercentageMath.percentMul``: ``(value * percentage + 5000) // 10_000`` (half-up).

    Reverts when ``value * percentage + 5000`` does not fit a uint256. Same result in every
    version (v2 checks with ``require``, v3 in assembly).
    """
    value, percentage = _uint(value, "value"), _uint(percentage, "percentage")
    if percentage and value > (MAX_UINT256 - _HALF_PERCENT) // percentage:
        raise AaveRevert("PercentageMath.percentMul overflow", f"{value} * {percentage}")
    return (value * percentage + _HALF_PERCENT) // PERCENTAGE_FACTOR


def percent_mul_floor(value: int, percentage: int) -> int:
    """``PercentageMath.percentMulFloor`` (v3.5+): ``value * percentage // 10_000``."""
    value, percentage = _uint(value, "value"), _uint(percentage, "percentage")
    if percentage and value > MAX_UINT256 // percentage:
        raise AaveRevert("PercentageMath.percentMulFloor overflow", f"{value} * {percentage}")
    return value * percentage // PERCENTAGE_FACTOR


def percent_mul_ceil(value: int, percentage: int) -> int:
    """``PercentageMath.percentMulCeil`` (v3.5+): ``ceil(value * percentage / 10_000)``."""
    value, percentage = _uint(value, "value"), _uint(percentage, "percentage")
    if percentage and value > MAX_UINT256 // percentage:
        raise AaveRevert("PercentageMath.percentMulCeil overflow", f"{value} * {percentage}")
    return -(-(value * percentage) // PERCENTAGE_FACTOR)


def percent_div(value: int, percentage: int) -> int:
    """``PercentageMath.percentDiv``: ``(value * 10_000 + percentage // 2) // percentage``.

    Half-up. Reverts when ``percentage`` is 0 or the numerator does not fit a uint256.
    """
    value, percentage = _uint(value, "value"), _uint(percentage, "percentage")
    if percentage == 0:
        raise AaveRevert("PercentageMath.percentDiv division by zero", f"{value} / 0")
    if value > (MAX_UINT256 - percentage // 2) // PERCENTAGE_FACTOR:
        raise AaveRevert("PercentageMath.percentDiv overflow", f"{value} * 10000")
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


def percent_div_floor(value: int, percentage: int) -> int:
    """``PercentageMath.percentDivFloor`` (v3.7): ``value * 10_000 // percentage``."""
    value, percentage = _uint(value, "value"), _uint(percentage, "percentage")
    if percentage == 0:
        raise AaveRevert("PercentageMath.percentDivFloor division by zero", f"{value} / 0")
    if value > MAX_UINT256 // PERCENTAGE_FACTOR:
        raise AaveRevert("PercentageMath.percentDivFloor overflow", f"{value} * 10000")
    return value * PERCENTAGE_FACTOR // percentage


def percent_div_ceil(value: int, percentage: int) -> int:
    """``PercentageMath.percentDivCeil`` (v3.5+): ``ceil(value * 10_000 / percentage)``."""
    value, percentage = _uint(value, "value"), _uint(percentage, "percentage")
    if percentage == 0:
        raise AaveRevert("PercentageMath.percentDivCeil division by zero", f"{value} / 0")
    if value > MAX_UINT256 // PERCENTAGE_FACTOR:
        raise AaveRevert("PercentageMath.percentDivCeil overflow", f"{value} * 10000")
    return -(-(value * PERCENTAGE_FACTOR) // percentage)


def wad_div(a: int, b: int) -> int:
    """``WadRayMath.wadDiv``: ``(a * 10**18 + b // 2) // b`` (half-up); reverts if ``b == 0``
    or ``a > (2**256 - 1 - b // 2) // 10**18``."""
    a, b = _uint(a, "a"), _uint(b, "b")
    if b == 0:
        raise AaveRevert("WadRayMath.wadDiv division by zero", f"{a} / 0")
    if a > (MAX_UINT256 - b // 2) // WAD:
        raise AaveRevert("WadRayMath.wadDiv overflow", f"{a} * 1e18")
    return (a * WAD + b // 2) // b


def mul_div_ceil(a: int, b: int, c: int) -> int:
    """``MathUtils.mulDivCeil`` (v3.5+): ``ceil(a * b / c)``; reverts if ``c == 0`` or ``a * b``
    does not fit a uint256."""
    a, b, c = _uint(a, "a"), _uint(b, "b"), _uint(c, "c")
    if c == 0 or (b and a > MAX_UINT256 // b):
        raise AaveRevert("MathUtils.mulDivCeil overflow or division by zero", f"{a} * {b} / {c}")
    return -(-(a * b) // c)


# ---------------------------------------------------------------------------------------------
# integer port: positions, account data, liquidationCall
# ---------------------------------------------------------------------------------------------

def _canonical(version: str, where: str) -> str:
    if isinstance(version, str):
        key = _ALIASES.get(version, version)
        if key in VERSIONS:
            return key
    accepted = ", ".join(repr(v) for v in VERSIONS)
    raise LiquidationError(f"{where}: version must be one of {accepted} "
                           f"(aliases {', '.join(repr(a) for a in _ALIASES)}), got {version!r}")


def _small(value: int, name: str, high: int) -> int:
    value = _uint(value, name)
    if value > high:
        raise LiquidationError(f"Aave: {name} must be <= {high}, got {value}")
    return value


@dataclass(frozen=True)
class Collateral:
    """A user's supply of one reserve, enabled as collateral.

    Parameters
    ----------
    balance : int
        aToken balance, smallest token units.
    price : int
        Oracle price of one whole token in the base currency (v3: USD x 1e8; v2: ETH wei).
    decimals : int
        Token decimals (0-77).
    liquidation_threshold_bps : int
        Liquidation threshold, bps (``8250`` = 82.5 %). A reserve with 0 does not count as
        collateral. For e-mode, pass the category's values (see :meth:`with_emode`).
    liquidation_bonus_bps : int
        Collateral paid per unit of debt value, bps (``10500`` = a 5 % bonus; must be >= 10000).
    protocol_fee_bps : int
        Share of the bonus paid to the treasury, bps (``1000`` = 10 %; v3 only).
    """

    balance: int
    price: int
    decimals: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int = PERCENTAGE_FACTOR
    protocol_fee_bps: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "balance", _uint(self.balance, "Collateral.balance"))
        object.__setattr__(self, "price", _uint(self.price, "Collateral.price"))
        object.__setattr__(self, "decimals", _small(self.decimals, "Collateral.decimals", 77))
        for name in ("liquidation_threshold_bps", "liquidation_bonus_bps", "protocol_fee_bps"):
            value = _small(getattr(self, name), f"Collateral.{name}", 2**16 - 1)
            object.__setattr__(self, name, value)

    def with_emode(self, liquidation_threshold_bps: int,
                   liquidation_bonus_bps: int) -> Collateral:
        """This collateral with an e-mode category's threshold and bonus (for eligible assets)."""
        return replace(self, liquidation_threshold_bps=liquidation_threshold_bps,
                       liquidation_bonus_bps=liquidation_bonus_bps)


@dataclass(frozen=True)
class Debt:
    """A user's debt in one reserve.

    Parameters
    ----------
    balance : int
        Debt (v2: stable + variable), smallest token units.
    price : int
        Oracle price of one whole token in the base currency (v3: USD x 1e8; v2: ETH wei).
    decimals : int
        Token decimals (0-77).
    """

    balance: int
    price: int
    decimals: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "balance", _uint(self.balance, "Debt.balance"))
        object.__setattr__(self, "price", _uint(self.price, "Debt.price"))
        object.__setattr__(self, "decimals", _small(self.decimals, "Debt.decimals", 77))


class AccountData(NamedTuple):
    """``GenericLogic.calculateUserAccountData``, the fields that liquidation uses."""

    total_collateral_base: int
    """Sum of collateral values, base currency (floor per reserve)."""
    total_debt_base: int
    """Sum of debt values, base currency (floor per reserve; v3.6+: ceil)."""
    avg_liquidation_threshold: int
    """Value-weighted liquidation threshold, bps (floor)."""
    health_factor: int
    """WAD; ``MAX_UINT256`` without debt."""


class LiquidationResult(NamedTuple):
    """Outcome of ``liquidationCall`` for one (collateral, debt) pair."""

    health_factor: int
    """The user's health factor before the liquidation, WAD."""
    max_liquidatable_debt: int
    """Close-factor cap, debt-token units."""
    actual_debt_to_liquidate: int
    """Debt the liquidator repays, debt-token units."""
    collateral_to_liquidator: int
    """Collateral the liquidator receives, collateral-token units."""
    protocol_fee: int
    """Collateral sent to the treasury, collateral-token units (0 in v2)."""
    deficit: int
    """Debt of this reserve written off because no collateral is left (v3.3+), debt-token units."""


def _collateral_base(c: Collateral, version: str) -> int:
    # value * price / 10**decimals, floor (balance rounds down in every version)
    return _checked(c.balance * c.price, "collateral balance * price", version) // 10**c.decimals


def _debt_base(d: Debt, version: str) -> int:
    if version in ("v3.6", "v3.7"):  # MathUtils.mulDivCeil: the debt is over-estimated
        return -(-_checked(d.balance * d.price, "debt balance * price", version) // 10**d.decimals)
    return _checked(d.price * d.balance, "debt price * balance", version) // 10**d.decimals


def _account_data(collaterals: Sequence[Collateral], debts: Sequence[Debt],
                  version: str) -> AccountData:
    total_collateral = total_debt = weighted = 0
    for c in collaterals:
        if not isinstance(c, Collateral):
            raise LiquidationError(f"Aave: collaterals must hold Collateral objects, got {c!r}")
        if c.liquidation_threshold_bps == 0:  # not counted as collateral by the contracts
            continue
        value = _collateral_base(c, version)
        total_collateral = _checked(total_collateral + value, "total collateral", version)
        weighted = _checked(weighted + value * c.liquidation_threshold_bps, "sum(value * LT)",
                            version)
    for d in debts:
        if not isinstance(d, Debt):
            raise LiquidationError(f"Aave: debts must hold Debt objects, got {d!r}")
        total_debt = _checked(total_debt + _debt_base(d, version), "total debt", version)
    avg_lt = weighted // total_collateral if total_collateral else 0
    if total_debt == 0:
        hf = MAX_UINT256
    elif version in ("v3.6", "v3.7"):
        hf = wad_div(weighted, total_debt) // PERCENTAGE_FACTOR
    else:
        hf = wad_div(percent_mul(total_collateral, avg_lt), total_debt)
    return AccountData(total_collateral, total_debt, avg_lt, hf)


def user_account_data(collaterals: Sequence[Collateral], debts: Sequence[Debt],
                      version: str) -> AccountData:
    """Totals, average liquidation threshold and health factor of an account, integer-exact.

    Parameters
    ----------
    collaterals : sequence of Collateral
        Supplies enabled as collateral (a liquidation threshold of 0 excludes the reserve).
    debts : sequence of Debt
        Debts.
    version : str
        One of :data:`VERSIONS`.

    Returns
    -------
    AccountData
        ``(total_collateral_base, total_debt_base, avg_liquidation_threshold, health_factor)``:
        v2-v3.3 compute ``HF = wadDiv(percentMul(totalColl, floor(sum(coll_i*LT_i)/totalColl)),
        totalDebt)`` with each value floored; v3.6+ compute ``HF = wadDiv(sum(coll_i*LT_i),
        totalDebt) // 10_000`` with debt values rounded up.

    Examples
    --------
    >>> weth = Collateral(10 * 10**18, 2000_00000000, 18, liquidation_threshold_bps=8000)
    >>> user_account_data([weth], [Debt(16_000 * 10**6, 1_00000000, 6)], "v3.0").health_factor
    1000000000000000000
    """
    return _account_data(collaterals, debts, _canonical(version, "user_account_data"))


def _max_liquidatable(collateral: Collateral, debt: Debt, account: AccountData,
                      version: str) -> int:
    """Close-factor cap on the repaid debt, debt-token units."""
    if version == "v2":
        return percent_mul(debt.balance, _DEFAULT_CLOSE_FACTOR)
    if version == "v3.0":
        full = account.health_factor <= CLOSE_FACTOR_HF_THRESHOLD
        return percent_mul(debt.balance, _MAX_CLOSE_FACTOR if full else _DEFAULT_CLOSE_FACTOR)
    reserve_debt_base = _debt_base(debt, version)
    if (_collateral_base(collateral, version) >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
            and reserve_debt_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
            and account.health_factor > CLOSE_FACTOR_HF_THRESHOLD):
        total_default = percent_mul(account.total_debt_base, _DEFAULT_CLOSE_FACTOR)
        if reserve_debt_base > total_default:
            return _div(total_default * 10**debt.decimals, debt.price, "maxLiquidatableDebt",
                        version)
    return debt.balance


def _value_ratio(amount: int, price_from: int, unit_to: int, price_to: int, unit_from: int,
                 what: str, version: str) -> int:
    """``floor(price_from * amount * unit_to / (price_to * unit_from))`` with checked products."""
    numerator = _checked(_checked(price_from * amount, what, version) * unit_to, what, version)
    return _div(numerator, _checked(price_to * unit_from, what, version), what, version)


def _available_collateral(collateral: Collateral, debt: Debt, debt_to_cover: int,
                          version: str) -> tuple[int, int, int]:
    """``_calculateAvailableCollateralToLiquidate``: (collateral incl. fee, debt needed, fee)."""
    v = version
    c_price, c_unit = collateral.price, 10**collateral.decimals
    d_price, d_unit = debt.price, 10**debt.decimals
    bonus, balance = collateral.liquidation_bonus_bps, collateral.balance
    if v == "v2":  # the bonus is applied to the numerator, before the division
        numerator = _checked(_checked(d_price * debt_to_cover, "debtPrice * debtToCover", v)
                             * c_unit, "debtPrice * debtToCover * collateralUnit", v)
        max_collateral = _div(percent_mul(numerator, bonus),
                              _checked(c_price * d_unit, "collateralPrice * debtUnit", v),
                              "maxAmountCollateralToLiquidate", v)
    else:
        base = _value_ratio(debt_to_cover, d_price, c_unit, c_price, d_unit, "baseCollateral", v)
        max_collateral = percent_mul_floor(base, bonus) if v == "v3.7" else percent_mul(base, bonus)
    if max_collateral > balance:  # not enough collateral: seize it all, repay what it covers
        amount = balance
        value = _value_ratio(amount, c_price, d_unit, d_price, c_unit, "debtAmountNeeded", v)
        ceil = v in ("v3.6", "v3.7")
        needed = percent_div_ceil(value, bonus) if ceil else percent_div(value, bonus)
    else:
        amount, needed = max_collateral, debt_to_cover
    fee = 0
    if v != "v2" and collateral.protocol_fee_bps != 0:  # a share of the bonus part
        principal = percent_div_floor(amount, bonus) if v == "v3.7" else percent_div(amount, bonus)
        bonus_part = _checked(amount - principal, "collateral - percentDiv(collateral, bonus)", v)
        fee_mul = percent_mul_ceil if v == "v3.7" else percent_mul
        fee = fee_mul(bonus_part, collateral.protocol_fee_bps)
        _checked(amount - fee, "collateral - protocolFee", v)
    return amount, needed, fee


def liquidation(collateral: Collateral, debt: Debt, debt_to_cover: int, version: str, *,
                other_collaterals: Sequence[Collateral] = (), other_debts: Sequence[Debt] = (),
                sentinel_grace_period: bool = False) -> LiquidationResult:
    """``liquidationCall`` of one (collateral, debt) pair, integer-exact, without the transfers.

    Parameters
    ----------
    collateral : Collateral
        The collateral reserve to seize (bonus and protocol fee are taken from it).
    debt : Debt
        The debt reserve to repay.
    debt_to_cover : int
        Debt the liquidator offers, debt-token units (:data:`MAX_UINT256` = as much as allowed).
    version : str
        One of :data:`VERSIONS`.
    other_collaterals, other_debts : sequence
        The user's other reserves; they enter the health factor and, in v3.3+, the 50 % cap
        (which applies to the *total* debt) and the bad-debt rule.
    sentinel_grace_period : bool
        The PriceOracleSentinel reports a grace period (v3.0-v3.6): only positions with
        HF < 0.95 may then be liquidated. Ignored in v3.7, which has no such check; an error in v2.

    Returns
    -------
    LiquidationResult
        Health factor, close-factor cap, debt repaid, collateral to the liquidator, protocol fee
        and (v3.3+) the deficit written off when the liquidation leaves no collateral.

    Raises
    ------
    AaveRevert
        ``PRICE_ORACLE_SENTINEL_CHECK_FAILED``, ``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``,
        ``COLLATERAL_CANNOT_BE_LIQUIDATED`` (threshold 0),
        ``SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER`` (no debt), ``MUST_NOT_LEAVE_DUST`` (v3.3+), or
        a failed arithmetic check.
    LiquidationError
        Invalid arguments.

    Notes
    -----
    v2: ``max = percentMul(debt, 5000)``; ``collateral = floor(percentMul(pD*x*uC, bonus) /
    (pC*uD))``. v3: ``collateral = percentMul(floor(pD*x*uC / (pC*uD)), bonus)``; if more than the
    balance, the whole balance is seized and the repayment shrinks to
    ``percentDiv(floor(pC*balance*uD / (pD*uC)), bonus)``; the protocol fee is
    ``percentMul(collateral - percentDiv(collateral, bonus), fee)`` and comes out of the
    liquidator's collateral. See the module docstring for what changes per version.
    """
    where = "liquidation"
    v = _canonical(version, where)
    if not isinstance(collateral, Collateral) or not isinstance(debt, Debt):
        raise LiquidationError(f"{where}: collateral must be a Collateral and debt a Debt, "
                               f"got {type(collateral).__name__} and {type(debt).__name__}")
    debt_to_cover = _uint(debt_to_cover, "debt_to_cover")
    if sentinel_grace_period and v == "v2":
        raise LiquidationError(f"{where}: sentinel_grace_period does not exist in v2")
    if v != "v2" and collateral.protocol_fee_bps > PERCENTAGE_FACTOR:
        raise LiquidationError(f"{where}: protocol_fee_bps must be <= 10000, "
                               f"got {collateral.protocol_fee_bps}")
    account = _account_data([collateral, *other_collaterals], [debt, *other_debts], v)
    hf = account.health_factor
    if sentinel_grace_period and v != "v3.7" and hf >= CLOSE_FACTOR_HF_THRESHOLD:
        raise AaveRevert("PRICE_ORACLE_SENTINEL_CHECK_FAILED",
                         f"health factor {hf} >= 0.95e18 during the sentinel grace period", v)
    if hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise AaveRevert("HEALTH_FACTOR_NOT_BELOW_THRESHOLD", f"health factor {hf} >= 1e18", v)
    if collateral.liquidation_threshold_bps == 0:
        raise AaveRevert("COLLATERAL_CANNOT_BE_LIQUIDATED", "liquidation threshold is 0", v)
    if debt.balance == 0:
        raise AaveRevert("SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER", "debt balance is 0", v)

    max_debt = _max_liquidatable(collateral, debt, account, v)
    actual = min(debt_to_cover, max_debt)
    amount, needed, fee = _available_collateral(collateral, debt, actual, v)
    if v == "v2":
        actual = min(actual, needed)
    else:
        actual = needed

    deficit = 0
    if v in _DUST_VERSIONS:
        c_unit, d_unit = 10**collateral.decimals, 10**debt.decimals
        if actual < debt.balance and amount < collateral.balance:
            debt_left = (debt.balance - actual) * debt.price
            # v3.3 floors the leftover debt value, v3.5+ round it up (mulDivCeil)
            ceil = v in ("v3.6", "v3.7")
            debt_left_base = -(-debt_left // d_unit) if ceil else debt_left // d_unit
            collateral_left_base = (collateral.balance - amount) * collateral.price // c_unit
            if min(debt_left_base, collateral_left_base) < MIN_LEFTOVER_BASE:
                raise AaveRevert(
                    "MUST_NOT_LEAVE_DUST",
                    f"leftover debt {debt_left_base} and collateral {collateral_left_base} (base "
                    f"currency, 8 decimals) must both be >= {MIN_LEFTOVER_BASE} unless the debt "
                    "or the collateral reserve is cleared", v)
        outstanding = _checked(debt.balance - actual, "reserve debt - actualDebtToLiquidate", v)
        if amount * collateral.price // c_unit == account.total_collateral_base:
            deficit = outstanding  # no collateral left: the rest is written off (_burnBadDebt)
    return LiquidationResult(hf, max_debt, actual, amount - fee, fee, deficit)


# ---------------------------------------------------------------------------------------------
# float API
# ---------------------------------------------------------------------------------------------

def _non_negative(where: str, name: str, values: np.ndarray, allow_inf: bool = False) -> None:
    bad = np.isnan(values) | (values < 0)
    if not allow_inf:
        bad |= np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rule = ">= 0 (inf allowed)" if allow_inf else "finite and >= 0"
        raise LiquidationError(f"{where}: {name} must be {rule}; "
                               f"element {i} is {float(values[i])!r}")


def health_factor(collateral_values_usd: ArrayLike, liquidation_thresholds: ArrayLike,
                  debt_values_usd: ArrayLike, *, axis: int | None = None) -> float | np.ndarray:
    """Health factor ``sum(collateral_value * LT) / sum(debt_value)`` (``inf`` without debt).

    Parameters
    ----------
    collateral_values_usd : float or array_like
        Collateral values, USD (``balance * price``).
    liquidation_thresholds : float or array_like
        Liquidation thresholds, fractions in ``[0, 1]`` (``0.825``; e-mode: the category's).
    debt_values_usd : float or array_like
        Debt values, USD.
    axis : int, optional
        None (default): element-wise, one position per element, all three broadcast together.
        An integer: the assets of one account lie along this axis of ``collateral_values_usd *
        liquidation_thresholds`` and of ``debt_values_usd`` (which may have another length), and
        the sums are taken over it.

    Returns
    -------
    float or ndarray
        The health factor; a position is liquidatable iff it is below 1. The same for every
        version: see Notes.

    Notes
    -----
    This is the v3.6+ formula in exact arithmetic. The contracts differ only by rounding: values
    are floored to 1e-8 USD (v3.6+ round debt up), the v2-v3.3 average threshold is floored to a
    basis point before use (a relative change below ``1e-4 / LT``, zero for one collateral) and
    ``wadDiv`` rounds to 1e-18.

    Examples
    --------
    >>> health_factor([20_000.0, 30_000.0], [0.825, 0.78], [30_000.0, 5_000.5], axis=-1)
    1.139983714518364
    """
    names = ("collateral_values_usd", "liquidation_thresholds", "debt_values_usd")
    values = (collateral_values_usd, liquidation_thresholds, debt_values_usd)
    shape, scalar, weighted, debt = weighted_sums("health_factor", names, values, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        hf = np.where(debt > 0, weighted / np.where(debt > 0, debt, 1.0), np.inf)
    return _out(scalar, shape, hf)


def _close_factor_arrays(hf: np.ndarray, coll_val: np.ndarray, debt_val: np.ndarray,
                         total_debt: np.ndarray,
                         version: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Close factor (fraction of the reserve debt) and, for v3.3+, where the 50 % cap applies."""
    if version == "v2":
        return np.full_like(hf, 0.5), None
    if version == "v3.0":
        return np.where(hf > CLOSE_FACTOR_HF, 0.5, 1.0), None
    capped = ((coll_val >= MIN_CLOSE_FACTOR_THRESHOLD_USD)
              & (debt_val >= MIN_CLOSE_FACTOR_THRESHOLD_USD)
              & (hf > CLOSE_FACTOR_HF) & (debt_val > 0.5 * total_debt))
    with np.errstate(divide="ignore", invalid="ignore"):
        cf = np.where(capped, 0.5 * total_debt / np.where(capped, debt_val, 1.0), 1.0)
    return cf, capped


def close_factor(health_factor: ArrayLike, version: str, *,
                 collateral_value_usd: ArrayLike | None = None,
                 debt_value_usd: ArrayLike | None = None,
                 total_debt_value_usd: ArrayLike | None = None) -> float | np.ndarray:
    """Share of one reserve's debt that a single liquidation may repay.

    Parameters
    ----------
    health_factor : float or array_like
        The account's health factor.
    version : str
        ``"v2"``: 0.5 always. ``"v3.0"``: 0.5 if ``health_factor > 0.95``, else 1.
        ``"v3.3"``, ``"v3.6"``, ``"v3.7"``: 1, unless the collateral and the debt of the two
        reserves are both worth at least $2,000 and ``health_factor > 0.95``; then
        ``min(1, 0.5 * total_debt_value_usd / debt_value_usd)`` (50 % of the account's *total*
        debt, which is more than this reserve's debt when the account has other debts).
    collateral_value_usd, debt_value_usd : float or array_like, optional
        Value of the collateral reserve to be seized and of the debt reserve to be repaid, USD.
        Required for v3.3+, unused before.
    total_debt_value_usd : float or array_like, optional
        The account's total debt, USD, at least ``debt_value_usd`` (default: ``debt_value_usd``,
        a single-debt account).

    Returns
    -------
    float or ndarray
        Fraction in ``(0, 1]``; the close-factor cap is this times the reserve's debt.

    Examples
    --------
    >>> close_factor(0.97, "v3.0"), close_factor(0.9, "v3.0")
    (0.5, 1.0)
    >>> close_factor(0.97, "v3.3", collateral_value_usd=1000.0, debt_value_usd=850.0)
    1.0
    """
    where = "close_factor"
    v = _canonical(version, where)
    if v in _DUST_VERSIONS and (collateral_value_usd is None or debt_value_usd is None):
        raise LiquidationError(f"{where}: version {v} needs collateral_value_usd and "
                               "debt_value_usd (the $2,000 thresholds depend on them)")
    coll = 0.0 if collateral_value_usd is None else collateral_value_usd
    dval = 0.0 if debt_value_usd is None else debt_value_usd
    total = dval if total_debt_value_usd is None else total_debt_value_usd
    names = ("health_factor", "collateral_value_usd", "debt_value_usd", "total_debt_value_usd")
    values = (health_factor, coll, dval, total)
    shape, (hf, c, d, t) = as_arrays(LiquidationError, where, names, *values)
    _non_negative(where, "health_factor", hf, allow_inf=True)
    for name, arr in zip(names[1:], (c, d, t)):
        _non_negative(where, name, arr)
    cf, _ = _close_factor_arrays(hf, c, d, t, v)
    return _out(is_scalar(*values), shape, cf)


def liquidation_amounts(debt_to_cover: ArrayLike, collateral_amount: ArrayLike,
                        debt_amount: ArrayLike, collateral_price_usd: ArrayLike,
                        debt_price_usd: ArrayLike, health_factor: ArrayLike, version: str, *,
                        liquidation_bonus: ArrayLike = 0.05, protocol_fee: ArrayLike = 0.0,
                        total_debt_value_usd: ArrayLike | None = None,
                        dust_rule: bool | None = None, raise_on_revert: bool = False):
    """Debt repaid, collateral to the liquidator and protocol fee of a liquidation call.

    All array arguments broadcast together; ``version`` selects the rules.

    Parameters
    ----------
    debt_to_cover : float or array_like
        Debt the liquidator offers to repay, debt-token units (``inf`` = as much as allowed).
    collateral_amount : float or array_like
        The user's balance of the collateral reserve, token units.
    debt_amount : float or array_like
        The user's debt in the debt reserve, token units.
    collateral_price_usd, debt_price_usd : float or array_like
        Oracle prices, USD per token (> 0).
    health_factor : float or array_like
        The account's health factor (e.g. from :func:`health_factor`); nothing is liquidated
        where it is ``>= 1``.
    version : str
        Close factor as in :func:`close_factor`; v2 takes no protocol fee; v3.3+ apply the dust
        rule by default. Rounding differences between versions are below a token unit and are
        not modelled.
    liquidation_bonus : float or array_like
        Extra collateral per unit of debt value, fraction (0.05 for Aave's ``10500``).
    protocol_fee : float or array_like
        Share of the bonus paid to the treasury, fraction in ``[0, 1]`` (must be 0 for v2).
    total_debt_value_usd : float or array_like, optional
        The account's total debt in USD, for the v3.3+ 50 % cap; default
        ``debt_amount * debt_price_usd`` (a single-debt account).
    dust_rule : bool, optional
        Apply the $1,000 leftover rule: a call that repays less than the whole debt reserve and
        seizes less than the whole collateral reserve must leave at least $1,000 of each. Default
        (None): on for v3.3, v3.6, v3.7, off for v2 and v3.0 (True applies it to any version).
    raise_on_revert : bool
        If True, raise :class:`AaveRevert` for the first element whose call the contract would
        revert (health factor not below 1, dust); if False (default) such elements return zeros.

    Returns
    -------
    (debt_repaid, collateral_to_liquidator, protocol_fee_amount)
        Debt-token units, collateral-token units, collateral-token units; floats for scalar
        inputs, arrays of the broadcast shape otherwise.

    Notes
    -----
    With ``m = 1 + liquidation_bonus``: ``repay = min(debt_to_cover, close_factor * debt_amount)``,
    ``seized = repay * debt_price / collateral_price * m``. If ``seized > collateral_amount``
    (insufficient collateral), ``seized = collateral_amount`` and ``repay = collateral_amount *
    collateral_price / debt_price / m``; any debt left may become bad debt (v3.3+ write it off
    when no collateral remains). The fee is ``seized * bonus / m * protocol_fee`` and the
    liquidator receives ``seized - fee``. The contracts round each step to a token unit; the
    results agree to a few smallest token units, and a decision taken exactly at a boundary
    (HF = 0.95 or 1, ``seized == collateral_amount``, $2,000, $1,000) may differ.

    Examples
    --------
    >>> liquidation_amounts(float("inf"), 1.0, 2500.0, 2000.0, 1.0, 0.66, "v3.3")  # all collateral
    (1904.7619047619046, 1.0, 0.0)
    """
    where = "liquidation_amounts"
    v = _canonical(version, where)
    apply_dust = (v in _DUST_VERSIONS) if dust_rule is None else bool(dust_rule)
    total = -1.0 if total_debt_value_usd is None else total_debt_value_usd
    names = ("debt_to_cover", "collateral_amount", "debt_amount", "collateral_price_usd",
             "debt_price_usd", "health_factor", "liquidation_bonus", "protocol_fee",
             "total_debt_value_usd")
    inputs = (debt_to_cover, collateral_amount, debt_amount, collateral_price_usd, debt_price_usd,
              health_factor, liquidation_bonus, protocol_fee, total)
    shape, arrays = as_arrays(LiquidationError, where, names, *inputs)
    x, coll, debt, pc, pd, hf, bonus, fee, tot = arrays
    _non_negative(where, "debt_to_cover", x, allow_inf=True)
    _non_negative(where, "health_factor", hf, allow_inf=True)
    for name, arr in (("collateral_amount", coll), ("debt_amount", debt),
                      ("liquidation_bonus", bonus)):
        _non_negative(where, name, arr)
    check_array(LiquidationError, where, "collateral_price_usd", pc, low=0.0, low_open=True)
    check_array(LiquidationError, where, "debt_price_usd", pd, low=0.0, low_open=True)
    check_array(LiquidationError, where, "protocol_fee", fee, low=0.0, high=1.0)
    if v == "v2" and (fee != 0).any():
        raise LiquidationError(f"{where}: v2 has no liquidation protocol fee; "
                               "protocol_fee must be 0")
    debt_val = debt * pd
    if total_debt_value_usd is None:
        tot = debt_val
    else:
        _non_negative(where, "total_debt_value_usd", tot)

    cf, capped = _close_factor_arrays(hf, coll * pc, debt_val, tot, v)
    max_debt = cf * debt if capped is None else np.where(capped, 0.5 * tot / pd, debt)
    repay = np.minimum(x, max_debt)
    m = 1.0 + bonus
    seized = repay * pd / pc * m
    short = seized > coll                      # not enough collateral: seize it all
    seized = np.where(short, coll, seized)
    # below the offer in exact arithmetic; the minimum only absorbs float rounding at the boundary
    repay = np.where(short, np.minimum(coll * pc / pd / m, repay), repay)
    fee_amount = seized * bonus / m * fee      # a share of the bonus part seized * bonus / m
    to_liquidator = seized - fee_amount

    healthy = ~(hf < 1.0)
    reverted = healthy.copy()
    if apply_dust:
        partial = (repay < debt) & (seized < coll)
        debt_left, coll_left = (debt - repay) * pd, (coll - seized) * pc
        reverted |= partial & ((debt_left < MIN_LEFTOVER_USD) | (coll_left < MIN_LEFTOVER_USD))
    if raise_on_revert and reverted.any():
        i = int(np.flatnonzero(reverted)[0])
        if healthy[i]:
            raise AaveRevert("HEALTH_FACTOR_NOT_BELOW_THRESHOLD",
                             f"element {i}: health factor {float(hf[i])!r} >= 1", v)
        raise AaveRevert("MUST_NOT_LEAVE_DUST",
                         f"element {i}: leftover debt ${debt_left[i]:,.2f} and collateral "
                         f"${coll_left[i]:,.2f} must both be >= $1,000 unless a reserve is "
                         "cleared", v)
    results = (np.where(reverted, 0.0, a) for a in (repay, to_liquidator, fee_amount))
    return _out(is_scalar(*inputs), shape, *results)


def apply_emode(liquidation_threshold: ArrayLike, liquidation_bonus: ArrayLike,
                eligible: ArrayLike, emode_liquidation_threshold: ArrayLike,
                emode_liquidation_bonus: ArrayLike):
    """Liquidation threshold and bonus after an e-mode category's override.

    Parameters
    ----------
    liquidation_threshold, liquidation_bonus : float or array_like
        The reserves' own values (fractions; bonus as 0.05 for 5 %).
    eligible : bool or array_like of bool
        The user is in the category and the asset is one of its collaterals (v3.0-v3.1: the
        asset's category equals the user's; v3.2+: the asset is in the category's collateral
        bitmap). Only these assets take the category's values.
    emode_liquidation_threshold, emode_liquidation_bonus : float or array_like
        The category's values (fractions).

    Returns
    -------
    (liquidation_threshold, liquidation_bonus)
        Broadcast arrays, or floats for scalar inputs.

    Examples
    --------
    >>> apply_emode([0.81, 0.78], [0.06, 0.075], [True, False], 0.95, 0.01)
    (array([0.95, 0.78]), array([0.01 , 0.075]))
    """
    where = "apply_emode"
    names = ("liquidation_threshold", "liquidation_bonus", "eligible",
             "emode_liquidation_threshold", "emode_liquidation_bonus")
    values = (liquidation_threshold, liquidation_bonus, eligible, emode_liquidation_threshold,
              emode_liquidation_bonus)
    if np.asarray(eligible).dtype != bool:
        raise LiquidationError(f"{where}: eligible must be a bool or an array of bools, "
                               f"got {eligible!r}")
    shape, (lt, b, flags, elt, eb) = as_arrays(LiquidationError, where, names, *values)
    for name, arr in zip(names, (lt, b, None, elt, eb)):
        if arr is not None:
            high = 1.0 if name.endswith("threshold") else None
            check_array(LiquidationError, where, name, arr, low=0.0, high=high)
    use = flags != 0.0
    return _out(is_scalar(*values), shape, np.where(use, elt, lt), np.where(use, eb, b))
