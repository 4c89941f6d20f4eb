"""Maker's liquidation and auction math (makerdao/dss), usable without a simulation.

Two layers:

* **Float64, token units** — what the simulator runs: price curves over arrays (compiled kernel
  ``contagion._ext.auctions``; reference ``contagion._reference.auctions``), ``clip.take``,
  keeper incentives, the English-auction bid rules of ``flip``/``flop``, and the amounts of
  ``cat.bite`` and ``dog.bark``. Amounts are token units (DAI, collateral, MKR); prices are DAI
  per unit of collateral; durations are seconds.
* **Integer-exact ports** (functions ending in ``_int``) — the contracts' own fixed-point
  arithmetic on Python integers: WAD = 1e18, RAY = 1e27, RAD = 1e45, every division floored
  as in Solidity, ``rpow`` rounded half-up, reverts raised as :class:`AuctionRevert` with the
  contract's reason string. They reproduce the contracts to the wei.

Parameters are given as in the scenario format, which differs from the contracts' raw values:

==========  ===========================  ======================================================
name        here                         dss
==========  ===========================  ======================================================
``beg``     minimum relative step, 0.03  ``beg = 1.03e18`` (WAD)
``chop``    liquidation penalty, 0.13    ``chop = 1.13e18`` (WAD; RAY ``1.13e27`` in Cat 1.0)
``pad``     lot increase on tick, 0.5    ``pad = 1.5e18`` (WAD)
``chip``    fraction of the tab, 0.001   ``chip = 1e15`` (WAD)
``tip``     DAI                          RAD
``buf``     multiplier, 1.3              RAY
``cusp``    multiplier, 0.4              RAY
``cut``     multiplier per step, 0.99    RAY
==========  ===========================  ======================================================

Price curves (abaci.sol), with ``top`` the auction's starting price and ``dur`` the seconds since
it started (contract timestamps are whole seconds):

* linear (``LinearDecrease``): ``top (tau - dur) / tau`` while ``dur < tau``, then 0;
* stairstep (``StairstepExponentialDecrease``): ``top cut^floor(dur / step)``;
* exponential (``ExponentialDecrease``): ``top cut^dur``.

Examples
--------
>>> from contagion import auctions
>>> round(auctions.stairstep_price(2600.0, 180, cut=0.99, step=90), 9)   # ETH-A 2021: top 1.3 x 2000
2548.26
>>> auctions.stairstep_price_int(2600 * auctions.RAY, 180, cut=99 * 10**25, step=90) == 254826 * 10**25
True
>>> auctions.take(tab=110.0, lot=40.0, price=5.0, amt=25.0, max_price=5.0, chost=22.0).owe
110.0
>>> auctions.tend_accepted(0.0, 1e-18, tab=50_000.0, beg=0.03)        # a first bid of 1 wei of DAI wins
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from contagion import kernels
from contagion._validate import as_arrays, check_array, check_scalar, is_scalar
from contagion.errors import LiquidationError

__all__ = [
    "WAD", "RAY", "RAD",
    "AuctionRevert",
    "CURVES",
    # float64
    "linear_price", "stairstep_price", "exponential_price", "auction_price", "needs_redo",
    "TakeResult", "take", "incentive", "tend_accepted", "dent_accepted", "min_tend", "max_dent",
    "BiteResult", "bite", "bite_lump", "bark",
    # integer-exact
    "rpow", "rmul", "wmul", "rdiv",
    "linear_price_int", "stairstep_price_int", "exponential_price_int", "needs_redo_int",
    "take_int", "incentive_int", "tend_accepted_int", "dent_accepted_int",
    "bite_int", "bite_lump_int", "bark_int",
]

WAD = 10**18
RAY = 10**27
RAD = 10**45
_UINT256 = 2**256
CURVES = ("linear", "stairstep", "exponential")


class AuctionRevert(LiquidationError):
    """A call the contract would revert, with its reason string in ``reason`` (e.g.
    ``"Clipper/too-expensive"``)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# =============================================================================== float64 curves
def _curve_args(where: str, top, dur):
    shape, (t, d) = as_arrays(LiquidationError, where, ("top", "dur"), top, dur)
    check_array(LiquidationError, where, "top", t, low=0.0)
    check_array(LiquidationError, where, "dur", d, low=0.0)
    return shape, t, d


def _finish(out: np.ndarray, shape, scalar: bool):
    return float(out[0]) if scalar else out.reshape(shape)


