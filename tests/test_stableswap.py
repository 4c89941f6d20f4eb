"""StableSwap in float64: the ``ss_*`` kernels and :mod:`contagion.amm.stableswap`.

Expected numbers come from the EVM-verified reference vectors (``../shared/vectors/
curve_stableswap.json``, converted to token units), from the contracts' formulas evaluated in
60-digit decimal arithmetic (the invariant's y-equation solved in closed form, D by Newton's
method to 1e-50), or from invariants (conservation, monotonicity, D never falling, no gain from a
deposit and withdrawal). The compiled kernels are compared with their reference implementation on
seeded random inputs and edge cases.
"""

from __future__ import annotations

import copy
import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contagion._ext import amm as compiled
from contagion._reference import amm as reference
from contagion.amm import stableswap as ss
from contagion.amm.stableswap import ConvergenceError, StableSwapPool
from contagion.errors import AmmError

SEED = 20240612
EPS = np.finfo(float).eps
PREC = 60
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# the contracts' math in 60-digit decimal arithmetic
# --------------------------------------------------------------------------------------------

def _dec(values) -> list[Decimal]:
    # exact: every double is a finite decimal (and Decimals stay as they are)
    return [v if isinstance(v, Decimal) else Decimal(float(v)) for v in values]


def exact_D(xp, amp) -> Decimal:
    """The invariant by the contracts' Newton iteration, to 1e-50 relative."""
    with localcontext() as ctx:
        ctx.prec = PREC
        x, n = _dec(xp), len(xp)
        S, Ann = sum(x), Decimal(float(amp)) * n
        D = S
        for _ in range(500):
            D_P = D
            for v in x:
                D_P = D_P * D / (v * n)
            prev = D
            D = (Ann * S + D_P * n) * D / ((Ann - 1) * D + (n + 1) * D_P)
            if abs(D - prev) <= D * Decimal("1e-50"):
                return D
    raise AssertionError("the decimal Newton iteration did not converge")


def exact_y(j: int, xp, amp, D: Decimal) -> Decimal:
    """Balance of coin ``j`` on the invariant ``D``, every other balance as in ``xp``: the positive
    root of the contracts' y-equation ``y^2 + (b - D) y = c``, in closed form."""
    with localcontext() as ctx:
        ctx.prec = PREC
        x, n = _dec(xp), len(xp)
        Ann = Decimal(float(amp)) * n
        c, S_ = D, Decimal(0)
        for k in range(n):
            if k != j:
                S_ += x[k]
                c = c * D / (x[k] * n)
        c = c * D / (Ann * n)
        b = S_ + D / Ann
        root = ((b - D) ** 2 + 4 * c).sqrt()
        # the form of the root that adds two positive numbers
        return 2 * c / ((b - D) + root) if b > D else ((D - b) + root) / 2


def exact_dy(i: int, j: int, dx: float, xp, amp, fee: float) -> Decimal:
    """What ``dx`` of coin ``i`` buys of coin ``j`` after the fee (no rounding)."""
    with localcontext() as ctx:
        ctx.prec = PREC
        D = exact_D(xp, amp)
        moved = _dec(xp)
        moved[i] += Decimal(float(dx))
        return (Decimal(float(xp[j])) - exact_y(j, moved, amp, D)) * (1 - Decimal(float(fee)))


def exact_price(i: int, j: int, xp, amp) -> Decimal:
    """Units of ``j`` per unit of ``i`` at the margin: a symmetric difference of the exact curve."""
    with localcontext() as ctx:
        ctx.prec = PREC
        D = exact_D(xp, amp)
        h = Decimal(float(xp[i])) * Decimal("1e-22")
        up, down = _dec(xp), _dec(xp)
        up[i] += h
        down[i] -= h
        return (exact_y(j, down, amp, D) - exact_y(j, up, amp, D)) / (2 * h)


def exact_withdraw_one_coin(xp, amp, supply: float, lp: float, i: int, fee: float):
    """``calc_withdraw_one_coin`` of the later templates, without the floors: ``(dy, fee)``."""
    with localcontext() as ctx:
        ctx.prec = PREC
        x, n = _dec(xp), len(xp)
        D0 = exact_D(xp, amp)
        D1 = D0 - Decimal(float(lp)) * D0 / Decimal(float(supply))
        new_y = exact_y(i, x, amp, D1)
        fee_liq = Decimal(float(fee)) * n / (4 * (n - 1))
        reduced = []
        for k in range(n):
            expected = x[k] * D1 / D0 - new_y if k == i else x[k] - x[k] * D1 / D0
            reduced.append(x[k] - fee_liq * expected)
        dy = reduced[i] - exact_y(i, reduced, amp, D1)
        return dy, (x[i] - new_y) - dy


