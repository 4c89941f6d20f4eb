"""Concentrated liquidity in float64: the ``v3_*`` kernels and :mod:`contagion.amm.concentrated`.

Expected numbers come from the reference vectors (``../shared/vectors/uniswap_v3.json``, converted
from the contracts' integers to token units), from closed forms evaluated in exact rational or
decimal arithmetic, from the integer-exact port :mod:`contagion.amm.uniswap_v3`, or from
invariants (conservation, monotonicity, round trips, composition of swaps). The compiled kernels
are compared with their reference implementation on seeded random inputs and edge cases.
"""

from __future__ import annotations

import copy
import math
import sys
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contagion._ext import amm as compiled
from contagion._reference import amm as reference
from contagion.amm import concentrated as cl
from contagion.amm import uniswap_v3 as v3
from contagion.amm.concentrated import MAX_TICK, MIN_TICK, TICK_SPACINGS, ConcentratedLiquidityPool
from contagion.errors import AmmError

Q96 = 2**96
Q128 = 2**128
E18 = 10**18
EPS = sys.float_info.epsilon
WEI = 1e-18  # one wei of an 18-decimal token, in token units
PRICE_WEI = 1.0 / Q96  # one wei of sqrtPriceX96, in float sqrt-price units
SEED = 20240611

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def x96(value) -> float:
    """``sqrtPriceX96`` -> float sqrt price (``int / int`` rounds correctly)."""
    return int(value) / Q96


def tokens(wei) -> float:
    """An 18-decimal integer amount -> token units."""
    return int(wei) / E18


def sqrt_ratio_exact(tick: int) -> Decimal:
    """``sqrt(1.0001 ** tick) * 2**96`` to 80 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 80
        return (Decimal("1.0001") ** tick).sqrt() * Q96


def near_boundary(price_x96: int, tick: int) -> bool:
    """Whether ``price_x96`` lies within float resolution of the exact ratio at ``tick``.

    The contract's ratio is rounded up to a whole wei, and the float ``sqrt_price_at_tick``
    carries about ``|tick| ln(1.0001) / 2`` ulps (< 1e-14 relative): within 2 wei or 1e-12
    relative, either side of the boundary is a correct float answer.
    """
    if not MIN_TICK <= tick <= MAX_TICK:
        return False
    exact = sqrt_ratio_exact(tick)
    return abs(Decimal(price_x96) - exact) <= max(Decimal(2), exact * Decimal("1e-12"))


def same(a: float, b: float, rel: float = 1e-12, abs_: float = 0.0) -> bool:
    """Equal within ``rel`` (a few ulps: only the C compiler's contractions may differ), or both NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


def book(positions, tick: int):
    """``(ticks, liquidity_net, active liquidity)`` of positions ``[(lower, upper, L)]`` at ``tick``."""
    net: dict[int, float] = {}
    for lower, upper, liquidity in positions:
        net[lower] = net.get(lower, 0.0) + liquidity
        net[upper] = net.get(upper, 0.0) - liquidity
    ticks = np.array(sorted(net), dtype=np.int64)
    nets = np.array([net[t] for t in ticks.tolist()], dtype=np.float64)
    active = sum(liquidity for lower, upper, liquidity in positions if lower <= tick < upper)
    return ticks, nets, active


def random_positions(rng: np.random.Generator, tick: int, spacing: int, count: int):
    base = tick // spacing
    out = []
    for _ in range(count):
        lower = (base + int(rng.integers(-40, 10))) * spacing
        upper = lower + int(rng.integers(1, 40)) * spacing
        out.append((lower, upper, float(10 ** rng.uniform(-3, 9))))
    return out


def make_pool(positions, price: float = 1.0, fee: float = 0.003, tick_spacing: int | None = None):
    pool = ConcentratedLiquidityPool(price, fee, tick_spacing)
    for lower, upper, liquidity in positions:
        pool.mint(lower, upper, liquidity)
    return pool


def state(pool: ConcentratedLiquidityPool) -> dict:
    """Everything a pool holds, as plain comparable values."""
    return {
        "sqrt_price": pool.sqrt_price, "tick": pool.tick, "liquidity": pool.liquidity,
        "growth": (pool.growth0, pool.growth1), "balances": list(pool.balances),
        "ticks": pool.ticks.tolist(), "net": pool.net.tolist(), "gross": pool.gross.tolist(),
        "outside": (pool.outside0.tolist(), pool.outside1.tolist()),
        "positions": {k: vars(p).copy() for k, p in pool.positions.items()},
        "next": pool._next_position,
    }


def active_liquidity(pool: ConcentratedLiquidityPool) -> float:
    """Liquidity of the positions whose range holds the pool's tick."""
    return sum(p.liquidity for p in pool.positions.values() if p.lower <= pool.tick < p.upper)


def assert_consistent(pool: ConcentratedLiquidityPool) -> None:
    """The tick brackets the price and the active liquidity is that of the positions around it."""
    assert cl.sqrt_price_at_tick(pool.tick) <= pool.sqrt_price <= cl.sqrt_price_at_tick(pool.tick + 1)
    expected = active_liquidity(pool)
    assert pool.liquidity == pytest.approx(expected, rel=1e-9, abs=1e-12 * max(1.0, expected))


def assert_conserves(pool: ConcentratedLiquidityPool) -> None:
    """The pool holds what its positions would withdraw (principal plus uncollected fees)."""
    owed = [0.0, 0.0]
    for pid in pool.positions:
        a0, a1, f0, f1 = pool.position_amounts(pid)
        owed[0] += a0 + f0
        owed[1] += a1 + f1
    for k in (0, 1):
        scale = max(abs(owed[k]), abs(pool.balances[k]), 1e-300)
        assert abs(pool.balances[k] - owed[k]) <= 1e-9 * scale, (k, pool.balances, owed)


def ladder_pool(fee: float = 0.003) -> ConcentratedLiquidityPool:
    """Liquidity only at and below the price: ranges [-1200, -600), [-600, 60), nothing else.

    It holds about 40 token0 worth of room below the price and 3 token1 above it."""
    return make_pool([(-1200, -600, 300.0), (-600, 60, 1000.0)], fee=fee, tick_spacing=60)


def price_grain(pool: ConcentratedLiquidityPool, *prices: float) -> tuple[float, float]:
    """What one ulp of the sqrt price is worth, in token0 and token1, at the pool's total liquidity
    and the extreme ``prices``: float amounts are differences of rounded prices, so a swap's
    amounts carry about that much error per step (the contracts' wei-rounded prices do the same
    on a coarser grid)."""
    total = sum(p.liquidity for p in pool.positions.values())
    return total * EPS / min(prices), total * EPS * max(prices)


# --------------------------------------------------------------------------------------------
# 1. parity: compiled kernels vs reference implementation
# --------------------------------------------------------------------------------------------

def test_compiled_module_is_an_extension():
    assert not compiled.__file__.endswith(".py")
    assert reference.__file__.endswith(".py")
    assert (compiled.MIN_TICK, compiled.MAX_TICK) == (reference.MIN_TICK, reference.MAX_TICK) == (MIN_TICK, MAX_TICK)


def test_parity_tick_math():
    rng = np.random.default_rng(SEED)
    ticks = [MIN_TICK, MIN_TICK + 1, -1, 0, 1, MAX_TICK - 1, MAX_TICK]
    ticks += rng.integers(MIN_TICK, MAX_TICK + 1, 2000).tolist()
    for tick in ticks:
        s = compiled.v3_sqrt_price_at_tick(tick)
        assert same(s, reference.v3_sqrt_price_at_tick(tick)), tick
        # on, just below and just above each tick's own price
        for price in (s, np.nextafter(s, 0.0), np.nextafter(s, np.inf), s * (1 + 1e-9)):
            price = float(price)
            assert compiled.v3_tick_at_sqrt_price(price) == reference.v3_tick_at_sqrt_price(price), (tick, price)
    for price in 10 ** rng.uniform(-19.2, 19.2, 2000):
        assert compiled.v3_tick_at_sqrt_price(price) == reference.v3_tick_at_sqrt_price(price)


def test_parity_amount_deltas_and_next_price():
    rng = np.random.default_rng(SEED + 1)
    cases = [(1.0, 1.0, 5.0, 1.0), (1.0, 2.0, 0.0, 0.0), (0.5, 2.0, 1e-300, 1e300)]
    for _ in range(3000):
        a, b = 10 ** rng.uniform(-8, 8, 2)
        cases.append((float(a), float(b), float(10 ** rng.uniform(-6, 12)), float(10 ** rng.uniform(-20, 12))))
    for a, b, liquidity, amount in cases:
        for name in ("v3_amount0_delta", "v3_amount1_delta"):
            assert same(getattr(compiled, name)(a, b, liquidity), getattr(reference, name)(a, b, liquidity))
        for zfo in (True, False):
            for name in ("v3_next_sqrt_price_from_input", "v3_next_sqrt_price_from_output"):
                got = getattr(compiled, name)(a, liquidity, amount, zfo)
                assert same(got, getattr(reference, name)(a, liquidity, amount, zfo)), (name, a, liquidity, amount)
    # outputs the liquidity cannot provide are NaN in both
    assert math.isnan(compiled.v3_next_sqrt_price_from_output(1.0, 10.0, 10.0, True))
    assert math.isnan(reference.v3_next_sqrt_price_from_output(1.0, 10.0, 10.0, True))
    assert math.isnan(compiled.v3_next_sqrt_price_from_output(1.0, 10.0, 10.0, False))
    assert math.isnan(reference.v3_next_sqrt_price_from_output(1.0, 10.0, 10.0, False))


def test_parity_swap_step():
    rng = np.random.default_rng(SEED + 2)
    cases = [(1.0, 1.0, 10.0, 5.0, 0.003), (1.0, 0.9, 10.0, 0.0, 0.003), (1.0, 1.1, 10.0, -0.0, 0.0),
             (1.0, 0.5, 1e-12, 1e12, 0.01), (1.0, 2.0, 1e12, 1e-30, 0.5), (1.0, 0.5, 10.0, -1e6, 0.003)]
    for _ in range(5000):
        current, target = (float(x) for x in 10 ** rng.uniform(-6, 6, 2))
        if rng.random() < 0.2:
            target = current * (1 + float(rng.choice([-1, 1])) * 10 ** rng.uniform(-15, -6))
        liquidity = float(10 ** rng.uniform(-6, 12))
        remaining = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-20, 14))
        fee = float(rng.choice([0.0, 1e-4, 5e-4, 3e-3, 1e-2, 0.3]))
        cases.append((current, target, liquidity, remaining, fee))
    for case in cases:
        got, want = compiled.v3_swap_step(*case), reference.v3_swap_step(*case)
        assert all(same(g, w) for g, w in zip(got, want)), (case, got, want)