def linear_price(top, dur, tau: float):
    """Linear-decrease price: ``top (tau - dur) / tau`` while ``dur < tau``, then 0.

    Parameters
    ----------
    top : float or array_like
        Starting price, DAI per unit of collateral (``>= 0``).
    dur : float or array_like
        Seconds since the start (``>= 0``).
    tau : float
        Seconds until the price reaches 0 (``> 0``).
    """
    where = "linear_price"
    tau = check_scalar(LiquidationError, where, "tau", tau, low=0.0, low_open=True)
    shape, t, d = _curve_args(where, top, dur)
    out = np.empty_like(t)
    kernels.auctions.linear_prices(t, d, tau, out)
    return _finish(out, shape, is_scalar(top, dur))


def stairstep_price(top, dur, cut: float, step: float):
    """Stairstep-exponential price: ``top cut^floor(dur / step)``.

    Parameters
    ----------
    top : float or array_like
        Starting price, DAI per unit of collateral.
    dur : float or array_like
        Seconds since the start.
    cut : float
        Price multiplier per step, in ``[0, 1]`` (ETH-A 2021: 0.99).
    step : float
        Seconds between steps (``> 0``; ETH-A 2021: 90).
    """
    where = "stairstep_price"
    cut = check_scalar(LiquidationError, where, "cut", cut, low=0.0, high=1.0)
    step = check_scalar(LiquidationError, where, "step", step, low=0.0, low_open=True)
    shape, t, d = _curve_args(where, top, dur)
    out = np.empty_like(t)
    kernels.auctions.stairstep_prices(t, d, cut, step, out)
    return _finish(out, shape, is_scalar(top, dur))


def exponential_price(top, dur, cut: float):
    """Exponential-decrease price: ``top cut^dur`` (``cut`` is the multiplier per second, in [0, 1])."""
    where = "exponential_price"
    cut = check_scalar(LiquidationError, where, "cut", cut, low=0.0, high=1.0)
    shape, t, d = _curve_args(where, top, dur)
    out = np.empty_like(t)
    kernels.auctions.exponential_prices(t, d, cut, out)
    return _finish(out, shape, is_scalar(top, dur))


def auction_price(top, dur, calc: str, *, tau: float | None = None, cut: float | None = None,
                  step: float | None = None):
    """Price of the curve ``calc`` (``"linear"``, ``"stairstep"`` or ``"exponential"``) with its
    parameters (``tau``; ``cut`` and ``step``; ``cut``)."""
    if calc == "linear":
        if tau is None:
            raise LiquidationError("auction_price: the linear curve needs tau")
        return linear_price(top, dur, tau)
    if calc == "stairstep":
        if cut is None or step is None:
            raise LiquidationError("auction_price: the stairstep curve needs cut and step")
        return stairstep_price(top, dur, cut, step)
    if calc == "exponential":
        if cut is None:
            raise LiquidationError("auction_price: the exponential curve needs cut")
        return exponential_price(top, dur, cut)
    raise LiquidationError(f"auction_price: calc must be one of {', '.join(CURVES)}, got {calc!r}")


def needs_redo(top, price, dur, tail: float, cusp: float):
    """``clip.status``'s ``done``: True where ``dur > tail`` or ``price / top < cusp``.

    Parameters
    ----------
    top, price : float or array_like
        Starting and current prices (``top > 0``), DAI per unit of collateral.
    dur : float or array_like
        Seconds since the start or last reset.
    tail : float
        Seconds after which the auction must be reset.
    cusp : float
        Fraction of ``top`` below which it must be reset.
    """
    where = "needs_redo"
    tail = check_scalar(LiquidationError, where, "tail", tail, low=0.0)
    cusp = check_scalar(LiquidationError, where, "cusp", cusp, low=0.0)
    shape, (t, p, d) = as_arrays(LiquidationError, where, ("top", "price", "dur"), top, price, dur)
    check_array(LiquidationError, where, "top", t, low=0.0, low_open=True)
    check_array(LiquidationError, where, "price", p, low=0.0)
    check_array(LiquidationError, where, "dur", d, low=0.0)
    out = np.empty(t.size, dtype=np.uint8)
    kernels.auctions.redo_flags(t, p, d, tail, cusp, out)
    flags = out.astype(bool)
    return bool(flags[0]) if is_scalar(top, price, dur) else flags.reshape(shape)