def exact_add_liquidity(balances, amounts, amp, supply: float, fee: float, admin_fee: float):
    """``add_liquidity`` of the later templates, without the floors: ``(minted, admin fees)``."""
    with localcontext() as ctx:
        ctx.prec = PREC
        old, add, n = _dec(balances), _dec(amounts), len(balances)
        new = [o + a for o, a in zip(old, add)]
        D0, D1 = exact_D(old, amp), exact_D(new, amp)
        fee_liq = Decimal(float(fee)) * n / (4 * (n - 1))
        fees = [fee_liq * abs(D1 * o / D0 - v) for o, v in zip(old, new)]
        D2 = exact_D([v - f for v, f in zip(new, fees)], amp)
        return Decimal(float(supply)) * (D2 - D0) / D0, [f * Decimal(float(admin_fee)) for f in fees]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def same(a: float, b: float, rel: float = 1e-12) -> bool:
    """Equal within ``rel`` (a few ulps: only the C compiler's contractions may differ), or both NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b))


def random_xp(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """2 to 4 balances, from balanced to nine orders of magnitude apart."""
    n = int(rng.integers(2, 5)) if n is None else n
    spread = float(rng.choice([0.0, 0.05, 1.0, 3.0, 9.0]))
    return np.ascontiguousarray(10 ** rng.uniform(-3, 9) * 10 ** -rng.uniform(0, spread, n))


def random_amp(rng: np.random.Generator) -> float:
    return float(10 ** rng.uniform(-1, 5))


def pool_state(pool: StableSwapPool) -> tuple:
    return pool.balances.tolist(), pool.admin_balances.tolist(), pool.lp_supply


def token_decimals(rates: list[str]) -> list[int]:
    """Curve's ``rate = 10 ** (36 - decimals)`` for plain coins."""
    out = []
    for rate in rates:
        value = int(rate)
        assert value == 10 ** (len(rate) - 1), rate
        out.append(36 - (len(rate) - 1))
    return out


def amplification(scenario_or_entry: dict) -> float:
    """A as ``A()`` returns it: the 3pool stores it raw, later templates times A_PRECISION = 100."""
    if "A_precise" in scenario_or_entry:
        return scenario_or_entry["A_precise"] / (1 if scenario_or_entry["variant"] == "3pool" else 100)
    return scenario_or_entry["amp_as_passed"] / scenario_or_entry["A_PRECISION"]


# --------------------------------------------------------------------------------------------
# 1. parity: compiled kernels vs reference implementation
# --------------------------------------------------------------------------------------------

def test_compiled_module_is_an_extension():
    assert not compiled.__file__.endswith(".py")
    assert reference.__file__.endswith(".py")


def test_parity_D():
    rng = np.random.default_rng(SEED)
    cases = [(np.array([1.0, 1.0]), 100.0), (np.array([1.0, 1e-300]), 100.0), (np.array([1e-200, 1e200]), 1.0),
             (np.array([5.0, 5.0, 5.0, 5.0]), 0.01), (np.array([1e9, 1e-9, 1.0]), 1e5)]
    cases += [(random_xp(rng), random_amp(rng)) for _ in range(3000)]
    nans = 0
    for xp, amp in cases:
        got, want = compiled.ss_get_D(xp, amp), reference.ss_get_D(xp, amp)
        assert same(got, want), (xp, amp, got, want)
        nans += math.isnan(got)
    assert nans >= 2  # the overflowing cases fail in both


def test_parity_y_delta_dy_price():
    rng = np.random.default_rng(SEED + 1)
    for _ in range(1500):
        xp, amp = random_xp(rng), random_amp(rng)
        n = xp.size
        i, j = (int(k) for k in rng.choice(n, 2, replace=False))
        D = compiled.ss_get_D(xp, amp)
        for dx in (0.0, xp[i] * 1e-12, xp[i] * rng.uniform(0, 0.1), xp[i] * 10 ** rng.uniform(-1, 3),
                   -xp[i] * 1e-12, -xp[i] * rng.uniform(0, 0.99)):
            dx = float(dx)
            fee = float(rng.choice([0.0, 1e-4, 4e-4, 0.01]))
            assert same(compiled.ss_get_dy(i, j, dx, xp, amp, fee), reference.ss_get_dy(i, j, dx, xp, amp, fee))
            assert same(compiled.ss_delta_x(i, j, dx, xp, amp, D), reference.ss_delta_x(i, j, dx, xp, amp, D))
            x = float(xp[i] + dx)
            assert same(compiled.ss_get_y(i, j, x, xp, amp, D), reference.ss_get_y(i, j, x, xp, amp, D))
        for d in (0.0, -D * 1e-12, -D * rng.uniform(0, 0.5), D * rng.uniform(0, 0.5)):
            d = float(d)
            assert same(compiled.ss_delta_D(j, xp, amp, D, d), reference.ss_delta_D(j, xp, amp, D, d))
        for change in (np.zeros(n), xp * 1e-12, xp * rng.uniform(-0.5, 2.0, n), -xp * rng.uniform(0, 0.9, n)):
            change = np.ascontiguousarray(change)
            assert same(compiled.ss_D_change(xp, change, amp, D), reference.ss_D_change(xp, change, amp, D))
        assert same(compiled.ss_price(i, j, xp, amp), reference.ss_price(i, j, xp, amp))