def _parity_swap(args: tuple) -> tuple:
    """Run ``v3_swap`` in both implementations on copies of the outside arrays; compare everything."""
    sqrt_price, liquidity, tick, ticks, nets, amount, zfo, limit, fee = args
    o_c = [np.linspace(0.0, 1.0, ticks.size), np.linspace(1.0, 2.0, ticks.size)]
    o_r = [o_c[0].copy(), o_c[1].copy()]
    got = compiled.v3_swap(sqrt_price, liquidity, tick, ticks, nets, o_c[0], o_c[1], amount, zfo, limit, fee,
                           0.25, 0.5)
    want = reference.v3_swap(sqrt_price, liquidity, tick, ticks, nets, o_r[0], o_r[1], amount, zfo, limit, fee,
                             0.25, 0.5)
    assert got[4:6] == want[4:6] and got[8] == want[8], (args, got, want)  # tick, crossed, error
    for g, w in zip(got[:4] + got[6:8], want[:4] + want[6:8]):
        assert same(g, w, rel=1e-9, abs_=1e-300), (args, got, want)
    for k in (0, 1):
        assert all(same(g, w, rel=1e-9) for g, w in zip(o_c[k], o_r[k]))
    return got


def test_parity_swap_random_pools():
    rng = np.random.default_rng(SEED + 3)
    seen = {"crossed_many": 0, "limit": 0, "exact_out": 0, "empty_range": 0, "to_the_end": 0}
    for _ in range(250):
        spacing = int(rng.choice([1, 10, 60, 200]))
        tick = int(rng.integers(-50000, 50000))
        positions = random_positions(rng, tick, spacing, int(rng.integers(1, 30)))
        ticks, nets, active = book(positions, tick)
        s0 = compiled.v3_sqrt_price_at_tick(tick) * (1 + rng.uniform(0, 1e-4))
        fee = float(rng.choice([0.0, 5e-4, 3e-3, 1e-2]))
        for _ in range(6):
            zfo = bool(rng.random() < 0.5)
            amount = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-15, 9))
            if rng.random() < 0.3:
                limit = s0 * (1 - rng.uniform(0, 0.3)) if zfo else s0 * (1 + rng.uniform(0, 0.3))
                seen["limit"] += 1
            else:
                limit = compiled.v3_sqrt_price_at_tick(MIN_TICK if zfo else MAX_TICK)
            got = _parity_swap((s0, active, tick, ticks, nets, amount, zfo, float(limit), fee))
            seen["crossed_many"] += got[5] >= 5
            seen["to_the_end"] += got[4] in (MIN_TICK, MAX_TICK)
            seen["exact_out"] += amount < 0
            seen["empty_range"] += active == 0.0
    assert all(count > 0 for count in seen.values()), seen


def test_parity_swap_edge_cases():
    positions = [(-600, 600, 1000.0), (-1200, -600, 0.1), (600, 1800, 1e9), (-60, 0, 1e-6)]
    ticks, nets, active = book(positions, 0)
    lo, hi = compiled.v3_sqrt_price_at_tick(MIN_TICK), compiled.v3_sqrt_price_at_tick(MAX_TICK)
    cases = []
    for amount in (1e-30, 1e-12, 1.0, 1e3, 1e9, 1e30, -1e-30, -1.0, -1e3, -1e12):
        for zfo in (True, False):
            cases.append((1.0, active, 0, ticks, nets, amount, zfo, lo if zfo else hi, 0.003))
    # no initialized tick at all, no liquidity at all, price limits right next to the price
    empty = np.zeros(0, dtype=np.int64), np.zeros(0)
    cases.append((1.0, 0.0, 0, *empty, 5.0, True, lo, 0.003))
    cases.append((1.0, 10.0, 0, *empty, 5.0, False, hi, 0.003))
    cases.append((1.0, active, 0, ticks, nets, 5.0, True, float(np.nextafter(1.0, 0.0)), 0.003))
    cases.append((1.0, active, 0, ticks, nets, -5.0, False, float(np.nextafter(1.0, 2.0)), 0.003))
    for case in cases:
        _parity_swap(case)


