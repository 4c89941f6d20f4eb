"""Constant-product AMM math: Uniswap v2 reference vectors, kernel parity, wrappers, properties.

Expected numbers come from the reference vectors (``../shared/vectors/uniswap_v2.json``), from
closed forms evaluated in exact rational arithmetic (``fractions.Fraction``), or from invariants
of the constant-product pool. Nothing is copied from the code's own output.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contagion.amm import constant_product as cp
from contagion.amm import uniswap_v2 as v2
from contagion.amm.constant_product import ConstantProductPool
from contagion.errors import AmmError

from contagion._reference import amm as ref_amm

EPS = np.finfo(np.float64).eps

OUT_FNS = {"getAmountOut", "getAmountsOut"}
IN_FNS = {"getAmountIn", "getAmountsIn"}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _exact_out(a: float, r_in: float, r_out: float, fee: float) -> Fraction:
    """``a(1-f) R_out / (R_in + a(1-f))`` in exact rational arithmetic on the float inputs."""
    e = Fraction(a) * (1 - Fraction(fee))
    return e * Fraction(r_out) / (Fraction(r_in) + e)


def _exact_in(x: float, r_in: float, r_out: float, fee: float) -> Fraction:
    """``R_in x / ((R_out - x)(1-f))`` in exact rational arithmetic."""
    return Fraction(r_in) * Fraction(x) / ((Fraction(r_out) - Fraction(x)) * (1 - Fraction(fee)))


def _rel_close(value: float, exact: Fraction, rel: float) -> bool:
    if exact == 0:
        return value == 0
    return abs(Fraction(value) - exact) <= Fraction(rel) * abs(exact)


def _args(vector: dict) -> dict[str, int]:
    return {k: int(s) for k, s in vector["args"].items()}


def _call_port(vector: dict) -> int:
    args = _args(vector)
    if vector["fn"] in OUT_FNS:
        return v2.get_amount_out(args["amountIn"], args["reserveIn"], args["reserveOut"])
    if vector["fn"] in IN_FNS:
        return v2.get_amount_in(args["amountOut"], args["reserveIn"], args["reserveOut"])
    raise AssertionError(f"unknown vector fn {vector['fn']!r}")


@pytest.fixture(scope="module")
def ext_amm():
    return pytest.importorskip("contagion._ext.amm", reason="compiled kernels not built")


# --------------------------------------------------------------------------------------------
# Uniswap v2 integer port against the reference vectors
# --------------------------------------------------------------------------------------------

def test_uniswap_v2_vectors_exact(vectors):
    data = vectors("uniswap_v2")
    cases = [v for v in data["vectors"] if not v["expected"].startswith("revert")]
    assert cases, "no value vectors in uniswap_v2.json"
    assert {v["fn"] for v in cases} >= {"getAmountOut", "getAmountIn"}
    for v in cases:
        got = _call_port(v)
        assert isinstance(got, int), v
        assert got == int(v["expected"]), f"{v['fn']} {v['args']} ({v['source']}): {got} != {v['expected']}"


def test_uniswap_v2_vectors_reverts(vectors):
    data = vectors("uniswap_v2")
    reverts = [v for v in data["vectors"] if v["expected"].startswith("revert")]
    reasons = {v["expected"].split(":", 1)[1] for v in reverts}
    # every documented revert reason is present in the file, so the loop below is not vacuous
    assert {"INSUFFICIENT_INPUT_AMOUNT", "INSUFFICIENT_LIQUIDITY", "INSUFFICIENT_OUTPUT_AMOUNT"} <= reasons
    assert any(r.startswith("subtraction underflow") for r in reasons)
    for v in reverts:
        reason = v["expected"].split(":", 1)[1]
        if reason.startswith("subtraction underflow"):
            # SafeMath's reason differs between versions ("ds-math-sub-underflow"); the condition
            # in parentheses is what identifies the revert.
            pattern = re.escape(re.search(r"\((.*)\)", reason).group(1))
        else:
            pattern = re.escape(reason)
        with pytest.raises(AmmError, match=pattern):
            _call_port(v)


def test_uniswap_v2_multi_hop_entries_are_single_hop(vectors):
    data = vectors("uniswap_v2")
    multi = [v for v in data["vectors"] if v["fn"] in {"getAmountsOut", "getAmountsIn"}]
    assert {v["fn"] for v in multi} == {"getAmountsOut", "getAmountsIn"}
    for v in multi:
        args = _args(v)
        if v["fn"] == "getAmountsOut":
            got = v2.get_amount_out(args["amountIn"], args["reserveIn"], args["reserveOut"])
        else:
            got = v2.get_amount_in(args["amountOut"], args["reserveIn"], args["reserveOut"])
        assert got == int(v["expected"]), v


def test_uniswap_v2_flash_swap_k_vectors(vectors):
    data = vectors("uniswap_v2")
    cases = data["flash_swap_k_vectors"]
    assert cases
    for v in cases:
        out0 = int(v["amount0Out"])
        r0, r1 = int(v["reserve0"]), int(v["reserve1"])
        repaid = int(v["amount0In_repaid"])
        balance0 = r0 - out0 + repaid
        balance1 = r1
        # the pair's amount0In = balance0 - (reserve0 - amount0Out) = the repayment
        amount0_in = balance0 - (r0 - out0)
        assert amount0_in == repaid
        assert v2.k_check(balance0, balance1, amount0_in, 0, r0, r1) is v["k_check_passes"], v
        # one more wei out: balance0 drops by one, amount0In unchanged
        out_plus = out0 + 1
        balance0_plus = r0 - out_plus + repaid
        amount0_in_plus = balance0_plus - (r0 - out_plus)
        assert v2.k_check(balance0_plus, balance1, amount0_in_plus, 0, r0, r1) \
            is v["k_check_with_amountOut_plus_1"], v


_uint112 = st.integers(min_value=1, max_value=2**112 - 1)


@settings(max_examples=300, deadline=None)
@given(a=st.integers(min_value=1, max_value=2**112), r_in=_uint112, r_out=_uint112)
def test_get_amount_out_is_largest_output_passing_k_check(a, r_in, r_out):
    # The library output is the largest amount the pair's K check accepts (fee on the input).
    out = v2.get_amount_out(a, r_in, r_out)
    assert 0 <= out < r_out
    assert v2.k_check(r_in + a, r_out - out, a, 0, r_in, r_out)
    assert not v2.k_check(r_in + a, r_out - out - 1, a, 0, r_in, r_out)


@settings(max_examples=300, deadline=None)
@given(r_in=_uint112, r_out=st.integers(min_value=2, max_value=2**112 - 1), frac=st.fractions(0, 1))
def test_get_amount_in_is_ceiling_plus_one_on_exact_division(r_in, r_out, frac):
    x = max(1, min(r_out - 1, int(frac * r_out)))
    a = v2.get_amount_in(x, r_in, r_out)
    # K check for input a and output x: 997 a (R_out - x) >= 1000 R_in x
    num, den = 1000 * r_in * x, 997 * (r_out - x)
    assert v2.k_check(r_in + a, r_out - x, a, 0, r_in, r_out)
    assert a == -(-num // den) + (1 if num % den == 0 else 0)
    if a >= 2:
        assert not v2.k_check(r_in + a - 2, r_out - x, a - 2, 0, r_in, r_out)
    # a - 1 passes exactly when the division is exact (the contract always adds 1)
    assert v2.k_check(r_in + a - 1, r_out - x, a - 1, 0, r_in, r_out) is (num % den == 0)


def test_uniswap_v2_quote():
    # hand-computed: 1e18 * 10e18 / 5e18 = 2e18; 7 * 3 // 2 = 10 (floor)
    assert v2.quote(10**18, 5 * 10**18, 10 * 10**18) == 2 * 10**18
    assert v2.quote(7, 2, 3) == 10
    with pytest.raises(AmmError, match="INSUFFICIENT_AMOUNT"):
        v2.quote(0, 1, 1)
    with pytest.raises(AmmError, match="INSUFFICIENT_LIQUIDITY"):
        v2.quote(1, 0, 1)
    with pytest.raises(AmmError, match="INSUFFICIENT_LIQUIDITY"):
        v2.quote(1, 1, 0)


# --------------------------------------------------------------------------------------------
# float kernel against the same vectors
# --------------------------------------------------------------------------------------------

def test_float_amount_out_matches_vectors(vectors):
    data = vectors("uniswap_v2")
    cases = [v for v in data["vectors"] if v["fn"] in OUT_FNS and not v["expected"].startswith("revert")]
    assert cases
    n_strict = 0
    for v in cases:
        args = _args(v)
        expected = int(v["expected"])
        got = cp.amount_out(float(args["amountIn"]), float(args["reserveIn"]), float(args["reserveOut"]), 0.003)
        # The contract floors the exact quotient: the float result is the unfloored value, so it
        # lies in [expected, expected + 1). Hence the 1-unit slack for small amounts.
        assert abs(got - expected) <= max(1e-9 * expected, 1.0), v
        tiny = 1e-12 * expected + 1e-12
        assert expected - tiny <= got < expected + 1 + tiny, v
        if expected >= 1e9:
            n_strict += 1
            assert math.isclose(got, expected, rel_tol=1e-9), v
    assert n_strict >= 5


def _float_args_well_conditioned(amount_out: int, reserve_out: int) -> bool:
    """True if ``R_out - x`` survives the conversion of both to float64 (relative error <= 1e-12).

    getAmountIn divides by ``R_out - x``; when both round to nearby doubles (e.g. x = 1e18 - 1,
    R_out = 1e18, which are the same double) the float inputs describe a different trade (here
    one with x == R_out, rejected by the float API), so such vectors cannot be compared.
    """
    diff_float = Fraction(float(reserve_out)) - Fraction(float(amount_out))
    diff_exact = reserve_out - amount_out
    return abs(diff_float - diff_exact) <= Fraction(1, 10**12) * diff_exact


def test_float_amount_in_matches_vectors(vectors):
    data = vectors("uniswap_v2")
    cases = [v for v in data["vectors"] if v["fn"] in IN_FNS and not v["expected"].startswith("revert")]
    usable = [v for v in cases
              if _float_args_well_conditioned(_args(v)["amountOut"], _args(v)["reserveOut"])]
    # exactly one vector (amountOut = 1e18 - 1 against a 1e18 reserve) is excluded
    assert len(cases) - len(usable) == 1
    assert usable
    for v in usable:
        args = _args(v)
        expected = int(v["expected"])
        got = cp.amount_in(float(args["amountOut"]), float(args["reserveIn"]), float(args["reserveOut"]), 0.003)
        # The contract floors the exact quotient and then adds 1: the float result (unfloored)
        # lies in (expected - 1, expected].
        tiny = 1e-12 * expected + 1e-12
        assert expected - 1 - tiny <= got <= expected + tiny, v
        if expected >= 1e9:
            assert math.isclose(got, expected, rel_tol=1e-9), v


def test_float_amount_in_rejects_vector_that_rounds_to_the_reserve(vectors):
    # amountOut = 1e18 - 1 and reserveOut = 1e18 are the same double: the float API must refuse
    # the trade rather than divide by zero.
    data = vectors("uniswap_v2")
    cases = [v for v in data["vectors"] if v["fn"] in IN_FNS and not v["expected"].startswith("revert")
             and not _float_args_well_conditioned(_args(v)["amountOut"], _args(v)["reserveOut"])]
    assert len(cases) == 1
    args = _args(cases[0])
    with pytest.raises(AmmError, match="amount_out must be < reserve_out"):
        cp.amount_in(float(args["amountOut"]), float(args["reserveIn"]), float(args["reserveOut"]), 0.003)


# --------------------------------------------------------------------------------------------
# compiled vs reference kernels
# --------------------------------------------------------------------------------------------

FEES = [0.0, 0.0005, 0.003, 0.01, 0.3, float(np.nextafter(1.0, 0.0))]


def _loguniform(rng, n, lo=-6.0, hi=12.0):
    return 10.0 ** rng.uniform(lo, hi, n)


def _amm_inputs(seed: int, n: int = 4000):
    rng = np.random.default_rng(seed)
    a = _loguniform(rng, n)
    r_in = _loguniform(rng, n)
    r_out = _loguniform(rng, n)
    # edge cases: zero amount, tiny reserves, output just below the reserve
    edge_a = np.array([0.0, 0.0, 1.0, 1e12, 1e-6, 1.0, 3.0])
    edge_in = np.array([1.0, 1e-100, 1e-100, 1e-12, 1e12, 1e-12, 5.0])
    edge_out = np.array([1.0, 1e-100, 1e-100, 1e-12, 1e-12, 1e12, 10.0])
    a = np.concatenate([edge_a, a])
    r_in = np.concatenate([edge_in, r_in])
    r_out = np.concatenate([edge_out, r_out])
    # amount_out inputs for amount_in: a fraction of the output reserve, plus the largest double
    # below the reserve and zero
    u = rng.uniform(0.0, 1.0, r_out.size)
    x = r_out * u
    x[: edge_a.size] = 0.0
    x[-5:] = np.nextafter(r_out[-5:], 0.0)
    x = np.minimum(x, np.nextafter(r_out, 0.0))
    return a, r_in, r_out, x


@pytest.mark.parametrize("fee", FEES)
def test_parity_scalar_kernels(ext_amm, fee):
    a, r_in, r_out, x = _amm_inputs(101)
    got_out = np.array([ext_amm.cp_amount_out(*t, fee) for t in zip(a, r_in, r_out)])
    ref_out = np.array([ref_amm.cp_amount_out(float(p), float(q), float(r), fee) for p, q, r in zip(a, r_in, r_out)])
    np.testing.assert_allclose(got_out, ref_out, rtol=1e-12, atol=0)
    assert got_out[0] == 0.0 and ref_out[0] == 0.0  # zero input -> zero output

    got_in = np.array([ext_amm.cp_amount_in(*t, fee) for t in zip(x, r_in, r_out)])
    ref_in = np.array([ref_amm.cp_amount_in(float(p), float(q), float(r), fee) for p, q, r in zip(x, r_in, r_out)])
    np.testing.assert_allclose(got_in, ref_in, rtol=1e-12, atol=0)

    got_pi = np.array([ext_amm.cp_price_impact(p, q, fee) for p, q in zip(a, r_in)])
    ref_pi = np.array([ref_amm.cp_price_impact(float(p), float(q), fee) for p, q in zip(a, r_in)])
    np.testing.assert_allclose(got_pi, ref_pi, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fee", FEES)
def test_parity_batch_kernels(ext_amm, fee):
    a, r_in, r_out, x = _amm_inputs(202, n=20000)
    for name, args in [("cp_amount_out_batch", (a, r_in, r_out)),
                       ("cp_amount_in_batch", (x, r_in, r_out))]:
        got = np.full(a.size, np.nan)
        ref = np.full(a.size, np.nan)
        getattr(ext_amm, name)(*args, fee, got)
        getattr(ref_amm, name)(*args, fee, ref)
        assert np.isfinite(got).all(), name
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0, err_msg=name)
    got = np.full(a.size, np.nan)
    ref = np.full(a.size, np.nan)
    ext_amm.cp_price_impact_batch(a, r_in, fee, got)
    ref_amm.cp_price_impact_batch(a, r_in, fee, ref)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


def test_parity_batch_matches_scalar_kernel(ext_amm):
    a, r_in, r_out, x = _amm_inputs(303, n=500)
    got = np.empty_like(a)
    ext_amm.cp_amount_out_batch(a, r_in, r_out, 0.003, got)
    scalar = np.array([ref_amm.cp_amount_out(float(p), float(q), float(r), 0.003) for p, q, r in zip(a, r_in, r_out)])
    np.testing.assert_allclose(got, scalar, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("fee", [0.0, 0.003, 0.3])
def test_parity_sequential_out(ext_amm, seed, fee):
    rng = np.random.default_rng(seed)
    r_in = float(_loguniform(rng, 1)[0])
    r_out = float(_loguniform(rng, 1)[0])
    amounts = r_in * 10.0 ** rng.uniform(-8, 1, 50)
    amounts[::7] = 0.0
    got = np.full(amounts.size, np.nan)
    ref = np.full(amounts.size, np.nan)
    got_res = ext_amm.cp_sequential_out(amounts, r_in, r_out, fee, got)
    ref_res = ref_amm.cp_sequential_out(amounts, r_in, r_out, fee, ref)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.array(got_res), np.array(ref_res), rtol=1e-12, atol=0)
    # token conservation: reserve_in grows by the inputs
    assert math.isclose(got_res[0], r_in + math.fsum(amounts), rel_tol=1e-12)


# --------------------------------------------------------------------------------------------
# public wrappers
# --------------------------------------------------------------------------------------------

def test_amount_out_uniswap_doc_case_exact_rational():
    # Uniswap v2 swapTestCases: 1 in, reserves 5/10 -> 1.662497915624478906 (floored at 18 decimals)
    got = cp.amount_out(1.0, 5.0, 10.0)
    assert isinstance(got, float)
    assert _rel_close(got, _exact_out(1.0, 5.0, 10.0, 0.003), 4 * EPS)
    assert abs(got - 1.662497915624478906) < 1e-15


def test_scalar_and_array_paths_agree():
    rng = np.random.default_rng(7)
    a = _loguniform(rng, 200, -3, 6)
    r_in = _loguniform(rng, 200, 0, 8)
    r_out = _loguniform(rng, 200, 0, 8)
    x = r_out * rng.uniform(0, 0.99, 200)
    arr_out = cp.amount_out(a, r_in, r_out, 0.003)
    arr_in = cp.amount_in(x, r_in, r_out, 0.003)
    arr_pi = cp.price_impact(a, r_in, 0.003)
    for i in range(a.size):
        s_out = cp.amount_out(float(a[i]), float(r_in[i]), float(r_out[i]), 0.003)
        s_in = cp.amount_in(float(x[i]), float(r_in[i]), float(r_out[i]), 0.003)
        s_pi = cp.price_impact(float(a[i]), float(r_in[i]), 0.003)
        assert isinstance(s_out, float) and isinstance(s_in, float) and isinstance(s_pi, float)
        assert math.isclose(arr_out[i], s_out, rel_tol=1e-14)
        assert math.isclose(arr_in[i], s_in, rel_tol=1e-14)
        assert math.isclose(arr_pi[i], s_pi, rel_tol=1e-14)
        assert _rel_close(s_out, _exact_out(a[i], r_in[i], r_out[i], 0.003), 1e-14)
        assert _rel_close(s_in, _exact_in(x[i], r_in[i], r_out[i], 0.003), 1e-13)


def test_broadcasting_shapes_and_values():
    amounts = np.array([[1.0], [2.0], [3.0]])          # (3, 1)
    r_in = np.array([5.0, 10.0, 20.0, 40.0])          # (4,)
    out = cp.amount_out(amounts, r_in, 10.0, 0.003)
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert _rel_close(out[i, j], _exact_out(amounts[i, 0], r_in[j], 10.0, 0.003), 1e-14)
    # array of amounts against scalar reserves
    out1 = cp.amount_out([1.0, 2.0], 5.0, 10.0)
    assert out1.shape == (2,)
    assert _rel_close(out1[1], _exact_out(2.0, 5.0, 10.0, 0.003), 1e-14)

    x = np.array([[1.0, 2.0, 4.0]])                   # (1, 3)
    back = cp.amount_in(x, np.array([[5.0], [7.0]]), 10.0, 0.003)
    assert back.shape == (2, 3)
    for i, rin in enumerate([5.0, 7.0]):
        for j in range(3):
            assert _rel_close(back[i, j], _exact_in(x[0, j], rin, 10.0, 0.003), 1e-14)

    impact = cp.price_impact(np.array([1.0, 10.0]), np.array([[100.0], [1000.0]]), 0.0)
    assert impact.shape == (2, 2)
    # fee 0: a / (R + a)
    assert _rel_close(impact[0, 1], Fraction(10, 110), 1e-15)
    assert _rel_close(impact[1, 0], Fraction(1, 1001), 1e-15)


def test_price_impact_closed_form_and_spot_price():
    # a(1-f)/(R + a(1-f)) with f = 0: 25 / 125 = 0.2
    assert _rel_close(cp.price_impact(25.0, 100.0, 0.0), Fraction(1, 5), 1e-15)
    e = Fraction(25.0) * (1 - Fraction(0.003))
    assert _rel_close(cp.price_impact(25.0, 100.0, 0.003), e / (100 + e), 1e-14)
    assert cp.spot_price(4.0, 10.0) == 2.5
    np.testing.assert_array_equal(cp.spot_price(np.array([4.0, 8.0]), 10.0), [2.5, 1.25])
    # the marginal price after the trade moves by 1 - (1 - impact)^2 (docstring claim), fee 0
    a, x, y = 25.0, 100.0, 300.0
    impact = Fraction(cp.price_impact(a, x, 0.0))
    out = Fraction(cp.amount_out(a, x, y, 0.0))
    new_price = (Fraction(y) - out) / (Fraction(x) + Fraction(a))
    old_price = Fraction(y) / Fraction(x)
    moved = 1 - new_price / old_price
    assert abs(moved - (1 - (1 - impact) ** 2)) < Fraction(1, 10**14)


_NAN = float("nan")


@pytest.mark.parametrize("call, match", [
    (lambda: cp.amount_out(-1.0, 5.0, 10.0), r"amount_out: amount_in must be >= 0"),
    (lambda: cp.amount_out(_NAN, 5.0, 10.0), r"amount_out: amount_in must be a finite number"),
    (lambda: cp.amount_out(math.inf, 5.0, 10.0), r"amount_out: amount_in must be a finite number"),
    (lambda: cp.amount_out(1.0, 0.0, 10.0), r"amount_out: reserve_in must be > 0"),
    (lambda: cp.amount_out(1.0, 5.0, 0.0), r"amount_out: reserve_out must be > 0"),
    (lambda: cp.amount_out(1.0, 5.0, -1.0), r"amount_out: reserve_out must be > 0"),
    (lambda: cp.amount_out(1.0, 5.0, 10.0, fee=1.0), r"amount_out: fee must be < 1"),
    (lambda: cp.amount_out(1.0, 5.0, 10.0, fee=-0.001), r"amount_out: fee must be >= 0"),
    (lambda: cp.amount_out(1.0, 5.0, 10.0, fee=_NAN), r"amount_out: fee must be a finite number"),
    (lambda: cp.amount_out(1.0, 5.0, 10.0, fee="x"), r"amount_out: fee must be a number"),
    (lambda: cp.arbitrage_trade("x", 10.0, 2.0), r"arbitrage_trade: reserve_base must be a number"),
    (lambda: cp.amount_out([1.0, -1.0], 5.0, 10.0), r"amount_out: amount_in must be finite and >= 0; element 1"),
    (lambda: cp.amount_out([1.0, _NAN], 5.0, 10.0), r"amount_out: amount_in must be finite .*element 1"),
    (lambda: cp.amount_out([1.0, 2.0], [5.0, 0.0], 10.0), r"amount_out: reserve_in must be finite and > 0; element 1"),
    (lambda: cp.amount_out([1.0, 2.0], 5.0, [0.0, 1.0]), r"amount_out: reserve_out must be finite and > 0; element 0"),
    (lambda: cp.amount_in(-1.0, 5.0, 10.0), r"amount_in: amount_out must be >= 0"),
    (lambda: cp.amount_in(_NAN, 5.0, 10.0), r"amount_in: amount_out must be a finite number"),
    (lambda: cp.amount_in(1.0, 0.0, 10.0), r"amount_in: reserve_in must be > 0"),
    (lambda: cp.amount_in(1.0, 5.0, 0.0), r"amount_in: reserve_out must be > 0"),
    (lambda: cp.amount_in(10.0, 5.0, 10.0), r"amount_in: amount_out must be < reserve_out"),
    (lambda: cp.amount_in(11.0, 5.0, 10.0), r"amount_in: amount_out must be < reserve_out"),
    (lambda: cp.amount_in(1.0, 5.0, 10.0, fee=1.0), r"amount_in: fee must be < 1"),
    (lambda: cp.amount_in([1.0, -2.0], 5.0, 10.0), r"amount_in: amount_out must be finite and >= 0; element 1"),
    (lambda: cp.amount_in([1.0, 2.0], [5.0, -5.0], 10.0), r"amount_in: reserve_in must be finite and > 0; element 1"),
    (lambda: cp.amount_in([1.0, 2.0], 5.0, [10.0, 0.0]), r"amount_in: reserve_out must be finite and > 0; element 1"),
    (lambda: cp.amount_in([1.0, 10.0], 5.0, 10.0), r"amount_in: reserve_out - amount_out must be finite and > 0; element 1"),
    (lambda: cp.price_impact(-1.0, 5.0), r"price_impact: amount_in must be >= 0"),
    (lambda: cp.price_impact(1.0, 0.0), r"price_impact: reserve_in must be > 0"),
    (lambda: cp.price_impact(1.0, 5.0, fee=1.5), r"price_impact: fee must be < 1"),
    (lambda: cp.price_impact([1.0, _NAN], 5.0), r"price_impact: amount_in must be finite .*element 1"),
    (lambda: cp.price_impact([1.0, 1.0], [5.0, 0.0]), r"price_impact: reserve_in must be finite and > 0; element 1"),
    (lambda: cp.sequential_out([1.0], 0.0, 10.0), r"sequential_out: reserve_in must be > 0"),
    (lambda: cp.sequential_out([1.0], 5.0, _NAN), r"sequential_out: reserve_out must be a finite number"),
    (lambda: cp.sequential_out([1.0, -1.0], 5.0, 10.0), r"sequential_out: amounts_in must be finite and >= 0; element 1"),
    (lambda: cp.sequential_out([1.0], 5.0, 10.0, fee=1.0), r"sequential_out: fee must be < 1"),
    (lambda: cp.arbitrage_trade(0.0, 10.0, 2.0), r"arbitrage_trade: reserve_base must be > 0"),
    (lambda: cp.arbitrage_trade(5.0, -1.0, 2.0), r"arbitrage_trade: reserve_quote must be > 0"),
    (lambda: cp.arbitrage_trade(5.0, 10.0, 0.0), r"arbitrage_trade: target_price must be > 0"),
    (lambda: cp.arbitrage_trade(5.0, 10.0, _NAN), r"arbitrage_trade: target_price must be a finite number"),
    (lambda: cp.arbitrage_trade(5.0, 10.0, 2.0, fee=1.0), r"arbitrage_trade: fee must be < 1"),
    (lambda: ConstantProductPool(0.0, 10.0), r"ConstantProductPool: reserve0 must be > 0"),
    (lambda: ConstantProductPool(5.0, _NAN), r"ConstantProductPool: reserve1 must be a finite number"),
    (lambda: ConstantProductPool(5.0, 10.0, fee=1.0), r"ConstantProductPool: fee must be < 1"),
    (lambda: ConstantProductPool(5.0, 10.0, assets=("ETH", "ETH")), r"assets must be two distinct names"),
    (lambda: ConstantProductPool(5.0, 10.0, assets=("ETH",)), r"assets must be two distinct names"),
])
def test_validation_errors(call, match):
    with pytest.raises(AmmError, match=match):
        call()


# --------------------------------------------------------------------------------------------
# arbitrage_trade
# --------------------------------------------------------------------------------------------

def _profit(side: int, amount: float, x: float, y: float, p: float, fee: float) -> Fraction:
    """Profit in quote units of the swap at the outside price ``p``, in exact arithmetic."""
    if side == 0:   # base in, quote out
        return _exact_out(amount, x, y, fee) - Fraction(p) * Fraction(amount)
    return Fraction(p) * _exact_out(amount, y, x, fee) - Fraction(amount)  # quote in, base out


@pytest.mark.parametrize("x, y, p, fee, side", [
    (100.0, 200_000.0, 1900.0, 0.003, 0),     # pool at 2000 > 1900: sell base into the pool
    (100.0, 200_000.0, 2100.0, 0.003, 1),     # pool at 2000 < 2100: buy base with quote
    (5.0, 10.0, 1.0, 0.003, 0),
    (5.0, 10.0, 4.0, 0.003, 1),
    (1e6, 1e6, 0.5, 0.0, 0),
    (1e6, 1e6, 2.0, 0.01, 1),
    (3.0e4, 6.0e7, 1500.0, 0.05, 0),
])
def test_arbitrage_trade_optimum(x, y, p, fee, side):
    got_side, a = cp.arbitrage_trade(x, y, p, fee)
    assert got_side == side
    assert a > 0
    g = 1 - Fraction(fee)
    X, Y, A = Fraction(x), Fraction(y), Fraction(a)
    if side == 0:
        # d/da of the swap's output a g Y / (X + a g) is g X Y / (X + g a)^2; at the optimum it
        # equals the outside price (quote per base).
        marginal = g * X * Y / (X + g * A) ** 2
        assert abs(marginal / Fraction(p) - 1) < Fraction(1, 10**9)
    else:
        # base out per quote in, derivative g X Y / (Y + g b)^2, equals 1 / p
        marginal = g * X * Y / (Y + g * A) ** 2
        assert abs(marginal * Fraction(p) - 1) < Fraction(1, 10**9)
    # the same, numerically, through the public amount_out (central difference)
    h = a * 1e-6
    r_in, r_out = (x, y) if side == 0 else (y, x)
    slope = (cp.amount_out(a + h, r_in, r_out, fee) - cp.amount_out(a - h, r_in, r_out, fee)) / (2 * h)
    assert math.isclose(slope, p if side == 0 else 1.0 / p, rel_tol=1e-6)
    # profit is maximal at a
    best = _profit(side, a, x, y, p, fee)
    assert best > 0
    assert best > _profit(side, 0.99 * a, x, y, p, fee)
    assert best > _profit(side, 1.01 * a, x, y, p, fee)
    # after the trade (fee kept in the pool) the pool is inside the no-arbitrage band
    pool = ConstantProductPool(x, y, fee=fee, assets=("BASE", "QUOTE"))
    pool.swap(a, "BASE" if side == 0 else "QUOTE")
    rb, rq = pool.reserves
    # exact: after the trade g*rq/rb = p (x+g a)/(x+a) < p (side 0), rq/(g rb) > p; with f = 0
    # the pool sits exactly on p, so only float noise may remain
    side2, a2 = cp.arbitrage_trade(rb, rq, p, fee)
    if fee > 0.0:
        assert (side2, a2) == (0, 0.0)
    else:
        assert a2 <= 1e-9 * a


@pytest.mark.parametrize("p", [1.9, 2.0, 2.05])
def test_arbitrage_trade_no_arbitrage_band(p):
    # band for x=5, y=10, f=0.003: 0.997*2 = 1.994 <= p <= 2/0.997 = 2.006...
    assert cp.arbitrage_trade(5.0, 10.0, 2.0, 0.003) == (0, 0.0)
    g = 1 - 0.003
    assert cp.arbitrage_trade(5.0, 10.0, g * 10.0 / 5.0, 0.003) == (0, 0.0)      # lower edge
    assert cp.arbitrage_trade(5.0, 10.0, 10.0 / (g * 5.0), 0.003) == (0, 0.0)    # upper edge
    assert cp.arbitrage_trade(5.0, 10.0, 1.999, 0.003) == (0, 0.0)
    assert cp.arbitrage_trade(5.0, 10.0, 2.005, 0.003) == (0, 0.0)
    side, amount = cp.arbitrage_trade(5.0, 10.0, p, 0.003)
    if p == 2.0:
        assert (side, amount) == (0, 0.0)
    else:
        assert amount > 0 and side == (0 if p < 2.0 else 1)


# --------------------------------------------------------------------------------------------
# ConstantProductPool
# --------------------------------------------------------------------------------------------

def test_pool_swap_conserves_tokens_and_prices():
    pool = ConstantProductPool(5.0, 10.0, fee=0.003, assets=("ETH", "USDC"))
    assert pool.reserves == (5.0, 10.0)
    assert pool.price() == 2.0 and pool.price("ETH") == 2.0 and pool.price("USDC") == 0.5
    assert pool.k == 50.0
    out = pool.swap(1.0, "ETH")
    assert _rel_close(out, _exact_out(1.0, 5.0, 10.0, 0.003), 4 * EPS)
    assert pool.reserves == (5.0 + 1.0, 10.0 - out)
    assert pool.price() == (10.0 - out) / 6.0
    # other direction
    r0, r1 = pool.reserves
    out2 = pool.swap(3.0, "USDC")
    assert pool.reserves == (r0 - out2, r1 + 3.0)
    assert _rel_close(out2, _exact_out(3.0, r1, r0, 0.003), 4 * EPS)


def test_pool_quote_does_not_change_state():
    pool = ConstantProductPool(100.0, 250_000.0, fee=0.003, assets=("ETH", "USDC"))
    before = pool.reserves
    q = pool.quote(2.0, "ETH")
    qi = pool.quote_in(1000.0, "USDC")
    assert pool.reserves == before
    assert _rel_close(q, _exact_out(2.0, 100.0, 250_000.0, 0.003), 1e-15)
    assert _rel_close(qi, _exact_in(1000.0, 100.0, 250_000.0, 0.003), 1e-15)
    assert pool.swap(2.0, "ETH") == q
    assert repr(pool).startswith("ConstantProductPool(102.0, ")


@pytest.mark.parametrize("method, args", [
    ("swap", (1.0, "BTC")), ("quote", (1.0, "BTC")), ("quote_in", (1.0, "BTC")), ("price", ("BTC",)),
])
def test_pool_invalid_asset(method, args):
    pool = ConstantProductPool(5.0, 10.0, assets=("ETH", "USDC"))
    with pytest.raises(AmmError, match=r"asset must be one of \('ETH', 'USDC'\), got 'BTC'"):
        getattr(pool, method)(*args)
    assert pool.reserves == (5.0, 10.0)


def test_pool_failed_swap_leaves_state():
    pool = ConstantProductPool(5.0, 10.0, assets=("ETH", "USDC"))
    with pytest.raises(AmmError, match="amount_in must be >= 0"):
        pool.swap(-1.0, "ETH")
    assert pool.reserves == (5.0, 10.0)


# --------------------------------------------------------------------------------------------
# hypothesis properties
# --------------------------------------------------------------------------------------------

_reserve = st.floats(min_value=-6.0, max_value=12.0).map(lambda e: 10.0 ** e)
_fee = st.one_of(st.sampled_from([0.0, 0.003]), st.floats(min_value=0.0, max_value=0.5))


def _amount(max_log_ratio: float):
    """Exponent of ``amount / reserve_in`` (0 allowed); the amount is built from it in the test."""
    return st.one_of(st.none(), st.floats(min_value=-12.0, max_value=max_log_ratio))


def _amt(log_ratio, r_in):
    return 0.0 if log_ratio is None else r_in * 10.0 ** log_ratio


# The ratio amount/reserve_in is kept <= 1e13: from ~1e15-1e16 on, the float sum
# reserve_in + amount(1-fee) loses reserve_in and the output rounds up to reserve_out itself.
@settings(max_examples=400, deadline=None)
@given(r_in=_reserve, r_out=_reserve, lr=_amount(13.0), fee=_fee)
def test_prop_output_below_reserve(r_in, r_out, lr, fee):
    a = _amt(lr, r_in)
    out = cp.amount_out(a, r_in, r_out, fee)
    assert 0.0 <= out < r_out
    assert _rel_close(out, _exact_out(a, r_in, r_out, fee), 1e-13)


@settings(max_examples=400, deadline=None)
@given(r_in=_reserve, r_out=_reserve, lr=_amount(6.0), fee=_fee)
def test_prop_k_never_decreases(r_in, r_out, lr, fee):
    a = _amt(lr, r_in)
    pool = ConstantProductPool(r_in, r_out, fee=fee)
    k0 = Fraction(r_in) * Fraction(r_out)
    pool.swap(a, "token0")
    x1, y1 = pool.reserves
    k1 = Fraction(x1) * Fraction(y1)
    # exact: k1/k0 = (x + a)/(x + (1-f) a) >= 1. In floats, y - out loses relative accuracy
    # ~eps (1 + a/x) through cancellation, hence the slack.
    slack = Fraction(8 * EPS) * (2 + Fraction(a) / Fraction(r_in))
    assert k1 >= k0 * (1 - slack)
    if fee > 0.0 and a > 0.0:
        exact_ratio = (Fraction(r_in) + Fraction(a)) / (Fraction(r_in) + (1 - Fraction(fee)) * Fraction(a))
        assert abs(k1 / k0 - exact_ratio) <= slack * exact_ratio


@settings(max_examples=400, deadline=None)
@given(r_in=_reserve, r_out=_reserve, lr1=_amount(12.0), lr2=_amount(12.0), fee=_fee)
def test_prop_output_monotone_in_input(r_in, r_out, lr1, lr2, fee):
    a1, a2 = sorted([_amt(lr1, r_in), _amt(lr2, r_in)])
    o1 = cp.amount_out(a1, r_in, r_out, fee)
    o2 = cp.amount_out(a2, r_in, r_out, fee)
    assert o1 <= o2 * (1 + 4 * EPS)   # a few ulps of rounding
    both = cp.amount_out(np.array([a1, a2]), r_in, r_out, fee)
    assert both[0] <= both[1] * (1 + 4 * EPS)


@settings(max_examples=400, deadline=None)
@given(r_in=_reserve, r_out=_reserve, lr=_amount(5.0), fee=_fee)
def test_prop_amount_in_inverts_amount_out(r_in, r_out, lr, fee):
    a = _amt(lr, r_in)
    out = cp.amount_out(a, r_in, r_out, fee)
    assume(out < r_out)
    back = cp.amount_in(out, r_in, r_out, fee)
    assert math.isclose(back, a, rel_tol=1e-9, abs_tol=0.0)


@settings(max_examples=400, deadline=None)
@given(r_in=_reserve, r_out=_reserve, lr1=_amount(6.0), lr2=_amount(6.0), fee=_fee)
def test_prop_split_swap_never_beats_single_swap(r_in, r_out, lr1, lr2, fee):
    # Derivation (x, y reserves, g = 1 - f): single(a+b) - out1(a) = y g b x / ((x+g(a+b))(x+g a))
    # while out2(b) after the first swap = x y g b / ((x+g a)(x+a+g b)); since x+g(a+b) <= x+a+g b,
    # splitting gives at most the single-swap output (equal when f = 0 or a = 0).
    a, b = _amt(lr1, r_in), _amt(lr2, r_in)
    outs, (res_in, res_out) = cp.sequential_out([a, b], r_in, r_out, fee)
    single = cp.amount_out(a + b, r_in, r_out, fee)
    total = float(outs[0]) + float(outs[1])
    assert total <= single * (1 + 1e-12)
    if fee == 0.0:
        assert math.isclose(total, single, rel_tol=1e-12)
    exact_gap = (_exact_out(Fraction(a) + Fraction(b), r_in, r_out, fee)
                 - _exact_out(a, r_in, r_out, fee)
                 - _exact_out(b, Fraction(r_in) + Fraction(a), Fraction(r_out) - _exact_out(a, r_in, r_out, fee), fee))
    assert exact_gap >= 0
    # the reserves after sequential_out are those after two pool swaps
    pool = ConstantProductPool(r_in, r_out, fee=fee)
    s1 = pool.swap(a, "token0")
    s2 = pool.swap(b, "token0")
    assert math.isclose(outs[0], s1, rel_tol=1e-14)
    assert math.isclose(outs[1], s2, rel_tol=1e-14)
    assert math.isclose(res_in, pool.reserves[0], rel_tol=1e-14)
    assert math.isclose(res_out, pool.reserves[1], rel_tol=1e-14)
    assert res_in == r_in + a + b or math.isclose(res_in, r_in + a + b, rel_tol=1e-15)


# --------------------------------------------------------------- non-numeric input, float limits
@pytest.mark.parametrize("call, name", [
    (lambda: cp.amount_out("x", [5.0], 10.0), "amount_in"),
    (lambda: cp.amount_out([1.0, None], 5.0, 10.0), "amount_in"),
    (lambda: cp.amount_in([1.0], None, 10.0), "reserve_in"),
    (lambda: cp.price_impact([1.0], "deep"), "reserve_in"),
    (lambda: cp.sequential_out(["a"], 5.0, 10.0), "amounts_in"),
])
def test_non_numeric_input_names_the_argument(call, name):
    with pytest.raises(AmmError, match=rf"{name} must be a number or an array of numbers"):
        call()


def test_arrays_that_do_not_broadcast():
    with pytest.raises(AmmError, match="must broadcast together"):
        cp.amount_out([1.0, 2.0], [5.0, 6.0, 7.0], 10.0)


def test_spot_price_is_validated_like_the_others():
    assert cp.spot_price(4.0, 10.0) == 2.5
    np.testing.assert_array_equal(cp.spot_price([4.0, 5.0], 10.0), [2.5, 2.0])
    with pytest.raises(AmmError, match="reserve_base must be > 0"):
        cp.spot_price(0.0, 10.0)
    with pytest.raises(AmmError, match="reserve_quote must be finite and > 0"):
        cp.spot_price([1.0], [-1.0])


def test_swap_that_would_drain_the_pool_in_float64_is_refused():
    pool = ConstantProductPool(1e-6, 1.0)
    with pytest.raises(AmmError, match="would drain the pool"):
        pool.swap(1e12, "token0")
    assert pool.reserves == (1e-6, 1.0)
