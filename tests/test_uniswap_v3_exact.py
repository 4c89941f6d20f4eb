"""Uniswap v3 integer port (:mod:`contagion.amm.uniswap_v3`) checked to the wei.

Expected numbers come from the reference vectors (``../shared/vectors/uniswap_v3.json``: TickMath,
SqrtPriceMath, SwapMath, the ``#feeProtocol`` tests and multi-tick pool swaps), from literal
expectations of ``Uniswap/v3-core``'s ``test/UniswapV3Pool.spec.ts`` (cited where used), from
closed forms evaluated in exact rational / decimal arithmetic, or from invariants (round trips,
monotonicity, token conservation). Nothing is copied from the port's own output.
"""

from __future__ import annotations

import functools
import random
import re
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from contagion.amm import uniswap_v3 as v3
from contagion.errors import AmmError

E18 = 10**18
MAX_UINT128 = 2**128 - 1
SEED = 20240607

SQRT_PRICE_FNS = {
    "getNextSqrtPriceFromInput": v3.get_next_sqrt_price_from_input,
    "getNextSqrtPriceFromOutput": v3.get_next_sqrt_price_from_output,
    "getAmount0Delta": v3.get_amount0_delta,
    "getAmount1Delta": v3.get_amount1_delta,
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _usable_tick_bounds(tick_spacing: int) -> tuple[int, int]:
    """``getMinTick`` / ``getMaxTick`` of v3-core's test utilities (ceil / floor to the spacing)."""
    return _ceil_div(-887272, tick_spacing) * tick_spacing, (887272 // tick_spacing) * tick_spacing


def _is_revert(expected) -> bool:
    return isinstance(expected, str) and expected.startswith("revert")


def _check_revert(expected: str, call) -> None:
    """``"revert"`` -> any AmmError; ``"revert:X"`` -> an AmmError with the contract reason X."""
    if ":" in expected:
        reason = expected.split(":", 1)[1]
        with pytest.raises(AmmError, match=rf"^UniswapV3: {re.escape(reason)}\b"):
            call()
    else:
        with pytest.raises(AmmError):
            call()


def _random_bits(rng: random.Random, low: int, high: int) -> int:
    """A random integer whose bit length is uniform in ``[low, high]``."""
    bits = rng.randint(low, high)
    return rng.getrandbits(bits) | (1 << (bits - 1))


def _sqrt_price_decimal(tick: int) -> Decimal:
    """``sqrt(1.0001**tick) * 2**96`` to 80 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 80
        return (Decimal("1.0001") ** tick).sqrt() * (2**96)


# --------------------------------------------------------------------------------------------
# reference vectors: TickMath, SqrtPriceMath, SwapMath
# --------------------------------------------------------------------------------------------

def test_tickmath_vectors(vectors):
    data = vectors("uniswap_v3")["tickmath"]
    assert len(data) > 0
    assert {v["fn"] for v in data} == {"getSqrtRatioAtTick", "getTickAtSqrtRatio"}
    assert any(_is_revert(v["expected"]) for v in data)
    for v in data:
        if v["fn"] == "getSqrtRatioAtTick":
            call = functools.partial(v3.get_sqrt_ratio_at_tick, v["tick"])
        else:
            call = functools.partial(v3.get_tick_at_sqrt_ratio, int(v["sqrtPriceX96"]))
        if _is_revert(v["expected"]):
            _check_revert(v["expected"], call)
        else:
            assert call() == int(v["expected"]), v


def test_tickmath_constants_agree_with_vectors(vectors):
    data = vectors("uniswap_v3")["tickmath"]
    at_tick = {v["tick"]: int(v["expected"]) for v in data
               if v["fn"] == "getSqrtRatioAtTick" and not _is_revert(v["expected"])}
    assert at_tick[-887272] == v3.MIN_SQRT_RATIO
    assert at_tick[887272] == v3.MAX_SQRT_RATIO
    assert (v3.MIN_TICK, v3.MAX_TICK, v3.Q96) == (-887272, 887272, 2**96)


def test_sqrtpricemath_vectors(vectors):
    data = vectors("uniswap_v3")["sqrtpricemath"]
    assert len(data) > 0
    assert {v["fn"] for v in data} == set(SQRT_PRICE_FNS)
    assert any(_is_revert(v["expected"]) for v in data)
    for v in data:
        fn = SQRT_PRICE_FNS[v["fn"]]
        args = [a if isinstance(a, bool) else int(a) for a in v["args"]]
        if _is_revert(v["expected"]):
            _check_revert(v["expected"], functools.partial(fn, *args))
        else:
            assert fn(*args) == int(v["expected"]), v


def test_swapmath_vectors(vectors):
    data = vectors("uniswap_v3")["swapmath"]
    assert len(data) > 0
    for v in data:
        a = v["args"]
        got = v3.compute_swap_step(int(a["sqrtRatioCurrentX96"]), int(a["sqrtRatioTargetX96"]),
                                   int(a["liquidity"]), int(a["amountRemaining"]), a["feePips"])
        e = v["expected"]
        expected = (int(e["sqrtRatioNextX96"]), int(e["amountIn"]), int(e["amountOut"]), int(e["feeAmount"]))
        assert got == expected, v


# --------------------------------------------------------------------------------------------
# reference vectors: pool swaps across initialized ticks, protocol fee
# --------------------------------------------------------------------------------------------

def test_multi_tick_vectors(vectors):
    data = vectors("uniswap_v3")["multi_tick_computed"]
    assert len(data) > 0
    for case in data:
        spec = case["pool"]
        pool = v3.Pool(spec["fee"], spec["tickSpacing"], int(spec["sqrtPriceX96Start"]))
        paid0 = paid1 = 0
        for position in spec["positions"]:
            amount0, amount1 = pool.mint(position["tickLower"], position["tickUpper"], int(position["liquidity"]))
            paid0, paid1 = paid0 + amount0, paid1 + amount1
        assert (paid0, paid1) == (int(spec["mintedBalance0"]), int(spec["mintedBalance1"])), case
        assert (pool.balance0, pool.balance1) == (paid0, paid1)
        assert pool.tick == spec["tickStart"]
        assert pool.liquidity == int(spec["liquidityStart"])

        swap = case["swap"]
        amount0, amount1 = pool.swap(swap["zeroForOne"], int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"]))
        e = case["expected"]
        assert (amount0, amount1) == (int(e["amount0"]), int(e["amount1"])), case
        assert pool.sqrt_price_x96 == int(e["sqrtPriceX96After"]), case
        assert pool.tick == e["tickAfter"], case
        assert pool.liquidity == int(e["liquidityAfter"]), case
        assert pool.fee_growth_global0_x128 == int(e["feeGrowthGlobal0X128"]), case
        assert pool.fee_growth_global1_x128 == int(e["feeGrowthGlobal1X128"]), case
        assert pool.last_swap.steps == e["steps"], case
        crossed = [(tick, int(liquidity)) for tick, liquidity in e["initializedTicksCrossed_with_liquidityBefore"]]
        assert list(pool.last_swap.ticks_crossed) == crossed, case
        assert (pool.last_swap.amount0, pool.last_swap.amount1) == (amount0, amount1)


_SETUP = re.compile(r"\((\d+)\), tickSpacing (\d+), sqrtP=2\^96, liquidity (\d+)e18 \[minTick,maxTick\]")
_SWAP = re.compile(r"^exact (\d+)e18 token([01]) in(, then burn\(0\) poke)?$")
_LATE_FEE = re.compile(r"^0 for 1st swap, then \((\d+),\s*(\d+)\)$")


def _run_protocol_fee_case(case: dict, setup: tuple[int, int, int]) -> dict[str, int]:
    """Replay one ``#feeProtocol`` test (UniswapV3Pool.spec.ts) and read what ``expected`` names."""
    fee, tick_spacing, liquidity = setup
    lower, upper = _usable_tick_bounds(tick_spacing)
    pool = v3.Pool(fee, tick_spacing, v3.Q96)  # encodePriceSqrt(1, 1)
    pool.mint(lower, upper, liquidity)

    late_fee = None
    if isinstance(case["feeProtocol"], list):
        pool.set_fee_protocol(*case["feeProtocol"])
    else:
        match = _LATE_FEE.match(case["feeProtocol"])
        assert match, f"unknown feeProtocol format {case['feeProtocol']!r}"
        late_fee = (int(match.group(1)), int(match.group(2)))
    if "slot0_feeProtocol" in case:
        assert pool.fee_protocol == case["slot0_feeProtocol"]

    got: dict[str, int] = {}
    for index, text in enumerate(case["swaps"], start=1):
        match = _SWAP.match(text)
        assert match, f"unknown swap format {text!r}"
        if index == 2 and late_fee is not None:
            pool.set_fee_protocol(*late_fee)
        zero_for_one = match.group(2) == "0"
        limit = v3.MIN_SQRT_RATIO + 1 if zero_for_one else v3.MAX_SQRT_RATIO - 1
        pool.swap(zero_for_one, int(match.group(1)) * E18, limit)
        if match.group(3):
            pool.burn(lower, upper, 0)
            got[f"lpFeesOwed0_after_{index}"] = pool.position(lower, upper).tokens_owed0

    # the spec pokes (burn 0) before reading what the LP is owed
    pool.burn(lower, upper, 0)
    owed = pool.position(lower, upper)
    got["lpFees0"], got["lpFees1"] = owed.tokens_owed0, owed.tokens_owed1
    got["protocolFees0_slot"], got["protocolFees1_slot"] = pool.protocol_fees0, pool.protocol_fees1
    got["collectProtocol_transfer0"], got["collectProtocol_transfer1"] = pool.collect_protocol(MAX_UINT128, MAX_UINT128)
    return got


def test_protocol_fee_vectors(vectors):
    data = vectors("uniswap_v3")["protocol_fee"]
    assert len(data) > 0
    setup = None
    for case in data:
        if case["setup"] != "same":
            match = _SETUP.search(case["setup"])
            assert match, f"unknown setup format {case['setup']!r}"
            setup = (int(match.group(1)), int(match.group(2)), int(match.group(3)) * E18)
        assert setup is not None, "the first protocol_fee vector must spell out its setup"
        got = _run_protocol_fee_case(case, setup)
        for key, value in case["expected"].items():
            assert key in got, f"unknown expectation {key!r}"
            assert got[key] == int(value), (key, case)


# --------------------------------------------------------------------------------------------
# literal expectations of v3-core test/UniswapV3Pool.spec.ts
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("zero_for_one, lower, upper, expected_burn, expected_tick", [
    (False, 120000, 121200, (30027458295511, 996999999999999999), 120196),
    (True, -121200, -120000, (996999999999999999, 30027458295511), -120197),
])
def test_spec_swapping_across_gaps(zero_for_one, lower, upper, expected_burn, expected_tick):
    # '#tickSpacing / tickSpacing = 12 / swapping across gaps works in ... direction'
    pool = v3.Pool(3000, 12, v3.Q96)
    liquidity = E18 // 4
    pool.mint(lower, upper, liquidity)
    limit = v3.MIN_SQRT_RATIO + 1 if zero_for_one else v3.MAX_SQRT_RATIO - 1
    pool.swap(zero_for_one, E18, limit)
    assert pool.burn(lower, upper, liquidity) == expected_burn
    assert pool.tick == expected_tick


def test_spec_tick_transition_runs_once_at_fractional_price():
    # 'tick transition cannot run twice if zero for one swap ends at fractional price just below tick'
    p0 = v3.get_sqrt_ratio_at_tick(-24081) + 1
    pool = v3.Pool(3000, 1, p0)
    assert pool.liquidity == 0 and pool.tick == -24081
    liquidity = 1000 * E18
    pool.mint(-24082, -24080, liquidity)
    assert pool.liquidity == liquidity
    pool.mint(-24082, -24081, liquidity)
    assert pool.liquidity == liquidity
    assert v3.compute_swap_step(p0, p0 - 1, liquidity, 3, 3000) == (p0 - 1, 1, 0, 1)
    assert pool.swap(True, 3, v3.MIN_SQRT_RATIO + 1) == (3, 0)
    assert pool.tick == -24082
    assert pool.sqrt_price_x96 == p0 - 1
    assert pool.liquidity == 2 * liquidity


def test_spec_fee_protocol_bounds():
    # '#feeProtocol': setFeeProtocol(6, 6) packs to 102; (3, 3) and (11, 11) revert
    pool = v3.Pool(500, 10, v3.Q96)
    assert pool.fee_protocol == 0
    pool.set_fee_protocol(6, 6)
    assert pool.fee_protocol == 102
    for bad in ((3, 3), (11, 11), (0, 3), (11, 0)):
        with pytest.raises(AmmError, match=r"fee protocol must be 0 or in \[4, 10\]"):
            pool.set_fee_protocol(*bad)
    assert pool.fee_protocol == 102


# --------------------------------------------------------------------------------------------
# independent checks: TickMath
# --------------------------------------------------------------------------------------------

def test_tick_round_trip_random_ticks():
    rng = random.Random(SEED)
    ticks = [rng.randint(v3.MIN_TICK, v3.MAX_TICK - 1) for _ in range(2000)]
    ticks += [v3.MIN_TICK, v3.MIN_TICK + 1, -1, 0, 1, v3.MAX_TICK - 1]
    for tick in ticks:
        price = v3.get_sqrt_ratio_at_tick(tick)
        assert v3.get_tick_at_sqrt_ratio(price) == tick
        # the greatest tick whose ratio is <= the price: one wei below the next tick still maps here
        assert v3.get_tick_at_sqrt_ratio(v3.get_sqrt_ratio_at_tick(tick + 1) - 1) == tick


def test_tick_at_random_prices_is_the_greatest_tick_below():
    rng = random.Random(SEED + 1)
    for _ in range(2000):
        # log-uniform prices over the whole range
        price = rng.randint(v3.MIN_SQRT_RATIO, v3.MAX_SQRT_RATIO - 1) >> rng.randint(0, 127)
        price = max(price, v3.MIN_SQRT_RATIO)
        tick = v3.get_tick_at_sqrt_ratio(price)
        assert v3.get_sqrt_ratio_at_tick(tick) <= price < v3.get_sqrt_ratio_at_tick(tick + 1)


def test_sqrt_ratio_is_strictly_increasing():
    rng = random.Random(SEED + 2)
    ticks = sorted({rng.randint(v3.MIN_TICK, v3.MAX_TICK) for _ in range(3000)}
                   | set(range(v3.MIN_TICK, v3.MIN_TICK + 300))
                   | set(range(-300, 300))
                   | set(range(v3.MAX_TICK - 300, v3.MAX_TICK + 1)))
    prices = [v3.get_sqrt_ratio_at_tick(t) for t in ticks]
    assert all(a < b for a, b in zip(prices, prices[1:]))
    assert prices[0] == v3.MIN_SQRT_RATIO and prices[-1] == v3.MAX_SQRT_RATIO


def test_sqrt_ratio_matches_high_precision_closed_form():
    # every bit of every hard-coded constant matters at some tick: compare with sqrt(1.0001**t)
    rng = random.Random(SEED + 3)
    ticks = [rng.randint(v3.MIN_TICK, v3.MAX_TICK) for _ in range(300)]
    ticks += [sign * (1 << k) for k in range(20) for sign in (1, -1)]
    for tick in ticks:
        exact = _sqrt_price_decimal(tick)
        got = Decimal(v3.get_sqrt_ratio_at_tick(tick))
        # the contract rounds up to Q64.96 and loses a few Q128 ulps: |error| <= 2 wei or 1e-15 rel
        assert abs(got - exact) <= max(Decimal(2), exact * Decimal("1e-15")), tick


# --------------------------------------------------------------------------------------------
# independent checks: FullMath and SqrtPriceMath against exact rationals
# --------------------------------------------------------------------------------------------

def test_mul_div_matches_exact_quotients_and_reverts_on_overflow():
    rng = random.Random(SEED + 4)
    for _ in range(500):
        a, b = rng.getrandbits(256), rng.getrandbits(256)
        d = rng.getrandbits(256) | 1
        q = Fraction(a * b, d)
        if q >= 2**256:
            with pytest.raises(AmmError, match="mulDiv overflow"):
                v3.mul_div(a, b, d)
            continue
        assert v3.mul_div(a, b, d) == q.numerator // q.denominator
        up = -((-q.numerator) // q.denominator)
        if up < 2**256:
            assert v3.mul_div_rounding_up(a, b, d) == up
    with pytest.raises(AmmError, match="denominator is 0"):
        v3.mul_div(1, 1, 0)
    # with N = 2**256: (N-3)**2 = (N-1)*(N-5) + 4, so the floor is N-1 and rounding up overflows
    n = 2**256
    assert v3.mul_div(n - 3, n - 3, n - 5) == n - 1
    with pytest.raises(AmmError, match="mulDivRoundingUp overflow"):
        v3.mul_div_rounding_up(n - 3, n - 3, n - 5)


def _random_price_pair(rng: random.Random) -> tuple[int, int]:
    lo = v3.get_sqrt_ratio_at_tick(rng.randint(v3.MIN_TICK, v3.MAX_TICK - 1))
    hi = rng.randint(lo, v3.MAX_SQRT_RATIO)
    return lo, hi


def test_amount_deltas_equal_exact_rounding_of_closed_forms():
    # amount0 = L * 2**96 * (b - a) / (a * b), amount1 = L * (b - a) / 2**96; the nested
    # ceilings (floors) of the contract equal the ceiling (floor) of the exact quotient
    rng = random.Random(SEED + 5)
    for _ in range(1000):
        a, b = _random_price_pair(rng)
        liquidity = rng.getrandbits(rng.randint(1, 128))
        num0, den0 = liquidity * 2**96 * (b - a), a * b
        num1, den1 = liquidity * (b - a), 2**96
        assert v3.get_amount0_delta(a, b, liquidity, True) == _ceil_div(num0, den0)
        assert v3.get_amount0_delta(b, a, liquidity, False) == num0 // den0
        assert v3.get_amount1_delta(a, b, liquidity, True) == _ceil_div(num1, den1)
        assert v3.get_amount1_delta(b, a, liquidity, False) == num1 // den1
        if liquidity < 2**127:
            assert v3.get_amount0_delta_signed(a, b, liquidity) == _ceil_div(num0, den0)
            assert v3.get_amount0_delta_signed(a, b, -liquidity) == -(num0 // den0)
            assert v3.get_amount1_delta_signed(a, b, -liquidity) == -(num1 // den1)


def test_next_price_from_input_rounds_against_the_trader():
    # exact new price for token0 in: L*P / (L + x*P) (rounded up); token1 in: P + x/L (rounded down)
    rng = random.Random(SEED + 6)
    for _ in range(1000):
        price = v3.get_sqrt_ratio_at_tick(rng.randint(-400000, 400000))
        liquidity = _random_bits(rng, 60, 100)
        amount = rng.getrandbits(rng.randint(1, 100))
        exact0 = Fraction(liquidity * 2**96 * price, liquidity * 2**96 + amount * price)
        assert v3.get_next_sqrt_price_from_input(price, liquidity, amount, True) == -((-exact0.numerator) // exact0.denominator)
        exact1 = price + Fraction(amount * 2**96, liquidity)
        assert v3.get_next_sqrt_price_from_input(price, liquidity, amount, False) == exact1.numerator // exact1.denominator


def test_compute_swap_step_never_spends_more_than_remaining():
    rng = random.Random(SEED + 7)
    checked = 0
    for _ in range(1000):
        a, b = _random_price_pair(rng)
        current, target = (a, b) if rng.random() < 0.5 else (b, a)
        liquidity = rng.getrandbits(rng.randint(1, 128)) + 1
        remaining = rng.getrandbits(rng.randint(1, 200)) * (1 if rng.random() < 0.5 else -1)
        fee = rng.choice([0, 100, 500, 3000, 10000, 999999])
        try:
            nxt, amount_in, amount_out, fee_amount = v3.compute_swap_step(current, target, liquidity, remaining, fee)
        except AmmError:
            continue  # an overflow revert of the contract at extreme inputs
        checked += 1
        assert min(current, target) <= nxt <= max(current, target)
        if remaining >= 0:
            assert amount_in + fee_amount <= remaining
        else:
            assert amount_out <= -remaining
    assert checked > 500


# --------------------------------------------------------------------------------------------
# independent checks: the pool
# --------------------------------------------------------------------------------------------

def test_mint_amounts_follow_the_position_range():
    rng = random.Random(SEED + 8)
    for _ in range(200):
        spacing = rng.choice([1, 10, 60, 200])
        start_tick = rng.randint(-200000, 200000)
        price = rng.randint(v3.get_sqrt_ratio_at_tick(start_tick), v3.get_sqrt_ratio_at_tick(start_tick + 1) - 1)
        pool = v3.Pool(3000, spacing, price)
        tick = pool.tick
        assert tick == start_tick
        liquidity = rng.getrandbits(rng.randint(1, 90)) + 1
        below = (tick // spacing) * spacing + spacing  # lowest usable tick above the current tick
        # in range
        lower = (tick // spacing - rng.randint(0, 50)) * spacing
        upper = below + rng.randint(0, 50) * spacing
        sqrt_lower, sqrt_upper = v3.get_sqrt_ratio_at_tick(lower), v3.get_sqrt_ratio_at_tick(upper)
        amounts = pool.mint(lower, upper, liquidity)
        assert amounts == (v3.get_amount0_delta(price, sqrt_upper, liquidity, True),
                           v3.get_amount1_delta(sqrt_lower, price, liquidity, True))
        assert amounts == (_ceil_div(liquidity * 2**96 * (sqrt_upper - price), price * sqrt_upper),
                           _ceil_div(liquidity * (price - sqrt_lower), 2**96))
        assert pool.liquidity == liquidity
        # entirely above the current price: token0 only; entirely below: token1 only
        s_a, s_b = v3.get_sqrt_ratio_at_tick(below), v3.get_sqrt_ratio_at_tick(below + spacing)
        assert pool.mint(below, below + spacing, liquidity) == (
            _ceil_div(liquidity * 2**96 * (s_b - s_a), s_a * s_b), 0)
        top = (tick // spacing) * spacing
        s_a, s_b = v3.get_sqrt_ratio_at_tick(top - spacing), v3.get_sqrt_ratio_at_tick(top)
        assert pool.mint(top - spacing, top, liquidity) == (0, _ceil_div(liquidity * (s_b - s_a), 2**96))
        assert pool.liquidity == liquidity


def _conservation_pool() -> tuple[v3.Pool, list[tuple[str, int, int, int]]]:
    pool = v3.Pool(3000, 60, v3.Q96)
    positions = [("a", -887220, 887220, E18), ("b", -600, 600, 5 * E18), ("c", -120, 60, 10 * E18),
                 ("d", -1200, -600, 3 * E18), ("e", 600, 1800, 2 * E18), ("f", -60, 0, 7 * E18)]
    for owner, lower, upper, liquidity in positions:
        pool.mint(lower, upper, liquidity, owner=owner)
    return pool, positions


def _random_checked_swap(pool: v3.Pool, rng: random.Random) -> v3.SwapReport | None:
    """One random swap (either direction, exact in or out, limit up to 3000 ticks away), checked."""
    zero_for_one = rng.random() < 0.5
    exact_in = rng.random() < 0.6
    amount = rng.randint(1, 3 * E18)
    ticks = rng.randint(1, 3000)
    limit_tick = pool.tick - ticks if zero_for_one else pool.tick + ticks
    limit = v3.get_sqrt_ratio_at_tick(max(min(limit_tick, v3.MAX_TICK - 1), v3.MIN_TICK + 1))
    if (zero_for_one and limit >= pool.sqrt_price_x96) or (not zero_for_one and limit <= pool.sqrt_price_x96):
        return None
    before = (pool.balance0, pool.balance1, pool.sqrt_price_x96)
    amount0, amount1 = pool.swap(zero_for_one, amount if exact_in else -amount, limit)
    # the pool's holdings change by exactly the returned deltas
    assert (pool.balance0, pool.balance1) == (before[0] + amount0, before[1] + amount1)
    paid, received = (amount0, amount1) if zero_for_one else (amount1, amount0)
    assert paid >= 0 and received <= 0
    if exact_in:
        assert paid <= amount and (paid == amount or pool.sqrt_price_x96 == limit)
    else:
        assert -received <= amount and (-received == amount or pool.sqrt_price_x96 == limit)
    # the price moves against the trader, never past the limit
    assert (pool.sqrt_price_x96 <= before[2]) if zero_for_one else (pool.sqrt_price_x96 >= before[2])
    assert (pool.sqrt_price_x96 >= limit) if zero_for_one else (pool.sqrt_price_x96 <= limit)
    return pool.last_swap


def test_swaps_conserve_tokens():
    rng = random.Random(SEED + 9)
    pool, positions = _conservation_pool()
    pool.set_fee_protocol(4, 7)
    reports = [_random_checked_swap(pool, rng) for _ in range(40)]

    # after fees have accrued, mint two ranges bounded by the current tick itself (tick 240): the
    # 'growth happened below the tick' convention of Tick.update decides what they are owed later
    target = v3.get_sqrt_ratio_at_tick(240)
    assert pool.sqrt_price_x96 != target
    pool.swap(pool.sqrt_price_x96 > target, 2**255 - 1, target)
    assert (pool.tick, pool.sqrt_price_x96) == (240, target)
    assert pool.fee_growth_global0_x128 > 0 and pool.fee_growth_global1_x128 > 0
    for owner, lower, upper, liquidity in (("g", 240, 480, 4 * E18), ("h", 180, 240, 4 * E18)):
        pool.mint(lower, upper, liquidity, owner=owner)
        positions.append((owner, lower, upper, liquidity))
    reports += [_random_checked_swap(pool, rng) for _ in range(40)]
    reports = [r for r in reports if r is not None]
    total_steps = sum(r.steps for r in reports) + 1
    assert len(reports) > 40
    crossed = {tick for r in reports for tick, _ in r.ticks_crossed}
    assert {-120, 0, 60, 240} <= crossed  # the path exercises the fee-growth-outside bookkeeping

    # everybody withdraws everything: the pool must be able to pay, keeping only rounding dust
    for owner, lower, upper, liquidity in positions:
        pool.burn(lower, upper, liquidity, owner=owner)
        pool.collect(lower, upper, MAX_UINT128, MAX_UINT128, owner=owner)
        left = pool.position(lower, upper, owner)
        assert (left.liquidity, left.tokens_owed0, left.tokens_owed1) == (0, 0, 0)
    fees0, fees1 = pool.protocol_fees0, pool.protocol_fees1
    assert fees0 > 0 and fees1 > 0
    assert pool.collect_protocol(MAX_UINT128, MAX_UINT128) == (fees0 - 1, fees1 - 1)
    assert pool.liquidity == 0
    assert pool.initialized_ticks() == []
    dust_bound = 4 * (len(positions) + total_steps) + 2  # 1 wei per rounding, in the pool's favour
    assert 1 <= pool.balance0 <= dust_bound  # >= the 1 wei collectProtocol leaves behind
    assert 1 <= pool.balance1 <= dust_bound


def test_fees_owed_equal_fee_growth_inside_times_liquidity():
    # one full-range position alone: its fees are floor((growth) * L / 2**128) of the global growth
    pool = v3.Pool(500, 10, v3.Q96)
    lower, upper = _usable_tick_bounds(10)
    liquidity = 1000 * E18
    pool.mint(lower, upper, liquidity)
    pool.swap(True, 3 * E18, v3.MIN_SQRT_RATIO + 1)
    pool.swap(False, 2 * E18, v3.MAX_SQRT_RATIO - 1)
    pool.burn(lower, upper, 0)
    owed = pool.position(lower, upper)
    assert owed.tokens_owed0 == pool.fee_growth_global0_x128 * liquidity // 2**128
    assert owed.tokens_owed1 == pool.fee_growth_global1_x128 * liquidity // 2**128
    # 0.05 % of each input, within a few wei of per-step rounding
    assert abs(owed.tokens_owed0 - 3 * E18 * 500 // 10**6) <= 10
    assert abs(owed.tokens_owed1 - 2 * E18 * 500 // 10**6) <= 10


def test_swap_stops_at_each_bitmap_word_boundary():
    # no initialized tick within reach: every 256 * tick_spacing ticks is a step of its own
    pool = v3.Pool(3000, 60, v3.Q96)
    pool.mint(-887220, 887220, E18)
    target_tick = -256 * 60 * 3 - 100  # three whole words below word 0, then part of a fourth
    pool.swap(True, 2**255 - 1, v3.get_sqrt_ratio_at_tick(target_tick))
    # a zero-length step at tick 0 (word boundary), then words -1, -2, -3 and part of word -4
    assert pool.last_swap.steps == 5
    assert pool.last_swap.ticks_crossed == ()
    assert pool.tick == target_tick


# --------------------------------------------------------------------------------------------
# reverts and atomicity
# --------------------------------------------------------------------------------------------

def test_pool_reverts_with_contract_reasons():
    pool = v3.Pool(3000, 60, v3.Q96)
    with pytest.raises(AmmError, match=r"^UniswapV3: AI\b"):
        pool.initialize(v3.Q96)
    with pytest.raises(AmmError, match=r"^UniswapV3: TLU\b"):
        pool.mint(60, 60, 1)
    with pytest.raises(AmmError, match=r"^UniswapV3: TLM\b"):
        pool.mint(v3.MIN_TICK - 60, 0, 1)
    with pytest.raises(AmmError, match=r"^UniswapV3: TUM\b"):
        pool.mint(0, v3.MAX_TICK + 60, 1)
    with pytest.raises(AmmError, match="not a multiple of tick_spacing"):
        pool.mint(-6, 60, 1)
    with pytest.raises(AmmError, match="amount must be > 0"):
        pool.mint(-60, 60, 0)
    with pytest.raises(AmmError, match=r"^UniswapV3: NP\b"):
        pool.burn(-60, 60, 0)
    with pytest.raises(AmmError, match=r"^UniswapV3: AS\b"):
        pool.swap(True, 0, v3.MIN_SQRT_RATIO + 1)
    for zero_for_one, limit in ((True, v3.MIN_SQRT_RATIO), (True, v3.Q96), (True, v3.Q96 + 1),
                                (False, v3.MAX_SQRT_RATIO), (False, v3.Q96), (False, v3.Q96 - 1)):
        with pytest.raises(AmmError, match=r"^UniswapV3: SPL\b"):
            pool.swap(zero_for_one, E18, limit)
    with pytest.raises(AmmError, match=r"^UniswapV3: R\b"):
        v3.Pool(3000, 60, v3.MIN_SQRT_RATIO - 1)
    with pytest.raises(AmmError, match="tick_spacing must be in"):
        v3.Pool(3000, 0, v3.Q96)
    with pytest.raises(AmmError, match="fee must be in"):
        v3.Pool(10**6, 60, v3.Q96)


def test_uninitialized_pool_is_locked():
    pool = v3.Pool(3000, 60)
    with pytest.raises(AmmError, match=r"^UniswapV3: LOK\b"):
        pool.mint(-60, 60, E18)
    with pytest.raises(AmmError, match=r"^UniswapV3: LOK\b"):
        pool.swap(True, E18, v3.MIN_SQRT_RATIO + 1)
    pool.initialize(v3.Q96)
    assert pool.mint(-60, 60, E18)[0] > 0


def test_max_liquidity_per_tick_and_failed_mint_leaves_pool_unchanged():
    # (2**128 - 1) // number of usable ticks, e.g. 1 + 2 * 887272 for tick spacing 1
    assert v3.max_liquidity_per_tick(1) == MAX_UINT128 // (2 * 887272 + 1)
    assert v3.max_liquidity_per_tick(60) == MAX_UINT128 // (2 * (887272 // 60) + 1)
    pool = v3.Pool(3000, 60, v3.Q96)
    cap = pool.max_liquidity_per_tick
    pool.mint(-60, 60, cap - 5)
    def snapshot():
        return (pool.liquidity, pool.balance0, pool.balance1, pool.initialized_ticks(), pool.tick_info(-120),
                pool.tick_info(-60), pool.tick_info(60), pool.position(-120, 60))

    before = snapshot()
    with pytest.raises(AmmError, match=r"^UniswapV3: LO\b"):
        pool.mint(-120, 60, 6)  # tick 60 would hold cap + 1
    assert snapshot() == before
    assert pool.initialized_ticks() == [-60, 60]


def test_argument_ranges_are_checked():
    with pytest.raises(AmmError, match="must be a uint128"):
        v3.get_amount1_delta(v3.Q96, 2 * v3.Q96, 2**128, True)
    with pytest.raises(AmmError, match="must be a uint160"):
        v3.get_tick_at_sqrt_ratio(2**160)
    with pytest.raises(AmmError, match="fee_pips must be in"):
        v3.compute_swap_step(v3.Q96, 2 * v3.Q96, E18, E18, 10**6)