# ============================================================================ float64 clip.take
class TakeResult(NamedTuple):
    """Outcome of a ``clip.take`` (token units).

    ``owe`` DAI paid to the vow; ``slice`` collateral sent to the buyer; ``tab`` and ``lot`` what
    the auction has left; ``finished`` whether it is removed (``lot == 0`` or ``tab == 0``);
    ``returned`` collateral sent back to the vault owner (the rest of the lot once the tab is
    covered); ``digs`` DAI released from the liquidation limits (``dog.digs``): ``owe``, or the
    whole tab before the take when the lot is sold out (an uncovered tab is dropped)."""

    owe: float
    slice: float
    tab: float
    lot: float
    finished: bool
    returned: float
    digs: float


def take(tab: float, lot: float, price: float, amt: float, max_price: float, chost: float) -> TakeResult:
    """Buy up to ``amt`` collateral at ``price`` from a Dutch auction (``clip.take``).

    Parameters
    ----------
    tab : float
        DAI the auction still has to raise (``> 0``).
    lot : float
        Collateral left for sale (``> 0``).
    price : float
        Current price (the curve's value now), DAI per unit of collateral.
    amt : float
        Most collateral the buyer takes.
    max_price : float
        Highest price the buyer accepts (reverts ``Clipper/too-expensive`` below ``price``).
    chost : float
        ``dust * (1 + chop)``, DAI: a partial take may not leave a tab below it; it is lowered to
        leave exactly ``chost``, and with ``tab <= chost`` only the whole lot can be bought
        (else ``Clipper/no-partial-purchase``).

    Raises
    ------
    AuctionRevert
        With the contract's reason.
    """
    where = "take"
    tab = check_scalar(LiquidationError, where, "tab", tab, low=0.0, low_open=True)
    lot = check_scalar(LiquidationError, where, "lot", lot, low=0.0, low_open=True)
    price = check_scalar(LiquidationError, where, "price", price, low=0.0)
    amt = check_scalar(LiquidationError, where, "amt", amt, low=0.0, allow_inf=True)
    max_price = check_scalar(LiquidationError, where, "max_price", max_price, low=0.0, allow_inf=True)
    chost = check_scalar(LiquidationError, where, "chost", chost, low=0.0)
    if not max_price >= price:
        raise AuctionRevert("Clipper/too-expensive")
    slice_ = min(lot, amt)
    owe = slice_ * price
    if owe > tab:
        owe = tab
        slice_ = owe / price
    elif owe < tab and slice_ < lot and tab - owe < chost:
        if not tab > chost:
            raise AuctionRevert("Clipper/no-partial-purchase")
        if price == 0.0:
            raise AuctionRevert("division by zero")
        owe = tab - chost
        slice_ = owe / price
    slice_ = min(slice_, lot)
    tab_after = tab - owe
    lot_after = lot - slice_
    if lot_after <= 0.0:
        lot_after = 0.0
    sold_out = lot_after == 0.0
    covered = tab_after <= 0.0
    if covered:
        tab_after = 0.0
    returned = lot_after if (covered and not sold_out) else 0.0
    digs = tab if sold_out else owe
    return TakeResult(owe, slice_, tab_after, lot_after, sold_out or covered, returned, digs)


def incentive(tip: float, chip: float, tab: float) -> float:
    """Keeper reward on a kick or redo, DAI: ``tip + chip * tab`` (minted by ``vat.suck``)."""
    return float(tip) + float(chip) * float(tab)


# ========================================================================= English auctions
def tend_accepted(prev_bid: float, bid: float, tab: float, beg: float) -> bool:
    """Whether ``flip.tend`` accepts ``bid`` DAI over ``prev_bid``: ``prev_bid < bid <= tab`` and
    ``bid >= (1 + beg) prev_bid`` unless ``bid == tab``. A first bid (``prev_bid == 0``) needs only
    ``bid > 0`` — one wei of DAI wins an auction nobody else bids on."""
    return bool(bid <= tab and bid > prev_bid and (bid >= (1.0 + beg) * prev_bid or bid == tab))


def dent_accepted(prev_lot: float, lot: float, beg: float) -> bool:
    """Whether ``flip.dent`` / ``flop.dent`` accepts a lot of ``lot`` over ``prev_lot``:
    ``lot < prev_lot`` and ``(1 + beg) lot <= prev_lot``."""
    return bool(lot < prev_lot and (1.0 + beg) * lot <= prev_lot)