def test_parity_quote_batch():
    rng = np.random.default_rng(SEED + 4)
    for _ in range(40):
        tick = int(rng.integers(-1000, 1000))
        positions = random_positions(rng, tick, 60, int(rng.integers(1, 10)))
        ticks, nets, active = book(positions, tick)
        s0 = compiled.v3_sqrt_price_at_tick(tick)
        amounts = np.concatenate([[0.0, 1e-18, 1e30], 10 ** rng.uniform(-9, 9, 20)])
        for zfo in (True, False):
            limit = compiled.v3_sqrt_price_at_tick(MIN_TICK if zfo else MAX_TICK)
            out_c, out_r = np.empty(amounts.size), np.empty(amounts.size)
            compiled.v3_quote_batch(s0, active, tick, ticks, nets, amounts, zfo, limit, 0.003, out_c)
            reference.v3_quote_batch(s0, active, tick, ticks, nets, amounts, zfo, limit, 0.003, out_r)
            assert all(same(a, b, rel=1e-9) for a, b in zip(out_c, out_r))
            assert math.isnan(out_c[2])  # 1e30 is more than any of these pools holds


# --------------------------------------------------------------------------------------------
# 2. the shared vectors through the float wrappers
# --------------------------------------------------------------------------------------------

def test_tickmath_vectors_in_float(vectors):
    data = vectors("uniswap_v3")["tickmath"]
    exact = 0
    for v in data:
        expected = v["expected"]
        if v["fn"] == "getSqrtRatioAtTick":
            if str(expected).startswith("revert"):
                with pytest.raises(AmmError, match="tick must be in"):
                    cl.sqrt_price_at_tick(v["tick"])
                continue
            # the contract rounds up to a whole wei: <= 2.3e-10 relative at MIN_SQRT_RATIO
            assert cl.sqrt_price_at_tick(v["tick"]) == pytest.approx(x96(expected), rel=1e-9), v
            continue
        price = int(v["sqrtPriceX96"])
        reverts = str(expected).startswith("revert")
        tick = v3.get_tick_at_sqrt_ratio(min(max(price, v3.MIN_SQRT_RATIO), v3.MAX_SQRT_RATIO - 1))
        allowed = set() if reverts else {expected}
        lower_edge, upper_edge = near_boundary(price, tick), near_boundary(price, tick + 1)
        if lower_edge:
            allowed.add(tick - 1)
            allowed.add(tick)
        if upper_edge:
            allowed.add(tick + 1)
            allowed.add(tick)
        try:
            got = cl.tick_at_sqrt_price(x96(price))
        except AmmError as err:
            # only the ends of the tick range may be rejected, and only where float cannot tell
            assert reverts or (lower_edge and tick == MIN_TICK) or (upper_edge and tick + 1 == MAX_TICK), (v, err)
            assert "sqrt_price must be in" in str(err)
            continue
        assert got in allowed, (v, got)
        exact += not (lower_edge or upper_edge)
    assert exact >= 10


def _reverts_in_float(call) -> bool:
    """A contract revert in float: an AmmError, or a sqrt price outside the contracts' range."""
    try:
        result = call()
    except AmmError:
        return True
    return not cl.sqrt_price_at_tick(MIN_TICK) <= result <= cl.sqrt_price_at_tick(MAX_TICK)


def test_sqrtpricemath_vectors_in_float(vectors):
    data = vectors("uniswap_v3")["sqrtpricemath"]
    checked = set()
    for v in data:
        fn, args, expected = v["fn"], v["args"], v["expected"]
        if fn.startswith("getNextSqrtPrice"):
            price, liquidity, amount, zfo = x96(args[0]), tokens(args[1]), tokens(args[2]), args[3]
            wrapper = cl.next_sqrt_price_from_input if fn.endswith("Input") else cl.next_sqrt_price_from_output
            call = lambda: wrapper(price, liquidity, amount, zfo)  # noqa: E731
            if str(expected).startswith("revert"):
                assert _reverts_in_float(call), v
                continue
            # the contract rounds the new price to a whole wei of sqrtPriceX96
            assert abs(call() - x96(expected)) <= 1e-9 * x96(expected) + PRICE_WEI, v
        else:
            a, b, liquidity = x96(args[0]), x96(args[1]), tokens(args[2])
            if fn == "getAmount0Delta":
                got = cl.amount0_delta(a, b, liquidity)
                # converting each price to float moves it by half an ulp; amount0 = L (1/a - 1/b)
                # moves by L eps / (2 a) per price
                conditioning = liquidity * EPS * (1 / a + 1 / b)
            else:
                got = cl.amount1_delta(a, b, liquidity)
                conditioning = liquidity * EPS * (a + b)
            # the contract rounds the amount to a whole wei (up or down as asked)
            assert abs(got - tokens(expected)) <= 1e-9 * tokens(expected) + WEI + conditioning, v
        checked.add(fn)
    assert checked == {"getNextSqrtPriceFromInput", "getNextSqrtPriceFromOutput", "getAmount0Delta",
                       "getAmount1Delta"}


def _price_grain(liquidity: float, sqrt_price: float, token: int) -> float:
    """What one wei of sqrtPriceX96 at ``sqrt_price`` is worth in token0 or token1 (token units)."""
    return liquidity * PRICE_WEI / sqrt_price**2 if token == 0 else liquidity * PRICE_WEI


def test_swapmath_vectors_in_float(vectors):
    data = vectors("uniswap_v3")["swapmath"]
    assert len(data) > 0
    for v in data:
        a, e = v["args"], v["expected"]
        current, target = x96(a["sqrtRatioCurrentX96"]), x96(a["sqrtRatioTargetX96"])
        liquidity, remaining = tokens(a["liquidity"]), tokens(a["amountRemaining"])
        got = cl.swap_step(current, target, liquidity, remaining, a["feePips"] / 1e6)
        nxt, amount_in, amount_out, fee = (x96(e["sqrtRatioNextX96"]), tokens(e["amountIn"]),
                                           tokens(e["amountOut"]), tokens(e["feeAmount"]))
        assert abs(got[0] - nxt) <= 1e-9 * nxt + PRICE_WEI, v
        zfo = current >= target
        token_in, token_out = (0, 1) if zfo else (1, 0)
        # amounts are rounded to whole wei; when the step stops short of its target the contract
        # also rounds the new price to a whole wei, which moves the amounts by that wei's worth
        short = int(e["sqrtRatioNextX96"]) != int(a["sqrtRatioTargetX96"])
        low = min(current, nxt)
        grain_in = _price_grain(liquidity, low, token_in) if short else 0.0
        grain_out = _price_grain(liquidity, low, token_out) if short else 0.0
        assert abs(got[1] - amount_in) <= 1e-9 * amount_in + WEI + grain_in, v
        assert abs(got[2] - amount_out) <= 1e-9 * amount_out + WEI + grain_out, v
        assert abs(got[3] - fee) <= 1e-9 * fee + WEI + grain_in, v


