"""Perpetual-futures mechanism math: margin tiers, bankruptcy and fillable prices, insurance fund,
auto-deleveraging rankings, funding.

Everything here works on scalars and numpy arrays, without a network. Units: sizes are signed
base-asset units (long > 0, short < 0); prices are quote units per base unit; notionals, margins,
balances and PnL are quote units; rates and fractions are plain numbers (0.005 = 0.5 %).

Account representation (dYdX v4): an account (a *subaccount*) holds a quote balance ``Q`` and
signed positions ``s_m``; its total net collateral at oracle prices ``P_m`` is
``TNC = Q + sum_m s_m P_m`` and its total maintenance margin requirement ``TMMR = sum_m MMR_m``.
It is liquidatable when ``TMMR > 0`` and ``TNC < TMMR``. Opening a long of ``s`` at price ``p``
lowers ``Q`` by ``s p``, so ``Q + s P`` is collateral plus unrealized PnL.

Sources (formulas as in ``shared/REFERENCE-MATH.md`` §9):

* Binance USDⓈ-M "Leverage and Margin" brackets: ``MM = notional * rate - maintenance_amount``,
  margin ratio ``MM / (wallet balance + unrealized PnL)``, liquidation at a ratio of 100 %; ADL
  priority "LeveragePnL".
* dYdX v4 ``x/clob/keeper/liquidations.go``: bankruptcy price ``-DNNV - TNC |DMMR| / TMMR``,
  fillable price ``(PNNV - ABR * SMMR * PMMR) / PS``, insurance-fund delta; liquidity tiers
  ``MMR = notional * initial_margin * maintenance_fraction``. Integer-exact ports of these work in
  quote quantums (:class:`DydxPerpetual` and the ``dydx_*`` functions).
* BitMEX "Auto-Deleveraging": ranking ``PNL% * EffectiveLeverage`` (``PNL% / EffectiveLeverage``
  when ``PNL% <= 0``).

Examples
--------
>>> from contagion import perps
>>> caps, rates = [50_000.0, 250_000.0, float("inf")], [0.004, 0.005, 0.01]
>>> perps.bracket_maintenance_amounts(caps, rates)
array([   0.,   50., 1300.])
>>> float(perps.bracket_maintenance_margin(100_000.0, caps, rates))   # 0.5 % x 100,000 - 50
450.0
>>> perps.bitmex_adl_ranking(1.0, 20_000.0, 30_000.0, 19_000.0)[2]     # doctest: +ELLIPSIS
1.3636...
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np

__all__ = [
    "bracket_maintenance_amounts",
    "bracket_index",
    "bracket_maintenance_margin",
    "bracket_initial_margin",
    "maintenance_margin",
    "liquidity_tier_margins",
    "margin_ratio",
    "binance_liquidatable",
    "net_collateral",
    "is_liquidatable",
    "bankruptcy_quote",
    "bankruptcy_price",
    "fillable_price",
    "insurance_fund_delta",
    "bitmex_adl_ranking",
    "binance_leverage_pnl",
    "adl_order",
    "funding_rate",
    "funding_payments",
    "DydxPerpetual",
    "dydx_net_notional",
    "dydx_margin_requirements",
    "dydx_bankruptcy_quote_quantums",
    "dydx_fillable_price",
    "dydx_insurance_fund_delta",
]


def _out(value):
    """A numpy scalar result as a Python float; arrays unchanged."""
    return float(value) if np.ndim(value) == 0 else value


# --------------------------------------------------------------------------- margin tiers
def bracket_maintenance_amounts(caps: Sequence[float], rates: Sequence[float]) -> np.ndarray:
    """Maintenance amounts ("cum") of Binance brackets, quote units.

    Bracket ``k`` covers notionals in ``(caps[k-1], caps[k]]`` (the first from 0) with maintenance
    margin rate ``rates[k]``. The amount makes the maintenance margin continuous at every cap:
    ``amount[0] = 0`` and ``amount[k] = amount[k-1] + caps[k-1] * (rates[k] - rates[k-1])``, which
    is how Binance's published amounts are built.

    Parameters
    ----------
    caps : sequence of float
        Upper notional bound of each bracket, increasing (the last may be ``inf``), quote units.
    rates : sequence of float
        Maintenance margin rate of each bracket (fractions).

    Returns
    -------
    numpy.ndarray
        One amount per bracket, quote units.
    """
    caps = np.asarray(caps, dtype=np.float64)
    rates = np.asarray(rates, dtype=np.float64)
    if caps.shape != rates.shape or caps.ndim != 1 or caps.size == 0:
        raise ValueError("caps and rates must be 1-d sequences of the same, non-zero length")
    amounts = np.zeros_like(rates)
    for k in range(1, rates.size):
        amounts[k] = amounts[k - 1] + caps[k - 1] * (rates[k] - rates[k - 1])
    return amounts


def bracket_index(notional, caps: Sequence[float]):
    """Index of the bracket a notional (quote units, >= 0) falls in: the first ``k`` with
    ``notional <= caps[k]``; notionals above the last cap use the last bracket."""
    caps = np.asarray(caps, dtype=np.float64)
    k = np.searchsorted(caps, np.asarray(notional, dtype=np.float64), side="left")
    k = np.minimum(k, caps.size - 1)
    return int(k) if np.ndim(k) == 0 else k


def maintenance_margin(notional, rate, amount=0.0):
    """Binance maintenance margin ``notional * rate - amount`` (quote units).

    Works on scalars of any number type (``fractions.Fraction`` included) and on arrays.
    """
    return notional * rate - amount


def bracket_maintenance_margin(notional, caps: Sequence[float], rates: Sequence[float],
                               amounts: Sequence[float] | None = None):
    """Tiered maintenance margin of positions of ``notional`` (quote units, absolute).

    ``MM = notional * rates[k] - amounts[k]`` with ``k`` the notional's bracket and ``amounts``
    (default :func:`bracket_maintenance_amounts`) the brackets' maintenance amounts.
    """
    rates_a = np.asarray(rates, dtype=np.float64)
    amounts_a = bracket_maintenance_amounts(caps, rates) if amounts is None else np.asarray(amounts, np.float64)
    notional = np.asarray(notional, dtype=np.float64)
    k = bracket_index(notional, caps)
    return _out(notional * rates_a[k] - amounts_a[k])


def bracket_initial_margin(notional, caps: Sequence[float], initial_rates: Sequence[float]):
    """Initial margin at a bracket's maximum leverage: ``notional * initial_rates[k]`` (quote
    units), ``k`` the notional's bracket (Binance: initial rate = 1 / max leverage)."""
    rates = np.asarray(initial_rates, dtype=np.float64)
    notional = np.asarray(notional, dtype=np.float64)
    return _out(notional * rates[bracket_index(notional, caps)])


