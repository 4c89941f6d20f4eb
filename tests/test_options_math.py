"""Black-Scholes pricing, greeks and option margin (contagion.options) against textbook values,
an independent closed-form implementation, put-call parity and finite differences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from contagion.options import (
    OptionError,
    bs_delta,
    bs_delta_gamma,
    bs_gamma,
    bs_greeks,
    bs_price,
    bs_rho,
    bs_theta,
    bs_vega,
    d1_d2,
    greeks_margin,
    normal_cdf,
    normal_pdf,
    scenario_grid,
    scenario_losses,
    scenario_margin,
    scenario_values,
)


# ------------------------------------------------------------- an independent implementation
def N(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def ref(S, K, T, sig, call, r=0.0, q=0.0):
    """(price, delta, gamma, vega, theta, rho) from the textbook formulas (Hull ch. 15, 19)."""
    d1 = (math.log(S / K) + (r - q + sig * sig / 2) * T) / (sig * math.sqrt(T))
    d2 = d1 - sig * math.sqrt(T)
    Sq, Kr = S * math.exp(-q * T), K * math.exp(-r * T)
    gamma = math.exp(-q * T) * phi(d1) / (S * sig * math.sqrt(T))
    vega = Sq * phi(d1) * math.sqrt(T)
    decay = -Sq * phi(d1) * sig / (2 * math.sqrt(T))
    if call:
        return (Sq * N(d1) - Kr * N(d2), math.exp(-q * T) * N(d1), gamma, vega,
                decay - r * Kr * N(d2) + q * Sq * N(d1), K * T * math.exp(-r * T) * N(d2))
    return (Kr * N(-d2) - Sq * N(-d1), -math.exp(-q * T) * N(-d1), gamma, vega,
            decay + r * Kr * N(-d2) - q * Sq * N(-d1), -K * T * math.exp(-r * T) * N(-d2))


def cases(n=300, seed=11):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        S = float(rng.uniform(50, 5000))
        K = float(S * math.exp(rng.normal(0, 0.4)))
        T = float(rng.choice([1 / 365 / 24, 1 / 365, 7 / 365, 0.25, 1.0, 3.0]) * rng.uniform(0.5, 1.5))
        sig = float(rng.uniform(0.05, 1.5))
        r = float(rng.uniform(-0.01, 0.08))
        q = float(rng.uniform(0, 0.04))
        yield S, K, T, sig, bool(rng.integers(2)), r, q


# ------------------------------------------------------------------------- textbook values
def test_hull_example_15_6_call_and_put():
    # Hull, Options, Futures, and Other Derivatives (9th ed.), Example 15.6: S0 = 42, K = 40,
    # r = 10 %, sigma = 20 %, T = 0.5: d1 = 0.7693, d2 = 0.6278, c = 4.76, p = 0.81
    d1, d2 = d1_d2(42.0, 40.0, 0.5, 0.2, rate=0.1)
    assert abs(d1 - 0.7693) < 0.5e-4 and abs(d2 - 0.6278) < 0.5e-4
    assert abs(bs_price(42.0, 40.0, 0.5, 0.2, True, rate=0.1) - 4.76) < 0.005
    assert abs(bs_price(42.0, 40.0, 0.5, 0.2, False, rate=0.1) - 0.81) < 0.005


def test_hull_chapter_19_greeks():
    # Hull (9th ed.), chapter 19, the running example: S0 = 49, K = 50, r = 5 %, sigma = 20 %,
    # T = 20 weeks = 0.3846 years, no dividend: the call is worth about $2.40 (the "$240,000" for
    # 100,000 options), delta 0.522 (Example 19.1), theta -4.31 per year = -0.0118 per calendar
    # day (19.2), gamma 0.066 (19.4), vega 12.1 (19.6), rho 8.91 (19.7)
    g = bs_greeks(49.0, 50.0, 20 / 52, 0.2, True, rate=0.05)
    assert abs(g.price - 2.40) < 0.005
    assert abs(g.delta - 0.522) < 0.0005
    assert abs(g.gamma - 0.066) < 0.0005
    assert abs(g.vega - 12.1) < 0.05
    assert abs(g.theta - (-4.31)) < 0.005
    assert abs(g.theta / 365 - (-0.0118)) < 0.00005
    assert abs(g.rho - 8.91) < 0.005


# -------------------------------------------------------------------------- closed forms
def test_every_function_matches_the_closed_forms():
    for S, K, T, sig, call, r, q in cases():
        want = ref(S, K, T, sig, call, r, q)
        got = [f(S, K, T, sig, call, r, q) for f in (bs_price, bs_delta, bs_gamma, bs_vega, bs_theta, bs_rho)]
        for w, g in zip(want, got):
            # both sides carry the rounding of S N(d1) - K N(d2) (cancellation for far
            # out-of-the-money prices): relative 1e-9 with an absolute floor of 1e-12 x spot
            assert g == pytest.approx(w, rel=1e-9, abs=1e-12 * S), (S, K, T, sig, call, r, q)
        assert bs_greeks(S, K, T, sig, call, r, q) == pytest.approx(tuple(got), rel=0, abs=0)
        assert bs_delta_gamma(S, K, T, sig, call, r, q) == (got[1], got[2])


@pytest.mark.parametrize("S,K,T,sig,r,q", [
    (100.0, 100.0, 1.0, 0.2, 0.05, 0.0),
    (2000.0, 1200.0, 1 / 365, 0.8, 0.0, 0.0),      # far in the money call / far out of the money put
    (2000.0, 3500.0, 7 / 365, 0.8, 0.0, 0.0),
    (50.0, 51.0, 10.0, 1.2, 0.08, 0.03),
    (1.0, 1.0, 1 / 365 / 24 / 60, 0.3, 0.02, 0.01),
])
def test_put_call_parity_to_1e_12(S, K, T, sig, r, q):
    c = bs_price(S, K, T, sig, True, r, q)
    p = bs_price(S, K, T, sig, False, r, q)
    forward_gap = S * math.exp(-q * T) - K * math.exp(-r * T)
    # relative to the size of the two terms of the identity, S e^-qT + K e^-rT
    assert abs((c - p) - forward_gap) <= 1e-12 * (S * math.exp(-q * T) + K * math.exp(-r * T))


def test_put_call_parity_on_arrays():
    rows = list(cases(500, seed=3))
    S, K, T, sig, _, r, q = (np.array(col) for col in zip(*rows))
    c = bs_price(S, K, T, sig, True, r, q)
    p = bs_price(S, K, T, sig, False, r, q)
    scale = S * np.exp(-q * T) + K * np.exp(-r * T)
    assert np.all(np.abs(c - p - (S * np.exp(-q * T) - K * np.exp(-r * T))) <= 1e-12 * scale)
    # delta parity: call delta - put delta = e^(-qT)
    dc, dp = bs_delta(S, K, T, sig, True, r, q), bs_delta(S, K, T, sig, False, r, q)
    assert np.allclose(dc - dp, np.exp(-q * T), rtol=1e-12, atol=0)


def _derivative(f, x: float, h: float) -> float:
    """Five-point central difference (truncation error O(h^4))."""
    return (8 * (f(x + h) - f(x - h)) - (f(x + 2 * h) - f(x - 2 * h))) / (12 * h)


def test_greeks_match_finite_differences():
    for S, K, T, sig, call, r, q in itertools.islice(cases(seed=5), 150):
        if T < 1e-3:
            continue
        g = bs_greeks(S, K, T, sig, call, r, q)
        fd_delta = _derivative(lambda x: bs_price(x, K, T, sig, call, r, q), S, 1e-4 * S)
        fd_gamma = _derivative(lambda x: bs_delta(x, K, T, sig, call, r, q), S, 1e-4 * S)
        fd_vega = _derivative(lambda x: bs_price(S, K, T, x, call, r, q), sig, 1e-4 * sig)
        fd_theta = -_derivative(lambda x: bs_price(S, K, x, sig, call, r, q), T, 1e-4 * T)
        fd_rho = _derivative(lambda x: bs_price(S, K, T, sig, call, x, q), r, 1e-4)
        # truncation O(h^4) ~ 1e-16 relative; rounding ~ eps x value / h: absolute floors scale with S
        assert g.delta == pytest.approx(fd_delta, rel=1e-7, abs=1e-10)
        assert g.gamma == pytest.approx(fd_gamma, rel=1e-7, abs=1e-10 / S)
        assert g.vega == pytest.approx(fd_vega, rel=1e-7, abs=1e-10 * S)
        assert g.theta == pytest.approx(fd_theta, rel=1e-7, abs=1e-10 * S / T)
        assert g.rho == pytest.approx(fd_rho, rel=1e-7, abs=1e-10 * S * T)


def test_expired_and_zero_volatility_limits():
    # expired: intrinsic value, step delta, no gamma, vega, theta or rho
    assert bs_price(110.0, 100.0, 0.0, 0.5, True) == 10.0
    assert bs_price(110.0, 100.0, -1.0, 0.5, False) == 0.0
    assert bs_price(90.0, 100.0, 0.0, 0.5, False) == 10.0
    assert bs_delta(110.0, 100.0, 0.0, 0.5, True) == 1.0
    assert bs_delta(90.0, 100.0, 0.0, 0.5, False) == -1.0
    assert bs_delta(100.0, 100.0, 0.0, 0.5, True) == 0.5
    assert [bs_gamma(110.0, 100.0, 0.0, 0.5), bs_vega(110.0, 100.0, 0.0, 0.5),
            bs_theta(110.0, 100.0, 0.0, 0.5, True, 0.05), bs_rho(110.0, 100.0, 0.0, 0.5, True, 0.05)] == [0, 0, 0, 0]
    # zero volatility: the discounted intrinsic value of the forward
    r, T = 0.05, 2.0
    assert bs_price(100.0, 90.0, T, 0.0, True, r) == pytest.approx(100.0 - 90.0 * math.exp(-r * T), rel=1e-15)
    assert bs_price(100.0, 120.0, T, 0.0, True, r) == 0.0
    assert bs_delta(100.0, 90.0, T, 0.0, True, r) == 1.0
    assert bs_theta(100.0, 90.0, T, 0.0, True, r) == pytest.approx(-r * 90.0 * math.exp(-r * T), rel=1e-15)


def test_normal_distribution_against_erfc():
    x = np.linspace(-37.0, 9.0, 20001)
    want = np.array([N(v) for v in x])
    got = normal_cdf(x)
    assert np.all(np.abs(got - want) <= 4e-13 * want)
    body = np.abs(x) < 1
    assert np.all(np.abs(got[body] - want[body]) <= 4 * np.finfo(float).eps * want[body])
    assert normal_cdf(0.0) == 0.5 and normal_cdf(-np.inf) == 0.0 and normal_cdf(np.inf) == 1.0
    assert math.isnan(normal_cdf(float("nan")))
    assert normal_pdf(1.3) == pytest.approx(phi(1.3), rel=1e-15)


def test_arrays_broadcast_and_scalars_stay_floats():
    out = bs_price(2000.0, np.array([[1800.0], [2200.0]]), np.array([7 / 365, 30 / 365]), 0.8,
                   np.array([False, True]))
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(ref(2000.0, 2200.0, 30 / 365, 0.8, True)[0], rel=1e-12)
    assert isinstance(bs_price(2000.0, 1800.0, 0.1, 0.8), float)


@pytest.mark.parametrize("args,match", [
    ((0.0, 100.0, 1.0, 0.2), "spot must be a finite number > 0, got 0"),
    ((100.0, -5.0, 1.0, 0.2), "strike must be a finite number > 0, got -5"),
    ((100.0, 100.0, 1.0, -0.1), "vol must be a finite number >= 0, got -0.1"),
    ((100.0, 100.0, float("nan"), 0.2), "tau, rate and dividend must be numbers"),
])
def test_invalid_inputs_raise(args, match):
    with pytest.raises(OptionError, match=match):
        bs_price(*args)


# ------------------------------------------------------------------------------- margin
def test_default_grid_is_spans_sixteen_scenarios():
    # CME SPAN risk scenarios 1-16: price move in price scan ranges, volatility move in volatility
    # scan ranges, fraction of the loss considered
    span = [(0, 1, 1), (0, -1, 1), (1 / 3, 1, 1), (1 / 3, -1, 1), (-1 / 3, 1, 1), (-1 / 3, -1, 1),
            (2 / 3, 1, 1), (2 / 3, -1, 1), (-2 / 3, 1, 1), (-2 / 3, -1, 1), (1, 1, 1), (1, -1, 1),
            (-1, 1, 1), (-1, -1, 1), (2, 0, 0.35), (-2, 0, 0.35)]
    grid = scenario_grid(0.15, 0.04)
    assert len(grid.price_moves) == 16
    for (p, v, w), gp, gv, gw in zip(span, grid.price_moves, grid.vol_moves, grid.weights):
        assert gp == pytest.approx(p * 0.15, abs=1e-15) and gv == pytest.approx(v * 0.04, abs=1e-15) and gw == w


@pytest.mark.parametrize("kwargs,match", [
    (dict(price_range=0.0, vol_range=0.1), "price_range must be > 0"),
    (dict(price_range=0.1, vol_range=-0.1), "vol_range must be >= 0"),
    (dict(price_range=0.1, vol_range=0.1, price_steps=0), "price_steps must be a whole number >= 1"),
    (dict(price_range=0.1, vol_range=0.1, vol_steps=()), "vol_steps must not be empty"),
    (dict(price_range=0.1, vol_range=0.1, extreme_weight=2.0), "extreme_weight in"),
])
def test_grid_validation(kwargs, match):
    with pytest.raises(OptionError, match=match):
        scenario_grid(**kwargs)


def _brute_force_losses(S, sig, legs, underlying, grid, horizon=0.0, floor=0.01, r=0.0):
    out = []
    for m, v, w in zip(grid.price_moves, grid.vol_moves, grid.weights):
        loss = -underlying * S * m
        for K, T, call, qty in legs:
            now = ref(S, K, T, sig, call, r)[0]
            later = ref(S * (1 + m), K, T - horizon, max(floor, sig + v), call, r)[0]
            loss += qty * (now - later)
        out.append(w * loss)
    return out


def test_scenario_losses_and_margin_match_a_brute_force_revaluation():
    S, sig = 2000.0, 0.8
    legs = [(1800.0, 7 / 365, False, -30.0), (2200.0, 30 / 365, True, -10.0), (1600.0, 30 / 365, False, 5.0)]
    K, T, C, Q = (np.array(x) for x in zip(*legs))
    grid = scenario_grid(0.15, 0.2)
    for underlying, horizon in ((0.0, 0.0), (7.5, 1 / 365)):
        got = scenario_losses(S, sig, K, T, C, Q, grid, underlying=underlying, horizon=horizon)
        want = _brute_force_losses(S, sig, legs, underlying, grid, horizon=horizon)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)
        assert scenario_margin(S, sig, K, T, C, Q, grid, underlying=underlying, horizon=horizon) == \
            pytest.approx(max(0.0, max(want)), rel=1e-9)
    # several portfolios at once: one row each
    rows = np.array([Q, -Q, np.zeros(3)])
    margin = scenario_margin(S, sig, K, T, C, rows, grid, underlying=np.array([0.0, 0.0, 3.0]))
    assert margin[0] == pytest.approx(max(0, max(_brute_force_losses(S, sig, legs, 0.0, grid))), rel=1e-9)
    flipped = [(k, t, c, -q) for k, t, c, q in legs]
    assert margin[1] == pytest.approx(max(0, max(_brute_force_losses(S, sig, flipped, 0.0, grid))), rel=1e-9)
    # the underlying alone loses most in the full fall (15 %) or 35 % of the extreme one (30 %)
    assert margin[2] == pytest.approx(max(3.0 * S * 0.15, 0.35 * 3.0 * S * 0.30), rel=1e-12)


def test_written_call_offsets_the_underlying_held():
    grid = scenario_grid(0.15, 0.1)
    alone = scenario_margin(2000.0, 0.7, [2100.0], [7 / 365], [True], [0.0], grid, underlying=1.0)
    covered = scenario_margin(2000.0, 0.7, [2100.0], [7 / 365], [True], [-1.0], grid, underlying=1.0)
    assert alone == pytest.approx(2000.0 * 0.15, rel=1e-12)       # the full fall, weight 1
    # covered call: the fall again, less what the written call loses in value
    want = max(_brute_force_losses(2000.0, 0.7, [(2100.0, 7 / 365, True, -1.0)], 1.0, grid))
    assert covered == pytest.approx(want, rel=1e-9)
    assert covered < alone


def test_scenario_values_shapes_and_vol_floor():
    grid = scenario_grid(0.1, 0.5, vol_steps=(-1.0,))
    now, shocked = scenario_values(100.0, 0.3, [100.0, 90.0], [0.5, 0.5], [True, False], grid, vol_floor=0.05)
    assert now.shape == (2,) and shocked.shape == (2, grid.weights.size)
    # the first scenario is price unchanged, volatility 0.3 - 0.5 floored at 0.05
    assert shocked[0, 0] == pytest.approx(ref(100.0, 100.0, 0.5, 0.05, True)[0], rel=1e-12)


def test_greeks_margin_is_the_delta_gamma_vega_formula():
    S, K, T, sig = 2000.0, 1900.0, 7 / 365, 0.8
    _, d, g, v, _, _ = ref(S, K, T, sig, False)
    qty = -10.0                                   # ten written puts
    delta, gamma, vega = qty * d, qty * g, qty * v
    h, dv = 0.1, 0.15
    want = max(0.0, abs(delta) * S * h - 0.5 * gamma * (S * h) ** 2) + abs(vega) * dv
    assert greeks_margin(delta, gamma, vega, S, h, dv) == pytest.approx(want, rel=1e-15)
    # for small moves it agrees with a full revaluation of the same two price moves (to third order)
    grid = scenario_grid(0.002, 0.0, price_steps=1, vol_steps=(0.0,), extreme_multiple=0.0)
    full = scenario_margin(S, sig, [K], [T], [False], [qty], grid)
    approx = greeks_margin(delta, gamma, vega, S, 0.002, 0.0)
    assert approx == pytest.approx(full, rel=2e-3)
    # arrays in, arrays out; a delta-neutral long-gamma portfolio has no price risk
    out = greeks_margin(np.array([0.0, 5.0]), np.array([1.0, -1.0]), np.zeros(2), S, h, dv)
    assert out[0] == 0.0 and out[1] == pytest.approx(5.0 * S * h + 0.5 * (S * h) ** 2, rel=1e-15)
