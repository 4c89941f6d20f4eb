"""Liquity v1 liquidation math: gas compensation, stability-pool offset, redistribution, Recovery Mode.

Usable without a simulation, in two forms:

* **float** functions in token units (ETH, LUSD) with the ETH price in USD (Liquity values LUSD
  at $1): what the simulator uses;
* **integer** ports (``*_int``) of ``liquity/dev`` ``packages/contracts/contracts/TroveManager.sol``
  (``_getOffsetAndRedistributionVals``, ``_getCappedOffsetVals``) and ``LiquityBase.sol``
  (``_getCollGasCompensation``, ``_computeCR``), 18-decimal wei with the contract's floors.

Definitions
-----------
ICR, TCR
    ``coll * price / debt`` of a trove, and of the whole system (entire collateral and debt,
    redistribution rewards included). ``debt`` is the trove's entire debt, liquidation reserve
    included.
gas compensation
    A liquidated trove pays its liquidator the ``gas_compensation`` LUSD liquidation reserve
    (200 LUSD, locked in the gas pool when the trove was opened and counted in its debt) and
    ``coll / 200`` (0.5 %) of its collateral.
offset (Normal Mode, and Recovery Mode for ``100% < ICR < MCR``)
    With ``S`` LUSD in the stability pool and ``coll' = coll - coll / 200``:
    ``debt_offset = min(debt, S)``, ``coll_to_sp = coll' * debt_offset / debt``; the rest,
    ``debt - debt_offset`` and ``coll' - coll_to_sp``, is redistributed.
redistribution
    Debt and collateral are added to every other active trove pro rata to its (entire)
    collateral — Liquity's ``L_ETH`` / ``L_LUSDDebt`` per unit of stake, where a stake is
    proportional to entire collateral as long as troves are not adjusted.
stability pool
    An offset burns ``debt_offset`` LUSD from the deposits, pro rata (each deposit is multiplied
    by ``1 - debt_offset / S``), and adds ``coll_to_sp`` ETH to the depositors' gains pro rata to
    their deposits (Liquity's running product ``P`` and sum ``S``).
Recovery Mode (``TCR < CCR``), per trove in a liquidation sequence
    ``ICR <= 100%``: everything is redistributed (no offset). ``100% < ICR < MCR``: offset then
    redistribution, as above. ``MCR <= ICR < TCR`` and ``debt <= S``: *capped* offset: the pool
    takes the whole debt against ``debt * MCR / price`` of collateral (minus its 0.5 % gas
    compensation) and the rest, the *surplus*, is left for the owner to claim. Otherwise the
    trove is not liquidated.

Examples
--------
>>> from contagion.liquity import offset_and_redistribution
>>> offset_and_redistribution(10_000.0, 8.0, 6_000.0)   # debt, coll after gas comp, LUSD in the pool
(6000.0, 4.8, 4000.0, 3.2)
"""

from __future__ import annotations

import numpy as np

from contagion._validate import check_scalar
from contagion.errors import LiquidationError

__all__ = [
    "DECIMAL_PRECISION",
    "MCR",
    "CCR",
    "GAS_COMPENSATION",
    "COLLATERAL_GAS_COMPENSATION",
    "MIN_NET_DEBT",
    "collateral_ratio",
    "collateral_gas_compensation",
    "offset_and_redistribution",
    "capped_offset",
    "sp_offset",
    "redistribute",
    "collateral_gas_compensation_int",
    "compute_cr_int",
    "offset_and_redistribution_int",
    "capped_offset_int",
]

DECIMAL_PRECISION = 10**18
MCR = 1.1                       #: minimum collateral ratio (110 %)
CCR = 1.5                       #: critical system collateral ratio (150 %): Recovery Mode below it
GAS_COMPENSATION = 200.0        #: LUSD liquidation reserve per trove
COLLATERAL_GAS_COMPENSATION = 0.005   #: share of a liquidated trove's collateral (1 / PERCENT_DIVISOR)
MIN_NET_DEBT = 1_800.0          #: smallest debt of a trove net of the liquidation reserve, LUSD


def _nonneg(where: str, name: str, value) -> float:
    return check_scalar(LiquidationError, where, name, value, low=0.0)