def _vector_pool(spec: dict) -> ConcentratedLiquidityPool:
    pool = ConcentratedLiquidityPool(x96(spec["sqrtPriceX96Start"]) ** 2, spec["fee"] / 1e6, spec["tickSpacing"])
    for p in spec["positions"]:
        pool.mint(p["tickLower"], p["tickUpper"], tokens(p["liquidity"]))
    return pool


def test_multi_tick_vectors_in_float(vectors):
    data = vectors("uniswap_v3")["multi_tick_computed"]
    assert len(data) > 0
    for case in data:
        spec, swap, e = case["pool"], case["swap"], case["expected"]
        pool = _vector_pool(spec)
        # mints round each amount up to a wei
        assert pool.balances[0] == pytest.approx(tokens(spec["mintedBalance0"]), rel=1e-9, abs=10 * WEI)
        assert pool.balances[1] == pytest.approx(tokens(spec["mintedBalance1"]), rel=1e-9, abs=10 * WEI)
        assert pool.tick == spec["tickStart"]
        assert pool.liquidity == pytest.approx(tokens(spec["liquidityStart"]), rel=1e-12)
        before = list(pool.balances)

        a0, a1 = pool.swap(tokens(swap["amountSpecified"]), swap["zeroForOne"], x96(swap["sqrtPriceLimitX96"]))
        # each of the contract's steps rounds its amounts to whole wei
        slack = 2 * e["steps"] * WEI
        assert abs(a0 - tokens(e["amount0"])) <= 1e-9 * abs(tokens(e["amount0"])) + slack, case
        assert abs(a1 - tokens(e["amount1"])) <= 1e-9 * abs(tokens(e["amount1"])) + slack, case
        assert abs(pool.sqrt_price - x96(e["sqrtPriceX96After"])) <= 1e-9 * pool.sqrt_price + PRICE_WEI, case
        after = int(e["sqrtPriceX96After"])
        allowed = {e["tickAfter"]}
        if near_boundary(after, e["tickAfter"]):
            allowed.add(e["tickAfter"] - 1)
        if near_boundary(after, e["tickAfter"] + 1):
            allowed.add(e["tickAfter"] + 1)
        assert pool.tick in allowed, case
        assert pool.liquidity == pytest.approx(tokens(e["liquidityAfter"]), rel=1e-9, abs=0.0), case
        # growth is fee / liquidity, with the fee rounded up to a wei and the growth floored in
        # Q128 at each step: a wei per step over the smallest liquidity a step can have
        least = min(tokens(p["liquidity"]) for p in spec["positions"])
        for got, key in ((pool.growth0, "feeGrowthGlobal0X128"), (pool.growth1, "feeGrowthGlobal1X128")):
            want = int(e[key]) / Q128
            assert abs(got - want) <= 1e-9 * want + 2 * e["steps"] * WEI / least, case
        assert pool.last_crossed == len(e["initializedTicksCrossed_with_liquidityBefore"]), case
        assert pool.balances == pytest.approx([before[0] + a0, before[1] + a1], rel=1e-12, abs=1e-15)
        assert_conserves(pool)


# --------------------------------------------------------------------------------------------
# closed forms and the integer port
# --------------------------------------------------------------------------------------------

def test_sqrt_price_at_tick_matches_exact_decimal():
    rng = np.random.default_rng(SEED + 5)
    for tick in [MIN_TICK, -1, 0, 1, MAX_TICK] + rng.integers(MIN_TICK, MAX_TICK, 300).tolist():
        exact = sqrt_ratio_exact(tick) / Q96
        assert cl.sqrt_price_at_tick(tick) == pytest.approx(float(exact), rel=1e-13)
        assert cl.price_at_tick(tick) == pytest.approx(float(exact * exact), rel=1e-13)