def test_parity_get_dy_batch():
    rng = np.random.default_rng(SEED + 2)
    for _ in range(200):
        xp, amp = random_xp(rng), random_amp(rng)
        i, j = (int(k) for k in rng.choice(xp.size, 2, replace=False))
        dx = np.concatenate([[0.0, xp[i] * 1e-15], xp[i] * 10 ** rng.uniform(-9, 2, 30)])
        out_c, out_r = np.empty(dx.size), np.empty(dx.size)
        compiled.ss_get_dy_batch(i, j, dx, xp, amp, 4e-4, out_c)
        reference.ss_get_dy_batch(i, j, dx, xp, amp, 4e-4, out_r)
        assert all(same(a, b) for a, b in zip(out_c, out_r))
        # the batch is the scalar call, element by element
        assert all(same(a, compiled.ss_get_dy(i, j, float(d), xp, amp, 4e-4)) for a, d in zip(out_c, dx))


def test_parity_arbitrage():
    rng = np.random.default_rng(SEED + 3)
    nonzero = 0
    for _ in range(300):
        xp, amp = random_xp(rng), random_amp(rng)
        i, j = (int(k) for k in rng.choice(xp.size, 2, replace=False))
        fee = float(rng.choice([0.0, 1e-4, 4e-4]))
        target = compiled.ss_price(i, j, xp, amp) * float(rng.uniform(0.5, 1.1))
        got, want = compiled.ss_arbitrage_dx(i, j, xp, amp, fee, target), reference.ss_arbitrage_dx(
            i, j, xp, amp, fee, target)
        assert same(got, want, rel=1e-9), (xp, amp, fee, target)
        nonzero += got > 0
    assert nonzero > 100


# --------------------------------------------------------------------------------------------
# 2. the shared vectors through the float wrappers
# --------------------------------------------------------------------------------------------

def test_pure_function_vectors_in_float(vectors):
    data = vectors("curve_stableswap")["pure_functions"]
    assert len(data) > 0
    for e in data:
        xp = [int(v) / 10**18 for v in e["xp"]]
        amp = amplification(e)
        # the contracts floor every division (and the stETH pool adds 1 wei to x N in get_D): a
        # few wei of 1e-18 relative; the 1e-18 absolute covers the [1 wei, 1e30 wei] pool
        assert ss.get_D(xp, amp) == pytest.approx(int(e["D"]) / 10**18, rel=1e-9, abs=1e-18), e
        g = e["get_y"]
        y = ss.get_y(g["i"], g["j"], int(g["x"]) / 10**18, xp, amp)
        assert y == pytest.approx(int(g["y"]) / 10**18, rel=1e-9, abs=1e-18), e


def _vector_pool(s: dict) -> tuple[StableSwapPool, list[int], list[float]]:
    decimals = token_decimals(s["rates"])
    balances = [int(b) / 10**k for b, k in zip(s["balances"], decimals)]
    pool = StableSwapPool(balances, amplification(s), s["fee"] / 1e10, s["admin_fee"] / 1e10)
    return pool, decimals, [10.0**-k for k in decimals]


def test_scenario_vectors_in_float(vectors):
    scenarios = vectors("curve_stableswap")["scenarios"]
    assert len(scenarios) > 0
    counts = {"get_dy": 0, "withdraw": 0, "exchange": 0}
    for s in scenarios:
        pool, decimals, unit = _vector_pool(s)
        # the LP supply of a first deposit is D; virtual price 1
        assert pool.D() == pytest.approx(int(s["D"]) / 1e18, rel=1e-12)
        assert pool.lp_supply == pytest.approx(int(s["lp_supply_after_initial_deposit"]) / 1e18, rel=1e-12)
        assert pool.virtual_price() == pytest.approx(int(s["virtual_price"]) / 1e18, rel=1e-12)

        # Outputs are floored to whole coin units after the contracts take 1 wei of the common
        # unit off; the 3pool's get_dy also takes its fee after that conversion (one more unit):
        # 2 units of the output coin plus 1e-9 relative.
        for e in s["get_dy"]:
            got = pool.get_dy(e["i"], e["j"], int(e["dx"]) / 10 ** decimals[e["i"]])
            want = int(e["dy"]) / 10 ** decimals[e["j"]]
            assert abs(got - want) <= 1e-9 * want + 2 * unit[e["j"]], (s["name"], e)
            counts["get_dy"] += 1
        for e in s["calc_withdraw_one_coin"]:
            got, _ = pool.calc_withdraw_one_coin(int(e["token_amount"]) / 1e18, e["i"])
            want = int(e["dy"]) / 10 ** decimals[e["i"]]
            assert abs(got - want) <= 1e-9 * want + 2 * unit[e["i"]], (s["name"], e)
            counts["withdraw"] += 1

        for e in s["exchange_sequence"]:
            admin = pool.admin_balances.copy()
            i, j = e["i"], e["j"]
            got = pool.exchange(i, j, int(e["dx"]) / 10 ** decimals[i])
            want = int(e["dy"]) / 10 ** decimals[j]
            assert abs(got - want) <= 1e-9 * want + 2 * unit[j], (s["name"], e)
            # the admin's share is floored twice (in the common unit, then in coin units)
            want_admin = int(e["admin_fee_coin_units"]) / 10 ** decimals[j]
            assert abs(pool.admin_balances[j] - admin[j] - want_admin) <= 1e-9 * want_admin + 2 * unit[j]
            for k, b in enumerate(e["balances_after"]):
                want_b = int(b) / 10 ** decimals[k]
                assert abs(pool.balances[k] - want_b) <= 1e-12 * want_b + 3 * unit[k], (s["name"], e, k)
            # virtual price = D / supply, floored to 1e-18
            assert pool.virtual_price() == pytest.approx(int(e["virtual_price_after"]) / 1e18, rel=1e-12,
                                                         abs=2e-18)
            counts["exchange"] += 1

        v = s["add_liquidity_single_sided"]
        admin, supply = pool.admin_balances.copy(), pool.lp_supply
        minted = pool.add_liquidity([int(a) / 10**k for a, k in zip(v["amounts"], decimals)])
        # each fee is floored to a whole coin unit, moving D2 by up to a unit per coin (one LP
        # token per common unit, supply / D0 ~ 1); D2 - D0 also carries D's 1e-15 relative error
        slack = (supply / pool.D()) * 2 * sum(unit) + 4e-15 * pool.D()
        assert abs(minted - int(v["minted"]) / 1e18) <= 1e-9 * minted + slack, s["name"]
        for k, fee in enumerate(v["fees"]):
            want_fee = int(fee) / 10 ** decimals[k] * pool.admin_fee
            assert abs(pool.admin_balances[k] - admin[k] - want_fee) <= 1e-9 * want_fee + 2 * unit[k]
    assert all(count > 0 for count in counts.values())