def liquidity_tier_margins(notional, initial_margin: float, maintenance_fraction: float):
    """dYdX v4 liquidity tier: ``(IMR, MMR) = (notional * IM, notional * IM * MF)`` (quote units),
    with ``IM`` the tier's initial margin fraction and ``MF`` its maintenance fraction (the
    open-interest scaling of the initial margin is not applied)."""
    notional = np.asarray(notional, dtype=np.float64)
    imr = notional * initial_margin
    return _out(imr), _out(imr * maintenance_fraction)


def margin_ratio(maintenance, wallet_balance, unrealized_pnl):
    """Binance margin ratio ``MM / (wallet balance + unrealized PnL)``; ``inf`` where the margin
    balance is not positive. Scalars of any number type, or arrays."""
    if np.ndim(maintenance) == 0 and np.ndim(wallet_balance) == 0 and np.ndim(unrealized_pnl) == 0:
        balance = wallet_balance + unrealized_pnl
        return maintenance / balance if balance > 0 else math.inf
    balance = np.asarray(wallet_balance, np.float64) + np.asarray(unrealized_pnl, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(balance > 0, np.asarray(maintenance, np.float64) / balance, np.inf)


def binance_liquidatable(maintenance, wallet_balance, unrealized_pnl):
    """Binance's liquidation rule: margin ratio at or above 100 %."""
    return margin_ratio(maintenance, wallet_balance, unrealized_pnl) >= 1


# ------------------------------------------------------------------------------- accounts
def net_collateral(quote_balance, sizes, prices):
    """Total net collateral ``TNC = Q + sum_m s_m P_m`` (quote units).

    ``sizes`` has shape ``(..., M)`` (signed base units per market), ``prices`` ``(M,)``.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    return _out(np.asarray(quote_balance, dtype=np.float64) + sizes @ np.asarray(prices, dtype=np.float64))


def is_liquidatable(tnc, tmmr):
    """dYdX's rule: liquidatable iff ``TMMR > 0`` and ``TNC < TMMR``."""
    tnc, tmmr = np.asarray(tnc), np.asarray(tmmr)
    out = (tmmr > 0) & (tnc < tmmr)
    return bool(out) if out.ndim == 0 else out


def bankruptcy_quote(tnc, tmmr, delta_notional, delta_mmr):
    """Quote a position change must bring for the account to stay at its TNC/TMMR ratio.

    dYdX's ``GetBankruptcyPriceInQuoteQuantums``: ``-DNNV - TNC * |DMMR| / TMMR``, where
    ``DNNV`` is the change of the position's net notional (``delta_size * P``; negative when a
    long is reduced) and ``DMMR`` the change of its maintenance margin (<= 0 when it shrinks).
    Positive: the account receives quote (closing a long); negative: it pays (closing a short).
    Closing at this quote leaves ``TNC / TMMR`` unchanged; closing everything leaves ``TNC = 0``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(-np.asarray(delta_notional, np.float64)
                    - np.asarray(tnc, np.float64) * np.abs(np.asarray(delta_mmr, np.float64))
                    / np.asarray(tmmr, np.float64))


def bankruptcy_price(oracle_price, size, tnc, tmmr, position_mmr):
    """Per-unit bankruptcy price of closing a whole position of signed ``size`` (base units):
    ``P - TNC * PMMR / (TMMR * size)`` (quote per base). A long (``size > 0``) with ``TNC < 0``
    has a bankruptcy price above the oracle price; a short's is below it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.asarray(oracle_price, np.float64) - np.asarray(tnc, np.float64)
                    * np.asarray(position_mmr, np.float64)
                    / (np.asarray(tmmr, np.float64) * np.asarray(size, np.float64)))