def test_mint_amounts_match_exact_closed_forms():
    pool = ConcentratedLiquidityPool(2000.0, 0.003)
    s = Fraction(pool.sqrt_price)
    tick = pool.tick
    liquidity = 12345.678
    for lower, upper, where in ((tick // 60 * 60 - 600, tick // 60 * 60 + 600, "in"),
                                (tick // 60 * 60 + 120, tick // 60 * 60 + 1200, "above"),
                                (tick // 60 * 60 - 1200, tick // 60 * 60 - 60, "below")):
        sl, su = Fraction(cl.sqrt_price_at_tick(lower)), Fraction(cl.sqrt_price_at_tick(upper))
        _, (a0, a1) = pool.mint(lower, upper, liquidity)
        L = Fraction(liquidity)
        if where == "in":
            want = (L * (su - s) / (s * su), L * (s - sl))
        elif where == "above":  # the range is above the price: token0 only
            want = (L * (su - sl) / (sl * su), Fraction(0))
        else:
            want = (Fraction(0), L * (su - sl))
        assert (a0, a1) == (pytest.approx(float(want[0]), rel=1e-14), pytest.approx(float(want[1]), rel=1e-14))


def test_single_range_swap_matches_exact_closed_form():
    # inside one range: token0 in dx -> 1/s' = 1/s + dx (1 - fee) / L, token1 out L (s - s')
    pool = make_pool([(-6000, 6000, 5e6)], price=1.3)
    s, L, gamma = Fraction(pool.sqrt_price), Fraction(5e6), 1 - Fraction(0.003)
    grain0, grain1 = price_grain(pool, 0.5, 2.0)
    for amount in (1e-9, 0.5, 1234.5, 2e5):
        trial = copy.deepcopy(pool)
        a0, a1 = trial.swap(amount, True)
        s_new = 1 / (1 / s + Fraction(amount) * gamma / L)
        assert a0 == amount
        assert -a1 == pytest.approx(float(L * (s - s_new)), rel=1e-12, abs=2 * grain1)
        assert trial.sqrt_price == pytest.approx(float(s_new), rel=1e-14)
        assert trial.growth0 == pytest.approx(float(Fraction(amount) * (1 - gamma) / L), rel=1e-9)
        # token1 in: s' = s + dy (1 - fee) / L, token0 out L (1/s - 1/s')
        trial = copy.deepcopy(pool)
        a0, a1 = trial.swap(amount, False)
        s_new = s + Fraction(amount) * gamma / L
        assert -a0 == pytest.approx(float(L * (1 / s - 1 / s_new)), rel=1e-12, abs=2 * grain0)


def _exact_port_pool(positions, tick_spacing=60):
    pool = v3.Pool(3000, tick_spacing, v3.Q96)
    for lower, upper, liquidity in positions:
        pool.mint(lower, upper, int(liquidity * E18))
    return pool


def test_swaps_agree_with_the_integer_port():
    """Random swaps across many ticks: float pool vs the contract port scaled by 1e18."""
    rng = np.random.default_rng(SEED + 6)
    for _ in range(12):
        positions = [(lower, lower + 60 * int(rng.integers(1, 30)), float(rng.integers(1, 10**6)))
                     for lower in (60 * rng.integers(-40, 10, 8)).tolist()]
        exact, pool = _exact_port_pool(positions), make_pool(positions)
        for _ in range(6):
            zfo, exact_in = bool(rng.random() < 0.5), bool(rng.random() < 0.6)
            amount = float(rng.integers(1, 10**5))
            limit_tick = exact.tick - 3000 if zfo else exact.tick + 3000
            limit = v3.get_sqrt_ratio_at_tick(limit_tick)
            want = exact.swap(zfo, int(amount * E18) if exact_in else -int(amount * E18), limit)
            got = pool.swap(amount if exact_in else -amount, zfo, x96(limit))
            steps = exact.last_swap.steps
            for g, w in zip(got, want):
                assert abs(g - tokens(w)) <= 1e-9 * abs(tokens(w)) + 4 * steps * WEI
            assert pool.sqrt_price == pytest.approx(x96(exact.sqrt_price_x96), rel=1e-12)
            assert pool.liquidity == pytest.approx(tokens(exact.liquidity), rel=1e-12, abs=1e-12)
            assert pool.tick == exact.tick or near_boundary(exact.sqrt_price_x96, exact.tick + 1) \
                or near_boundary(exact.sqrt_price_x96, exact.tick)
            assert pool.last_crossed == len(exact.last_swap.ticks_crossed)


# --------------------------------------------------------------------------------------------
# 3. properties
# --------------------------------------------------------------------------------------------

@st.composite
def pools(draw):
    """A pool with one to six random positions around a random price (some may leave gaps)."""
    fee = draw(st.sampled_from([0.0005, 0.003, 0.01]))
    spacing = TICK_SPACINGS[fee]
    tick0 = draw(st.integers(-20000, 20000))
    price = math.exp(tick0 * math.log(1.0001) + draw(st.floats(0.0, 1e-4)))
    base = math.floor(tick0 / spacing)
    positions = []
    for _ in range(draw(st.integers(1, 6))):
        lower = (base + draw(st.integers(-30, 3))) * spacing
        upper = lower + draw(st.integers(1, 40)) * spacing
        positions.append((lower, upper, draw(st.floats(1e-2, 1e7))))
    return make_pool(positions, price=price, fee=fee)


amounts = st.floats(1e-9, 1e6)


@PROPERTY
@given(pools(), amounts, st.booleans())
def test_output_never_exceeds_what_the_pool_holds(pool, amount, zfo):
    asset = pool.assets[0 if zfo else 1]
    out_index = 1 if zfo else 0
    holds = sum(pool._amounts(p.lower, p.upper, p.liquidity)[out_index] for p in pool.positions.values())
    try:
        out = pool.quote(amount, asset)
    except AmmError:
        return
    assert 0.0 <= out <= pool.balances[out_index] * (1 + 1e-12)
    assert out <= holds * (1 + 1e-12)
    # an exact output beyond the pool's holdings cannot be taken
    trial = copy.deepcopy(pool)
    want = -(pool.balances[out_index] * 1.01 + 1e-9)
    try:
        a0, a1 = trial.swap(want, zfo)
    except AmmError:
        return
    assert -(a1 if zfo else a0) <= pool.balances[out_index] * (1 + 1e-12)


@PROPERTY
@given(pools(), st.lists(amounts, min_size=2, max_size=8), st.booleans())
def test_output_is_monotone_in_the_input(pool, sizes, zfo):
    sizes = np.array(sorted(set(sizes)))
    out = pool.quote_batch(sizes, pool.assets[0 if zfo else 1])
    ok = out[~np.isnan(out)]
    # once a swap fails (the liquidity runs out) every larger one fails too
    assert np.all(np.isnan(out[ok.size:]))
    assert np.all(np.diff(ok) >= -1e-12 * ok[1:])


@PROPERTY
@given(pools(), st.floats(1e-6, 1e6), st.booleans())
def test_swap_across_ticks_equals_the_sum_of_swaps_within_each_range(pool, amount, zfo):
    whole = copy.deepcopy(pool)
    try:
        a0, a1 = whole.swap(amount, zfo)
    except AmmError:
        return
    assume((a0 if zfo else a1) == amount)  # the whole input was used
    grain0, grain1 = price_grain(pool, pool.sqrt_price, whole.sqrt_price)
    out_grain = (grain1 if zfo else grain0) * 4 * (whole.last_crossed + 2)
    # fees absorb the grain of the input side, per step, over the liquidity of that step
    growth_grain = (grain0 if zfo else grain1) * 4 * (whole.last_crossed + 2) / min(
        p.liquidity for p in pool.positions.values())
    # the same input, split at every initialized tick the whole swap crossed
    pieces = copy.deepcopy(pool)
    end = whole.sqrt_price
    crossed = [int(t) for t in pool.ticks.tolist()
               if (end <= cl.sqrt_price_at_tick(int(t)) < pool.sqrt_price if zfo
                   else pool.sqrt_price < cl.sqrt_price_at_tick(int(t)) <= end)]
    crossed.sort(reverse=zfo)
    paid = got = 0.0
    for t in crossed:
        if cl.sqrt_price_at_tick(t) == pieces.sqrt_price:
            continue
        step_in = pieces.input_to_price(zfo, cl.sqrt_price_at_tick(t))
        if step_in == 0.0:
            continue  # an empty range: the next swap jumps through it
        if paid + step_in >= amount:
            break
        p0, p1 = pieces.swap(step_in, zfo)
        paid += p0 if zfo else p1
        got += -(p1 if zfo else p0)
    if amount - paid > 0.0:
        p0, p1 = pieces.swap(amount - paid, zfo)
        got += -(p1 if zfo else p0)
    assert got == pytest.approx(-(a1 if zfo else a0), rel=1e-9, abs=out_grain)
    assert pieces.sqrt_price == pytest.approx(whole.sqrt_price, rel=1e-9)
    assert pieces.liquidity == pytest.approx(whole.liquidity, rel=1e-9)
    assert (pieces.growth0, pieces.growth1) == (pytest.approx(whole.growth0, rel=1e-9, abs=growth_grain),
                                                pytest.approx(whole.growth1, rel=1e-9, abs=growth_grain))


@PROPERTY
@given(pools(), st.floats(1e-6, 1e6), st.booleans())
def test_exact_output_inverts_exact_input(pool, amount, zfo):
    forward = copy.deepcopy(pool)
    try:
        a0, a1 = forward.swap(amount, zfo)
    except AmmError:
        return
    assume((a0 if zfo else a1) == amount)
    received = -(a1 if zfo else a0)
    assume(received > 0.0)
    backward = copy.deepcopy(pool)
    b0, b1 = backward.swap(-received, zfo)
    assert -(b1 if zfo else b0) == pytest.approx(received, rel=1e-12)
    # what exact output asks in is what exact input paid, up to the grain of the prices
    grain0, grain1 = price_grain(pool, pool.sqrt_price, forward.sqrt_price)
    in_grain = (grain0 if zfo else grain1) * 4 * (forward.last_crossed + 2) / (1 - pool.fee)
    assert (b0 if zfo else b1) == pytest.approx(amount, rel=1e-9, abs=in_grain)
    assert backward.sqrt_price == pytest.approx(forward.sqrt_price, rel=1e-9)


@PROPERTY
@given(st.integers(-3, 3), st.booleans(), st.booleans(), st.floats(1.0, 1e7), st.floats(1.0, 1e7))
def test_swap_ending_on_an_initialized_tick_crosses_it_consistently(ulps, zfo, exact_in, big, small):
    """Amounts within a few ulps of what reaches the next initialized tick: the pool either stops
    short of it or crosses it, never leaves the price past it without applying its liquidity."""
    tick = -60 if zfo else 60
    pool = make_pool([(-600, 600, big), (-1200, -60, small) if zfo else (60, 1200, small)])
    s_tick = cl.sqrt_price_at_tick(tick)
    token0 = cl.amount0_delta(s_tick, 1.0, pool.liquidity)  # what the range holds up to the tick
    token1 = cl.amount1_delta(s_tick, 1.0, pool.liquidity)
    if exact_in:
        amount = (token0 if zfo else token1) / (1 - pool.fee)
    else:
        amount = -(token1 if zfo else token0)
    amount = amount * (1 + ulps * EPS)
    pool.swap(amount, zfo)
    assert_consistent(pool)
    assert pool.sqrt_price == pytest.approx(s_tick, rel=1e-12)


@PROPERTY
@given(st.floats(-1e-13, 1e-13), st.sampled_from([0.0005, 0.003, 0.01]))
def test_consuming_exactly_the_liquidity_does_not_jump_to_min_tick(perturbation, fee):
    pool = ladder_pool(fee)
    capacity = pool.input_to_price(True, cl.sqrt_price_at_tick(MIN_TICK + 1))
    out = pool.swap_exact_in(capacity * (1 + perturbation), "token0")
    # everything the positions held in token1 went out, and the price stopped where they end
    assert out == pytest.approx(300.0 * (cl.sqrt_price_at_tick(-600) - cl.sqrt_price_at_tick(-1200))
                                + 1000.0 * (1.0 - cl.sqrt_price_at_tick(-600)), rel=1e-9)
    assert pool.sqrt_price == pytest.approx(cl.sqrt_price_at_tick(-1200), rel=1e-9)
    assert pool.tick in (-1201, -1200)
    assert pool.balances[1] == pytest.approx(0.0, abs=1e-9 * out)
    assert_consistent(pool)


# --------------------------------------------------------------------------------------------
# 4. the wrappers
# --------------------------------------------------------------------------------------------

def test_validation_messages():
    with pytest.raises(AmmError, match=r"fee must be < 1"):
        ConcentratedLiquidityPool(1.0, fee=1.0)
    with pytest.raises(AmmError, match=r"tick_spacing is required for a non-standard fee 0.002"):
        ConcentratedLiquidityPool(1.0, fee=0.002)
    with pytest.raises(AmmError, match=r"tick_spacing must be a positive integer, got 0"):
        ConcentratedLiquidityPool(1.0, fee=0.003, tick_spacing=0)
    with pytest.raises(AmmError, match=r"assets must be two distinct names"):
        ConcentratedLiquidityPool(1.0, assets=("ETH", "ETH"))
    with pytest.raises(AmmError, match=r"price must be > 0, got -1"):
        ConcentratedLiquidityPool(-1.0)
    pool = ConcentratedLiquidityPool(1.0, 0.003, assets=("ETH", "USDC"))
    with pytest.raises(AmmError, match=r"mint: lower tick must be < upper tick, got 60 >= 60"):
        pool.mint(60, 60, 1.0)
    with pytest.raises(AmmError, match=r"multiples of the tick spacing 60, got -61, 60"):
        pool.mint(-61, 60, 1.0)
    with pytest.raises(AmmError, match=r"tick must be in \[-887272, 887272\], got 887280"):
        pool.mint(0, 887280, 1.0)
    with pytest.raises(AmmError, match=r"tick must be an integer, got 1.5"):
        pool.mint(1.5, 60, 1.0)
    with pytest.raises(AmmError, match=r"liquidity must be > 0, got 0"):
        pool.mint(-60, 60, 0.0)
    with pytest.raises(AmmError, match=r"mint_value: the range \[1.0, 1.0\] is empty"):
        pool.mint_value(1.0, 1.0, 100.0)
    with pytest.raises(AmmError, match=r"value must be > 0"):
        pool.mint_value(0.5, 2.0, 0.0)
    with pytest.raises(AmmError, match=r"no position 7"):
        pool.burn(7)
    with pytest.raises(AmmError, match=r"asset must be one of \('ETH', 'USDC'\), got 'DAI'"):
        pool.quote(1.0, "DAI")
    with pytest.raises(AmmError, match=r"asset must be one of"):
        pool.price("DAI")
    with pytest.raises(AmmError, match=r"quote: amount must be >= 0, got -1"):
        pool.quote(-1.0, "ETH")
    with pytest.raises(AmmError, match=r"quote_batch: amounts must be finite and >= 0"):
        pool.quote_batch([1.0, np.nan], "ETH")
    with pytest.raises(AmmError, match=r"quote_sequence: amounts must be finite and >= 0"):
        pool.quote_sequence([1.0, -1.0], "ETH")
    with pytest.raises(AmmError, match=r"amount_specified must not be 0"):
        pool.swap(0.0, True)
    with pytest.raises(AmmError, match=r"swap_exact_in: amount must be > 0, got -5"):
        pool.swap_exact_in(-5.0, "ETH")
    with pytest.raises(AmmError, match=r"sqrt_price_limit must be below the current 1.0, got 1.5"):
        pool.swap(1.0, True, sqrt_price_limit=1.5)
    with pytest.raises(AmmError, match=r"sqrt_price_limit must be above the current 1.0, got 0.5"):
        pool.swap(1.0, False, sqrt_price_limit=0.5)
    with pytest.raises(AmmError, match=r"sqrt_price_limit must be in \[5.42\d*e-20, 1.84\d*e\+19\] \(inside the "
                                      r"tick range\), got 1e-25"):
        pool.swap(1.0, True, sqrt_price_limit=1e-25)
    with pytest.raises(AmmError, match=r"sqrt_price_limit must be in .* got 1e\+25"):
        pool.input_to_price(False, 1e25)
    with pytest.raises(AmmError, match=r"target_price must be > 0"):
        pool.amount_to_price(0.0)
    with pytest.raises(AmmError, match=r"tick_at_sqrt_price: sqrt_price must be in"):
        cl.tick_at_sqrt_price(1e30)
    with pytest.raises(AmmError, match=r"the liquidity cannot provide an output of 20"):
        cl.next_sqrt_price_from_output(1.0, 10.0, 20.0, True)
    with pytest.raises(AmmError, match=r"sqrt_lower must be < sqrt_upper"):
        cl.liquidity_for_amounts(1.0, 2.0, 1.0, 1.0, 1.0)
    with pytest.raises(AmmError, match=r"amount0_delta: liquidity must be >= 0"):
        cl.amount0_delta(1.0, 2.0, -1.0)


def test_a_refused_swap_changes_nothing():
    pool = ladder_pool()
    pool.swap(5.0, True)  # some fee growth, so that crossings change the fee-growth-outside arrays
    pool.balances[1] *= 0.5  # the pool holds less token1 than its positions would pay out
    before = state(pool)
    with pytest.raises(AmmError, match=r"swap: output exceeds the pool's balance"):
        pool.swap(-1e4, True)  # takes every position's token1, crossing both ticks below
    assert state(pool) == before


def test_exact_output_beyond_the_liquidity_takes_what_there_is():
    # as the contracts: an exact output larger than the liquidity delivers what the ranges hold
    # and the price runs on to the limit
    pool = ladder_pool()
    held = pool.balances[1]
    a0, a1 = pool.swap(-1e4, True)
    assert -a1 == pytest.approx(held, rel=1e-12)
    assert pool.tick == MIN_TICK and pool.liquidity == 0.0
    assert pool.last_crossed == 2


def test_mint_burn_swap_conserve_tokens():
    rng = np.random.default_rng(SEED + 7)
    pool = ConcentratedLiquidityPool(2000.0, 0.003, assets=("ETH", "USDC"))
    pool.mint_value(1000.0, 4000.0, 5e6)
    for _ in range(120):
        op = rng.random()
        if op < 0.35:
            lo = float(2000 * rng.uniform(0.5, 1.2))
            pool.mint_value(lo, lo * rng.uniform(1.01, 2.0), float(10 ** rng.uniform(2, 6)), owner="lp")
        elif op < 0.5 and len(pool.positions) > 1:
            pool.burn(int(rng.choice(list(pool.positions))))
        else:
            asset = str(rng.choice(pool.assets))
            amount = float(10 ** rng.uniform(-3, 2)) * (1.0 if asset == "ETH" else 2000.0)
            try:
                pool.swap_exact_in(amount, asset)
            except AmmError:
                continue
        assert_conserves(pool)
        assert_consistent(pool)
    assert pool.growth0 > 0 and pool.growth1 > 0
    total = list(pool.balances)
    for pid in list(pool.positions):
        pool.burn(pid)
    assert pool.ticks.size == 0 and pool.liquidity == 0.0
    assert abs(pool.balances[0]) <= 1e-9 * total[0]
    assert abs(pool.balances[1]) <= 1e-9 * total[1]


def test_fees_accrue_to_the_positions_in_range():
    pool = make_pool([(-600, 600, 1000.0), (-1200, 1200, 3000.0), (1200, 2400, 500.0)])
    pool.swap(10.0, True)
    fees = [pool.position_amounts(pid)[2] for pid in sorted(pool.positions)]
    # pro rata to liquidity among the ranges the swap traded through; nothing outside them
    assert fees[0] + fees[1] == pytest.approx(10.0 * 0.003, rel=1e-12)
    assert fees[1] == pytest.approx(3 * fees[0], rel=1e-12)
    assert fees[2] == 0.0


def test_snapshot_restore_round_trip_is_exact():
    pool = ladder_pool()
    pool.mint(-120, 120, 55.5, owner="x")
    pool.swap(3.0, True)
    snap = pool.snapshot()
    before = state(pool)
    for _ in range(2):  # restoring the same snapshot twice gives the same state twice
        pool.swap(7.0, False)
        pid, _ = pool.mint(-60, 600, 20.0)
        pool.burn(0)
        pool.swap(2.0, True)
        pool.restore(snap)
        assert state(pool) == before
    cheap = pool.snapshot(positions=False)
    assert cheap[-1] is None
    for _ in range(2):
        pool.swap(50.0, True)
        pool.swap(20.0, False)
        pool.restore(cheap)
        assert state(pool) == before


def test_quote_matches_a_swap_and_changes_nothing():
    pool = ladder_pool()
    before = state(pool)
    for amount, asset in ((1e-6, "token0"), (3.0, "token0"), (1.5, "token1"), (0.0, "token1")):
        quoted = pool.quote(amount, asset)
        assert state(pool) == before
        if amount == 0.0:
            assert quoted == 0.0
            continue
        trial = copy.deepcopy(pool)
        assert trial.swap_exact_in(amount, asset) == quoted
    with pytest.raises(AmmError, match=r"quote: the liquidity runs out before 1000000.0 token0 is sold"):
        pool.quote(1e6, "token0")


def test_quote_batch_matches_quotes():
    pool = ladder_pool()
    sizes = [0.0, 1e-9, 1.0, 2.5, 35.0, 1e6]
    for asset in pool.assets:
        got = pool.quote_batch(sizes, asset)
        for size, value in zip(sizes, got):
            try:
                want = pool.quote(size, asset)
            except AmmError:
                assert math.isnan(value)
                continue
            assert value == pytest.approx(want, rel=1e-12)
    assert math.isnan(pool.quote_batch([1e6], "token0")[0])


def test_quote_sequence_equals_consecutive_swaps_on_a_copy():
    pool = ladder_pool()
    before = state(pool)
    sizes = [0.5, 0.0, 1.0, 1.7, 1e6, 0.1]
    for asset in pool.assets:
        got = pool.quote_sequence(sizes, asset)
        assert state(pool) == before
        trial, want, failed = copy.deepcopy(pool), [], False
        for size in sizes:
            if failed:
                want.append(math.nan)
            elif size == 0.0:
                want.append(0.0)
            else:
                try:
                    want.append(trial.swap_exact_in(size, asset))
                except AmmError:
                    failed = True
                    want.append(math.nan)
        assert got == pytest.approx(np.array(want), rel=1e-12, nan_ok=True)
    # 1e6 is more than the ladder holds, so it and everything after it fail; token1 in runs out
    # at its fourth (3.2 token1 with the fee is more than the 3 of room above the price)
    seq = pool.quote_sequence(sizes, "token0")
    assert np.isnan(seq[4:]).all() and not np.isnan(seq[:4]).any()
    seq = pool.quote_sequence(sizes, "token1")
    assert np.isnan(seq[3:]).all() and not np.isnan(seq[:3]).any()


@pytest.mark.parametrize("target_factor", [0.97, 0.996, 1.004, 1.05])
def test_amount_to_price_moves_the_marginal_price_net_of_fee_to_the_target(target_factor):
    pool = make_pool([(-6000, 6000, 1e5), (-600, 600, 4e5), (-60, 120, 1e6)], price=1.0)
    target = pool.price() * target_factor
    side, amount = pool.amount_to_price(target)
    assert side == (0 if target_factor < 1 else 1)
    assert amount > 0
    pool.swap_exact_in(amount, pool.assets[side])
    gamma = 1 - pool.fee
    marginal = gamma * pool.price() if side == 0 else pool.price() / gamma
    assert marginal == pytest.approx(target, rel=1e-9)


def test_amount_to_price_inside_the_fee_band_is_zero():
    pool = make_pool([(-600, 600, 1e5)], price=1.0)
    for factor in (1.0, 0.9975, 1.0025):
        assert pool.amount_to_price(factor) == (0, 0.0)


def test_input_to_price_matches_exact_closed_form():
    pool = make_pool([(-6000, 6000, 4e5)], price=1.0)
    L, gamma, s = Fraction(4e5), 1 - Fraction(0.003), Fraction(1)
    for limit in (0.999, 0.9, 0.75):
        want = L * (1 / Fraction(limit) - 1 / s) / gamma
        assert pool.input_to_price(True, limit) == pytest.approx(float(want), rel=1e-12)
    for limit in (1.001, 1.2):
        want = L * (Fraction(limit) - s) / gamma
        assert pool.input_to_price(False, limit) == pytest.approx(float(want), rel=1e-12)


def test_amount_to_price_beyond_the_liquidity_sells_everything_without_jumping():
    pool = ladder_pool()
    side, amount = pool.amount_to_price(1e-6)  # far below where the positions end
    assert side == 0
    out = pool.swap_exact_in(amount, "token0")
    assert pool.sqrt_price == pytest.approx(cl.sqrt_price_at_tick(-1200), rel=1e-9)
    assert pool.tick in (-1201, -1200)
    assert pool.balances[1] == pytest.approx(0.0, abs=1e-9 * out)


def test_mint_value_deposits_the_value_in_the_rounded_range():
    pool = ConcentratedLiquidityPool(2000.0, 0.003)
    pid, (a0, a1) = pool.mint_value(1800.0, 2200.0, 1e6)
    p = pool.positions[pid]
    assert a0 * pool.price() + a1 == pytest.approx(1e6, rel=1e-12)
    assert p.lower % 60 == 0 and p.upper % 60 == 0
    assert cl.price_at_tick(p.lower) <= 1800.0 < cl.price_at_tick(p.lower + 60)
    assert cl.price_at_tick(p.upper - 60) < 2200.0 <= cl.price_at_tick(p.upper)
    # ranges wholly above (below) the price hold only token0 (token1), worth the value
    _, (b0, b1) = pool.mint_value(2500.0, 3000.0, 1e5)
    assert b1 == 0.0 and b0 * pool.price() == pytest.approx(1e5, rel=1e-12)
    _, (c0, c1) = pool.mint_value(1000.0, 1500.0, 1e5)
    assert c0 == 0.0 and c1 == pytest.approx(1e5, rel=1e-12)
    # huge ranges are clipped to the usable ticks
    pid, _ = pool.mint_value(1e-300, 1e300, 10.0)
    assert (pool.positions[pid].lower, pool.positions[pid].upper) == (-887220, 887220)


def test_liquidity_for_amounts_is_the_largest_mintable():
    s, lo, hi = 1.0, cl.sqrt_price_at_tick(-600), cl.sqrt_price_at_tick(600)
    L = cl.liquidity_for_amounts(s, lo, hi, 10.0, 7.0)
    need0, need1 = cl.amount0_delta(s, hi, L), cl.amount1_delta(lo, s, L)
    assert need0 <= 10.0 * (1 + 1e-12) and need1 <= 7.0 * (1 + 1e-12)
    assert max(need0 / 10.0, need1 / 7.0) == pytest.approx(1.0, rel=1e-12)


# --------------------------------------------------------------------------------------------
# 5. edge cases the simulator depends on
# --------------------------------------------------------------------------------------------

def test_exact_input_beyond_the_liquidity_raises_and_leaves_the_pool_unchanged():
    pool = ladder_pool()
    pool.swap(2.0, False)  # fee growth on both sides
    pool.swap(4.0, True)
    before = state(pool)
    with pytest.raises(AmmError, match=r"swap_exact_in: the liquidity runs out after .* of 1000000.0 token0"):
        pool.swap_exact_in(1e6, "token0")
    assert state(pool) == before
    with pytest.raises(AmmError, match="liquidity runs out"):
        pool.quote(1e6, "token0")
    assert state(pool) == before
    # a raw swap does what the contract does: it uses what it can and the price runs to the end
    pool.swap(1e6, True)
    assert pool.tick == MIN_TICK and pool.liquidity == 0.0


def test_exact_output_of_everything_stops_at_the_last_tick():
    pool = ladder_pool()
    held = pool.balances[1]
    a0, a1 = pool.swap(-held, True)
    assert -a1 == pytest.approx(held, rel=1e-12)
    assert pool.sqrt_price == pytest.approx(cl.sqrt_price_at_tick(-1200), rel=1e-9)
    assert pool.tick in (-1201, -1200) and pool.liquidity == 0.0
    assert_conserves(pool)


def test_liquidity_residue_at_a_crossing_is_zeroed():
    # in float, 0.1 + 0.2 - 0.2 - 0.1 != 0 (and 0.3 + 0.6 - 0.6 - 0.3 < 0): the crossings of the
    # last positions leave such residue unless it is recognised
    assert 0.1 + 0.2 - 0.2 - 0.1 > 0.0
    assert 0.3 + 0.6 - 0.6 - 0.3 < 0.0
    for small, big in ((0.1, 0.2), (0.3, 0.6)):
        pool = make_pool([(-600, 600, small), (-120, 600, big)])
        pool.swap(1e3, True)  # far through both lower ticks
        assert pool.liquidity == 0.0
        pool.swap(1e3, False, sqrt_price_limit=1.0)  # back up through them, to where it started
        assert pool.tick == 0 and pool.liquidity == small + big
        trial = make_pool([(-600, 600, small), (-120, 600, big)])
        trial.swap(1e6, False)  # through the upper tick they share
        assert trial.liquidity == 0.0


def test_residue_of_large_positions_leaves_no_phantom_liquidity():
    # crossing the ticks of two large positions leaves an ulp of them (1.6e-9 here) on top of a
    # small position's 0.01: more than 1e-9 of the small one's net, so only a guard measured
    # against the pool's liquidity as a whole recognises it when the small one leaves too
    big, other = 4481028.069474343, 6127342.797242242
    pool = make_pool([(-120, -60, other), (-60, 420, big), (-1320, 480, big), (-720, 1080, 0.01)],
                     price=0.9946599516688642**2)
    residue = pool.liquidity
    for tick, net in zip(pool.ticks.tolist(), pool.net.tolist()):
        if tick > pool.tick:  # the float sums, in crossing order
            residue += net
    assert residue > 1e-9 * 0.01
    held0 = math.fsum(pool._amounts(p.lower, p.upper, p.liquidity)[0] for p in pool.positions.values())
    # without liquidity above tick 1080 an exact input of 1e6 token1 cannot be filled
    with pytest.raises(AmmError, match="liquidity runs out"):
        pool.swap_exact_in(1e6, "token1")
    a0, a1 = pool.swap(1e6, False)
    assert pool.liquidity == 0.0 and pool.tick == MAX_TICK - 1
    assert -a0 == pytest.approx(held0, rel=1e-9)  # what the positions held in token0, no more
    assert a1 < 3e5  # and the price ran through the empty range for free


def test_burn_zeroes_the_liquidity_residue():
    pool = make_pool([(-600, 600, 0.1), (-120, 600, 0.2)])
    pool.burn(1)
    pool.burn(0)
    assert pool.liquidity == 0.0
    assert pool.ticks.size == 0 and pool.net.size == 0
    assert pool.balances == pytest.approx([0.0, 0.0], abs=1e-15)


def test_a_small_position_keeps_its_ticks_when_a_large_one_leaves():
    # the large position's rounding residue on the shared ticks exceeds the small one's liquidity
    # relative to it; the ticks must stay initialized while the small position uses them
    pool = make_pool([(-600, 600, 1.234567891e12), (-600, 600, 0.7)])
    pool.burn(0)
    assert pool.ticks.tolist() == [-600, 600]
    assert pool.liquidity == pytest.approx(0.7, rel=1e-3)
    pool.swap(1e-3, True)
    assert_consistent(pool)
    pool.burn(1)
    assert pool.ticks.size == 0 and pool.liquidity == 0.0


def test_tick_stays_put_when_a_swap_ends_on_a_crossed_tick_with_dust_left():
    # cross -60 downwards with a few ulps of input left: the price cannot move any more, and the
    # tick must stay at -61 (where the crossing put it), with the liquidity of [-1200, -60) active
    pool = make_pool([(-600, 600, 1000.0), (-1200, -60, 500.0)])
    s_tick = cl.sqrt_price_at_tick(-60)
    need = cl.amount0_delta(s_tick, 1.0, 1000.0) / (1 - pool.fee)
    pool.swap(need * (1 + 4 * EPS), True)
    assert pool.sqrt_price == pytest.approx(s_tick, rel=1e-15)
    assert pool.tick == -61
    assert pool.liquidity == pytest.approx(1500.0, rel=1e-12)


def test_docstring_example():
    import doctest

    result = doctest.testmod(cl, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