# --------------------------------------------------------------------------------------------
# the invariant in exact arithmetic
# --------------------------------------------------------------------------------------------

def test_balanced_pool_has_D_equal_to_the_sum():
    # equal balances solve the invariant at D = S for every A (D^(n+1) / (n^n prod x) = S)
    for n in (2, 3, 4):
        for amp in (0.5, 1.0, 100.0, 1e5):
            for x in (1e-6, 1.0, 123456.789, 1e12):
                assert ss.get_D([x] * n, amp) == pytest.approx(n * x, rel=1e-15)


def test_small_amplification_tends_to_constant_product():
    # A -> 0: the invariant becomes D^(n+1) = n^n prod(x) D, i.e. D = n (prod x)^(1/n)
    rng = np.random.default_rng(SEED + 4)
    for _ in range(50):
        xp = 10 ** rng.uniform(0, 6, int(rng.integers(2, 5)))
        n = xp.size
        assert ss.get_D(xp, 1e-9) == pytest.approx(n * float(np.prod(xp)) ** (1 / n), rel=1e-6)


def test_D_matches_exact_decimal():
    rng = np.random.default_rng(SEED + 5)
    for _ in range(150):
        xp, amp = random_xp(rng), random_amp(rng)
        assert ss.get_D(xp, amp) == pytest.approx(float(exact_D(xp, amp)), rel=1e-13), (xp, amp)


def test_get_dy_and_price_match_exact_decimal_even_for_tiny_trades():
    rng = np.random.default_rng(SEED + 6)
    for _ in range(80):
        xp, amp = random_xp(rng), random_amp(rng)
        i, j = (int(k) for k in rng.choice(xp.size, 2, replace=False))
        for dx in (xp[i] * 1e-12, xp[i] * 1e-6, xp[i] * 0.3, xp[i] * 20):
            got = ss.get_dy(i, j, float(dx), xp, amp, 4e-4)
            # x_j - y in float would keep only 1e-12 x_j / dy of the digits of a tiny trade
            assert got == pytest.approx(float(exact_dy(i, j, float(dx), xp, amp, 4e-4)), rel=1e-9), (xp, amp, dx)
        assert ss.spot_price(i, j, xp, amp) == pytest.approx(float(exact_price(i, j, xp, amp)), rel=1e-9)


def test_D_change_and_delta_x_match_exact_decimal_even_for_tiny_changes():
    rng = np.random.default_rng(SEED + 11)
    for _ in range(60):
        xp, amp = random_xp(rng), random_amp(rng)
        D = ss.get_D(xp, amp)
        exact = exact_D(xp, amp)
        for scale in (1e-12, 1e-6, 0.3):
            change = np.ascontiguousarray(xp * scale * rng.uniform(-1.0, 2.0, xp.size))
            want = exact_D([a + b for a, b in zip(_dec(xp), _dec(change))], amp) - exact
            assert compiled.ss_D_change(xp, change, amp, D) == pytest.approx(float(want), rel=1e-9)
        i, j = (int(k) for k in rng.choice(xp.size, 2, replace=False))
        for dx in (xp[i] * 1e-12, -xp[i] * 1e-9, -xp[i] * 0.5):
            moved = _dec(xp)
            moved[i] += Decimal(float(dx))
            want = Decimal(float(xp[j])) - exact_y(j, moved, amp, exact)
            assert compiled.ss_delta_x(i, j, float(dx), xp, amp, D) == pytest.approx(float(want), rel=1e-9)


