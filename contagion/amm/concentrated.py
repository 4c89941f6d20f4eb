"""Concentrated-liquidity AMM math (Uniswap v3 semantics) in float64 token units.

Units and conventions
---------------------
* ``price`` is the price of token0 in token1 (both in token units); the contracts' ``sqrtPriceX96``
  is ``sqrt(price) * 2**96`` when both tokens have the same decimals. Ticks are integers with
  ``price(tick) = 1.0001 ** tick``.
* Liquidity ``L`` is in ``sqrt(token0 * token1)`` units: an in-range position holds
  ``L (1/sqrt(P) - 1/sqrt(P_upper))`` token0 and ``L (sqrt(P) - sqrt(P_lower))`` token1.
* ``fee`` is the fraction of the input kept by liquidity providers (the contracts' ``feePips/1e6``;
  tiers 0.0001, 0.0005, 0.003, 0.01 with tick spacings 1, 10, 60, 200).
* ``amount_specified > 0`` is an exact input, ``< 0`` an exact output; ``zero_for_one`` sells
  token0 (the price falls). Swap results are pool-side deltas: positive amounts are paid in.

The arithmetic runs in the compiled kernel ``contagion._ext.amm`` (reference:
``contagion._reference.amm``); :mod:`contagion.amm.uniswap_v3` is the integer-exact port.

Examples
--------
>>> from contagion.amm.concentrated import ConcentratedLiquidityPool
>>> pool = ConcentratedLiquidityPool(price=2000.0, fee=0.003)
>>> position, (eth, usdc) = pool.mint_value(1800.0, 2200.0, 1_000_000.0)
>>> out = pool.quote(10.0, "token0")                      # sell 10 token0
>>> 19_000 < out < 20_000
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from contagion import kernels
from contagion._validate import check_scalar
from contagion.errors import AmmError

__all__ = [
    "MIN_TICK",
    "MAX_TICK",
    "TICK_SPACINGS",
    "sqrt_price_at_tick",
    "tick_at_sqrt_price",
    "price_at_tick",
    "tick_at_price",
    "amount0_delta",
    "amount1_delta",
    "next_sqrt_price_from_input",
    "next_sqrt_price_from_output",
    "swap_step",
    "liquidity_for_amounts",
    "Position",
    "ConcentratedLiquidityPool",
]

MIN_TICK = -887272
MAX_TICK = 887272
TICK_SPACINGS = {0.0001: 1, 0.0005: 10, 0.003: 60, 0.01: 200}


def _tick(tick: int, where: str) -> int:
    if isinstance(tick, bool) or not isinstance(tick, (int, np.integer)):
        raise AmmError(f"{where}: tick must be an integer, got {tick!r}")
    if not MIN_TICK <= tick <= MAX_TICK:
        raise AmmError(f"{where}: tick must be in [{MIN_TICK}, {MAX_TICK}], got {tick}")
    return int(tick)


def _positive(where: str, name: str, value) -> float:
    return check_scalar(AmmError, where, name, value, low=0.0, low_open=True)


def sqrt_price_at_tick(tick: int) -> float:
    """``sqrt(1.0001 ** tick)``."""
    return kernels.amm.v3_sqrt_price_at_tick(_tick(tick, "sqrt_price_at_tick"))


def price_at_tick(tick: int) -> float:
    """``1.0001 ** tick``."""
    return sqrt_price_at_tick(tick) ** 2


def tick_at_sqrt_price(sqrt_price: float) -> int:
    """The greatest tick whose sqrt price is ``<= sqrt_price``."""
    s = _positive("tick_at_sqrt_price", "sqrt_price", sqrt_price)
    lo, hi = kernels.amm.v3_sqrt_price_at_tick(MIN_TICK), kernels.amm.v3_sqrt_price_at_tick(MAX_TICK)
    if not lo <= s <= hi:
        raise AmmError(f"tick_at_sqrt_price: sqrt_price must be in [{lo:.6g}, {hi:.6g}], got {sqrt_price!r}")
    return int(kernels.amm.v3_tick_at_sqrt_price(s))


def tick_at_price(price: float) -> int:
    """The greatest tick whose price is ``<= price``."""
    return tick_at_sqrt_price(math.sqrt(_positive("tick_at_price", "price", price)))


def _clipped_tick(price: float) -> int:
    """``tick_at_price``, with prices beyond the tick range clipped to its ends."""
    lo, hi = kernels.amm.v3_sqrt_price_at_tick(MIN_TICK), kernels.amm.v3_sqrt_price_at_tick(MAX_TICK)
    return int(kernels.amm.v3_tick_at_sqrt_price(min(max(math.sqrt(price), lo), hi)))


def amount0_delta(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    """Token0 held by ``liquidity`` between two sqrt prices: ``L (b - a) / (a b)``."""
    a = _positive("amount0_delta", "sqrt_a", sqrt_a)
    b = _positive("amount0_delta", "sqrt_b", sqrt_b)
    L = check_scalar(AmmError, "amount0_delta", "liquidity", liquidity, low=0.0)
    return kernels.amm.v3_amount0_delta(a, b, L)


def amount1_delta(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    """Token1 held by ``liquidity`` between two sqrt prices: ``L |b - a|``."""
    a = _positive("amount1_delta", "sqrt_a", sqrt_a)
    b = _positive("amount1_delta", "sqrt_b", sqrt_b)
    L = check_scalar(AmmError, "amount1_delta", "liquidity", liquidity, low=0.0)
    return kernels.amm.v3_amount1_delta(a, b, L)


def next_sqrt_price_from_input(sqrt_price: float, liquidity: float, amount: float, zero_for_one: bool) -> float:
    """Sqrt price after ``amount`` of input within one range (no fee)."""
    where = "next_sqrt_price_from_input"
    s = _positive(where, "sqrt_price", sqrt_price)
    L = _positive(where, "liquidity", liquidity)
    a = check_scalar(AmmError, where, "amount", amount, low=0.0)
    return kernels.amm.v3_next_sqrt_price_from_input(s, L, a, bool(zero_for_one))


def next_sqrt_price_from_output(sqrt_price: float, liquidity: float, amount: float, zero_for_one: bool) -> float:
    """Sqrt price after taking ``amount`` out within one range; raises if the range cannot provide it."""
    where = "next_sqrt_price_from_output"
    s = _positive(where, "sqrt_price", sqrt_price)
    L = _positive(where, "liquidity", liquidity)
    a = check_scalar(AmmError, where, "amount", amount, low=0.0)
    out = kernels.amm.v3_next_sqrt_price_from_output(s, L, a, bool(zero_for_one))
    if math.isnan(out):
        raise AmmError(f"{where}: the liquidity cannot provide an output of {amount!r}")
    return out


def swap_step(sqrt_current: float, sqrt_target: float, liquidity: float, amount_remaining: float,
              fee: float) -> tuple[float, float, float, float]:
    """One step of a swap inside a range (the contracts' ``computeSwapStep``).

    Returns ``(sqrt_next, amount_in, amount_out, fee_amount)``.
    """
    where = "swap_step"
    check_scalar(AmmError, where, "fee", fee, low=0.0, high=1.0, high_open=True)
    result = kernels.amm.v3_swap_step(_positive(where, "sqrt_current", sqrt_current),
                                      _positive(where, "sqrt_target", sqrt_target),
                                      _positive(where, "liquidity", liquidity),
                                      check_scalar(AmmError, where, "amount_remaining", amount_remaining), fee)
    if math.isnan(result[0]):
        raise AmmError(f"{where}: the liquidity cannot provide an output of {-amount_remaining!r}")
    return result


def liquidity_for_amounts(sqrt_price: float, sqrt_lower: float, sqrt_upper: float, amount0: float,
                          amount1: float) -> float:
    """Largest liquidity a position ``[sqrt_lower, sqrt_upper]`` can mint with these amounts."""
    where = "liquidity_for_amounts"
    s, lo, hi = (_positive(where, n, v) for n, v in (("sqrt_price", sqrt_price), ("sqrt_lower", sqrt_lower),
                                                       ("sqrt_upper", sqrt_upper)))
    if not lo < hi:
        raise AmmError(f"{where}: sqrt_lower must be < sqrt_upper, got {lo!r} >= {hi!r}")
    if s <= lo:
        return amount0 * lo * hi / (hi - lo)
    if s >= hi:
        return amount1 / (hi - lo)
    return min(amount0 * s * hi / (hi - s), amount1 / (s - lo))


@dataclass
class Position:
    """A liquidity position: ticks, liquidity, its owner, and fee growth inside at the last poke."""

    lower: int
    upper: int
    liquidity: float
    owner: str = ""
    growth_inside0: float = 0.0
    growth_inside1: float = 0.0


class ConcentratedLiquidityPool:
    """A Uniswap v3 pool's state and math, without a simulation.

    Parameters
    ----------
    price : float
        Initial price of token0 in token1.
    fee : float
        Fee fraction; the tick spacing defaults from the standard tiers.
    tick_spacing : int, optional
        Ticks positions may use (multiples of it).
    assets : tuple of str
        Names of token0 and token1.

    Token balances are tracked in ``balances`` (what the pool holds: positions' principal plus
    uncollected fees), so every mint, burn and swap conserves tokens.
    """

    def __init__(self, price: float, fee: float = 0.003, tick_spacing: int | None = None,
                 assets: tuple[str, str] = ("token0", "token1")):
        where = "ConcentratedLiquidityPool"
        self.fee = check_scalar(AmmError, where, "fee", fee, low=0.0, high=1.0, high_open=True)
        if tick_spacing is None:
            tick_spacing = TICK_SPACINGS.get(self.fee)
            if tick_spacing is None:
                raise AmmError(f"{where}: tick_spacing is required for a non-standard fee {fee!r} "
                               f"(standard: {sorted(TICK_SPACINGS)})")
        if isinstance(tick_spacing, bool) or not isinstance(tick_spacing, int) or tick_spacing < 1:
            raise AmmError(f"{where}: tick_spacing must be a positive integer, got {tick_spacing!r}")
        if len(assets) != 2 or assets[0] == assets[1]:
            raise AmmError(f"{where}: assets must be two distinct names, got {assets!r}")
        self.tick_spacing = tick_spacing
        self.assets = (str(assets[0]), str(assets[1]))
        self.sqrt_price = math.sqrt(_positive(where, "price", price))
        self.tick = tick_at_sqrt_price(self.sqrt_price)
        self.liquidity = 0.0
        self.growth0 = 0.0
        self.growth1 = 0.0
        self.balances = [0.0, 0.0]
        self.ticks = np.zeros(0, dtype=np.int64)
        self.net = np.zeros(0)
        self.gross = np.zeros(0)
        self.outside0 = np.zeros(0)
        self.outside1 = np.zeros(0)
        self.positions: dict[int, Position] = {}
        self._next_position = 0
        self.last_crossed = 0  # initialized ticks the last swap crossed

    def __repr__(self) -> str:
        return (f"<ConcentratedLiquidityPool {self.assets[0]}/{self.assets[1]} price={self.price():.6g} "
                f"L={self.liquidity:.6g} ticks={self.ticks.size} positions={len(self.positions)}>")

    # -------------------------------------------------------------------------------- state
    def price(self, asset: str | None = None) -> float:
        """Spot price of ``asset`` (default token0) in the other token."""
        p = self.sqrt_price * self.sqrt_price
        return p if asset in (None, self.assets[0]) else 1.0 / p if asset == self.assets[1] else self._bad(asset)

    def _bad(self, asset):
        raise AmmError(f"ConcentratedLiquidityPool: asset must be one of {self.assets}, got {asset!r}")

    def snapshot(self, positions: bool = True) -> tuple:
        """Everything a mint or burn changes (to undo it); with ``positions=False``, only what a
        swap changes (positions and the tick arrays' liquidity are left out: cheaper)."""
        kept = ({k: Position(**vars(p)) for k, p in self.positions.items()}, self._next_position, self.ticks.copy(),
                self.net.copy(), self.gross.copy()) if positions else None
        return (self.sqrt_price, self.tick, self.liquidity, self.growth0, self.growth1, list(self.balances),
                self.outside0.copy(), self.outside1.copy(), kept)

    def restore(self, state: tuple) -> None:
        """Undo everything since ``snapshot`` (the same snapshot can be restored again later)."""
        (self.sqrt_price, self.tick, self.liquidity, self.growth0, self.growth1, balances, outside0,
         outside1, kept) = state
        # copies: swaps, mints and burns update these arrays in place
        self.balances = list(balances)
        self.outside0, self.outside1 = outside0.copy(), outside1.copy()
        if kept is not None:
            positions, self._next_position, ticks, net, gross = kept
            self.ticks, self.net, self.gross = ticks.copy(), net.copy(), gross.copy()
            self.positions = {k: Position(**vars(p)) for k, p in positions.items()}

    # ---------------------------------------------------------------------------- liquidity
    def _check_range(self, lower: int, upper: int, where: str) -> None:
        _tick(lower, where)
        _tick(upper, where)
        if not lower < upper:
            raise AmmError(f"{where}: lower tick must be < upper tick, got {lower} >= {upper}")
        if lower % self.tick_spacing or upper % self.tick_spacing:
            raise AmmError(f"{where}: ticks must be multiples of the tick spacing {self.tick_spacing}, "
                           f"got {lower}, {upper}")

    def _amounts(self, lower: int, upper: int, liquidity: float) -> tuple[float, float]:
        sl = kernels.amm.v3_sqrt_price_at_tick(lower)
        su = kernels.amm.v3_sqrt_price_at_tick(upper)
        if self.tick < lower:
            return kernels.amm.v3_amount0_delta(sl, su, liquidity), 0.0
        if self.tick < upper:
            return (kernels.amm.v3_amount0_delta(self.sqrt_price, su, liquidity),
                    kernels.amm.v3_amount1_delta(sl, self.sqrt_price, liquidity))
        return 0.0, kernels.amm.v3_amount1_delta(sl, su, liquidity)

    def _update_tick(self, tick: int, delta: float, upper: bool) -> None:
        k = int(np.searchsorted(self.ticks, tick))
        if k == self.ticks.size or self.ticks[k] != tick:
            # a new tick: growth "outside" is all the growth so far if the tick is at or below the price
            below = tick <= self.tick
            self.ticks = np.insert(self.ticks, k, tick)
            self.net = np.insert(self.net, k, 0.0)
            self.gross = np.insert(self.gross, k, 0.0)
            self.outside0 = np.insert(self.outside0, k, self.growth0 if below else 0.0)
            self.outside1 = np.insert(self.outside1, k, self.growth1 if below else 0.0)
        self.net[k] += -delta if upper else delta
        self.gross[k] += delta
        # a tick stays initialized while a position uses it: its gross liquidity cannot tell (a
        # small position next to a large one can be below the large one's rounding residue)
        if delta < 0 and not any(tick in (p.lower, p.upper) for p in self.positions.values()):
            for name in ("ticks", "net", "gross", "outside0", "outside1"):
                setattr(self, name, np.delete(getattr(self, name), k))

    def _growth_inside(self, lower: int, upper: int) -> tuple[float, float]:
        kl = int(np.searchsorted(self.ticks, lower))
        ku = int(np.searchsorted(self.ticks, upper))
        out = []
        for growth, outside in ((self.growth0, self.outside0), (self.growth1, self.outside1)):
            below = outside[kl] if self.tick >= lower else growth - outside[kl]
            above = outside[ku] if self.tick < upper else growth - outside[ku]
            out.append(growth - below - above)
        return out[0], out[1]

    def mint(self, lower: int, upper: int, liquidity: float, owner: str = "") -> tuple[int, tuple[float, float]]:
        """Add a position; returns ``(position id, (amount0, amount1))`` deposited."""
        where = "ConcentratedLiquidityPool.mint"
        self._check_range(lower, upper, where)
        liquidity = _positive(where, "liquidity", liquidity)
        amounts = self._amounts(lower, upper, liquidity)
        self._update_tick(lower, liquidity, upper=False)
        self._update_tick(upper, liquidity, upper=True)
        if lower <= self.tick < upper:
            self.liquidity += liquidity
        g0, g1 = self._growth_inside(lower, upper)
        pid = self._next_position
        self._next_position += 1
        self.positions[pid] = Position(lower, upper, liquidity, owner, g0, g1)
        self.balances[0] += amounts[0]
        self.balances[1] += amounts[1]
        return pid, amounts

    def mint_value(self, lower_price: float, upper_price: float, value: float,
                   owner: str = "") -> tuple[int, tuple[float, float]]:
        """Add a position between two prices (rounded to the tick spacing) worth ``value`` token1."""
        where = "ConcentratedLiquidityPool.mint_value"
        lo_p, hi_p = _positive(where, "lower_price", lower_price), _positive(where, "upper_price", upper_price)
        value = _positive(where, "value", value)
        s = self.tick_spacing
        lower = max(MIN_TICK // s * s + s, math.floor(_clipped_tick(lo_p) / s) * s)
        upper = min(MAX_TICK // s * s, math.ceil(_clipped_tick(hi_p) / s) * s)
        if not lower < upper:
            raise AmmError(f"{where}: the range [{lo_p!r}, {hi_p!r}] is empty after rounding to ticks")
        unit0, unit1 = self._amounts(lower, upper, 1.0)
        per_unit = unit0 * self.price() + unit1
        return self.mint(lower, upper, value / per_unit, owner)

    def position_amounts(self, position: int) -> tuple[float, float, float, float]:
        """``(amount0, amount1, fees0, fees1)`` a position would withdraw now."""
        p = self._position(position)
        a0, a1 = self._amounts(p.lower, p.upper, p.liquidity)
        g0, g1 = self._growth_inside(p.lower, p.upper)
        return a0, a1, p.liquidity * (g0 - p.growth_inside0), p.liquidity * (g1 - p.growth_inside1)

    def _position(self, position: int) -> Position:
        try:
            return self.positions[position]
        except KeyError:
            raise AmmError(f"ConcentratedLiquidityPool: no position {position!r}") from None

    def burn(self, position: int) -> tuple[float, float]:
        """Remove a whole position; returns the tokens paid out (principal plus fees)."""
        p = self._position(position)
        a0, a1, f0, f1 = self.position_amounts(position)
        del self.positions[position]
        if p.lower <= self.tick < p.upper:
            # the positions left in range, summed afresh: a subtraction would leave rounding residue
            # (or, next to a much larger position, lose a small one in it)
            self.liquidity = math.fsum(q.liquidity for q in self.positions.values()
                                       if q.lower <= self.tick < q.upper)
        self._update_tick(p.lower, -p.liquidity, upper=False)
        self._update_tick(p.upper, -p.liquidity, upper=True)
        out0 = min(a0 + f0, self.balances[0])
        out1 = min(a1 + f1, self.balances[1])
        self.balances[0] -= out0
        self.balances[1] -= out1
        return out0, out1

    # --------------------------------------------------------------------------------- swaps
    @staticmethod
    def _limits() -> tuple[float, float]:
        """The lowest and highest price limits: just inside the ends of the tick range, as the
        contracts' ``MIN_SQRT_RATIO + 1`` and ``MAX_SQRT_RATIO - 1`` (a swap that reached the end
        itself would cross ``MIN_TICK`` and leave the tick below it)."""
        return (math.nextafter(kernels.amm.v3_sqrt_price_at_tick(MIN_TICK), math.inf),
                math.nextafter(kernels.amm.v3_sqrt_price_at_tick(MAX_TICK), 0.0))

    def _limit(self, zero_for_one: bool, sqrt_price_limit: float | None) -> float:
        lo, hi = self._limits()
        if sqrt_price_limit is None:
            return lo if zero_for_one else hi
        limit = _positive("ConcentratedLiquidityPool.swap", "sqrt_price_limit", sqrt_price_limit)
        if not lo <= limit <= hi:
            raise AmmError(f"ConcentratedLiquidityPool.swap: sqrt_price_limit must be in [{lo:.6g}, {hi:.6g}] "
                           f"(inside the tick range), got {limit!r}")
        if (zero_for_one and not limit < self.sqrt_price) or (not zero_for_one and not limit > self.sqrt_price):
            raise AmmError(f"ConcentratedLiquidityPool.swap: sqrt_price_limit must be "
                           f"{'below' if zero_for_one else 'above'} the current {self.sqrt_price!r}, got {limit!r}")
        return limit

    def _run(self, amount_specified: float, zero_for_one: bool, limit: float):
        """The kernel's swap from the current state, on copies of the fee-growth-outside arrays:
        ``(result, outside0, outside1)``; nothing of the pool changes."""
        outside0, outside1 = self.outside0.copy(), self.outside1.copy()
        result = kernels.amm.v3_swap(self.sqrt_price, self.liquidity, self.tick, self.ticks, self.net,
                                     outside0, outside1, amount_specified, zero_for_one, limit, self.fee,
                                     self.growth0, self.growth1)
        if result[8] == 1:
            raise AmmError(f"ConcentratedLiquidityPool.swap: the pool cannot provide an output of "
                           f"{-amount_specified!r}")
        if result[8]:
            raise AmmError("ConcentratedLiquidityPool.swap: no progress (numerical failure)")
        return result, outside0, outside1

    def swap(self, amount_specified: float, zero_for_one: bool,
             sqrt_price_limit: float | None = None) -> tuple[float, float]:
        """Swap and return ``(amount0, amount1)`` pool-side (+ paid in, - paid out)."""
        where = "ConcentratedLiquidityPool.swap"
        amount = check_scalar(AmmError, where, "amount_specified", amount_specified)
        if amount == 0.0:
            raise AmmError(f"{where}: amount_specified must not be 0")
        limit = self._limit(bool(zero_for_one), sqrt_price_limit)
        (a0, a1, s, L, t, crossed, g0, g1, _), outside0, outside1 = self._run(amount, bool(zero_for_one), limit)
        if -a0 > self.balances[0] * (1 + 1e-12) or -a1 > self.balances[1] * (1 + 1e-12):
            raise AmmError(f"{where}: output exceeds the pool's balance")
        self.sqrt_price, self.liquidity, self.tick, self.growth0, self.growth1 = s, L, int(t), g0, g1
        self.outside0, self.outside1 = outside0, outside1
        self.balances[0] += a0
        self.balances[1] += a1
        self.last_crossed = int(crossed)
        return a0, a1

    def quote(self, amount: float, asset_in: str) -> float:
        """Output of an exact-input swap of ``amount`` of ``asset_in``, without changing the pool.

        Raises :class:`AmmError` if the liquidity runs out before the whole input is used."""
        zfo = asset_in == self.assets[0]
        if not zfo and asset_in != self.assets[1]:
            self._bad(asset_in)
        a = check_scalar(AmmError, "ConcentratedLiquidityPool.quote", "amount", amount, low=0.0)
        if a == 0.0:
            return 0.0
        (a0, a1, *_), _, _ = self._run(a, zfo, self._limit(zfo, None))
        if (a0 if zfo else a1) < a * (1.0 - 1e-12):
            raise AmmError(f"ConcentratedLiquidityPool.quote: the liquidity runs out before {amount!r} "
                           f"{asset_in} is sold")
        return -(a1 if zfo else a0)

    def quote_batch(self, amounts, asset_in: str) -> np.ndarray:
        """Outputs of independent exact-input swaps of each of ``amounts`` (NaN where a swap fails)."""
        zfo = asset_in == self.assets[0]
        if not zfo and asset_in != self.assets[1]:
            self._bad(asset_in)
        amounts = np.ascontiguousarray(amounts, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(amounts)) or np.any(amounts < 0):
            raise AmmError("ConcentratedLiquidityPool.quote_batch: amounts must be finite and >= 0")
        out = np.empty(amounts.size)
        kernels.amm.v3_quote_batch(self.sqrt_price, self.liquidity, self.tick, self.ticks, self.net, amounts,
                                   zfo, self._limit(zfo, None), self.fee, out)
        out[amounts == 0] = 0.0
        return out

    def quote_sequence(self, amounts, asset_in: str) -> np.ndarray:
        """Outputs of consecutive exact-input swaps of ``amounts`` of ``asset_in`` (the state is not
        changed); NaN from the first swap the liquidity cannot fill."""
        zfo = asset_in == self.assets[0]
        if not zfo and asset_in != self.assets[1]:
            self._bad(asset_in)
        amounts = np.ascontiguousarray(amounts, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(amounts)) or np.any(amounts < 0):
            raise AmmError("ConcentratedLiquidityPool.quote_sequence: amounts must be finite and >= 0")
        out = np.full(amounts.size, np.nan)
        s, L, t = self.sqrt_price, self.liquidity, self.tick
        scratch0, scratch1 = np.zeros(self.ticks.size), np.zeros(self.ticks.size)  # fee growth is not needed
        limit = self._limit(zfo, None)
        for k, a in enumerate(amounts):
            if a == 0.0:
                out[k] = 0.0
                continue
            a0, a1, s, L, t, _, _, _, error = kernels.amm.v3_swap(s, L, t, self.ticks, self.net, scratch0, scratch1,
                                                                  float(a), zfo, limit, self.fee)
            if error or (a0 if zfo else a1) < a * (1.0 - 1e-12):
                break
            out[k] = -(a1 if zfo else a0)
        return out

    def swap_exact_in(self, amount: float, asset_in: str) -> float:
        """Swap an exact input of ``asset_in``; returns the output.

        Raises :class:`AmmError` (leaving the pool unchanged) if the liquidity runs out before the
        whole input is used, as a router's exact-input swap would revert.
        """
        zfo = asset_in == self.assets[0]
        if not zfo and asset_in != self.assets[1]:
            self._bad(asset_in)
        amount = _positive("ConcentratedLiquidityPool.swap_exact_in", "amount", amount)
        state = self.snapshot(positions=False)
        a0, a1 = self.swap(amount, zfo)
        used = a0 if zfo else a1
        if used < amount * (1.0 - 1e-12):
            self.restore(state)
            raise AmmError(f"ConcentratedLiquidityPool.swap_exact_in: the liquidity runs out after "
                           f"{used!r} of {amount!r} {asset_in}")
        return -(a1 if zfo else a0)

    def amount_to_price(self, target_price: float) -> tuple[int, float]:
        """The profit-maximizing trade against an outside price (token1 per token0): walk the
        ticks until the marginal output net of fee equals ``target_price``.

        Selling token0 earns ``(1-fee) P`` at the margin, so it goes until
        ``P = target / (1 - fee)``; buying token0 until ``P = target (1 - fee)``.
        Returns ``(side, amount_in)`` with side 0 when token0 goes in, 1 when token1 goes in;
        ``(0, 0.0)`` inside the no-arbitrage band.
        """
        target = _positive("amount_to_price", "target_price", target_price)
        gamma = 1.0 - self.fee
        p = self.price()
        lo, hi = self._limits()  # a target beyond the tick range: as far as the pool goes
        if gamma * p > target:
            limit, zfo = max(math.sqrt(target / gamma), lo), True
        elif p < target * gamma:
            limit, zfo = min(math.sqrt(target * gamma), hi), False
        else:
            return 0, 0.0
        if not (limit < self.sqrt_price if zfo else limit > self.sqrt_price):
            return 0, 0.0  # already at the end of the tick range
        return (0 if zfo else 1), self.input_to_price(zfo, limit)

    def input_to_price(self, zero_for_one: bool, sqrt_price_limit: float) -> float:
        """Input (fee included) that moves the price to ``sqrt_price_limit`` or as far as the
        liquidity goes, without changing the pool."""
        limit = self._limit(bool(zero_for_one), sqrt_price_limit)
        (a0, a1, *_), _, _ = self._run(1e30, bool(zero_for_one), limit)  # "swap to price"
        return a0 if zero_for_one else a1
