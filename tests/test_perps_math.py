"""contagion.perps: margin tiers, dYdX bankruptcy / fillable prices and insurance-fund delta, ADL
rankings and funding, against the shared vectors (perps_liquidation_adl.json), the dYdX v4 test
suite and closed forms."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from contagion import perps as pm

# dYdX v4 test constants (protocol/testutil/constants): BtcUsd_20PercentInitial_10PercentMaintenance
# at $50,000 (atomic resolution -8: 0.1 BTC = 10,000,000 quantums) and the ETH perpetual at $3,000
# (atomic resolution -9: 0.1 ETH = 100,000,000 quantums); quote quantums are 1e-6 USDC.
BTC = pm.DydxPerpetual(atomic_resolution=-8, price=5_000_000_000, price_exponent=-5,
                       initial_margin_ppm=200_000, maintenance_fraction_ppm=500_000)
ETH = pm.DydxPerpetual(atomic_resolution=-9, price=3_000_000_000, price_exponent=-6,
                       initial_margin_ppm=200_000, maintenance_fraction_ppm=500_000)
PERPS = {"BTC": BTC, "ETH": ETH}
COIN = {"BTC": 1e8, "ETH": 1e9}           # base quantums per coin
USD = {"BTC": 50_000.0, "ETH": 3_000.0}   # oracle prices
QQ = 1e6                                  # quote quantums per USDC


def _positions(case):
    return [(PERPS[p["perp"]], p["sizeBaseQuantums"]) for p in case["positions"]]


def test_dydx_bankruptcy_vectors_integer_exact(vectors):
    cases = vectors("perps_liquidation_adl")["dydx_v4"]
    assert len(cases) >= 12
    for case in cases:
        got = pm.dydx_bankruptcy_quote_quantums(int(case["quoteBalanceQQ"]), _positions(case), case["perpIndex"],
                                                case["deltaQuantums"])
        assert got == int(case["expected"]), case["name"]


def test_dydx_bankruptcy_vectors_in_floats(vectors):
    """The float formula in token units; dYdX floors ``TNC |DMMR| / TMMR`` to a quote quantum, so
    the float result may sit up to one quantum (1e-6 USDC) below the integer one."""
    for case in vectors("perps_liquidation_adl")["dydx_v4"]:
        sizes = [p["sizeBaseQuantums"] / COIN[p["perp"]] for p in case["positions"]]
        prices = [USD[p["perp"]] for p in case["positions"]]
        tnc = int(case["quoteBalanceQQ"]) / QQ + sum(s * p for s, p in zip(sizes, prices))
        mmr = [abs(s) * p * 0.1 for s, p in zip(sizes, prices)]   # 20 % initial x 50 % maintenance fraction
        k = case["perpIndex"]
        perp = case["positions"][k]["perp"]
        delta = case["deltaQuantums"] / COIN[perp]
        new_mmr = abs(sizes[k] + delta) * prices[k] * 0.1
        got = pm.bankruptcy_quote(tnc, sum(mmr), delta * prices[k], new_mmr - mmr[k])
        expected = int(case["expected"]) / QQ
        assert expected - 1.0 / QQ - 1e-9 * abs(expected) <= got <= expected + 1e-9 * abs(expected), case["name"]


@pytest.mark.parametrize("quote, positions, index, ba, smmr, expected", [
    # dYdX v4 liquidations_test.go TestGetFillablePrice (expected quote quantums per base quantum)
    (-4_501, [(BTC, 10_000_000)], 0, 1_000_000, 100_000, Fraction(49_999, 100)),
    (-4_501, [(BTC, 10_000_000)], 0, 2_000_000, 100_000, Fraction(49_998, 100)),
    (-4_501, [(BTC, 10_000_000)], 0, 1_000_000, 200_000, Fraction(49_998, 100)),
    (5_499, [(BTC, -10_000_000)], 0, 1_000_000, 100_000, Fraction(50_001, 100)),
    (5_499, [(BTC, -10_000_000)], 0, 2_000_000, 100_000, Fraction(50_002, 100)),
    (-5_000, [(BTC, 10_000_000)], 0, 1_000_000, 100_000, Fraction(495, 1)),
    (5_000, [(BTC, -10_000_000)], 0, 1_000_000, 100_000, Fraction(505, 1)),
    (-5_500, [(BTC, 10_000_000)], 0, 1_000_000, 100_000, Fraction(495, 1)),
    (4_500, [(BTC, -10_000_000)], 0, 1_000_000, 100_000, Fraction(505, 1)),
    (-490, [(BTC, 400_000), (ETH, 100_000_000)], 1, 1_000_000, 100_000, Fraction(372, 125)),
    (-4_501, [(BTC, 10_000_000)], 0, 2**32 - 1, 100_000, Fraction(495, 1)),
    (-4_501, [(BTC, 10_000_000)], 0, 1_000_000, 1, Fraction(4_999_999_999, 10_000_000)),
    (-4_501, [(BTC, 10_000_000)], 0, 1_000_000, 1_000_000, Fraction(49_990, 100)),
])
def test_dydx_fillable_price_test_suite(quote, positions, index, ba, smmr, expected):
    got = pm.dydx_fillable_price(quote * 1_000_000, positions, index, ba, smmr)
    assert got == expected
    # the float formula in USD per coin
    perp, quantums = positions[index]
    name = "BTC" if perp is BTC else "ETH"
    sizes = [(("BTC" if p is BTC else "ETH"), q / COIN["BTC" if p is BTC else "ETH"]) for p, q in positions]
    tnc = quote + sum(s * USD[n] for n, s in sizes)
    mmr = [abs(s) * USD[n] * 0.1 for n, s in sizes]
    usd = pm.fillable_price(USD[name], quantums / COIN[name], tnc, sum(mmr), mmr[index], ba / 1e6, smmr / 1e6)
    assert usd == pytest.approx(float(expected) * COIN[name] / QQ, rel=1e-12)


def test_dydx_insurance_fund_delta_from_the_bankruptcy_vector(vectors):
    """Closing the vector's 0.1 BTC long (bankruptcy quote $4,501) at two fill prices."""
    case = next(c for c in vectors("perps_liquidation_adl")["dydx_v4"] if c["name"].startswith("long 0.1BTC"))
    bankrupt = int(case["expected"])
    # sold at $49,999: d = 4,999.9 - 4,501 > 0, the fee is 0.5 % of the $4,999.9 received
    assert pm.dydx_insurance_fund_delta(4_999_900_000, bankrupt) == 4_999_900_000 * 5_000 // 1_000_000
    # sold at $45,000: $1 short of the bankruptcy quote, paid by the fund
    assert pm.dydx_insurance_fund_delta(4_500_000_000, bankrupt) == -1_000_000
    # a leftover smaller than the maximum fee is all the fund gets
    assert pm.dydx_insurance_fund_delta(bankrupt + 7, bankrupt) == 7
    # floats: the same three cases in USDC
    got = pm.insurance_fund_delta([4_999.9, 4_500.0, 4_501.000007], bankrupt / QQ)
    assert np.allclose(got, [4_999.9 * 0.005, -1.0, 7e-6], rtol=1e-9, atol=1e-12)
    # a short closed by a purchase: received is negative
    assert pm.insurance_fund_delta(-5_000.0, -5_499.0) == pytest.approx(25.0, rel=1e-12)