def fillable_price(oracle_price, size, tnc, tmmr, position_mmr, bankruptcy_adjustment: float = 1.0,
                   spread_to_maintenance_margin_ratio: float = 0.1):
    """dYdX's fillable price: the worst price a liquidation order of a position may fill at.

    ``(PNNV - ABR * SMMR * PMMR) / PS`` with ``PNNV = PS * P`` the position's net notional,
    ``ABR = clamp(BA * (1 - TNC / TMMR), 0, 1)`` (``BA`` = ``bankruptcy_adjustment``, dYdX
    default 1), ``SMMR`` = ``spread_to_maintenance_margin_ratio`` (default 0.1) and ``PMMR`` the
    position's maintenance margin. For a long it is ``P - ABR * SMMR * PMMR / |PS|`` (the sale
    must fetch at least this); for a short ``P + ABR * SMMR * PMMR / |PS|`` (the purchase may pay
    at most this).
    """
    size = np.asarray(size, np.float64)
    tnc, tmmr = np.asarray(tnc, np.float64), np.asarray(tmmr, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        abr = np.clip(bankruptcy_adjustment * (1.0 - tnc / tmmr), 0.0, 1.0)
        spread = abr * spread_to_maintenance_margin_ratio * np.asarray(position_mmr, np.float64)
        return _out((size * np.asarray(oracle_price, np.float64) - spread) / size)


def insurance_fund_delta(quote_received, bankruptcy_quote_amount, max_liquidation_fee: float = 0.005):
    """Payment between a liquidated account and the insurance fund for one fill (quote units).

    ``d = quote_received - bankruptcy_quote`` (``quote_received`` > 0 for a sale, < 0 for a
    purchase). ``d <= 0``: the fund pays ``-d`` (the result is ``d``). ``d > 0``: the fund receives
    ``min(|quote_received| * max_liquidation_fee, d)`` (dYdX ``GetLiquidationInsuranceFundDelta``;
    ``MaxLiquidationFeePpm`` default 5,000 = 0.5 %).
    """
    received = np.asarray(quote_received, np.float64)
    d = received - np.asarray(bankruptcy_quote_amount, np.float64)
    fee = np.minimum(np.abs(received) * max_liquidation_fee, d)
    return _out(np.where(d <= 0, d, fee))


# ------------------------------------------------------------------------------------- ADL
def bitmex_adl_ranking(size, entry_price, mark_price, bankruptcy_price_):
    """BitMEX auto-deleveraging ranking of positions.

    With values ``V = size * price`` (signed: shorts negative) at the mark, entry and bankruptcy
    prices: ``EffectiveLeverage = |V_mark| / (V_mark - V_bankrupt)``,
    ``PNL% = (V_mark - V_entry) / |V_entry|`` and ranking ``PNL% * EffectiveLeverage`` if
    ``PNL% > 0`` else ``PNL% / EffectiveLeverage``. Higher ranks are deleveraged first.

    Returns
    -------
    tuple
        ``(pnl_pct, effective_leverage, ranking)``, scalars or arrays.
    """
    size = np.asarray(size, np.float64)
    v_mark = size * np.asarray(mark_price, np.float64)
    v_entry = size * np.asarray(entry_price, np.float64)
    v_bank = size * np.asarray(bankruptcy_price_, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.abs(v_mark) / (v_mark - v_bank)
        pnl = (v_mark - v_entry) / np.abs(v_entry)
        ranking = np.where(pnl > 0, pnl * leverage, pnl / leverage)
    return _out(pnl), _out(leverage), _out(ranking)


def binance_leverage_pnl(unrealized_pnl, wallet_balance, maintenance):
    """Binance ADL priority "LeveragePnL" (as quoted on Binance's developer forum).

    ``PnlPercent = max(0, UPnL) / max(1, WB)``; ``MarginRatio = MM / (WB + UPnL)`` (0 when
    ``WB + UPnL <= 0``); result ``PnlPercent * MarginRatio``. Scalars of any number type, or arrays.
    """
    if all(np.ndim(x) == 0 for x in (unrealized_pnl, wallet_balance, maintenance)):
        pct = max(0, unrealized_pnl) / max(1, wallet_balance)
        balance = wallet_balance + unrealized_pnl
        return pct * (maintenance / balance if balance > 0 else 0)
    upnl = np.asarray(unrealized_pnl, np.float64)
    wb = np.asarray(wallet_balance, np.float64)
    balance = wb + upnl
    pct = np.maximum(0.0, upnl) / np.maximum(1.0, wb)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(balance > 0, np.asarray(maintenance, np.float64) / balance, 0.0)
    return pct * ratio


def adl_order(scores) -> np.ndarray:
    """Indices of ``scores`` from the highest to the lowest; ties keep index order."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.lexsort((np.arange(scores.size), -scores))


# --------------------------------------------------------------------------------- funding
def funding_rate(mark_price, index_price, interest: float = 0.0, cap: float = math.inf):
    """Funding rate of one interval: ``clamp(mark / index - 1 + interest, -cap, cap)``.

    The premium of the perp's traded price (``mark_price``) over the oracle (``index_price``)
    plus an interest term, clamped (dYdX v4: premium + interest, clamped by the liquidity tier;
    Binance adds a damper on the interest term, not modelled here). Positive: longs pay shorts.
    """
    premium = np.asarray(mark_price, np.float64) / np.asarray(index_price, np.float64) - 1.0
    return _out(np.clip(premium + interest, -cap, cap))


def funding_payments(sizes, oracle_price, rate):
    """Funding each position pays: ``size * P * rate`` (quote units; negative = receives).

    Zero-sum when the sizes sum to zero (every long faces a short).
    """
    return _out(np.asarray(sizes, np.float64) * oracle_price * rate)


# ---------------------------------------------------------------- dYdX v4, integer-exact
QUOTE_ATOMIC_RESOLUTION = -6  # USDC: one quote quantum = 1e-6


@dataclass(frozen=True)
class DydxPerpetual:
    """A dYdX v4 perpetual with its oracle price, for the integer-exact functions.

    Attributes
    ----------
    atomic_resolution : int
        One base quantum is ``10**atomic_resolution`` coins (BTC: -10 on mainnet, -8 in tests).
    price : int
        Oracle ``MarketPrice.Price``; the price is ``price * 10**price_exponent`` quote per coin.
    price_exponent : int
    initial_margin_ppm : int
        Liquidity tier ``InitialMarginPpm``.
    maintenance_fraction_ppm : int
        Liquidity tier ``MaintenanceFractionPpm``.
    """

    atomic_resolution: int
    price: int
    price_exponent: int
    initial_margin_ppm: int
    maintenance_fraction_ppm: int


def _trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero (Go's ``big.Int.Quo``)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def dydx_net_notional(perp: DydxPerpetual, quantums: int) -> int:
    """``BaseToQuoteQuantums``: ``quantums * price * 10**(exponent + atomic_resolution + 6)``,
    truncated toward zero (quote quantums, signed)."""
    value = int(quantums) * perp.price
    exponent = perp.price_exponent + perp.atomic_resolution - QUOTE_ATOMIC_RESOLUTION
    if exponent >= 0:
        return value * 10**exponent
    return _trunc_div(value, 10**-exponent)


def _mul_ppm_round_up(value: int, ppm: int) -> int:
    return -((-value * ppm) // 1_000_000)


def dydx_margin_requirements(perp: DydxPerpetual, quantums: int) -> tuple[int, int]:
    """``(IMR, MMR)`` in quote quantums of a position (base IMF, no open-interest scaling):
    ``IMR = ceil(|notional| * IM / 1e6)``, ``MMR = ceil(IMR * MF / 1e6)``."""
    notional = dydx_net_notional(perp, abs(int(quantums)))
    imr = _mul_ppm_round_up(notional, perp.initial_margin_ppm)
    return imr, _mul_ppm_round_up(imr, perp.maintenance_fraction_ppm)


def _risk(quote_balance: int, positions: Sequence[tuple[DydxPerpetual, int]]) -> tuple[int, int]:
    tnc, tmmr = int(quote_balance), 0
    for perp, quantums in positions:
        tnc += dydx_net_notional(perp, quantums)
        tmmr += dydx_margin_requirements(perp, quantums)[1]
    return tnc, tmmr


def _check_delta(size: int, delta: int) -> None:
    if size * delta >= 0 or abs(delta) > abs(size):
        raise ValueError(f"delta {delta} must reduce the position {size} without flipping it")


def dydx_bankruptcy_quote_quantums(quote_balance: int, positions: Sequence[tuple[DydxPerpetual, int]],
                                   index: int, delta_quantums: int) -> int:
    """``GetBankruptcyPriceInQuoteQuantums`` (dYdX v4), exact.

    ``-DNNV - floor(TNC * |DMMR| / TMMR)``, with ``DNNV`` and ``DMMR`` the changes of position
    ``index``'s net notional and maintenance margin when its size changes by ``delta_quantums``
    (Euclidean floor: the result rounds toward +inf, against an insurance payment).

    Parameters
    ----------
    quote_balance : int
        The account's quote balance, quote quantums (1e-6 USDC).
    positions : sequence of (DydxPerpetual, int)
        Every position of the account: its perpetual and signed size in base quantums.
    index : int
        Which position is reduced.
    delta_quantums : int
        Signed change, opposite in sign to the position and not larger.
    """
    perp, size = positions[index]
    _check_delta(int(size), int(delta_quantums))
    tnc, tmmr = _risk(quote_balance, positions)
    new = int(size) + int(delta_quantums)
    dnnv = dydx_net_notional(perp, new) - dydx_net_notional(perp, size)
    dmmr = dydx_margin_requirements(perp, new)[1] - dydx_margin_requirements(perp, size)[1]
    return -dnnv - (tnc * abs(dmmr)) // tmmr


def dydx_fillable_price(quote_balance: int, positions: Sequence[tuple[DydxPerpetual, int]], index: int,
                        bankruptcy_adjustment_ppm: int = 1_000_000,
                        spread_to_maintenance_margin_ratio_ppm: int = 100_000) -> Fraction:
    """``GetFillablePrice`` (dYdX v4), exact: quote quantums per base quantum, as a fraction.

    ``(PNNV - ABR * SMMR * PMMR) / PS`` with ``ABR = clamp(BA * (1 - TNC / TMMR), 0, 1)``.
    Multiply by ``10**(-6 - atomic_resolution)`` for quote per coin.
    """
    perp, size = positions[index]
    tnc, tmmr = _risk(quote_balance, positions)
    pnnv = dydx_net_notional(perp, size)
    pmmr = dydx_margin_requirements(perp, size)[1]
    abr = min(max((1 - Fraction(tnc, tmmr)) * Fraction(bankruptcy_adjustment_ppm, 1_000_000), Fraction(0)),
              Fraction(1))
    spread = abr * Fraction(pmmr) * Fraction(spread_to_maintenance_margin_ratio_ppm, 1_000_000)
    return (Fraction(pnnv) - spread) / int(size)


def dydx_insurance_fund_delta(quote_received: int, bankruptcy_quote_quantums: int,
                              max_liquidation_fee_ppm: int = 5_000) -> int:
    """``GetLiquidationInsuranceFundDelta`` (dYdX v4), exact, quote quantums.

    ``d = quote_received - bankruptcy_quote``; ``d <= 0`` is returned as is (the fund pays);
    otherwise ``min(floor(|quote_received| * fee_ppm / 1e6), d)`` (``BigIntMulPpm`` rounds down).
    """
    d = int(quote_received) - int(bankruptcy_quote_quantums)
    if d <= 0:
        return d
    return min(abs(int(quote_received)) * max_liquidation_fee_ppm // 1_000_000, d)