def min_tend(prev_bid: float, tab: float, beg: float, first_bid: float = 1e-18) -> float:
    """Smallest bid ``flip.tend`` accepts next: ``first_bid`` (default one wei of DAI) when there is
    no bid yet, else ``min(tab, (1 + beg) prev_bid)``."""
    if prev_bid <= 0.0:
        return min(first_bid, tab)
    return min(tab, (1.0 + beg) * prev_bid)


def max_dent(prev_lot: float, beg: float) -> float:
    """Largest lot ``dent`` accepts next: ``prev_lot / (1 + beg)``."""
    return prev_lot / (1.0 + beg)


# ============================================================================ bite and bark
class BiteResult(NamedTuple):
    """Amounts of a liquidation: ``ink`` collateral and ``art`` normalized debt taken from the
    vault, ``due = art * rate`` DAI of debt moved to the vow, and ``tab`` DAI the auction must
    raise (``due`` with the penalty)."""

    ink: float
    art: float
    due: float
    tab: float


def _unsafe(ink: float, art: float, rate: float, price: float, mat: float) -> bool:
    """``ink * spot < art * rate`` with ``spot = price / mat``, evaluated as "the vault's liquidation
    price ``art rate / (ink / mat)`` is above ``price``" (the simulator's sorted index compares the
    same quantity)."""
    if art <= 0.0:
        return False
    if ink <= 0.0:
        return price > 0.0
    return art * rate / (ink * (1.0 / mat)) > price


def bite(ink: float, art: float, rate: float, price: float, mat: float, chop: float, *, dust: float,
         dunk: float, box: float, litter: float) -> BiteResult:
    """``cat.bite`` of Liquidations 1.2 (``dunk``/``box``).

    ``room = box - litter`` (reverts ``Cat/liquidation-limit-hit`` unless ``litter < box`` and
    ``room >= dust``); ``art' = min(art, min(dunk, room) / rate / (1 + chop))``;
    ``ink' = min(ink, ink art' / art)``; ``tab = art' rate (1 + chop)``. May leave a dusty vault.

    Parameters are token units (``ink`` collateral, ``art`` normalized debt, ``dust``, ``dunk``,
    ``box``, ``litter`` DAI), ``rate`` the debt per unit of ``art``, ``price`` the collateral's
    oracle price in DAI and ``mat`` the liquidation ratio.
    """
    if not (price > 0.0 and _unsafe(ink, art, rate, price, mat)):
        raise AuctionRevert("Cat/not-unsafe")
    room = box - litter
    if not (litter < box and room >= dust):
        raise AuctionRevert("Cat/liquidation-limit-hit")
    dart = min(art, min(dunk, room) / rate / (1.0 + chop))
    dink = ink if dart == art else min(ink, ink * dart / art)
    if not (dart > 0.0 and dink > 0.0):
        raise AuctionRevert("Cat/null-auction")
    due = dart * rate
    return BiteResult(dink, dart, due, due * (1.0 + chop))


def bite_lump(ink: float, art: float, rate: float, price: float, mat: float, chop: float, *,
              lump: float) -> BiteResult:
    """``cat.bite`` of the Cat deployed at Maker's launch (the Black Thursday one): at most ``lump``
    collateral per bite, ``lot = min(ink, lump)``, ``art' = min(art, lot art / ink)``,
    ``tab = art' rate (1 + chop)``; no liquidation limit and no dust rule."""
    if not (price > 0.0 and _unsafe(ink, art, rate, price, mat)):
        raise AuctionRevert("Cat/not-unsafe")
    lot = min(ink, lump)
    dart = art if lot == ink else min(art, lot * art / ink)
    due = dart * rate
    return BiteResult(lot, dart, due, due * (1.0 + chop))