def test_dydx_margin_requirements_round_up():
    # 0.1 BTC at $50,000: IMR 20 % of $5,000, MMR half of that
    assert pm.dydx_margin_requirements(BTC, 10_000_000) == (1_000_000_000, 500_000_000)
    # 21,347 quantums = $10.6735: IMR ceil(2.1347 $) = 2,134,700 QQ, MMR ceil(1,067,350)
    assert pm.dydx_margin_requirements(BTC, 21_347) == (2_134_700, 1_067_350)
    assert pm.dydx_margin_requirements(BTC, 3) == (300, 150)      # $0.0015 -> IMR 300 QQ exactly
    assert pm.dydx_margin_requirements(BTC, 1) == (100, 50)
    imr, mmr = pm.liquidity_tier_margins(5_000.0, 0.2, 0.5)
    assert (imr, mmr) == (1_000.0, 500.0)


def test_dydx_bankruptcy_rejects_a_delta_that_grows_or_flips_the_position():
    with pytest.raises(ValueError, match="must reduce"):
        pm.dydx_bankruptcy_quote_quantums(-4_501_000_000, [(BTC, 10_000_000)], 0, 1)
    with pytest.raises(ValueError, match="must reduce"):
        pm.dydx_bankruptcy_quote_quantums(-4_501_000_000, [(BTC, 10_000_000)], 0, -20_000_000)


