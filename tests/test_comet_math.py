"""Comet math: the shared vectors (integer port to the wei, float math to 1e-9), closed forms, validation."""

from __future__ import annotations

import numpy as np
import pytest

from contagion import comet
from contagion.errors import LiquidationError

E18 = 10**18


def _defaults(case: dict) -> dict:
    """Indices and base price of a vector (Comet's defaults: indices 1e15, USDC at $1 with 6 decimals)."""
    return {"supply_index": int(case.get("baseSupplyIndex", comet.BASE_INDEX_SCALE)),
            "borrow_index": int(case.get("baseBorrowIndex", comet.BASE_INDEX_SCALE)),
            "base_price": int(case.get("basePrice8", comet.PRICE_SCALE)), "base_scale": 10**6}


# ----------------------------------------------------------------------------- vectors, integer
def test_quote_collateral_vectors_to_the_wei(vectors):
    cases = vectors("compound_liquidation")["comet_quote"]
    assert len(cases) == 8
    for case in cases:
        got = comet.quote_collateral_int(
            int(case["baseAmount"]), int(case["assetPrice8"]),
            store_front_price_factor=int(case["storeFrontPriceFactor"]),
            liquidation_factor=int(case["liquidationFactor"]), asset_scale=int(case["assetScale"]),
            base_price8=int(case["basePrice8"]), base_scale=int(case["baseScale"]))
        assert got == int(case["expectedCollateral"]), case["name"]


def test_absorb_vectors_to_the_wei(vectors):
    cases = vectors("compound_liquidation")["comet_absorb"]
    assert len(cases) == 3
    for case in cases:
        got = comet.absorb_int(int(case["principal"]), case["collaterals"], **_defaults(case))
        assert got == {k: int(v) for k, v in case["expected"].items()}, case["name"]


def test_is_liquidatable_vectors(vectors):
    cases = vectors("compound_liquidation")["comet_is_liquidatable"]
    assert [case["expected"] for case in cases] == [False, True, False]
    for case in cases:
        got = comet.is_liquidatable_int(int(case["principal"]), case["collaterals"], **_defaults(case))
        assert got is case["expected"], case["name"]


def test_is_liquidatable_int_returns_before_reading_an_asset_once_liquidity_is_non_negative():
    # the first asset alone covers the debt: the loop returns before reading the second (an
    # entry without fields, which raises when read)
    first = {"balance": E18, "price8": 2000 * 10**8, "scale": E18, "liquidateCollateralFactor": 9 * 10**17}
    assert comet.is_liquidatable_int(-1000 * 10**6, [first, {}]) is False
    with pytest.raises(KeyError):
        comet.is_liquidatable_int(-1000 * 10**6, [{}, first])
    # 1 WETH at $1,117 with a 0.895 factor covers 999.715 USDC: liquidatable for 1,000, not for 999
    weth = {"balance": E18, "price8": 1117 * 10**8, "scale": E18, "liquidateCollateralFactor": 895 * 10**15}
    assert comet.is_liquidatable_int(-1000 * 10**6, [weth]) is True
    assert comet.is_liquidatable_int(-999 * 10**6, [weth]) is False


# ------------------------------------------------------------------------------- vectors, float
def test_quote_collateral_vectors_in_float(vectors):
    for case in vectors("compound_liquidation")["comet_quote"]:
        base_scale, asset_scale = int(case["baseScale"]), int(case["assetScale"])
        got = comet.quote_collateral(
            int(case["baseAmount"]) / base_scale, int(case["assetPrice8"]) / 1e8, int(case["basePrice8"]) / 1e8,
            store_front_price_factor=int(case["storeFrontPriceFactor"]) / 1e18,
            liquidation_factor=int(case["liquidationFactor"]) / 1e18)
        expected = int(case["expectedCollateral"])
        # The contract floors the discounted price and then the quote to whole wei of the asset, so
        # its result lies within one wei (plus the float's own 1e-9) of the exact value: for the
        # 8-decimal WBTC case one wei is 2.6e-7 of the amount, more than a relative 1e-9.
        assert abs(got * asset_scale - expected) <= 1.0 + 1e-9 * expected, case["name"]
        if expected > 10**12:   # amounts of many wei: the floors are below 1e-9 of the value
            assert got * asset_scale == pytest.approx(expected, rel=1e-9), case["name"]