def bark(ink: float, art: float, rate: float, price: float, mat: float, chop: float, *, dust: float,
         Hole: float, Dirt: float, hole: float, dirt: float) -> BiteResult:  # noqa: N803 - dss names
    """``dog.bark`` of Liquidations 2.0.

    Reverts ``Dog/not-unsafe`` for a safe vault and ``Dog/liquidation-limit-hit`` unless
    ``Hole > Dirt`` and ``hole > dirt``. ``room = min(Hole - Dirt, hole - dirt)``;
    ``art' = min(art, room / rate / (1 + chop))``; a partial liquidation that would leave less than
    ``dust`` of debt takes the whole vault instead, and one whose own debt is below ``dust``
    reverts ``Dog/dusty-auction-from-partial-liquidation``. ``ink' = ink art' / art`` (reverts
    ``Dog/null-auction`` if 0); ``due = art' rate``; ``tab = due (1 + chop)``.
    """
    if not (price > 0.0 and _unsafe(ink, art, rate, price, mat)):
        raise AuctionRevert("Dog/not-unsafe")
    if not (Hole > Dirt and hole > dirt):
        raise AuctionRevert("Dog/liquidation-limit-hit")
    room = min(Hole - Dirt, hole - dirt)
    dart = min(art, room / rate / (1.0 + chop))
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art
        elif dart * rate < dust:
            raise AuctionRevert("Dog/dusty-auction-from-partial-liquidation")
    dink = ink if dart == art else ink * dart / art
    if not dink > 0.0:
        raise AuctionRevert("Dog/null-auction")
    due = dart * rate
    return BiteResult(dink, dart, due, due * (1.0 + chop))


# ============================================================================ integer-exact
def _u256(x: int) -> int:
    if x >= _UINT256:
        raise AuctionRevert("arithmetic overflow")
    return x


def rmul(x: int, y: int) -> int:
    """``x * y / RAY`` (floor; reverts on uint256 overflow)."""
    return _u256(x * y) // RAY


def wmul(x: int, y: int) -> int:
    """``x * y / WAD`` (floor; reverts on uint256 overflow)."""
    return _u256(x * y) // WAD


def rdiv(x: int, y: int) -> int:
    """``x * RAY / y`` (floor)."""
    if y == 0:
        raise AuctionRevert("division by zero")
    return _u256(x * RAY) // y


def rpow(x: int, n: int, base: int = RAY) -> int:
    """``x^n`` in fixed point ``base``, as abaci.sol's assembly: square-and-multiply where every
    product is rounded half-up, ``(a b + base / 2) / base``; ``n == 0`` gives ``base``, ``x == 0``
    gives 0; reverts if a squared ``x`` is ``>= 2^128`` or a product overflows uint256."""
    if n == 0:
        return base
    if x == 0:
        return 0
    z = base if n % 2 == 0 else x
    half = base // 2
    n //= 2
    while n:
        xx = x * x
        if x >> 128:
            raise AuctionRevert("rpow: overflow")
        x = _u256(xx + half) // base
        if n % 2:
            z = _u256(_u256(z * x) + half) // base
        n //= 2
    return z