def test_bitmex_vectors(vectors):
    data = vectors("perps_liquidation_adl")
    for side in ("longs", "shorts"):
        rows = data[f"bitmex_adl_{side}"]
        sign = np.array([1.0 if r["side"] == "long" else -1.0 for r in rows])
        qty = np.array([r["qty"] for r in rows], dtype=float) * sign
        pnl, lev, rank = pm.bitmex_adl_ranking(qty, [r["entry"] for r in rows], [r["mark"] for r in rows],
                                               [r["bankruptcy"] for r in rows])
        assert np.allclose(pnl, [r["pnlPct"] for r in rows], rtol=1e-12)
        assert np.allclose(lev, [r["effectiveLeverage"] for r in rows], rtol=1e-12)
        assert np.allclose(rank, [r["ranking"] for r in rows], rtol=1e-12)
        order = [rows[i]["id"] for i in pm.adl_order(rank)]
        assert order == data[f"bitmex_adl_{side[:-1]}_order"]


def _frac(text: str) -> Fraction:
    return Fraction(text)


def test_binance_maintenance_vectors_exact_and_float(vectors):
    for case in vectors("perps_liquidation_adl")["binance_maintenance"]:
        n, rate, amount = _frac(case["notional"]), _frac(case["maintenanceMarginRate"]), _frac(case["maintenanceAmount"])
        wb, upnl = _frac(case["walletBalance"]), _frac(case["unrealizedPnl"])
        mm = pm.maintenance_margin(n, rate, amount)
        assert mm == _frac(case["maintenanceMargin"])
        assert pm.margin_ratio(mm, wb, upnl) == _frac(case["marginRatio"])
        assert pm.binance_liquidatable(mm, wb, upnl) == case["liquidate"]
        mm_f = pm.maintenance_margin(float(n), float(rate), float(amount))
        assert mm_f == pytest.approx(float(_frac(case["maintenanceMargin"])), rel=1e-12)
        assert pm.margin_ratio(mm_f, float(wb), float(upnl)) == pytest.approx(float(_frac(case["marginRatio"])),
                                                                            rel=1e-12)


def test_binance_leverage_pnl_vectors(vectors):
    cases = vectors("perps_liquidation_adl")["binance_adl_leverage_pnl"]
    for case in cases:
        upnl, wb, mm = (_frac(case[k]) for k in ("unrealizedProfit", "walletBalance", "maintenanceMargin"))
        assert pm.binance_leverage_pnl(upnl, wb, mm) == _frac(case["leveragePnl"])
    arrays = [np.array([float(_frac(c[k])) for c in cases]) for k in ("unrealizedProfit", "walletBalance",
                                                                      "maintenanceMargin")]
    assert np.allclose(pm.binance_leverage_pnl(*arrays), [float(_frac(c["leveragePnl"])) for c in cases],
                       rtol=1e-12, atol=0)


def test_bracket_amounts_make_the_maintenance_margin_continuous():
    # Binance BTCUSDT 125x brackets (announcement of 2021-03-18): caps and maintenance rates
    caps = [5e4, 2.5e5, 1e6, 1e7, 2e7, 5e7, 1e8, 2e8, 3e8, math.inf]
    rates = [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25, 0.50]
    amounts = pm.bracket_maintenance_amounts(caps, rates)
    assert amounts[0] == 0.0 and amounts[1] == pytest.approx(50.0, rel=1e-12)   # 50,000 x (0.5 % - 0.4 %)
    for k, cap in enumerate(caps[:-1]):
        below = pm.maintenance_margin(cap, rates[k], amounts[k])
        above = pm.maintenance_margin(cap, rates[k + 1], amounts[k + 1])
        assert above == pytest.approx(below, rel=1e-12)
        # a notional at the cap is in the lower bracket, just above it in the next
        assert pm.bracket_index(cap, caps) == k and pm.bracket_index(cap * (1 + 1e-12), caps) == k + 1
    notional = np.array([1e4, 1e5, 3e6, 4e8, 1e9])
    expect = [n * rates[pm.bracket_index(n, caps)] - amounts[pm.bracket_index(n, caps)] for n in notional]
    assert np.allclose(pm.bracket_maintenance_margin(notional, caps, rates), expect, rtol=1e-12)
    assert pm.bracket_initial_margin(1e5, caps, [0.008, 0.01] + [0.02] * 8) == pytest.approx(1_000.0)