def test_absorb_vectors_in_float(vectors):
    for case in vectors("compound_liquidation")["comet_absorb"]:
        d = _defaults(case)
        # the debt's present value as the contract computes it (floored to the wei), base units
        debt = -comet.present_value_int(int(case["principal"]), d["supply_index"], d["borrow_index"]) / 1e6
        coll = [int(c["balance"]) / int(c["scale"]) for c in case["collaterals"]]
        prices = [int(c["price8"]) / 1e8 for c in case["collaterals"]]
        factors = [int(c["liquidationFactor"]) / 1e18 for c in case["collaterals"]]
        if not coll:
            credit, new_balance, paid, shortfall = 0.0, 0.0, debt, debt
        else:
            credit, new_balance, paid, shortfall = comet.absorb_amounts(debt, coll, prices, factors)
        expected = case["expected"]
        assert credit == pytest.approx(int(expected["deltaValue"]) / 1e8, rel=1e-9, abs=1e-12)
        assert credit == pytest.approx(int(expected["deltaBalance"]) / 1e6, rel=1e-9, abs=1e-12)
        assert new_balance == pytest.approx(int(expected["newBalance"]) / 1e6, rel=1e-9, abs=1e-12)
        assert paid == pytest.approx(int(expected["basePaidOut"]) / 1e6, rel=1e-9)
        assert shortfall == pytest.approx(max(0.0, debt - credit), rel=1e-9, abs=1e-12)
        # the new principal is the new balance over the supply index, floored to the wei by the contract
        principal = new_balance / (d["supply_index"] / comet.BASE_INDEX_SCALE)
        assert abs(principal * 1e6 - int(expected["newPrincipal"])) <= 1.0


def test_is_liquidatable_vectors_in_float(vectors):
    for case in vectors("compound_liquidation")["comet_is_liquidatable"]:
        principal = int(case["principal"])
        debt = max(0.0, -principal / 1e6)
        coll = [int(c["balance"]) / int(c["scale"]) for c in case["collaterals"]] or [0.0]
        prices = [int(c["price8"]) / 1e8 for c in case["collaterals"]] or [1.0]
        factors = [int(c["liquidateCollateralFactor"]) / 1e18 for c in case["collaterals"]] or [1.0]
        assert comet.is_liquidatable(debt, coll, prices, factors) is case["expected"], case["name"]


# ----------------------------------------------------------------------- closed forms, arrays
def test_liquidity_and_absorb_closed_forms_on_arrays():
    debt = np.array([1000.0, 1400.0, 2300.0, 1450.0])
    coll = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 20.0], [1.0, 0.0]])
    prices, lcf, lf = [1500.0, 50.0], [0.895, 0.70], [0.95, 0.93]
    liq = comet.liquidity(debt, coll, prices, lcf)
    assert np.allclose(liq, [1342.5 - 1000, 1342.5 - 1400, 1342.5 + 700 - 2300, 1342.5 - 1450], rtol=1e-12)
    assert comet.is_liquidatable(debt, coll, prices, lcf).tolist() == [False, True, True, True]
    credit, new_balance, paid, shortfall = comet.absorb_amounts(debt, coll, prices, lf)
    assert np.allclose(credit, [1425.0, 1425.0, 1425.0 + 930.0, 1425.0], rtol=1e-12)
    assert np.allclose(new_balance, [425.0, 25.0, 55.0, 0.0], rtol=1e-12, atol=1e-9)
    assert np.allclose(paid, np.maximum(credit, debt), rtol=1e-12)
    assert np.allclose(shortfall, [0.0, 0.0, 0.0, 25.0], atol=1e-9)


def test_base_price_scales_debt():
    # a base asset worth $0.5: 2000 units of debt are worth $1000
    assert comet.liquidity(2000.0, [1.0], [1500.0], [0.9], base_price=0.5) == pytest.approx(1350.0 - 1000.0)
    credit, *_ = comet.absorb_amounts(2000.0, [1.0], [1500.0], [0.9], base_price=0.5)
    assert credit == pytest.approx(1500.0 * 0.9 / 0.5)


def test_store_front_price_closed_form():
    # cUSDCv3 WETH: liquidation factor 0.95, store front 0.5 -> 2.5 % below the oracle price
    assert comet.store_front_price(1800.0, store_front_price_factor=0.5, liquidation_factor=0.95) == \
        pytest.approx(1800.0 * 0.975, rel=1e-15)
    # a store-front factor of 0 sells at the oracle price; of 1, at the liquidation factor's value
    assert comet.store_front_price(1800.0, store_front_price_factor=0.0, liquidation_factor=0.95) == 1800.0
    assert comet.store_front_price(1800.0, store_front_price_factor=1.0, liquidation_factor=0.95) == \
        pytest.approx(1800.0 * 0.95, rel=1e-15)
    prices = comet.store_front_price(np.array([1.0, 2.0]), 0.5, store_front_price_factor=0.5, liquidation_factor=0.8)
    assert np.allclose(prices, [1.8, 3.6], rtol=1e-15)
    assert comet.reserves(10.0, 100.0, 95.0) == 5.0


