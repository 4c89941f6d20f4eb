"""Fixed-spread liquidation math and the sorted liquidation index.

Expected values are closed forms evaluated by hand or in exact rational arithmetic
(``fractions.Fraction`` on the decimal inputs), brute-force recomputations, or invariants.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from contagion._reference import liquidation as ref_liq
from contagion.errors import LiquidationError
from contagion.liquidation import LiquidationIndex, health_factor, liquidation_price, seize_amounts

INF = float("inf")
NAN = float("nan")


def _close(value: float, exact: Fraction, rel: float = 1e-14) -> bool:
    return abs(Fraction(value) - exact) <= Fraction(rel) * abs(exact)


@pytest.fixture(scope="module")
def ext_liq():
    return pytest.importorskip("contagion._ext.liquidation", reason="compiled kernels not built")


# --------------------------------------------------------------------------------------------
# closed forms by hand
# --------------------------------------------------------------------------------------------

C, D, P, LT = 10.0, 15000.0, 1800.0, 0.825          # 10 ETH at $1,800 against 15,000 USDC


def test_health_factor_closed_form():
    # HF = 10 * 1800 * 0.825 / 15000 = 14850 / 15000 = 0.99
    hf = health_factor(C, D, P, LT)
    assert isinstance(hf, float)
    assert _close(hf, Fraction(99, 100))
    # HF = price / liquidation_price
    assert _close(health_factor(C, D, 2000.0, LT), Fraction(10 * 2000 * 825, 15000 * 1000))


def test_liquidation_price_closed_form():
    # 15000 / (10 * 0.825) = 15000 / 8.25 = 20000/11
    lp = liquidation_price(C, D, LT)
    assert isinstance(lp, float)
    assert _close(lp, Fraction(20000, 11))
    # in units of price_debt: a debt asset worth 2 doubles the collateral price needed
    assert _close(liquidation_price(C, D, LT, price_debt=2.0), Fraction(40000, 11))
    # at the liquidation price the health factor is 1
    assert math.isclose(health_factor(C, D, lp, LT), 1.0, rel_tol=1e-15)


def test_zero_positions():
    lp = liquidation_price(np.array([10.0, 0.0, 0.0]), np.array([0.0, 100.0, 0.0]), 0.8)
    np.testing.assert_array_equal(lp, [0.0, INF, 0.0])
    hf = health_factor(np.array([10.0, 0.0, 0.0]), np.array([0.0, 100.0, 0.0]), 1000.0, 0.8)
    np.testing.assert_array_equal(hf, [INF, 0.0, INF])
    assert liquidation_price(5.0, 0.0, 0.8) == 0.0
    assert health_factor(5.0, 0.0, 100.0, 0.8) == INF


def test_seize_half_close():
    # HF 0.99 < 1; close factor 0.5 -> repay 7500; seized 7500 * 1.05 / 1800 = 4.375
    repaid, seized = seize_amounts(INF, C, D, P, LT, liquidation_bonus=0.05)
    assert _close(repaid, Fraction(7500))
    assert _close(seized, Fraction(7500) * Fraction(105, 100) / 1800)
    assert _close(seized, Fraction(4375, 1000))
    # a smaller offer is taken as is
    repaid, seized = seize_amounts(1000.0, C, D, P, LT, liquidation_bonus=0.05)
    assert repaid == 1000.0
    assert _close(seized, Fraction(1000) * Fraction(105, 100) / 1800)


def test_seize_cap_path_underwater():
    # 10 ETH at 700: collateral value 7000 < 15000 * 0.5 * 1.05 = 7875 -> all collateral seized,
    # repay shrinks to 7000 / 1.05
    assert 10 * 700 < 15000 * 0.5 * 1.05
    repaid, seized = seize_amounts(INF, C, D, 700.0, LT, liquidation_bonus=0.05)
    assert seized == C
    assert _close(repaid, Fraction(7000) / Fraction(105, 100))
    # bonus 0: collateral value 7000 < 7500 -> still capped, repay = collateral value
    repaid, seized = seize_amounts(INF, C, D, 700.0, LT, liquidation_bonus=0.0)
    assert seized == C and _close(repaid, Fraction(7000))
    # debt without collateral: nothing to seize, nothing repaid
    assert seize_amounts(INF, 0.0, D, P, LT) == (0.0, 0.0)


def test_seize_full_close_below_threshold():
    # HF = 10 * 1700 * 0.825 / 15000 = 0.935 <= 0.95 -> the whole debt may be repaid
    repaid, seized = seize_amounts(INF, C, D, 1700.0, LT, full_close_hf=0.95, liquidation_bonus=0.05)
    assert _close(repaid, Fraction(15000))
    assert _close(seized, Fraction(15000) * Fraction(105, 100) / 1700)
    assert seized < C
    # without full_close_hf only half
    repaid, _ = seize_amounts(INF, C, D, 1700.0, LT, liquidation_bonus=0.05)
    assert _close(repaid, Fraction(7500))
    # HF 0.99 > 0.95 -> half even with the rule
    repaid, _ = seize_amounts(INF, C, D, P, LT, full_close_hf=0.95, liquidation_bonus=0.05)
    assert _close(repaid, Fraction(7500))
    # exactly at 0.95 (collateral 1, lt 1, debt 100, price 95: HF = 95/100, the double nearest
    # 0.95): inclusive
    repaid, seized = seize_amounts(INF, 1.0, 100.0, 95.0, 1.0, full_close_hf=0.95, liquidation_bonus=0.0)
    assert repaid == 95.0 and seized == 1.0  # whole debt 100 would need 100/95 > 1 collateral: capped
    repaid, seized = seize_amounts(50.0, 1.0, 100.0, 95.0, 1.0, full_close_hf=0.95, close_factor=0.1,
                                   liquidation_bonus=0.0)
    assert repaid == 50.0          # > close factor 0.1 * 100: the full-close rule applied
    assert _close(seized, Fraction(50, 95))


@pytest.mark.parametrize("price", [100.0, 100.0 + 1e-9, 150.0, 1e9])
def test_seize_healthy_position_is_zero(price):
    # collateral 1, lt 1, debt 100: HF = price / 100 >= 1 (exactly 1 at price 100)
    assert health_factor(1.0, 100.0, price, 1.0) >= 1.0
    assert seize_amounts(INF, 1.0, 100.0, price, 1.0) == (0.0, 0.0)
    r, s = seize_amounts(np.array([INF, 5.0]), 1.0, 100.0, price, 1.0)
    np.testing.assert_array_equal(r, [0.0, 0.0])
    np.testing.assert_array_equal(s, [0.0, 0.0])
    # no debt: always healthy
    assert seize_amounts(INF, 1.0, 0.0, price, 1.0) == (0.0, 0.0)


def test_just_below_one_is_liquidatable():
    price = float(np.nextafter(100.0, 0.0))
    assert health_factor(1.0, 100.0, price, 1.0) < 1.0
    repaid, seized = seize_amounts(INF, 1.0, 100.0, price, 1.0, liquidation_bonus=0.0)
    assert repaid == 50.0 and _close(seized, Fraction(50) / Fraction(price))


@pytest.mark.parametrize("scale", [2.0, 3.0, 0.001, 1234.5])
def test_only_the_price_ratio_matters(scale):
    base_hf = health_factor(C, D, P, LT)
    assert math.isclose(health_factor(C, D, P * scale, LT, price_debt=scale), base_hf, rel_tol=1e-14)
    base = seize_amounts(INF, C, D, P, LT, full_close_hf=0.95)
    scaled = seize_amounts(INF, C, D, P * scale, LT, price_debt=scale, full_close_hf=0.95)
    assert math.isclose(scaled[0], base[0], rel_tol=1e-14)
    assert math.isclose(scaled[1], base[1], rel_tol=1e-14)
    capped = seize_amounts(INF, C, D, 700.0 * scale, LT, price_debt=scale)
    assert capped[1] == C
    assert _close(capped[0], Fraction(7000) / Fraction(105, 100), 1e-13)
    # liquidation price scales with price_debt
    assert math.isclose(liquidation_price(C, D, LT, price_debt=scale) / scale, 20000 / 11, rel_tol=1e-14)


def test_public_array_paths_match_closed_forms():
    rng = np.random.default_rng(11)
    c = 10.0 ** rng.uniform(-2, 4, 300)
    d = 10.0 ** rng.uniform(0, 6, 300)
    lt, pc = 0.8, 1500.0
    lp = liquidation_price(c, d, lt)
    hf = health_factor(c, d, pc, lt)
    repaid, seized = seize_amounts(INF, c, d, pc, lt, close_factor=0.5, liquidation_bonus=0.05)
    assert lp.shape == hf.shape == repaid.shape == seized.shape == (300,)
    for i in range(300):
        C_, D_ = Fraction(c[i]), Fraction(d[i])
        assert _close(lp[i], D_ / (C_ * Fraction(lt)), 1e-14)
        exact_hf = C_ * Fraction(pc) * Fraction(lt) / D_
        assert _close(hf[i], exact_hf, 1e-14)
        if exact_hf >= 1 + Fraction(1, 10**12):
            assert repaid[i] == 0.0 and seized[i] == 0.0
        elif exact_hf < 1 - Fraction(1, 10**12):
            want_repay = D_ / 2
            want_seize = want_repay * Fraction(105, 100) / Fraction(pc)
            if want_seize > C_:
                assert seized[i] == c[i]
                assert _close(repaid[i], C_ * Fraction(pc) / Fraction(105, 100), 1e-13)
            else:
                assert _close(repaid[i], want_repay, 1e-14)
                assert _close(seized[i], want_seize, 1e-13)
    # broadcasting: (2, 1) repay offers against (300,) positions
    r2, s2 = seize_amounts(np.array([[INF], [0.0]]), c, d, pc, lt)
    assert r2.shape == s2.shape == (2, 300)
    np.testing.assert_array_equal(r2[1], 0.0)
    np.testing.assert_allclose(r2[0], repaid, rtol=1e-15)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: liquidation_price(-1.0, 1.0, 0.8), r"liquidation_price: collateral must be finite and >= 0; element 0"),
    (lambda: liquidation_price(1.0, -1.0, 0.8), r"liquidation_price: debt must be finite and >= 0"),
    (lambda: liquidation_price([1.0, NAN], 1.0, 0.8), r"liquidation_price: collateral must be finite .*element 1"),
    (lambda: liquidation_price(1.0, INF, 0.8), r"liquidation_price: debt must be finite"),
    (lambda: liquidation_price(1.0, 1.0, 0.0), r"liquidation_price: liquidation_threshold must be > 0"),
    (lambda: liquidation_price(1.0, 1.0, 1.0001), r"liquidation_price: liquidation_threshold must be <= 1"),
    (lambda: liquidation_price(1.0, 1.0, NAN), r"liquidation_price: liquidation_threshold must be a finite number"),
    (lambda: liquidation_price(1.0, 1.0, 0.8, price_debt=0.0), r"liquidation_price: price_debt must be > 0"),
    (lambda: health_factor(-1.0, 1.0, 1.0, 0.8), r"health_factor: collateral must be finite and >= 0"),
    (lambda: health_factor(1.0, NAN, 1.0, 0.8), r"health_factor: debt must be finite"),
    (lambda: health_factor(1.0, 1.0, -1.0, 0.8), r"health_factor: price_collateral must be >= 0"),
    (lambda: health_factor(1.0, 1.0, NAN, 0.8), r"health_factor: price_collateral must be a finite number"),
    (lambda: health_factor(1.0, 1.0, 1.0, -0.5), r"health_factor: liquidation_threshold must be > 0"),
    (lambda: health_factor(1.0, 1.0, 1.0, 0.8, price_debt=-1.0), r"health_factor: price_debt must be > 0"),
    (lambda: seize_amounts(INF, -1.0, 1.0, 1.0, 0.8), r"seize_amounts: collateral must be >= 0"),
    (lambda: seize_amounts(INF, NAN, 1.0, 1.0, 0.8), r"seize_amounts: collateral must be a finite number"),
    (lambda: seize_amounts(INF, 1.0, -1.0, 1.0, 0.8), r"seize_amounts: debt must be >= 0"),
    (lambda: seize_amounts(-1.0, 1.0, 1.0, 1.0, 0.8), r"seize_amounts: repay must be >= 0"),
    (lambda: seize_amounts(NAN, 1.0, 1.0, 1.0, 0.8), r"seize_amounts: repay must be a finite number"),
    (lambda: seize_amounts([1.0, -1.0], 1.0, 1.0, 1.0, 0.8), r"seize_amounts: repay must be >= 0 \(inf allowed\)"),
    (lambda: seize_amounts([1.0, NAN], 1.0, 1.0, 1.0, 0.8), r"seize_amounts: repay must be >= 0 \(inf allowed\)"),
    (lambda: seize_amounts([1.0, 1.0], [1.0, -1.0], 1.0, 1.0, 0.8), r"seize_amounts: collateral must be finite and >= 0; element 1"),
    (lambda: seize_amounts([1.0, 1.0], 1.0, [NAN, 1.0], 1.0, 0.8), r"seize_amounts: debt must be finite .*element 0"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 0.0, 0.8), r"seize_amounts: price_collateral must be > 0"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.0), r"seize_amounts: liquidation_threshold must be > 0"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 1.5), r"seize_amounts: liquidation_threshold must be <= 1"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, price_debt=0.0), r"seize_amounts: price_debt must be > 0"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, close_factor=0.0), r"seize_amounts: close_factor must be > 0"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, close_factor=1.01), r"seize_amounts: close_factor must be <= 1"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, close_factor=NAN), r"seize_amounts: close_factor must be a finite number"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, liquidation_bonus=-0.01), r"seize_amounts: liquidation_bonus must be >= 0"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, full_close_hf=1.5), r"seize_amounts: full_close_hf must be <= 1"),
    (lambda: seize_amounts(INF, 1.0, 1.0, 1.0, 0.8, full_close_hf=-0.1), r"seize_amounts: full_close_hf must be >= 0"),
])
def test_validation_errors(call, match):
    with pytest.raises(LiquidationError, match=match):
        call()


# --------------------------------------------------------------------------------------------
# compiled vs reference kernels
# --------------------------------------------------------------------------------------------

def _positions(seed: int, n: int):
    rng = np.random.default_rng(seed)
    c = 10.0 ** rng.uniform(-4, 6, n)
    d = 10.0 ** rng.uniform(-2, 8, n)
    c[rng.random(n) < 0.1] = 0.0
    d[rng.random(n) < 0.1] = 0.0
    c[:3] = [0.0, 0.0, 5.0]
    d[:3] = [0.0, 7.0, 0.0]
    return c, d


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("lt", [0.5, 0.825, 1.0])
def test_parity_keys_and_health_factors(ext_liq, seed, lt):
    c, d = _positions(seed, 5000)
    got = np.full(c.size, NAN)
    ref = np.full(c.size, NAN)
    ext_liq.liquidation_prices(c, d, lt, got)
    ref_liq.liquidation_prices(c, d, lt, ref)
    np.testing.assert_allclose(got, ref, rtol=1e-15, atol=0)
    # no debt -> key 0; debt without collateral -> key inf
    assert got[0] == 0.0 and got[1] == INF and got[2] == 0.0
    np.testing.assert_array_equal(got == 0.0, d == 0.0)
    np.testing.assert_array_equal(np.isinf(got), (c == 0.0) & (d > 0.0))
    for ratio in [0.0, 1.0, 1234.5, 1e9]:
        got_hf = np.full(c.size, NAN)
        ref_hf = np.full(c.size, NAN)
        ext_liq.health_factors(c, d, ratio, lt, got_hf)
        ref_liq.health_factors(c, d, ratio, lt, ref_hf)
        np.testing.assert_allclose(got_hf, ref_hf, rtol=1e-15, atol=0)
        np.testing.assert_array_equal(np.isinf(got_hf), d == 0.0)


def _seize_params():
    return [(cf, full, bonus) for cf in (0.5, 1.0) for full in (-1.0, 0.95) for bonus in (0.0, 0.05, 0.1)]


@pytest.mark.parametrize("cf, full, bonus", _seize_params())
def test_parity_seize_scalar_and_batch(ext_liq, cf, full, bonus):
    c, d = _positions(17, 3000)
    rng = np.random.default_rng(18)
    request = 10.0 ** rng.uniform(-2, 8, c.size)
    request[rng.random(c.size) < 0.3] = INF
    request[rng.random(c.size) < 0.05] = 0.0
    lt = 0.8
    keys = np.full(c.size, NAN)
    ref_liq.liquidation_prices(c, d, lt, keys)
    finite = keys[np.isfinite(keys) & (keys > 0)]
    # a price in the middle of the keys: many positions on both sides
    ratio = float(np.median(finite))
    got_r, got_s = np.full(c.size, NAN), np.full(c.size, NAN)
    ref_r, ref_s = np.full(c.size, NAN), np.full(c.size, NAN)
    ext_liq.seize_batch(request, c, d, ratio, lt, cf, full, bonus, got_r, got_s)
    ref_liq.seize_batch(request, c, d, ratio, lt, cf, full, bonus, ref_r, ref_s)
    np.testing.assert_allclose(got_r, ref_r, rtol=1e-14, atol=0)
    np.testing.assert_allclose(got_s, ref_s, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(got_r == 0.0, ref_r == 0.0)
    liquidatable = keys > ratio
    assert 0 < liquidatable.sum() < c.size
    # healthy positions untouched; liquidatable ones with collateral and a positive offer repay
    assert (got_r[~liquidatable] == 0.0).all() and (got_s[~liquidatable] == 0.0).all()
    active = liquidatable & (c > 0) & (request > 0)
    assert (got_r[active] > 0).all()
    # seized never exceeds the collateral; repay never exceeds the debt or the offer
    assert (got_s <= c).all() and (got_r <= d * (1 + 1e-15)).all() and (got_r <= request).all()
    for i in range(0, c.size, 3):
        args = (float(request[i]), float(c[i]), float(d[i]), ratio, lt, cf, full, bonus)
        er, es = ext_liq.seize(*args)
        rr, rs = ref_liq.seize(*args)
        assert math.isclose(er, rr, rel_tol=1e-14) and math.isclose(es, rs, rel_tol=1e-14), args
        assert math.isclose(er, got_r[i], rel_tol=1e-15) and math.isclose(es, got_s[i], rel_tol=1e-15)


def _sorted_keys(rng, n):
    # coarse values so that ties are common, plus zeros and infinities
    keys = np.round(rng.uniform(0, 50, n)) * 10.0
    keys[rng.random(n) < 0.05] = INF
    keys[rng.random(n) < 0.05] = 0.0
    return np.sort(keys)[::-1].copy()


def _brute_count(keys, price):
    return sum(1 for k in keys.tolist() if k > price)


@pytest.mark.parametrize("seed", range(5))
def test_count_above_matches_brute_force(ext_liq, seed):
    rng = np.random.default_rng(seed)
    keys = _sorted_keys(rng, int(rng.integers(0, 400)))
    prices = list(rng.uniform(-10, 600, 200)) + list(np.unique(keys)) + [0.0, -1.0, INF, 1e300]
    for price in prices:
        want = _brute_count(keys, float(price))
        assert ext_liq.count_above(keys, float(price)) == want
        assert ref_liq.count_above(keys, float(price)) == want
    if keys.size:
        # a price equal to a key does not count that key (strictly greater)
        k = float(keys[keys.size // 2])
        assert ext_liq.count_above(keys, k) == int(np.sum(keys > k))
    empty = np.empty(0)
    assert ext_liq.count_above(empty, 1.0) == 0 == ref_liq.count_above(empty, 1.0)


@pytest.mark.parametrize("seed", range(6))
def test_parity_merge_update(ext_liq, seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 300))
    raw = np.round(rng.uniform(0, 30, n)) * 5.0
    raw[rng.random(n) < 0.05] = INF
    ids = np.arange(n, dtype=np.int64)
    order = np.lexsort((ids, -raw))
    keys_sorted = np.ascontiguousarray(raw[order])
    ids_sorted = np.ascontiguousarray(ids[order])
    m = int(rng.integers(0, n + 1))
    changed = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
    removed = np.zeros(n, dtype=np.uint8)
    removed[changed] = 1
    new_vals = np.round(rng.uniform(0, 30, m)) * 5.0
    new_order = np.lexsort((changed, -new_vals))
    new_keys = np.ascontiguousarray(new_vals[new_order])
    new_ids = np.ascontiguousarray(changed[new_order])
    outs = []
    for mod in (ext_liq, ref_liq):
        out_k = np.full(n, NAN)
        out_i = np.full(n, -1, dtype=np.int64)
        count = mod.merge_update(keys_sorted, ids_sorted, removed, new_keys, new_ids, out_k, out_i)
        assert count == n
        outs.append((out_k, out_i))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    # independent expectation: sort the updated keys from scratch
    updated = raw.copy()
    updated[new_ids] = new_keys
    expect = sorted(range(n), key=lambda i: (-updated[i], i))
    np.testing.assert_array_equal(outs[0][1], expect)
    np.testing.assert_array_equal(outs[0][0], updated[expect])


def test_parity_merge_update_removal_only(ext_liq):
    # dropping entries without re-inserting them: fewer entries come out
    keys = np.array([9.0, 7.0, 7.0, 3.0, 0.0])
    ids = np.array([4, 0, 2, 1, 3], dtype=np.int64)
    removed = np.array([0, 1, 1, 0, 0], dtype=np.uint8)   # drop ids 1 and 2
    new_keys = np.array([8.0])
    new_ids = np.array([1], dtype=np.int64)                # id 1 re-enters at 8
    for mod in (ext_liq, ref_liq):
        out_k = np.full(5, NAN)
        out_i = np.full(5, -1, dtype=np.int64)
        assert mod.merge_update(keys, ids, removed, new_keys, new_ids, out_k, out_i) == 4
        np.testing.assert_array_equal(out_k[:4], [9.0, 8.0, 7.0, 0.0])
        np.testing.assert_array_equal(out_i[:4], [4, 1, 0, 3])


# --------------------------------------------------------------------------------------------
# LiquidationIndex
# --------------------------------------------------------------------------------------------

def _random_keys(rng, n):
    keys = np.round(rng.uniform(0, 100, n), 1)
    keys[rng.random(n) < 0.05] = INF
    keys[rng.random(n) < 0.05] = 0.0
    return keys


def _expected_order(keys):
    return sorted(range(len(keys)), key=lambda i: (-keys[i], i))


def test_index_docstring_example():
    idx = LiquidationIndex([1500.0, 1900.0, 1200.0])
    assert len(idx) == 3
    assert idx.liquidatable(1600.0).tolist() == [1]
    assert idx.entered(1600.0, 1300.0).tolist() == [0]
    assert idx.left(1300.0, 1600.0).tolist() == [0]
    assert idx.keys.tolist() == [1900.0, 1500.0, 1200.0]
    assert idx.ids.tolist() == [1, 0, 2]


@pytest.mark.parametrize("seed", range(5))
def test_index_liquidatable_entered_left(seed):
    rng = np.random.default_rng(seed)
    keys = _random_keys(rng, 500)
    idx = LiquidationIndex(keys)
    order = _expected_order(keys)
    np.testing.assert_array_equal(idx.ids, order)
    np.testing.assert_array_equal(idx.keys, keys[order])
    prices = list(rng.uniform(-1, 110, 50)) + list(rng.choice(keys, 20)) + [0.0, INF]
    for p in prices:
        p = float(p)
        liq = idx.liquidatable(p)
        assert set(liq.tolist()) == set(np.flatnonzero(keys > p).tolist())
        assert liq.tolist() == [i for i in order if keys[i] > p]     # riskiest first
        assert idx.count(p) == int(np.sum(keys > p))
    for _ in range(50):
        a, b = (float(v) for v in rng.choice(np.concatenate([keys, rng.uniform(0, 100, 30)]), 2))
        old, new = max(a, b), min(a, b)
        if old == new:
            assert idx.entered(old, new).size == 0 and idx.left(new, old).size == 0
            continue
        assert set(idx.entered(old, new).tolist()) == {i for i in range(keys.size) if new < keys[i] <= old}
        assert set(idx.left(new, old).tolist()) == {i for i in range(keys.size) if new < keys[i] <= old}
        # wrong direction: empty
        assert idx.entered(new, old).size == 0
        assert idx.left(old, new).size == 0


def test_index_views_are_read_only():
    idx = LiquidationIndex([3.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        idx.keys[0] = 0.0
    with pytest.raises(ValueError):
        idx.liquidatable(0.0)[0] = 5


@pytest.mark.parametrize("seed", range(6))
def test_index_updates_equal_fresh_index(seed):
    rng = np.random.default_rng(1000 + seed)
    n = 300
    keys = _random_keys(rng, n)
    idx = LiquidationIndex(keys)
    current = keys.copy()
    for batch in range(8):
        m = int(rng.integers(0, 60))
        ids = rng.integers(0, n, m)            # repeats allowed: the last update wins
        new = _random_keys(rng, m)
        # sometimes split the batch in two update calls before the flush
        cut = int(rng.integers(0, m + 1))
        idx.update(ids[:cut], new[:cut])
        idx.update(ids[cut:], new[cut:])
        for i, k in zip(ids.tolist(), new.tolist()):
            current[i] = k
        fresh = LiquidationIndex(current)
        np.testing.assert_array_equal(idx.ids, fresh.ids)
        np.testing.assert_array_equal(idx.keys, fresh.keys)
        np.testing.assert_array_equal(idx.ids, _expected_order(current))
        p = float(rng.uniform(0, 100))
        assert set(idx.liquidatable(p).tolist()) == set(np.flatnonzero(current > p).tolist())


def test_index_repeated_update_same_id_before_flush():
    idx = LiquidationIndex([5.0, 4.0, 3.0])
    idx.update(2, 10.0)
    idx.update([2, 0], [1.0, 6.0])
    idx.update(np.array([2]), np.array([4.0]))
    # id 2 -> 4.0 (ties with id 1: id ascending), id 0 -> 6.0
    assert idx.ids.tolist() == [0, 1, 2]
    assert idx.keys.tolist() == [6.0, 4.0, 4.0]
    idx.update(0, INF)
    assert idx.liquidatable(1e300).tolist() == [0]


@pytest.mark.parametrize("ids, keys, match", [
    (3, 1.0, r"LiquidationIndex.update: id 3 out of range"),
    (-1, 1.0, r"LiquidationIndex.update: id -1 out of range"),
    (0, -1.0, r"LiquidationIndex.update: key must be >= 0, got -1.0"),
    (0, NAN, r"LiquidationIndex.update: key must be >= 0, got nan"),
])
def test_index_update_validation(ids, keys, match):
    idx = LiquidationIndex([5.0, 4.0, 3.0])
    with pytest.raises(LiquidationError, match=match):
        idx.update(ids, keys)
    assert idx.keys.tolist() == [5.0, 4.0, 3.0]


def test_index_update_is_all_or_nothing():
    idx = LiquidationIndex([5.0, 4.0, 3.0])
    with pytest.raises(LiquidationError, match="id 7 out of range"):
        idx.update([0, 7], [9.0, 1.0])
    with pytest.raises(LiquidationError, match="equal length"):
        idx.update([0, 1], [9.0])
    with pytest.raises(LiquidationError, match="ids must be integers"):
        idx.update([1.7], [9.0])
    assert idx.keys.tolist() == [5.0, 4.0, 3.0]
    idx.update([0, 0], [1.0, 6.0])  # the later update of the same id wins
    assert idx.keys.tolist() == [6.0, 4.0, 3.0]


@pytest.mark.parametrize("keys", [[1.0, NAN], [1.0, -0.5], [-INF]])
def test_index_constructor_validation(keys):
    with pytest.raises(LiquidationError, match=r"LiquidationIndex: keys must be >= 0 \(inf allowed\), not NaN"):
        LiquidationIndex(keys)


def test_index_empty():
    idx = LiquidationIndex([])
    assert len(idx) == 0
    assert idx.count(1.0) == 0
    assert idx.liquidatable(0.0).size == 0
    assert idx.entered(2.0, 1.0).size == 0