def collateral_ratio(coll, debt, price: float):
    """``coll * price / debt`` (ICR or TCR); ``inf`` where ``debt`` is 0 (Liquity returns 2**256-1)."""
    c = np.asarray(coll, dtype=np.float64)
    d = np.asarray(debt, dtype=np.float64)
    p = check_scalar(LiquidationError, "collateral_ratio", "price", price, low=0.0)
    if np.any(c < 0) or np.any(d < 0) or not (np.all(np.isfinite(c)) and np.all(np.isfinite(d))):
        raise LiquidationError("collateral_ratio: coll and debt must be finite and >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(d > 0, c * p / np.where(d > 0, d, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


def collateral_gas_compensation(coll, share: float = COLLATERAL_GAS_COMPENSATION):
    """Collateral paid to the liquidator: ``coll * share`` (``_getCollGasCompensation``)."""
    c = np.asarray(coll, dtype=np.float64)
    s = check_scalar(LiquidationError, "collateral_gas_compensation", "share", share, low=0.0, high=1.0)
    out = c * s
    return float(out) if out.ndim == 0 else out


def offset_and_redistribution(debt: float, coll: float, sp_deposits: float) -> tuple[float, float, float, float]:
    """``_getOffsetAndRedistributionVals`` in token units.

    Parameters
    ----------
    debt : float
        The trove's entire debt, LUSD (> 0).
    coll : float
        Its collateral after the gas compensation, ETH.
    sp_deposits : float
        LUSD left in the stability pool.

    Returns
    -------
    (debt_offset, coll_to_sp, debt_redistributed, coll_redistributed)
    """
    where = "offset_and_redistribution"
    d = check_scalar(LiquidationError, where, "debt", debt, low=0.0, low_open=True)
    c = _nonneg(where, "coll", coll)
    s = _nonneg(where, "sp_deposits", sp_deposits)
    if s <= 0:
        return 0.0, 0.0, d, c
    offset = min(d, s)
    to_sp = c * offset / d
    return offset, to_sp, d - offset, c - to_sp


def capped_offset(debt: float, coll: float, price: float, *, mcr: float = MCR,
                  share: float = COLLATERAL_GAS_COMPENSATION) -> tuple[float, float, float, float]:
    """``_getCappedOffsetVals``: Recovery-Mode liquidation of a trove with ``MCR <= ICR < TCR``.

    Returns
    -------
    (debt_offset, coll_to_sp, coll_gas_compensation, coll_surplus)
        The pool takes the whole ``debt`` against ``capped = debt * mcr / price`` ETH, of which
        ``capped * share`` goes to the liquidator; the surplus ``coll - capped`` stays claimable
        by the trove's owner.
    """
    where = "capped_offset"
    d = check_scalar(LiquidationError, where, "debt", debt, low=0.0, low_open=True)
    c = _nonneg(where, "coll", coll)
    p = check_scalar(LiquidationError, where, "price", price, low=0.0, low_open=True)
    capped = d * mcr / p
    if capped > c:
        raise LiquidationError(f"{where}: ICR below MCR ({c * p / d:.6g} < {mcr:g}): not a capped liquidation")
    gas = capped * share
    return d, capped - gas, gas, c - capped


def sp_offset(deposits, gains, debt_offset: float, coll_to_sp: float) -> tuple[np.ndarray, np.ndarray]:
    """Stability-pool deposits and ETH gains after an offset (``StabilityPool.offset``), pro rata.

    Parameters
    ----------
    deposits, gains : array_like
        Each depositor's compounded deposit (LUSD) and ETH gain.
    debt_offset : float
        LUSD burned from the pool, ``<= sum(deposits)``.
    coll_to_sp : float
        ETH added to the depositors' gains.

    Returns
    -------
    (deposits, gains)
        ``deposits * (1 - debt_offset / total)`` and ``gains + coll_to_sp * deposits / total``; an
        offset of the whole pool leaves every deposit at exactly 0.
    """
    where = "sp_offset"
    dep = np.array(deposits, dtype=np.float64, copy=True).reshape(-1)
    gain = np.array(gains, dtype=np.float64, copy=True).reshape(-1)
    if dep.shape != gain.shape or np.any(dep < 0) or not np.all(np.isfinite(dep)):
        raise LiquidationError(f"{where}: deposits and gains must be finite, >= 0 and of one length")
    offset = _nonneg(where, "debt_offset", debt_offset)
    coll = _nonneg(where, "coll_to_sp", coll_to_sp)
    total = float(dep.sum())
    if offset == 0.0 and coll == 0.0:
        return dep, gain
    if not total > 0 or offset > total * (1.0 + 1e-12):
        raise LiquidationError(f"{where}: debt_offset {offset!r} exceeds the pool's deposits {total!r}")
    shares = dep / total
    gain += coll * shares
    if offset >= total:
        dep[:] = 0.0
    else:
        dep *= 1.0 - offset / total
    return dep, gain


def redistribute(coll, debt, coll_to_add: float, debt_to_add: float) -> tuple[np.ndarray, np.ndarray]:
    """Active troves' collateral and debt after a redistribution, pro rata to their collateral.

    Troves with zero collateral (closed) receive nothing. Returns new ``(coll, debt)`` arrays.
    """
    where = "redistribute"
    c = np.array(coll, dtype=np.float64, copy=True).reshape(-1)
    d = np.array(debt, dtype=np.float64, copy=True).reshape(-1)
    if c.shape != d.shape or np.any(c < 0) or np.any(d < 0):
        raise LiquidationError(f"{where}: coll and debt must be >= 0 and of one length")
    add_c = _nonneg(where, "coll_to_add", coll_to_add)
    add_d = _nonneg(where, "debt_to_add", debt_to_add)
    total = float(c.sum())
    if add_c == 0.0 and add_d == 0.0:
        return c, d
    if not total > 0:
        raise LiquidationError(f"{where}: no collateral to redistribute to")
    share = c / total
    return c + add_c * share, d + add_d * share


# ----------------------------------------------------------------------------- integer ports
def collateral_gas_compensation_int(coll: int) -> int:
    """``_getCollGasCompensation``: ``coll / PERCENT_DIVISOR`` (200), floor."""
    return coll // 200


def compute_cr_int(coll: int, debt: int, price: int) -> int:
    """``LiquityMath._computeCR``: ``coll * price / debt`` (1e18 scale), ``2**256 - 1`` without debt."""
    if debt > 0:
        return coll * price // debt
    return 2**256 - 1


def offset_and_redistribution_int(debt: int, coll: int, sp_deposits: int) -> tuple[int, int, int, int]:
    """``_getOffsetAndRedistributionVals`` to the wei."""
    if sp_deposits > 0:
        offset = min(debt, sp_deposits)
        to_sp = coll * offset // debt
        return offset, to_sp, debt - offset, coll - to_sp
    return 0, 0, debt, coll


def capped_offset_int(debt: int, coll: int, price: int, mcr: int = 11 * 10**17) -> tuple[int, int, int, int]:
    """``_getCappedOffsetVals`` to the wei: ``(debt_offset, coll_to_sp, coll_gas_compensation, coll_surplus)``."""
    capped = debt * mcr // price
    gas = collateral_gas_compensation_int(capped)
    return debt, capped - gas, gas, coll - capped