def test_get_y_matches_exact_decimal():
    rng = np.random.default_rng(SEED + 7)
    for _ in range(80):
        xp, amp = random_xp(rng), random_amp(rng)
        i, j = (int(k) for k in rng.choice(xp.size, 2, replace=False))
        x = float(xp[i] * rng.uniform(0.5, 3.0))
        moved = list(xp)
        moved[i] = x
        want = exact_y(j, moved, amp, exact_D(xp, amp))
        assert ss.get_y(i, j, x, xp, amp) == pytest.approx(float(want), rel=1e-9)


def test_withdraw_one_coin_matches_exact_decimal():
    rng = np.random.default_rng(SEED + 8)
    for _ in range(60):
        xp, amp = random_xp(rng, n=int(rng.integers(2, 5))), random_amp(rng)
        pool = StableSwapPool(xp, amp, fee=4e-4)
        i = int(rng.integers(0, xp.size))
        lp = pool.lp_supply * float(10 ** rng.uniform(-9, -0.5))
        dy, fee = pool.calc_withdraw_one_coin(lp, i)
        want_dy, want_fee = exact_withdraw_one_coin(xp, amp, pool.lp_supply, lp, i, 4e-4)
        assert dy == pytest.approx(float(want_dy), rel=1e-9), (xp, amp, lp, i)
        # the fee is the difference of two nearly equal drops: to 1e-9 of the fee or 1e-12 of dy
        assert fee == pytest.approx(float(want_fee), rel=1e-9, abs=1e-12 * float(want_dy))


def test_add_liquidity_matches_exact_decimal():
    rng = np.random.default_rng(SEED + 9)
    for _ in range(60):
        xp, amp = random_xp(rng), random_amp(rng)
        pool = StableSwapPool(xp, amp, fee=4e-4, admin_fee=0.5)
        # from a billionth of the pool (where D1 - D0 from two solved invariants would keep only
        # six digits) to twice it, on some of the coins
        amounts = xp * 10 ** rng.uniform(-9, 0.3, xp.size) * (rng.random(xp.size) < 0.7)
        if not amounts.any():
            continue
        supply = pool.lp_supply
        minted = pool.add_liquidity(amounts)
        want, admin = exact_add_liquidity(xp, amounts, amp, supply, 4e-4, 0.5)
        assert minted == pytest.approx(float(want), rel=1e-9)
        assert pool.admin_balances == pytest.approx([float(a) for a in admin], rel=1e-9, abs=1e-12 * xp.max())


# --------------------------------------------------------------------------------------------
# 3. properties
# --------------------------------------------------------------------------------------------

@st.composite
def stable_pools(draw, rates: bool = False):
    n = draw(st.integers(2, 4))
    scale = draw(st.floats(1e-2, 1e9))
    balances = [scale * draw(st.floats(1e-4, 1.0)) for _ in range(n)]
    pool_rates = [draw(st.floats(0.5, 2.0)) for _ in range(n)] if rates else None
    return StableSwapPool(balances, draw(st.floats(1.0, 5000.0)),
                          fee=draw(st.sampled_from([0.0, 1e-4, 4e-4, 0.01]) | st.floats(0.0, 0.01)),
                          admin_fee=draw(st.sampled_from([0.0, 0.5, 1.0])), rates=pool_rates)


@st.composite
def trades(draw, pool: StableSwapPool):
    i, j = draw(st.permutations(range(pool.n)))[:2]
    return i, j, pool.balances[i] * draw(st.floats(1e-12, 50.0))


@PROPERTY
@given(stable_pools(rates=True), st.data())
def test_output_never_reaches_the_reserve(pool, data):
    i, j, dx = data.draw(trades(pool))
    # a quote may round to the whole reserve for a huge trade; the exchange then refuses
    assert 0.0 < pool.get_dy(i, j, dx) <= pool.balances[j]
    assert pool.get_dy(i, j, dx * 1e6) <= pool.balances[j]
    for size in (dx, dx * 1e6):
        try:
            paid = copy.deepcopy(pool).exchange(i, j, size)
        except AmmError as err:
            assert "output would drain coin" in str(err)
            continue
        assert 0.0 < paid < pool.balances[j]


@PROPERTY
@given(stable_pools(), st.data())
def test_output_is_monotone_in_the_input(pool, data):
    i, j, _ = data.draw(trades(pool))
    sizes = np.sort(pool.balances[i] * 10 ** np.array(data.draw(st.lists(st.floats(-12, 2), min_size=2,
                                                                           max_size=10))))
    out = pool.get_dy(i, j, sizes)
    # sizes an ulp apart may give outputs a few ulps out of order, no more
    assert np.all(np.diff(out) >= -1e-14 * out[1:])


