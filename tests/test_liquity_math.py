"""Liquity math: offset / redistribution values, capped offsets, the pool's pro-rata accounting."""

from __future__ import annotations

import numpy as np
import pytest

from contagion import liquity
from contagion.errors import LiquidationError

E18 = 10**18


def test_constants_are_liquity_v1s():
    assert (liquity.MCR, liquity.CCR) == (1.1, 1.5)
    assert liquity.GAS_COMPENSATION == 200.0 and liquity.MIN_NET_DEBT == 1800.0
    assert liquity.COLLATERAL_GAS_COMPENSATION == 1 / 200          # PERCENT_DIVISOR = 200


def test_offset_and_redistribution_closed_forms():
    # the pool covers all the debt: everything is offset
    assert liquity.offset_and_redistribution(2000.0, 1.393, 10_000.0) == (2000.0, 1.393, 0.0, 0.0)
    # the pool covers 60 %: the pool takes 60 % of the collateral, the rest is redistributed
    offset, to_sp, debt_r, coll_r = liquity.offset_and_redistribution(10_000.0, 8.0, 6_000.0)
    assert (offset, debt_r) == (6_000.0, 4_000.0)
    assert to_sp == pytest.approx(8.0 * 0.6, rel=1e-15) and coll_r == pytest.approx(8.0 * 0.4, rel=1e-15)
    # an empty pool: everything is redistributed
    assert liquity.offset_and_redistribution(2000.0, 1.393, 0.0) == (0.0, 0.0, 2000.0, 1.393)


def test_capped_offset_closed_form():
    # debt 2,000 at ICR 1.2 (2.4 ETH at $1,000): the pool takes 2,000 * 1.1 / 1,000 = 2.2 ETH
    debt_offset, to_sp, gas, surplus = liquity.capped_offset(2000.0, 2.4, 1000.0)
    assert debt_offset == 2000.0
    assert gas == pytest.approx(2.2 / 200, rel=1e-15)
    assert to_sp == pytest.approx(2.2 - 2.2 / 200, rel=1e-15)
    assert surplus == pytest.approx(0.2, rel=1e-12)
    with pytest.raises(LiquidationError, match="ICR below MCR"):
        liquity.capped_offset(2000.0, 2.0, 1000.0)


def test_sp_offset_is_pro_rata_and_empties_exactly():
    deposits = np.array([5000.0, 3000.0, 2000.0])
    dep, gain = liquity.sp_offset(deposits, np.zeros(3), 2500.0, 1.5)
    assert np.allclose(dep, deposits * (1 - 2500.0 / 10_000.0), rtol=1e-15)
    assert np.allclose(gain, 1.5 * deposits / 10_000.0, rtol=1e-15)
    assert dep.sum() == pytest.approx(7500.0, rel=1e-15) and gain.sum() == pytest.approx(1.5, rel=1e-15)
    dep, gain = liquity.sp_offset(deposits, np.ones(3), 10_000.0, 2.0)
    assert dep.tolist() == [0.0, 0.0, 0.0]
    assert np.allclose(gain, 1.0 + 2.0 * deposits / 10_000.0, rtol=1e-15)
    with pytest.raises(LiquidationError, match="exceeds the pool's deposits"):
        liquity.sp_offset(deposits, np.zeros(3), 10_001.0, 1.0)


def test_redistribution_is_pro_rata_to_collateral_and_skips_closed_troves():
    coll = np.array([10.0, 0.0, 20.0, 30.0])
    debt = np.array([5000.0, 0.0, 8000.0, 9000.0])
    c, d = liquity.redistribute(coll, debt, 1.791, 2000.0)
    assert np.allclose(c, coll + 1.791 * coll / 60.0, rtol=1e-15)
    assert np.allclose(d, debt + 2000.0 * coll / 60.0, rtol=1e-15)
    assert (c[1], d[1]) == (0.0, 0.0)
    assert c.sum() == pytest.approx(60.0 + 1.791, rel=1e-15) and d.sum() == pytest.approx(24_000.0, rel=1e-15)


def test_collateral_ratio_and_gas_compensation():
    assert liquity.collateral_ratio(1.4, 2000.0, 1500.0) == pytest.approx(1.05, rel=1e-15)
    assert liquity.collateral_ratio([1.0, 2.0], [0.0, 1000.0], 1000.0).tolist() == [np.inf, 2.0]
    assert liquity.collateral_gas_compensation(1.4) == pytest.approx(0.007, rel=1e-15)


def test_integer_ports_match_the_float_math():
    rng = np.random.default_rng(5)
    for _ in range(500):
        debt = int(rng.integers(2000, 10**7)) * E18 + int(rng.integers(0, E18))
        coll = int(rng.integers(1, 10**5)) * E18 + int(rng.integers(0, E18))
        sp = int(rng.integers(0, 2 * 10**7)) * E18
        gas = liquity.collateral_gas_compensation_int(coll)
        assert gas == coll // 200
        exact = liquity.offset_and_redistribution_int(debt, coll - gas, sp)
        approx = liquity.offset_and_redistribution(debt / 1e18, (coll - gas) / 1e18, sp / 1e18)
        assert exact[0] + exact[2] == debt and exact[1] + exact[3] == coll - gas       # nothing lost
        for e, a in zip(exact, approx):
            assert a == pytest.approx(e / 1e18, rel=1e-9, abs=1e-9)
    price = 1000 * E18
    assert liquity.compute_cr_int(24 * 10**17, 2000 * E18, price) == 12 * 10**17
    assert liquity.compute_cr_int(E18, 0, price) == 2**256 - 1
    assert liquity.capped_offset_int(2000 * E18, 24 * 10**17, price) == (2000 * E18, 2189 * 10**15, 11 * 10**15,
                                                                         2 * 10**17)


@pytest.mark.parametrize("call, match", [
    (lambda: liquity.offset_and_redistribution(0.0, 1.0, 1.0), "debt must be > 0"),
    (lambda: liquity.offset_and_redistribution(1.0, -1.0, 1.0), "coll must be >= 0"),
    (lambda: liquity.capped_offset(1.0, 1.0, 0.0), "price must be > 0"),
    (lambda: liquity.redistribute([0.0], [0.0], 1.0, 1.0), "no collateral to redistribute to"),
    (lambda: liquity.sp_offset([1.0], [0.0, 0.0], 0.5, 0.1), "of one length"),
    (lambda: liquity.collateral_ratio(-1.0, 1.0, 1.0), "finite and >= 0"),
])
def test_bad_input_is_a_liquidation_error(call, match):
    with pytest.raises(LiquidationError, match=match):
        call()