def test_closing_at_the_bankruptcy_price_keeps_the_margin_ratio():
    rng = np.random.default_rng(3)
    for _ in range(200):
        price = rng.uniform(100, 1e5)
        size = rng.choice([-1, 1]) * rng.uniform(0.1, 10)
        rate = rng.uniform(0.005, 0.05)
        tnc = rng.uniform(-0.5, 1.0) * abs(size) * price * rate
        other_mmr = rng.uniform(0, 1e4)          # margin of the account's other positions
        pmmr = abs(size) * price * rate
        tmmr = pmmr + other_mmr
        part = rng.uniform(0.05, 1.0)
        c = part * abs(size)
        bq = pm.bankruptcy_quote(tnc, tmmr, -np.sign(size) * c * price, -part * pmmr)
        # after the close: quote += bq, the position shrinks by c
        tnc_after = tnc + bq - np.sign(size) * c * price
        tmmr_after = tmmr - part * pmmr
        assert tnc_after / tmmr_after == pytest.approx(tnc / tmmr, rel=1e-9, abs=1e-12)
    # the whole position of a single-position account (quote -5,300, 0.1 BTC at $50,000, TNC -300):
    # the bankruptcy quote brings the quote balance, and so TNC, to zero
    bq = pm.bankruptcy_quote(-300.0, 500.0, -5_000.0, -500.0)
    assert -5_300.0 + bq == pytest.approx(0.0, abs=1e-9)
    assert pm.bankruptcy_price(50_000.0, 0.1, -300.0, 500.0, 500.0) == pytest.approx(53_000.0)
    assert pm.bankruptcy_price(50_000.0, -0.1, -300.0, 500.0, 500.0) == pytest.approx(47_000.0)


def test_fillable_price_is_between_oracle_and_maintenance_spread():
    # ABR clamps to [0, 1]: at TNC >= TMMR the fillable price is the oracle price, at TNC <= 0 the
    # full spread SMMR x PMMR / |size| applies
    assert pm.fillable_price(100.0, 2.0, 50.0, 40.0, 40.0) == 100.0
    assert pm.fillable_price(100.0, 2.0, -5.0, 40.0, 40.0) == pytest.approx(100.0 - 0.1 * 40.0 / 2.0)
    assert pm.fillable_price(100.0, -2.0, 10.0, 40.0, 40.0) == pytest.approx(100.0 + 0.75 * 0.1 * 40.0 / 2.0)


def test_funding_rate_and_payments():
    assert pm.funding_rate(101.0, 100.0) == pytest.approx(0.01)
    assert pm.funding_rate(101.0, 100.0, interest=0.0001) == pytest.approx(0.0101)
    assert pm.funding_rate(120.0, 100.0, cap=0.0075) == 0.0075
    assert pm.funding_rate(80.0, 100.0, cap=0.0075) == -0.0075
    sizes = np.array([3.0, -1.0, -2.0, 0.5, -0.5])
    pay = pm.funding_payments(sizes, 200.0, 0.001)
    assert np.allclose(pay, sizes * 0.2, rtol=1e-15)
    assert math.fsum(pay) == pytest.approx(0.0, abs=1e-15)
    assert pay[0] > 0 > pay[1]          # positive rate: longs pay, shorts receive


def test_liquidation_rules_on_arrays():
    assert list(pm.is_liquidatable(np.array([1.0, 5.0, -1.0, 0.0]), np.array([2.0, 2.0, 0.0, 0.0]))) == [
        True, False, False, False]
    assert pm.net_collateral([10.0, -5.0], [[1.0, -2.0], [0.0, 1.0]], [100.0, 50.0]) == pytest.approx(
        np.array([10.0, 45.0]))
    assert list(pm.adl_order([1.0, 3.0, 3.0, -2.0])) == [1, 2, 0, 3]