def d_noise(D: float, before: np.ndarray, after: np.ndarray) -> float:
    """How far a fee-less trade may move D in float64: D is solved to 1e-15, and the y-solve works
    on the change of the output balance, which keeps a relative precision of a few ulps of the
    balance it started from: a trade that leaves a coin a small fraction of itself loses that
    ratio in relative precision of what is left (and D follows a scarce coin closely)."""
    return D * (4e-15 + 8 * EPS * float(np.max(before / after)))


@PROPERTY
@given(stable_pools(rates=True), st.data())
def test_exchange_never_lowers_D_and_pays_what_get_dy_quotes(pool, data):
    for _ in range(3):
        i, j, dx = data.draw(trades(pool))
        dx = min(dx, 5 * pool.balances[i])
        d_before, vp_before, xp_before = pool.D(), pool.virtual_price(), pool.xp()
        quoted = pool.get_dy(i, j, dx)
        assert pool.exchange(i, j, dx) == quoted
        # the fee kept by the pool can only raise D; without it D stays put up to float noise
        noise = d_noise(d_before, xp_before, pool.xp())
        assert pool.D() >= d_before - noise
        assert pool.virtual_price() >= vp_before * (1 - noise / d_before)
        kept = np.zeros(pool.n)
        kept[j] = quoted * pool.rates[j] * pool.fee * (1 - pool.admin_fee) / (1 - pool.fee)
        kept_D = -compiled.ss_D_change(pool.xp(), -kept, pool.amplification, pool.D())  # what it adds to D
        if kept_D > 2 * noise:
            assert pool.D() > d_before


@PROPERTY
@given(stable_pools(), st.data())
def test_deposit_then_balanced_withdrawal_returns_no_more_than_was_put_in(pool, data):
    n = pool.n
    amounts = np.array([pool.balances[k] * data.draw(st.floats(0.0, 2.0)) for k in range(n)])
    assume(amounts.any() and amounts.max() > 1e-9 * pool.balances.max())
    # marginal values of the coins (in coin 0) before the deposit: the pool's level set of D is
    # convex, so no deposit-and-withdraw round trip can gain at these prices
    prices = np.array([1.0] + [pool.price(k, 0) for k in range(1, n)])
    minted = pool.add_liquidity(amounts)
    out = pool.remove_liquidity(minted)
    assert out @ prices <= (amounts @ prices) * (1 + 1e-12)
    balanced = copy.deepcopy(pool)
    share = data.draw(st.floats(1e-6, 2.0))
    deposit = balanced.balances * share
    out = balanced.remove_liquidity(balanced.add_liquidity(deposit))
    assert np.all(out <= deposit * (1 + 1e-12))


@PROPERTY
@given(stable_pools(rates=True), st.data())
def test_one_coin_withdrawal_pays_no_more_than_the_balanced_value(pool, data):
    i = data.draw(st.integers(0, pool.n - 1))
    lp = pool.lp_supply * data.draw(st.floats(1e-9, 0.9))
    prices = np.array([pool.price(k, i) for k in range(pool.n)])  # in coin i, token units
    prices[i] = 1.0
    quoted, fee = pool.calc_withdraw_one_coin(lp, i)
    balanced = copy.deepcopy(pool).remove_liquidity(lp)
    assert quoted <= (balanced @ prices) * (1 + 1e-12)
    assert fee >= -1e-12 * quoted
    before = pool.balances.copy()
    assert pool.remove_liquidity_one_coin(lp, i) == quoted
    assert 0.0 < pool.balances[i] < before[i]


@PROPERTY
@given(stable_pools(), st.data())
def test_round_trip_exchange_loses(pool, data):
    assume(pool.fee >= 1e-4)  # without a fee the way back returns dx, up to float noise
    i, j, dx = data.draw(trades(pool))
    dx = min(dx, pool.balances[i])
    back = pool.exchange(j, i, pool.exchange(i, j, dx))
    assert back < dx * (1 - pool.fee)  # both legs pay the fee


# --------------------------------------------------------------------------------------------
# 4. the wrappers
# --------------------------------------------------------------------------------------------