def linear_price_int(top: int, dur: int, tau: int) -> int:
    """``LinearDecrease.price``: 0 if ``dur >= tau``, else ``rmul(top, (tau - dur) RAY / tau)`` (RAY)."""
    if dur >= tau:
        return 0
    return rmul(top, (tau - dur) * RAY // tau)


def stairstep_price_int(top: int, dur: int, cut: int, step: int) -> int:
    """``StairstepExponentialDecrease.price``: ``rmul(top, rpow(cut, dur / step, RAY))`` (RAY)."""
    return rmul(top, rpow(cut, dur // step, RAY))


def exponential_price_int(top: int, dur: int, cut: int) -> int:
    """``ExponentialDecrease.price``: ``rmul(top, rpow(cut, dur, RAY))`` (RAY)."""
    return rmul(top, rpow(cut, dur, RAY))


def needs_redo_int(top: int, price: int, dur: int, tail: int, cusp: int) -> bool:
    """``clip.status``'s ``done``: ``dur > tail || rdiv(price, top) < cusp`` (``cusp`` in RAY)."""
    return dur > tail or rdiv(price, top) < cusp


def take_int(tab: int, lot: int, price: int, amt: int, max_price: int, chost: int) -> dict[str, int | bool]:
    """``clip.take`` on integers: ``tab``, ``chost`` in RAD; ``lot``, ``amt`` in WAD; prices in RAY.

    Returns ``owe`` (RAD), ``slice`` (WAD), ``tabAfter``, ``lotAfter``, ``auctionEnds``,
    ``collateralReturnedToUsr`` and ``dogDigs`` (the names of the shared vectors); raises
    :class:`AuctionRevert` (``Clipper/too-expensive``, ``Clipper/no-partial-purchase``).
    """
    if not max_price >= price:
        raise AuctionRevert("Clipper/too-expensive")
    slice_ = min(lot, amt)
    owe = _u256(slice_ * price)
    if owe > tab:
        owe = tab
        slice_ = owe // price
    elif owe < tab and slice_ < lot:
        if tab - owe < chost:
            if not tab > chost:
                raise AuctionRevert("Clipper/no-partial-purchase")
            owe = tab - chost
            if price == 0:
                raise AuctionRevert("division by zero")
            slice_ = owe // price
    tab_after = tab - owe
    lot_after = lot - slice_
    ends = lot_after == 0 or tab_after == 0
    returned = lot_after if (lot_after != 0 and tab_after == 0) else 0
    return {"owe": owe, "slice": slice_, "tabAfter": tab_after, "lotAfter": lot_after, "auctionEnds": ends,
            "collateralReturnedToUsr": returned, "dogDigs": tab_after + owe if lot_after == 0 else owe}


def incentive_int(tip: int, chip: int, tab: int) -> int:
    """``coin = tip + wmul(tab, chip)`` (``tip``, ``tab`` RAD; ``chip`` WAD)."""
    return tip + wmul(tab, chip)


def tend_accepted_int(prev_bid: int, bid: int, tab: int, beg: int) -> bool:
    """``flip.tend``'s checks on the bid (RAD; ``beg`` WAD, e.g. ``1.03e18``)."""
    return bid <= tab and bid > prev_bid and (bid * WAD >= beg * prev_bid or bid == tab)


def dent_accepted_int(prev_lot: int, lot: int, beg: int) -> bool:
    """``flip.dent`` / ``flop.dent``'s checks on the lot (WAD; ``beg`` WAD)."""
    return lot < prev_lot and beg * lot <= prev_lot * WAD


def bite_int(ink: int, art: int, rate: int, spot: int, dust: int, dunk: int, box: int, litter: int,
             chop: int) -> tuple[int, int, int]:
    """``cat.bite`` of Liquidations 1.2: returns ``(dink, dart, tab)`` (WAD, WAD, RAD). ``rate``,
    ``spot`` RAY; ``dust``, ``dunk``, ``box``, ``litter`` RAD; ``chop`` WAD."""
    if not (spot > 0 and ink * spot < art * rate):
        raise AuctionRevert("Cat/not-unsafe")
    if not (litter < box and box - litter >= dust):
        raise AuctionRevert("Cat/liquidation-limit-hit")
    room = box - litter
    dart = min(art, _u256(min(dunk, room) * WAD) // rate // chop)
    dink = min(ink, _u256(ink * dart) // art)
    if not (dart > 0 and dink > 0):
        raise AuctionRevert("Cat/null-auction")
    tab = _u256(_u256(dart * rate) * chop) // WAD
    return dink, dart, tab


def bite_lump_int(ink: int, art: int, rate: int, spot: int, lump: int, chop: int) -> tuple[int, int, int]:
    """``cat.bite`` at Maker's launch (git f632302): returns ``(lot, art, tab)``; ``lump`` WAD,
    ``chop`` RAY (``1.13e27``), ``tab = rmul(art rate, chop)`` RAD."""
    if not ink * spot < art * rate:
        raise AuctionRevert("Cat/not-unsafe")
    lot = min(ink, lump)
    dart = min(art, _u256(lot * art) // ink)
    tab = rmul(_u256(dart * rate), chop)
    return lot, dart, tab


def bark_int(ink: int, art: int, rate: int, spot: int, dust: int, chop: int, Hole: int, Dirt: int,  # noqa: N803
             hole: int, dirt: int) -> tuple[int, int, int, int]:
    """``dog.bark``: returns ``(dink, dart, due, tab)`` (WAD, WAD, RAD, RAD); ``rate``, ``spot``
    RAY; ``dust``, ``Hole``, ``Dirt``, ``hole``, ``dirt`` RAD; ``chop`` WAD."""
    if not (spot > 0 and ink * spot < art * rate):
        raise AuctionRevert("Dog/not-unsafe")
    if not (Hole > Dirt and hole > dirt):
        raise AuctionRevert("Dog/liquidation-limit-hit")
    room = min(Hole - Dirt, hole - dirt)
    dart = min(art, _u256(room * WAD) // rate // chop)
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art
        elif not dart * rate >= dust:
            raise AuctionRevert("Dog/dusty-auction-from-partial-liquidation")
    dink = _u256(ink * dart) // art
    if not dink > 0:
        raise AuctionRevert("Dog/null-auction")
    due = _u256(dart * rate)
    tab = _u256(due * chop) // WAD
    return dink, dart, due, tab