def test_float_matches_the_integer_port_on_random_accounts():
    rng = np.random.default_rng(11)
    for _ in range(300):
        k = int(rng.integers(1, 4))
        balances = [int(x) * 1000 for x in rng.integers(10**12, 10**18, k)]
        prices8 = [int(x) for x in rng.integers(10**8, 5 * 10**12, k)]
        lfs = [int(x) for x in rng.integers(5 * 10**17, E18, k)]
        principal = -int(rng.integers(10**8, 10**13))
        assets = [{"balance": b, "price8": p, "scale": E18, "liquidationFactor": f}
                  for b, p, f in zip(balances, prices8, lfs)]
        exact = comet.absorb_int(principal, assets)
        credit, new_balance, paid, _ = comet.absorb_amounts(
            -principal / 1e6, [b / 1e18 for b in balances], [p / 1e8 for p in prices8], [f / 1e18 for f in lfs])
        # every floor of the port loses less than one unit of its scale: 1e-6 base per step
        assert abs(credit * 1e6 - exact["deltaBalance"]) <= 1.0 + 1e-9 * exact["deltaBalance"]
        assert abs(paid * 1e6 - exact["basePaidOut"]) <= 1.0 + 1e-9 * exact["basePaidOut"]
        assert abs(new_balance * 1e6 - exact["newBalance"]) <= 1.0 + 1e-9 * exact["deltaBalance"]
        sf = int(rng.integers(0, E18))
        amount = int(rng.integers(10**6, 10**12))
        q = comet.quote_collateral_int(amount, prices8[0], store_front_price_factor=sf, liquidation_factor=lfs[0],
                                       asset_scale=E18)
        qf = comet.quote_collateral(amount / 1e6, prices8[0] / 1e8, store_front_price_factor=sf / 1e18,
                                    liquidation_factor=lfs[0] / 1e18)
        assert qf * 1e18 == pytest.approx(q, rel=1e-9)


def test_present_and_principal_values_round_as_comet():
    index = 1_050_000_000_000_001
    assert comet.present_value_int(-1000, borrow_index=index) == -1050      # floor of 1050.000000000001
    assert comet.principal_value_int(-1050, borrow_index=index) == -1000    # ceil of 999.99999...
    assert comet.principal_value_int(1050, supply_index=index) == 999       # floor
    assert comet.repay_and_supply_amount_int(-100, 50) == (100, 50)
    assert comet.repay_and_supply_amount_int(-100, -40) == (60, 0)
    assert comet.repay_and_supply_amount_int(10, 50) == (0, 40)
    assert comet.repay_and_supply_amount_int(50, 10) == (0, 0)


@pytest.mark.parametrize("call, match", [
    (lambda: comet.liquidity([1.0], [[1.0, 2.0]], [1.0], [0.5]), "one price"),
    (lambda: comet.liquidity([1.0, 2.0], [[1.0]], [1.0], [0.5]), "shape"),
    (lambda: comet.liquidity(-1.0, [1.0], [1.0], [0.5]), "debt must be finite and >= 0"),
    (lambda: comet.liquidity(1.0, [1.0], [1.0], [1.5]), r"liquidate_collateral_factors must be in \(0, 1\]"),
    (lambda: comet.absorb_amounts(1.0, [1.0], [1.0], [0.9], base_price=0.0), "base_price must be > 0"),
    (lambda: comet.absorb_amounts(1.0, [float("nan")], [1.0], [0.9]), "collateral must be finite"),
    (lambda: comet.store_front_price(1.0, store_front_price_factor=1.5, liquidation_factor=0.9),
     "store_front_price_factor must be <= 1"),
    (lambda: comet.store_front_price(0.0, store_front_price_factor=0.5, liquidation_factor=0.9),
     "asset_price must be finite and > 0"),
    (lambda: comet.quote_collateral(-1.0, 1.0, store_front_price_factor=0.5, liquidation_factor=0.9),
     "base_amount must be finite and >= 0"),
])
def test_bad_input_is_a_liquidation_error(call, match):
    with pytest.raises(LiquidationError, match=match):
        call()