def test_validation_messages():
    with pytest.raises(AmmError, match=r"get_D: a StableSwap pool has 2 to 4 coins, got 5"):
        ss.get_D([1.0] * 5, 100)
    with pytest.raises(AmmError, match=r"a StableSwap pool has 2 to 4 coins, got 1"):
        StableSwapPool([1.0], 100)
    with pytest.raises(AmmError, match=r"balances must be finite and > 0, got \[1.0, 0.0\]"):
        StableSwapPool([1.0, 0.0], 100)
    with pytest.raises(AmmError, match=r"balances must be finite and > 0"):
        ss.get_D([1.0, math.nan], 100)
    with pytest.raises(AmmError, match=r"amplification must be > 0, got 0"):
        StableSwapPool([1.0, 1.0], 0)
    with pytest.raises(AmmError, match=r"fee must be < 1, got 1.0"):
        StableSwapPool([1.0, 1.0], 100, fee=1.0)
    with pytest.raises(AmmError, match=r"admin_fee must be <= 1, got 1.5"):
        StableSwapPool([1.0, 1.0], 100, admin_fee=1.5)
    with pytest.raises(AmmError, match=r"rates must have 2 entries, got 3"):
        StableSwapPool([1.0, 1.0], 100, rates=[1.0, 1.0, 1.0])
    with pytest.raises(AmmError, match=r"assets must be 2 distinct names"):
        StableSwapPool([1.0, 1.0], 100, assets=["DAI", "DAI"])
    with pytest.raises(AmmError, match=r"lp_supply must be > 0"):
        StableSwapPool([1.0, 1.0], 100, lp_supply=0.0)
    pool = StableSwapPool([1e6, 1e6, 1e6], 100, assets=["DAI", "USDC", "USDT"])
    with pytest.raises(AmmError, match=r"get_dy: i and j must differ, got 1"):
        pool.get_dy(1, 1, 1.0)
    with pytest.raises(AmmError, match=r"exchange: i and j must differ, got 2"):
        pool.exchange(2, 2, 1.0)
    with pytest.raises(AmmError, match=r"j must be a coin index in \[0, 3\), got 3"):
        pool.exchange(0, 3, 1.0)
    with pytest.raises(AmmError, match=r"i must be a coin index in \[0, 3\), got True"):
        pool.exchange(True, 2, 1.0)
    with pytest.raises(AmmError, match=r"dx must be >= 0, got -1"):
        pool.exchange(0, 1, -1.0)
    with pytest.raises(AmmError, match=r"dx must be >= 0"):
        pool.get_dy(0, 1, -1.0)
    with pytest.raises(AmmError, match=r"dx must be finite and >= 0"):
        pool.get_dy(0, 1, [1.0, -1.0])
    with pytest.raises(AmmError, match=r"add_liquidity: amounts must be 3 numbers >= 0, not all 0"):
        pool.add_liquidity([0.0, 0.0, 0.0])
    with pytest.raises(AmmError, match=r"add_liquidity: amounts must be 3 numbers"):
        pool.add_liquidity([1.0, 1.0])
    with pytest.raises(AmmError, match=r"remove_liquidity: lp_amount must be <="):
        pool.remove_liquidity(pool.lp_supply * 2)
    with pytest.raises(AmmError, match=r"calc_withdraw_one_coin: lp_amount must be <"):
        pool.calc_withdraw_one_coin(pool.lp_supply, 0)
    with pytest.raises(AmmError, match=r"asset must be one of \('DAI', 'USDC', 'USDT'\), got 'FRAX'"):
        pool.index("FRAX")
    with pytest.raises(AmmError, match=r"arbitrage_dx: i and j must differ"):
        ss.arbitrage_dx(1, 1, [1.0, 1.0], 100, 0.0, 1.0)
    with pytest.raises(AmmError, match=r"target_price must be > 0"):
        pool.arbitrage(0, 1, 0.0)
    with pytest.raises(AmmError, match=r"get_y: x must be > 0"):
        ss.get_y(0, 1, 0.0, [1.0, 1.0], 100)


def test_non_convergence_raises_a_clear_error():
    message = (r"Newton's method did not converge for balances \[1.0, 1e-300\] and amplification 100.0 "
               r"\(balances this far apart, or this close to 0, are beyond float64\)")
    with pytest.raises(ConvergenceError, match=r"^get_D: " + message):
        ss.get_D([1.0, 1e-300], 100)
    with pytest.raises(ConvergenceError, match=message):
        StableSwapPool([1.0, 1e-300], 100)
    with pytest.raises(ConvergenceError, match=r"^get_dy: " + message):
        ss.get_dy(0, 1, 1.0, [1.0, 1e-300], 100)
    with pytest.raises(ConvergenceError, match=r"^get_dy: " + message):
        ss.get_dy(0, 1, [1.0, 2.0], [1.0, 1e-300], 100)
    with pytest.raises(ConvergenceError, match=r"^spot_price: Newton"):
        ss.spot_price(0, 1, [1e-200, 1e200], 1.0)
    assert issubclass(ConvergenceError, AmmError)


def test_exchange_add_remove_conserve_tokens():
    rng = np.random.default_rng(SEED + 10)
    pool = StableSwapPool([1e6, 2e6, 5e5], 200, fee=4e-4, admin_fee=0.5, rates=[1.0, 1.0, 1.02])
    outside = np.zeros(3)  # what traders and LPs put in minus what they took out
    start = pool.balances.copy()
    for _ in range(200):
        op = rng.random()
        if op < 0.6:
            i, j = (int(k) for k in rng.choice(3, 2, replace=False))
            dx = float(pool.balances[i] * 10 ** rng.uniform(-8, -0.5))
            dy = pool.exchange(i, j, dx)
            outside[i] += dx
            outside[j] -= dy
        elif op < 0.75:
            amounts = pool.balances * rng.uniform(0, 0.1, 3)
            pool.add_liquidity(amounts)
            outside += amounts
        elif op < 0.9:
            outside -= pool.remove_liquidity(pool.lp_supply * float(rng.uniform(0, 0.05)))
        else:
            i = int(rng.integers(0, 3))
            outside[i] -= pool.remove_liquidity_one_coin(pool.lp_supply * float(rng.uniform(0, 0.02)), i)
        held = pool.balances + pool.admin_balances
        assert held == pytest.approx(start + outside, rel=1e-12)
    assert np.all(pool.admin_balances > 0)


def test_snapshot_restore_round_trip_is_exact():
    pool = StableSwapPool([1e6, 2e6], 200, fee=4e-4, admin_fee=0.5)
    pool.exchange(0, 1, 1e4)
    snap = pool.snapshot()
    before = pool_state(pool)
    for _ in range(2):
        pool.exchange(1, 0, 3e4)
        pool.add_liquidity([1e3, 0.0])
        pool.remove_liquidity_one_coin(100.0, 1)
        pool.remove_liquidity(50.0)
        pool.restore(snap)
        assert pool_state(pool) == before


def test_get_dy_arrays_and_rates():
    pool = StableSwapPool([1e6, 1.1e6], 150, fee=4e-4, rates=[1.0, 1.07])
    sizes = np.array([[0.0, 1.0], [1e3, 1e5]])
    got = pool.get_dy(0, 1, sizes)
    assert got.shape == (2, 2)
    for size, value in zip(sizes.ravel(), got.ravel()):
        assert value == pool.get_dy(0, 1, float(size))
    # token units: dx r_0 in common units, out / r_1
    xp = pool.balances * pool.rates
    assert pool.get_dy(0, 1, 1e3) == pytest.approx(ss.get_dy(0, 1, 1e3 * 1.0, xp, 150, 4e-4) / 1.07, rel=1e-15)
    assert pool.price(0, 1) == pytest.approx(ss.spot_price(0, 1, xp, 150) * 1.0 / 1.07, rel=1e-15)
    assert pool.price(0, 1) * pool.price(1, 0) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("target_factor", [0.5, 0.9, 0.99, 0.999])
def test_arbitrage_moves_the_marginal_price_net_of_fee_to_the_target(target_factor):
    # with the whole fee going to the admin, the balances move along the invariant, and the
    # marginal price after the trade, net of fee, is the target
    pool = StableSwapPool([3e6, 1e6, 2e6], 300, fee=4e-4, admin_fee=1.0, rates=[1.0, 1.0, 1.05])
    target = pool.price(1, 2) * (1 - pool.fee) * target_factor
    dx = pool.arbitrage(1, 2, target)
    assert dx > 0
    pool.exchange(1, 2, dx)
    assert (1 - pool.fee) * pool.price(1, 2) == pytest.approx(target, rel=1e-9)


def test_arbitrage_is_the_profit_maximising_trade():
    # with fees kept by the LPs, the optimum is where the marginal output of the trade itself
    # (the derivative of get_dy) equals the target; the pool's price after it is slightly higher
    pool = StableSwapPool([3e6, 1e6], 100, fee=4e-4, admin_fee=0.5)
    target = pool.price(1, 0) * 0.95
    dx = pool.arbitrage(1, 0, target)
    h = 1e-5 * dx
    slope = (pool.get_dy(1, 0, dx + h) - pool.get_dy(1, 0, dx - h)) / (2 * h)
    assert slope == pytest.approx(target, rel=1e-7)
    profit = pool.get_dy(1, 0, dx) - target * dx
    for other in (0.9 * dx, 1.1 * dx):
        assert pool.get_dy(1, 0, other) - target * other < profit
    pool.exchange(1, 0, dx)
    assert (1 - pool.fee) * pool.price(1, 0) >= target


def test_arbitrage_is_zero_inside_the_fee_band():
    pool = StableSwapPool([1e6, 1e6], 100, fee=4e-4)
    assert pool.arbitrage(0, 1, 1.0) == 0.0
    assert pool.arbitrage(0, 1, (1 - 4e-4) * 1.000001) == 0.0
    assert pool.arbitrage(0, 1, (1 - 4e-4) * 0.999) > 0.0


def test_imbalanced_pool_prices_the_scarce_coin_above_par():
    # REFERENCE-MATH: at A = 50, with 1k/199k, selling the scarce coin pays more than 1 and
    # buying it out costs a lot
    pool = StableSwapPool([1e3, 199e3], 50, fee=4e-4)
    price = float(exact_price(0, 1, [1e3, 199e3], 50))
    assert price > 10.0
    assert pool.price(0, 1) == pytest.approx(price, rel=1e-9)
    sell = pool.get_dy(0, 1, 10.0)
    assert sell == pytest.approx(float(exact_dy(0, 1, 10.0, [1e3, 199e3], 50, 4e-4)), rel=1e-9)
    assert sell > 10.0 * 10.0
    buy = pool.get_dy(1, 0, 1000.0)
    assert buy == pytest.approx(float(exact_dy(1, 0, 1000.0, [1e3, 199e3], 50, 4e-4)), rel=1e-9)
    assert buy < 1000.0 / price  # worse than the marginal price: buying the scarce coin costs more


def test_docstring_example():
    import doctest

    result = doctest.testmod(ss, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
