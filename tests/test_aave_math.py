"""Aave liquidation math (:mod:`contagion.liquidation.aave`): integer port and float API.

Expected numbers come from the shared reference vectors (``aave_liquidation.json``, every entry
and every version key), from closed forms worked out in the comments (the contracts' formulas
evaluated by hand on round inputs, or with ``fractions.Fraction``), or from invariants checked on
random inputs. Nothing is copied from the module's own output.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contagion.errors import LiquidationError
from contagion.liquidation import aave
from contagion.liquidation.aave import (
    MAX_UINT256,
    AaveRevert,
    Collateral,
    Debt,
    apply_emode,
    close_factor,
    health_factor,
    liquidation,
    liquidation_amounts,
    mul_div_ceil,
    percent_div,
    percent_div_ceil,
    percent_div_floor,
    percent_mul,
    percent_mul_ceil,
    percent_mul_floor,
    user_account_data,
    wad_div,
)

E18 = 10**18
USD = 10**8  # one dollar in the 8-decimal base currency
INF = float("inf")
V3 = ("v3.0", "v3.3", "v3.6", "v3.7")

# The health-factor vectors carry two formula keys; each stands for the versions that share it
# (REFERENCE-MATH section 4: v2 and v3.0-v3.4 floor every value and the average threshold; v3.5+
# round debt up and skip the average).
HF_KEY_VERSIONS = {"v3.0": ("v2", "v3.0", "v3.3"), "v3.6+": ("v3.6", "v3.7")}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _price(asset: dict) -> int:
    return int(asset["price8"] if "price8" in asset else asset["priceETH"])


def _price_unit(asset: dict) -> int:
    """v3 vectors quote USD x 1e8, v2 vectors ETH wei."""
    return USD if "price8" in asset else E18


def _collateral(c: dict) -> Collateral:
    return Collateral(int(c["balance"]), _price(c), c["decimals"], c["liquidationThresholdBps"],
                      c.get("liquidationBonusBps", 10000), c.get("liquidationProtocolFeeBps", 0))


def _debt(d: dict) -> Debt:
    return Debt(int(d["balance"]), _price(d), d["decimals"])


def _tokens(asset: dict) -> float:
    return int(asset["balance"]) / 10 ** asset["decimals"]


def _usd(asset: dict) -> float:
    return _price(asset) / _price_unit(asset)


def _units_close(value: float, exact_units: int, decimals: int, budget_units: int) -> bool:
    """``value`` (token units) within ``max(1e-9 relative, budget_units smallest units)`` of
    ``exact_units`` (smallest units). The float API is exact up to ~1e-15 relative; the contracts
    round each step to a smallest unit, so for small integer results a relative tolerance alone
    cannot hold and the rounding budget of the formula is used instead (see the callers)."""
    exact = Fraction(exact_units, 10**decimals)
    tolerance = max(Fraction(1, 10**9) * abs(exact), Fraction(budget_units, 10**decimals))
    return abs(Fraction(value) - exact) <= tolerance


def _weth(balance: int, *, lt: int = 8250, bonus: int = 10500, fee: int = 0, price: int = 2000 * USD) -> Collateral:
    return Collateral(balance, price, 18, lt, bonus, fee)


def _usdc(balance: int, price: int = USD) -> Debt:
    return Debt(balance, price, 6)


# --------------------------------------------------------------------------------------------
# fixed-point primitives: closed forms and boundaries
# --------------------------------------------------------------------------------------------

def test_percent_mul_rounds_half_up():
    # (v * p + 5000) // 10000
    assert percent_mul(1, 5000) == 1          # 0.5 -> 1
    assert percent_mul(1, 4999) == 0          # 0.4999 -> 0
    assert percent_mul(10, 10500) == 11       # 10.5 -> 11
    assert percent_mul(20, 10500) == 21       # 21.0
    assert percent_mul(123, 0) == 0


def test_percent_mul_floor_and_ceil():
    assert percent_mul_floor(10, 10500) == 10   # floor(10.5)
    assert percent_mul_ceil(10, 10500) == 11    # ceil(10.5)
    assert percent_mul_floor(20, 10500) == percent_mul_ceil(20, 10500) == 21
    assert percent_mul_ceil(1, 1000) == 1       # ceil(0.1)
    assert percent_mul(1, 1000) == 0            # round(0.1)


def test_percent_div_variants():
    # (v * 10000 + p // 2) // p; 21 / 1.05 = 20 exactly; 20.5 for 21.525 ...
    assert percent_div(21, 10500) == 20
    assert percent_div(1, 10500) == 1            # 0.952 -> 1
    assert percent_div_floor(1, 10500) == 0
    assert percent_div_ceil(1, 10500) == 1
    assert percent_div_ceil(21, 10500) == 20     # exact: no rounding up
    assert percent_div_floor(2000, 10500) == 1904   # 1904.76
    assert percent_div(2000, 10500) == 1905
    assert percent_div_ceil(2000, 10500) == 1905


def test_wad_div_and_mul_div_ceil():
    assert wad_div(1, 3) == 333333333333333333           # 0.333... half-up stays down
    assert wad_div(2, 3) == 666666666666666667           # 0.666... rounds up
    assert mul_div_ceil(7, 3, 2) == 11                   # ceil(10.5)
    assert mul_div_ceil(6, 3, 2) == 9
    assert mul_div_ceil(0, 0, 5) == 0


def test_primitive_overflow_boundaries_revert():
    # percentMul: value <= (2**256 - 1 - 5000) // percentage is the largest accepted
    limit = (MAX_UINT256 - 5000) // 10500
    assert percent_mul(limit, 10500) == (limit * 10500 + 5000) // 10000
    with pytest.raises(AaveRevert, match=r"^Aave: PercentageMath\.percentMul overflow"):
        percent_mul(limit + 1, 10500)
    with pytest.raises(AaveRevert, match=r"percentMulFloor overflow"):
        percent_mul_floor(MAX_UINT256 // 3 + 1, 3)
    with pytest.raises(AaveRevert, match=r"percentDiv division by zero"):
        percent_div(1, 0)
    with pytest.raises(AaveRevert, match=r"percentDivCeil overflow"):
        percent_div_ceil(MAX_UINT256 // 10000 + 1, 10500)
    with pytest.raises(AaveRevert, match=r"wadDiv division by zero"):
        wad_div(1, 0)
    with pytest.raises(AaveRevert, match=r"wadDiv overflow"):
        wad_div((MAX_UINT256 - 1) // E18 + 1, 3)
    with pytest.raises(AaveRevert, match=r"mulDivCeil"):
        mul_div_ceil(1, 1, 0)


@pytest.mark.parametrize("bad", [-1, 2**256, 1.5, "7", True, None])
def test_primitive_arguments_must_be_uint256(bad):
    with pytest.raises(LiquidationError, match=r"^Aave: value must be (an integer|a uint256)"):
        percent_mul(bad, 10)


@settings(max_examples=300, deadline=None)
@given(v=st.integers(0, 2**200), p=st.integers(1, 2**16 - 1))
def test_primitives_match_their_rational_definitions(v, p):
    exact_mul, exact_div = Fraction(v * p, 10000), Fraction(v * 10000, p)
    assert percent_mul_floor(v, p) == math.floor(exact_mul)
    assert percent_mul_ceil(v, p) == math.ceil(exact_mul)
    assert percent_mul(v, p) == math.floor(exact_mul + Fraction(1, 2))
    assert percent_div_floor(v, p) == math.floor(exact_div)
    assert percent_div_ceil(v, p) == math.ceil(exact_div)
    # half-up with the contract's integer half p // 2 (exact for even p)
    assert percent_div(v, p) == math.floor(Fraction(v * 10000 + p // 2, p))
    assert mul_div_ceil(v, p, 7) == math.ceil(Fraction(v * p, 7))


# --------------------------------------------------------------------------------------------
# reference vectors: integer port, every entry and every version key
# --------------------------------------------------------------------------------------------

def test_health_factor_vectors(vectors):
    data = vectors("aave_liquidation")
    assert data["health_factor"]
    for entry in data["health_factor"]:
        assert set(entry["expected"]) <= set(HF_KEY_VERSIONS), entry["name"]
        collaterals = [_collateral(c) for c in entry["collaterals"]]
        debts = [_debt(d) for d in entry["debts"]]
        for key, expected in entry["expected"].items():
            for version in HF_KEY_VERSIONS[key]:
                got = user_account_data(collaterals, debts, version)
                assert got == (int(expected["totalCollateralBase"]), int(expected["totalDebtBase"]),
                               int(expected["avgLiquidationThreshold"]), int(expected["healthFactor"])), \
                    (entry["name"], version)


def test_liquidation_vectors(vectors):
    data = vectors("aave_liquidation")
    seen = set()
    for entry in data["liquidation"]:
        collateral, debt = _collateral(entry["collateral"]), _debt(entry["debt"])
        cover = int(entry["debtToCover"])
        assert set(entry["expected"]) <= set(aave.VERSIONS), entry["name"]
        for version, expected in entry["expected"].items():
            seen.add(version)
            hf = user_account_data([collateral], [debt], version).health_factor
            assert hf == int(expected["healthFactor"]), (entry["name"], version)
            if "revert" in expected:
                with pytest.raises(AaveRevert, match=rf"^Aave {re.escape(version)}: {expected['revert']}\b") as info:
                    liquidation(collateral, debt, cover, version)
                assert info.value.reason == expected["revert"] and info.value.version == version
                continue
            got = liquidation(collateral, debt, cover, version)
            assert (got.health_factor, got.max_liquidatable_debt, got.actual_debt_to_liquidate,
                    got.collateral_to_liquidator, got.protocol_fee) == (
                int(expected["healthFactor"]), int(expected["maxLiquidatableDebt"]),
                int(expected["actualDebtToLiquidate"]), int(expected["collateralToLiquidator"]),
                int(expected["protocolFee"])), (entry["name"], version)
    assert seen == set(aave.VERSIONS)


def test_version_aliases_share_the_math(vectors):
    entry = next(e for e in vectors("aave_liquidation")["liquidation"] if e["name"].startswith("I:"))
    collateral, debt, cover = _collateral(entry["collateral"]), _debt(entry["debt"]), int(entry["debtToCover"])
    for alias, key in (("v3.1", "v3.0"), ("v3.2", "v3.0"), ("v3.4", "v3.3"), ("v3.5", "v3.6")):
        assert liquidation(collateral, debt, cover, alias).actual_debt_to_liquidate == \
            int(entry["expected"][key]["actualDebtToLiquidate"])


# --------------------------------------------------------------------------------------------
# integer port: closed forms for the rules the vectors do not reach
# --------------------------------------------------------------------------------------------

def test_v2_applies_the_bonus_before_dividing():
    # collateral $1 (6 dec), debt $1.99 (6 dec); covering 1 debt unit is worth 1.99 collateral units.
    # v3:  percentMul(floor(1.99), 10500) = percentMul(1, 10500) = (10500 + 5000) // 10000 = 1
    # v2:  floor(percentMul(1.99e8 * 1 * 1e6, 10500) / (1e8 * 1e6)) = floor(2.0895e14 / 1e14) = 2
    collateral = Collateral(1000 * 10**6, USD, 6, 8000, 10500)
    debt = Debt(500 * 10**6, 199 * 10**6, 6)       # $995 of debt, HF = 800 / 995
    assert liquidation(collateral, debt, 1, "v2").collateral_to_liquidator == 2
    assert liquidation(collateral, debt, 1, "v3.0").collateral_to_liquidator == 1


def test_v2_close_factor_is_always_half():
    # HF 0.5: v3.0 would allow 100 %, v2 stays at percentMul(debt, 5000)
    collateral = Collateral(10 * E18, E18, 18, 8000, 10500)          # 10 ETH of collateral
    debt = Debt(16 * E18, E18, 18)                                    # HF = 8 / 16
    assert liquidation(collateral, debt, MAX_UINT256, "v2").max_liquidatable_debt == 8 * E18
    assert liquidation(collateral, debt, MAX_UINT256, "v3.0").max_liquidatable_debt == 16 * E18


def test_v3_3_caps_at_half_of_the_total_debt_across_reserves():
    # 10 ETH at $2,000 (LT 82.5 %) against 12,000 USDC and 5,000 DAI: total $17,000, HF 16,500/17,000.
    # Both reserves and the collateral exceed $2,000 and HF > 0.95, so the cap is 50 % of the total
    # debt, $8,500, in the repaid reserve's units: USDC (12,000 > 8,500) is capped at 8,500 USDC;
    # DAI (5,000 <= 8,500) may be repaid in full.
    weth, usdc = _weth(10 * E18), _usdc(12_000 * 10**6)
    dai = Debt(5_000 * E18, USD, 18)
    for version in ("v3.3", "v3.6", "v3.7"):
        assert liquidation(weth, usdc, MAX_UINT256, version, other_debts=[dai]).max_liquidatable_debt == 8_500 * 10**6
        assert liquidation(weth, dai, MAX_UINT256, version, other_debts=[usdc]).max_liquidatable_debt == 5_000 * E18
    # v3.0: 50 % of the repaid reserve alone
    assert liquidation(weth, usdc, MAX_UINT256, "v3.0", other_debts=[dai]).max_liquidatable_debt == 6_000 * 10**6
    assert liquidation(weth, dai, MAX_UINT256, "v3.0", other_debts=[usdc]).max_liquidatable_debt == 2_500 * E18


def test_dust_rule_closed_form():
    # 1 ETH at $2,000 against 1,700 USDC: HF 0.97, debt below $2,000 -> v3.3+ allow 100 %.
    weth, usdc = _weth(E18), _usdc(1_700 * 10**6)
    for version in ("v3.3", "v3.6", "v3.7"):
        # repaying 1,000 USDC would leave $700 of debt and $950 of collateral
        with pytest.raises(AaveRevert, match=rf"^Aave {re.escape(version)}: MUST_NOT_LEAVE_DUST \(leftover") as info:
            liquidation(weth, usdc, 1_000 * 10**6, version)
        assert info.value.reason == "MUST_NOT_LEAVE_DUST"
        # repaying 700 leaves exactly $1,000 of debt (allowed: >=) and 1 - 0.3675 ETH = $1,265:
        # collateral = percentMul(700 / 2000 ETH, 10500) = 0.3675 ETH
        got = liquidation(weth, usdc, 700 * 10**6, version)
        assert (got.actual_debt_to_liquidate, got.collateral_to_liquidator) == (700 * 10**6, 3675 * 10**14)
        # clearing the debt is always allowed: 1,700 * 1.05 / 2,000 = 0.8925 ETH
        got = liquidation(weth, usdc, MAX_UINT256, version)
        assert (got.actual_debt_to_liquidate, got.collateral_to_liquidator) == (1_700 * 10**6, 8925 * 10**14)
    # v3.0 has no dust rule: HF 0.97 > 0.95 caps at 850 USDC -> percentMul(0.425 ETH, 10500)
    got = liquidation(weth, usdc, 1_000 * 10**6, "v3.0")
    assert (got.actual_debt_to_liquidate, got.collateral_to_liquidator) == (850 * 10**6, 44625 * 10**13)


def test_dust_rule_debt_leftover_rounding_v3_3_floor_vs_v3_6_ceil():
    # Debt priced $1.00000001 (100000001 in 8 decimals). Leaving 999.99999 USDC (999999990 units)
    # is worth 999999990 * 100000001 / 1e6 = 99999999999.99999 base units: v3.3 floors it to
    # 99999999999 < 1000e8 (dust), v3.5+ round it up to exactly 1000e8 (allowed).
    weth = _weth(15 * 10**17)                                  # $3,000, leftover ~$1,215 after
    usdc = _usdc(2_700 * 10**6, price=100_000_001)             # HF ~ 0.889 -> 100 % close factor
    cover = 2_700 * 10**6 - 999_999_990
    with pytest.raises(AaveRevert, match=r"MUST_NOT_LEAVE_DUST \(leftover debt 99999999999 "):
        liquidation(weth, usdc, cover, "v3.3")
    for version in ("v3.6", "v3.7", "v3.0"):
        assert liquidation(weth, usdc, cover, version).actual_debt_to_liquidate == cover


def test_dust_rule_counts_the_protocol_fee_as_gone():
    # 1.5 ETH at $2,000 against 3,500 USDC (HF 0.686). Covering 1906666667 USDC units:
    #   base = 1906666667 * 1e8 * 1e18 // (2000e8 * 1e6) = 953333333500000000
    #   collateral = percentMul(base, 10500) = 1001000000175000000  (incl. the fee)
    # The borrower keeps 1.5e18 - 1001000000175000000 = 498999999825000000 wei = $997.99999965:
    # dust. Without subtracting the fee the leftover would be judged $1,007.5 (allowed).
    weth, usdc = _weth(15 * 10**17, fee=1000), _usdc(3_500 * 10**6)
    cover = 1_906_666_667
    base = cover * USD * E18 // (2000 * USD * 10**6)
    amount = (base * 10500 + 5000) // 10000
    assert (base, amount) == (953333333500000000, 1001000000175000000)
    v30 = liquidation(weth, usdc, cover, "v3.0")             # same arithmetic, no dust rule
    assert v30.collateral_to_liquidator + v30.protocol_fee == amount
    assert (15 * 10**17 - v30.collateral_to_liquidator) * 2000 * USD // E18 >= aave.MIN_LEFTOVER_BASE
    for version in ("v3.3", "v3.6", "v3.7"):
        with pytest.raises(AaveRevert, match=r"collateral 99799999965 \(base currency"):
            liquidation(weth, usdc, cover, version)


def test_v3_7_rounds_the_bonus_down_and_the_fee_up():
    # $1 collateral and $1 debt, both 6 decimals: covering x units gives base = x.
    # Bonus, x = 10 and no fee: v3.6 percentMul(10, 10500) = 11 (10.5 half-up); v3.7
    #   percentMulFloor(10, 10500) = 10.
    # Fee 10 % of the bonus, x = 20: collateral percentMul(20, 10500) = 21 in both versions.
    #   v3.6: principal percentDiv(21, 10500) = (210000 + 5250) // 10500 = 20, bonus part 1,
    #         fee percentMul(1, 1000) = (1000 + 5000) // 10000 = 0 -> (21, 0)
    #   v3.7: principal percentDivFloor = 210000 // 10500 = 20, bonus part 1,
    #         fee percentMulCeil(1, 1000) = ceil(0.1) = 1 -> (20, 1)
    debt = Debt(9_000 * 10**6, USD, 6)                    # HF 0.889, leftovers far above $1,000
    no_fee = Collateral(10_000 * 10**6, USD, 6, 8000, 10500, 0)
    assert liquidation(no_fee, debt, 10, "v3.6")[3:5] == (11, 0)
    assert liquidation(no_fee, debt, 10, "v3.7")[3:5] == (10, 0)
    with_fee = Collateral(10_000 * 10**6, USD, 6, 8000, 10500, 1000)
    assert liquidation(with_fee, debt, 20, "v3.6")[3:5] == (21, 0)
    assert liquidation(with_fee, debt, 20, "v3.7")[3:5] == (20, 1)


def test_deficit_when_no_collateral_is_left(vectors):
    entry = next(e for e in vectors("aave_liquidation")["liquidation"] if e["name"].startswith("C:"))
    collateral, debt = _collateral(entry["collateral"]), _debt(entry["debt"])
    for version in ("v3.3", "v3.6", "v3.7"):
        got = liquidation(collateral, debt, MAX_UINT256, version)
        # all collateral is seized: the rest of the reserve's debt is written off
        assert got.deficit == debt.balance - int(entry["expected"][version]["actualDebtToLiquidate"])
        # another collateral reserve (still HF < 1) keeps the debt on the books
        other = Collateral(10**6, USD, 6, 8000)
        assert liquidation(collateral, debt, MAX_UINT256, version, other_collaterals=[other]).deficit == 0
    assert liquidation(collateral, debt, MAX_UINT256, "v3.0").deficit == 0     # v3.0 never burns


def test_sentinel_grace_period():
    weth, usdc = _weth(10 * E18), _usdc(17_000 * 10**6)          # HF 0.9706
    for version in ("v3.0", "v3.3", "v3.6"):
        with pytest.raises(AaveRevert, match=r"PRICE_ORACLE_SENTINEL_CHECK_FAILED"):
            liquidation(weth, usdc, MAX_UINT256, version, sentinel_grace_period=True)
    assert liquidation(weth, usdc, MAX_UINT256, "v3.7", sentinel_grace_period=True).max_liquidatable_debt == 8_500 * 10**6
    deep = _usdc(19_000 * 10**6)                                   # HF 0.868 < 0.95: allowed
    assert liquidation(weth, deep, MAX_UINT256, "v3.0", sentinel_grace_period=True).max_liquidatable_debt == 19_000 * 10**6
    with pytest.raises(LiquidationError, match=r"sentinel_grace_period does not exist in v2"):
        liquidation(weth, usdc, MAX_UINT256, "v2", sentinel_grace_period=True)


def test_validation_reverts_in_contract_order():
    usdc = _usdc(1_000 * 10**6)
    no_threshold = _weth(E18, lt=0)            # not counted: HF = 0, but cannot be seized
    for version in aave.VERSIONS:
        with pytest.raises(AaveRevert, match=r": COLLATERAL_CANNOT_BE_LIQUIDATED \("):
            liquidation(no_threshold, usdc, MAX_UINT256, version)
        # the debt reserve is empty while another debt makes the account liquidatable
        with pytest.raises(AaveRevert, match=r": SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER \("):
            liquidation(_weth(E18), _usdc(0), MAX_UINT256, version, other_debts=[_usdc(1_900 * 10**6)])


def test_bonus_below_100_percent_is_an_arithmetic_revert():
    # bonus 9000: collateral - percentDiv(collateral, 9000) underflows (the configurator forbids it)
    collateral = _weth(10 * E18, bonus=9000, fee=1000)
    with pytest.raises(AaveRevert, match=r"Panic\(0x11\): arithmetic underflow"):
        liquidation(collateral, _usdc(19_000 * 10**6), 10**9, "v3.0")


def test_invalid_arguments():
    with pytest.raises(LiquidationError, match=r"version must be one of 'v2', 'v3.0', 'v3.3', 'v3.6', 'v3.7'.*got 'v4'"):
        liquidation(_weth(E18), _usdc(10**9), 1, "v4")
    with pytest.raises(LiquidationError, match=r"Collateral.decimals must be <= 77, got 78"):
        Collateral(1, 1, 78, 8000)
    with pytest.raises(LiquidationError, match=r"Collateral.liquidation_threshold_bps must be <= 65535"):
        Collateral(1, 1, 18, 70000)
    with pytest.raises(LiquidationError, match=r"Debt.balance must be a uint256"):
        Debt(-1, 1, 6)
    with pytest.raises(LiquidationError, match=r"debt_to_cover must be a uint256"):
        liquidation(_weth(E18), _usdc(10**9), 2**256, "v3.3")
    with pytest.raises(LiquidationError, match=r"collateral must be a Collateral and debt a Debt"):
        liquidation(_usdc(1), _weth(1), 1, "v3.3")
    with pytest.raises(LiquidationError, match=r"collaterals must hold Collateral objects"):
        user_account_data([_usdc(1)], [], "v3.0")
    with pytest.raises(LiquidationError, match=r"protocol_fee_bps must be <= 10000, got 12000"):
        liquidation(_weth(E18, fee=12000), _usdc(1_900 * 10**6), 1, "v3.0")


def test_emode_override_in_the_integer_port():
    # 10 ETH-like collateral priced like the debt (e-mode pair): LT 80 % -> 93 % in e-mode
    collateral = Collateral(10 * E18, 2000 * USD, 18, 8000, 10500)
    debt = Debt(18_000 * 10**6, USD, 6)                      # $18,000
    # HF = wadDiv(percentMul($20,000, LT), $18,000): 16,000 / 18,000 normally, 18,600 / 18,000 in e-mode
    assert user_account_data([collateral], [debt], "v3.3").health_factor == (16_000 * E18 + 9_000) // 18_000
    boosted = collateral.with_emode(9300, 10100)
    assert user_account_data([boosted], [debt], "v3.3").health_factor == (18_600 * E18 + 9_000) // 18_000
    with pytest.raises(AaveRevert, match=r"HEALTH_FACTOR_NOT_BELOW_THRESHOLD"):
        liquidation(boosted, debt, MAX_UINT256, "v3.3")


# --------------------------------------------------------------------------------------------
# integer port: properties on random positions
# --------------------------------------------------------------------------------------------

positions = st.fixed_dictionaries({
    "version": st.sampled_from(aave.VERSIONS),
    "coll_dec": st.sampled_from([6, 8, 18]),
    "debt_dec": st.sampled_from([6, 8, 18]),
    "coll_tokens_milli": st.integers(1, 10**9),          # 0.001 .. 1e6 tokens
    "coll_price": st.integers(10**6, 10**13),            # $0.01 .. $100,000
    "debt_price": st.integers(10**6, 10**13),
    "lt": st.integers(5000, 9500),
    "bonus": st.integers(10000, 11500),
    "fee": st.integers(0, 10000),
    "stress": st.fractions(Fraction(1, 2), Fraction(3)),   # debt value / (collateral value * LT)
    "cover_share": st.fractions(Fraction(0), Fraction(3, 2)),
})


def _position(p):
    coll = Collateral(p["coll_tokens_milli"] * 10 ** p["coll_dec"] // 1000, p["coll_price"], p["coll_dec"],
                      p["lt"], p["bonus"], 0 if p["version"] == "v2" else p["fee"])
    coll_value = Fraction(coll.balance * coll.price, 10 ** coll.decimals)
    debt_units = math.floor(coll_value * p["lt"] / 10000 * p["stress"] * 10 ** p["debt_dec"] / p["debt_price"])
    debt = Debt(max(debt_units, 1), p["debt_price"], p["debt_dec"])
    cover = math.floor(debt.balance * p["cover_share"])
    return coll, debt, cover


def _bonus_part(amount: int, bonus: int, version: str) -> int:
    return amount - (percent_div_floor(amount, bonus) if version == "v3.7" else percent_div(amount, bonus))


@settings(max_examples=400, deadline=None)
@given(positions)
def test_integer_port_bounds(p):
    coll, debt, cover = _position(p)
    try:
        got = liquidation(coll, debt, cover, p["version"])
    except AaveRevert as err:
        assert err.reason in ("HEALTH_FACTOR_NOT_BELOW_THRESHOLD", "MUST_NOT_LEAVE_DUST")
        return
    seized = got.collateral_to_liquidator + got.protocol_fee
    assert seized <= coll.balance                                   # never more than the balance
    assert got.actual_debt_to_liquidate <= got.max_liquidatable_debt <= debt.balance
    assert got.actual_debt_to_liquidate <= cover
    assert got.protocol_fee <= _bonus_part(seized, coll.liquidation_bonus_bps, p["version"])
    assert 0 <= got.deficit <= debt.balance - got.actual_debt_to_liquidate


@settings(max_examples=300, deadline=None)
@given(positions, st.integers(1, 10**6))
def test_integer_port_monotone_in_debt_to_cover(p, extra):
    """Offering more never seizes less collateral. The repaid debt may shrink by a few units
    where a larger offer crosses into the insufficient-collateral branch: below it the
    liquidator repays ``x`` with ``percentMul(floor(x * r), bonus) <= B`` (``r`` collateral units
    per debt unit, ``B`` the balance), so ``x < ((B + 1) / b + 1) / r``; above it the repayment is
    ``percentDiv(floor(B / r), bonus) > (B / r - 1) / b - 1``. The difference is below
    ``2 / r + 2`` units (e.g. r = 0.7, B = 7, bonus 105 %: 11 is repaid for 7 units at x = 11, 10
    at x = 12, see test_repaid_debt_can_shrink_at_the_insufficient_collateral_boundary)."""
    coll, debt, cover = _position(p)
    try:
        low = liquidation(coll, debt, cover, p["version"])
        high = liquidation(coll, debt, cover + extra, p["version"])
    except AaveRevert:
        assume(False)
    r = Fraction(debt.price * 10**coll.decimals, coll.price * 10**debt.decimals)
    assert high.collateral_to_liquidator + high.protocol_fee >= low.collateral_to_liquidator + low.protocol_fee
    assert high.collateral_to_liquidator >= low.collateral_to_liquidator
    assert high.actual_debt_to_liquidate >= low.actual_debt_to_liquidate - (2 / r + 2)


def test_repaid_debt_can_shrink_at_the_insufficient_collateral_boundary():
    # Collateral priced 10, debt priced 7 (0 decimals): 1 debt unit = 0.7 collateral units; the
    # user has 7 collateral units, bonus 105 %.
    #   x = 11: base = floor(7.7) = 7, percentMul(7, 10500) = 7 <= 7: repays 11 for 7 units
    #   x = 12: base = floor(8.4) = 8, percentMul(8, 10500) = 8 > 7: all 7 units, repaying
    #           percentDiv(floor(7 * 10 / 7) = 10, 10500) = (100000 + 5250) // 10500 = 10
    collateral = Collateral(7, 10 * USD, 0, 8000, 10500)
    debt = Debt(1000, 7 * USD, 0)
    assert liquidation(collateral, debt, 11, "v3.0")[2:4] == (11, 7)
    assert liquidation(collateral, debt, 12, "v3.0")[2:4] == (10, 7)


# --------------------------------------------------------------------------------------------
# float API: vectors, closed forms, validation
# --------------------------------------------------------------------------------------------

def test_float_health_factor_vectors(vectors):
    # The float HF is sum(value * LT) / sum(debt). The integer versions floor values to 1e-8 USD
    # (>= 1e10 base units here, i.e. < 1e-10 relative), the v3.0 average threshold is exact for
    # these entries (7980 for the two-collateral one: (20,000*8250 + 30,000*7800) / 50,000) and
    # wadDiv rounds to 1e-18, so 1e-9 relative holds for every entry and key.
    for entry in vectors("aave_liquidation")["health_factor"]:
        coll_usd = [_tokens(c) * _usd(c) for c in entry["collaterals"]]
        lts = [c["liquidationThresholdBps"] / 1e4 for c in entry["collaterals"]]
        debt_usd = [_tokens(d) * _usd(d) for d in entry["debts"]] or [0.0]
        hf = health_factor(coll_usd, lts, debt_usd, axis=-1)
        assert isinstance(hf, float)
        for expected in entry["expected"].values():
            exact = int(expected["healthFactor"])
            if exact == MAX_UINT256:
                assert hf == INF, entry["name"]
            else:
                assert math.isclose(hf, exact / 1e18, rel_tol=1e-9), entry["name"]


def test_float_liquidation_vectors(vectors):
    # Rounding budgets of the integer formulas, in smallest token units:
    #   debt repaid: exact on the close-factor path (percentMul rounds the cap by < 1 unit); on the
    #     insufficient-collateral path floor(value) then percentDiv half-up/ceil: < 1/m + 1 < 2.
    #   collateral: floor(base) (< 1 unit, < 1.2 after the bonus) plus the bonus rounding (< 1),
    #     plus the fee's two roundings (< 2): 4.
    #   protocol fee: percentDiv and percentMul: 2.
    for entry in vectors("aave_liquidation")["liquidation"]:
        c, d = entry["collateral"], entry["debt"]
        coll_tokens, debt_tokens = _tokens(c), _tokens(d)
        pc, pd = _usd(c), _usd(d)
        cover = int(entry["debtToCover"])
        cover = INF if cover == MAX_UINT256 else cover / 10 ** d["decimals"]
        bonus = c["liquidationBonusBps"] / 1e4 - 1.0
        fee = c.get("liquidationProtocolFeeBps", 0) / 1e4
        hf = health_factor(coll_tokens * pc, c["liquidationThresholdBps"] / 1e4, debt_tokens * pd)
        for version, expected in entry["expected"].items():
            assert math.isclose(hf, int(expected["healthFactor"]) / 1e18, rel_tol=1e-9)
            args = (cover, coll_tokens, debt_tokens, pc, pd, hf, version)
            got = liquidation_amounts(*args, liquidation_bonus=bonus, protocol_fee=fee)
            if "revert" in expected:
                assert got == (0.0, 0.0, 0.0)
                with pytest.raises(AaveRevert, match=expected["revert"]):
                    liquidation_amounts(*args, liquidation_bonus=bonus, protocol_fee=fee, raise_on_revert=True)
                continue
            repaid, to_liquidator, protocol_fee = got
            assert _units_close(repaid, int(expected["actualDebtToLiquidate"]), d["decimals"], 2), (entry["name"], version)
            assert _units_close(to_liquidator, int(expected["collateralToLiquidator"]), c["decimals"], 4), (entry["name"], version)
            assert _units_close(protocol_fee, int(expected["protocolFee"]), c["decimals"], 2), (entry["name"], version)
            # the close-factor cap: exact for 50 % / 100 %
            cap = close_factor(hf, version, collateral_value_usd=coll_tokens * pc, debt_value_usd=debt_tokens * pd)
            assert _units_close(cap * debt_tokens, int(expected["maxLiquidatableDebt"]), d["decimals"], 1)


def test_float_closed_form_scenario_a():
    # 10 ETH at $2,000 (LT 82.5 %) against 17,000 USDC: HF = 16,500 / 17,000 = 33/34.
    hf = health_factor(20_000.0, 0.825, 17_000.0)
    assert Fraction(hf) == pytest.approx(Fraction(33, 34), rel=1e-15)
    # v3.0: 50 % = 8,500 USDC; seized 8,500 / 2,000 * 1.05 = 4.4625 ETH; fee 4.4625 * 0.05/1.05 * 0.1
    # = 0.02125 ETH; liquidator 4.44125 ETH.
    repaid, to_liq, fee = liquidation_amounts(INF, 10.0, 17_000.0, 2000.0, 1.0, hf, "v3.0",
                                              liquidation_bonus=0.05, protocol_fee=0.1)
    assert (repaid, to_liq, fee) == pytest.approx((8500.0, 4.44125, 0.02125), rel=1e-15)
    # half the position is below $2,000: v3.3 lets the whole 850 USDC go at once
    repaid, to_liq, fee = liquidation_amounts(INF, 0.5, 850.0, 2000.0, 1.0, hf, "v3.3",
                                              liquidation_bonus=0.05, protocol_fee=0.1)
    assert (repaid, to_liq, fee) == pytest.approx((850.0, 0.444125, 0.002125), rel=1e-15)


def test_float_insufficient_collateral_path():
    # 1 ETH at $2,000 against 2,500 USDC (HF 0.66): 2,500 * 1.05 / 2,000 > 1 ETH, so the whole ETH
    # goes and the repayment is 2,000 / 1.05 USDC.
    repaid, to_liq, fee = liquidation_amounts(INF, 1.0, 2_500.0, 2000.0, 1.0, 0.66, "v3.6",
                                              liquidation_bonus=0.05, protocol_fee=0.1)
    assert repaid == pytest.approx(2000 / 1.05, rel=1e-15)
    assert fee == pytest.approx(0.05 / 1.05 * 0.1, rel=1e-14)
    assert to_liq + fee == pytest.approx(1.0, rel=1e-15)


def test_float_close_factor_by_version():
    assert close_factor(0.5, "v2") == 0.5
    assert close_factor(np.array([0.99, 0.95, 0.94]), "v3.0").tolist() == [0.5, 1.0, 1.0]   # strict >
    values = dict(collateral_value_usd=20_000.0, debt_value_usd=12_000.0, total_debt_value_usd=17_000.0)
    # the multi-debt case of the integer test above: 8,500 / 12,000 of the USDC reserve
    assert close_factor(0.9706, "v3.3", **values) == pytest.approx(8500 / 12000, rel=1e-15)
    assert close_factor(0.9706, "v3.3", **dict(values, debt_value_usd=5_000.0)) == 1.0
    assert close_factor(0.95, "v3.6", **values) == 1.0
    assert close_factor(0.97, "v3.7", collateral_value_usd=1_999.0, debt_value_usd=5_000.0) == 1.0
    assert close_factor(0.97, "v3.7", collateral_value_usd=2_000.0, debt_value_usd=2_000.0) == 0.5
    with pytest.raises(LiquidationError, match=r"close_factor: version v3.3 needs collateral_value_usd and debt_value_usd"):
        close_factor(0.97, "v3.3")


def test_float_dust_rule_switch():
    # the closed form of test_dust_rule_closed_form: repaying 1,000 of 1,700 leaves $700 of debt
    args = (1_000.0, 1.0, 1_700.0, 2000.0, 1.0, 0.97)
    assert liquidation_amounts(*args, "v3.3") == (0.0, 0.0, 0.0)
    with pytest.raises(AaveRevert, match=r"^Aave v3.3: MUST_NOT_LEAVE_DUST \(element 0: leftover debt \$700.00"):
        liquidation_amounts(*args, "v3.3", raise_on_revert=True)
    repaid, to_liq, _ = liquidation_amounts(*args, "v3.3", dust_rule=False)
    assert (repaid, to_liq) == pytest.approx((1000.0, 0.525), rel=1e-15)          # 1000/2000*1.05
    assert liquidation_amounts(*args, "v3.0", dust_rule=True) == (0.0, 0.0, 0.0)
    assert liquidation_amounts(700.0, *args[1:], "v3.3")[0] == 700.0               # leaves $1,000


def test_float_arrays_broadcast_and_match_scalar_calls():
    cover = np.array([[INF], [1_000.0]])                    # (2, 1)
    coll = np.array([10.0, 1.0, 0.5])                        # (3,)
    debt = np.array([17_000.0, 2_500.0, 850.0])
    hf = health_factor(coll * 2000.0, 0.825, debt)
    for version in aave.VERSIONS:
        fee = 0.0 if version == "v2" else 0.1
        repaid, to_liq, fees = liquidation_amounts(cover, coll, debt, 2000.0, 1.0, hf, version, protocol_fee=fee)
        assert repaid.shape == to_liq.shape == fees.shape == (2, 3)
        for i in range(2):
            for j in range(3):
                one = liquidation_amounts(float(cover[i, 0]), float(coll[j]), float(debt[j]), 2000.0, 1.0,
                                          float(hf[j]), version, protocol_fee=fee)
                assert (repaid[i, j], to_liq[i, j], fees[i, j]) == one


def test_float_not_liquidatable_gives_zeros():
    repaid, to_liq, fee = liquidation_amounts(INF, np.array([10.0, 10.0]), 10_000.0, 2000.0, 1.0,
                                              np.array([1.65, 1.0]), "v3.0")
    assert repaid.tolist() == to_liq.tolist() == fee.tolist() == [0.0, 0.0]
    with pytest.raises(AaveRevert, match=r"HEALTH_FACTOR_NOT_BELOW_THRESHOLD \(element 1: health factor 1.0 >= 1\)"):
        liquidation_amounts(INF, 10.0, 10_000.0, 2000.0, 1.0, np.array([0.9, 1.0]), "v3.0", raise_on_revert=True)


def test_float_health_factor_shapes():
    hf = health_factor(np.array([20_000.0, 0.0, 5.0]), 0.825, np.array([17_000.0, 0.0, 0.0]))
    assert hf[0] == pytest.approx(33 / 34, rel=1e-15) and hf[1] == INF and hf[2] == INF
    # a batch of two accounts, three collateral slots and two debt slots each
    coll = np.array([[20_000.0, 30_000.0, 0.0], [1_000.0, 0.0, 0.0]])
    lts = np.array([0.825, 0.78, 0.5])
    debts = np.array([[30_000.0, 5_000.5], [900.0, 0.0]])
    got = health_factor(coll, lts, debts, axis=1)
    assert got.shape == (2,)
    assert Fraction(got[0]) == pytest.approx(Fraction(16500 + 23400) / Fraction("35000.5"), rel=1e-15)
    assert Fraction(got[1]) == pytest.approx(Fraction(825, 900), rel=1e-15)


def test_apply_emode():
    lt, bonus = apply_emode([0.81, 0.78], [0.06, 0.075], [True, False], 0.95, 0.01)
    assert lt.tolist() == [0.95, 0.78] and bonus.tolist() == [0.01, 0.075]
    assert apply_emode(0.8, 0.05, True, 0.93, 0.01) == (0.93, 0.01)
    with pytest.raises(LiquidationError, match=r"eligible must be a bool or an array of bools"):
        apply_emode(0.8, 0.05, [1, 0], 0.93, 0.01)
    with pytest.raises(LiquidationError, match=r"emode_liquidation_threshold must be finite and >= 0 and <= 1"):
        apply_emode(0.8, 0.05, True, 1.2, 0.01)


@pytest.mark.parametrize("kwargs, message", [
    (dict(debt_to_cover=-1.0), r"debt_to_cover must be >= 0 \(inf allowed\); element 0 is -1.0"),
    (dict(collateral_amount=float("nan")), r"collateral_amount must be finite and >= 0; element 0 is nan"),
    (dict(collateral_price_usd=0.0), r"collateral_price_usd must be finite and > 0"),
    (dict(debt_price_usd=-2.0), r"debt_price_usd must be finite and > 0"),
    (dict(health_factor=-0.5), r"health_factor must be >= 0"),
    (dict(protocol_fee=1.5), r"protocol_fee must be finite and >= 0 and <= 1"),
    (dict(liquidation_bonus=-0.05), r"liquidation_bonus must be finite and >= 0"),
    (dict(version="v3"), r"version must be one of"),
    (dict(version="v2", protocol_fee=0.1), r"v2 has no liquidation protocol fee"),
    (dict(debt_amount=[1.0, 2.0], collateral_amount=[1.0, 2.0, 3.0]), r"the arguments must broadcast together"),
    (dict(debt_amount=None), r"debt_amount must be a number or an array of numbers"),
])
def test_float_validation_messages(kwargs, message):
    args = dict(debt_to_cover=100.0, collateral_amount=1.0, debt_amount=1_700.0, collateral_price_usd=2000.0,
                debt_price_usd=1.0, health_factor=0.97, version="v3.0")
    args.update(kwargs)
    with pytest.raises(LiquidationError, match=rf"^liquidation_amounts: {message}"):
        liquidation_amounts(**args)


def test_float_health_factor_validation():
    with pytest.raises(LiquidationError, match=r"^health_factor: liquidation_thresholds must be finite and >= 0 and <= 1; element 0"):
        health_factor(1.0, 1.5, 1.0)
    with pytest.raises(LiquidationError, match=r"^health_factor: debt_values_usd must be finite and >= 0"):
        health_factor(1.0, 0.5, -1.0)
    with pytest.raises(LiquidationError, match=r"^health_factor: cannot sum over axis 2"):
        health_factor([[1.0]], 0.5, [[1.0]], axis=2)


# --------------------------------------------------------------------------------------------
# float API: properties, and parity with the integer port on random positions
# --------------------------------------------------------------------------------------------

float_cases = st.fixed_dictionaries({
    "version": st.sampled_from(aave.VERSIONS),
    "cover": st.one_of(st.just(INF), st.floats(0.0, 1e7)),
    "coll": st.floats(0.0, 1e5),
    "debt": st.floats(0.0, 1e7),
    "pc": st.floats(1e-2, 1e5),
    "pd": st.floats(1e-2, 1e5),
    "hf": st.floats(0.0, 1.2),
    "bonus": st.floats(0.0, 0.2),
    "fee": st.floats(0.0, 1.0),
})


@settings(max_examples=400, deadline=None)
@given(float_cases)
def test_float_bounds(c):
    fee = 0.0 if c["version"] == "v2" else c["fee"]
    args = (c["cover"], c["coll"], c["debt"], c["pc"], c["pd"], c["hf"], c["version"])
    repaid, to_liq, fee_amount = liquidation_amounts(*args, liquidation_bonus=c["bonus"], protocol_fee=fee)
    seized = to_liq + fee_amount
    cf = close_factor(c["hf"], c["version"], collateral_value_usd=c["coll"] * c["pc"],
                      debt_value_usd=c["debt"] * c["pd"])
    assert 0.0 <= seized <= c["coll"] * (1 + 1e-15)
    assert 0.0 <= repaid <= cf * c["debt"] * (1 + 1e-15) and repaid <= c["cover"]
    assert 0.0 <= fee_amount <= seized * c["bonus"] / (1 + c["bonus"]) * (1 + 1e-15)    # within the bonus part
    if c["hf"] >= 1.0:
        assert (repaid, to_liq, fee_amount) == (0.0, 0.0, 0.0)


@settings(max_examples=300, deadline=None)
@given(float_cases, st.floats(1e-6, 1e6))
def test_float_monotone_in_debt_to_cover_and_price(c, extra):
    """Offering more never seizes less; the repayment is monotone in exact arithmetic (the two
    branches meet at ``x = coll * pc / pd / m``) and here up to the rounding of that product
    (relative 1e-12, plus underflow when amounts are subnormal)."""
    fee = 0.0 if c["version"] == "v2" else c["fee"]
    common = dict(liquidation_bonus=c["bonus"], protocol_fee=fee, dust_rule=False)
    base = (c["coll"], c["debt"], c["pc"], c["pd"], c["hf"], c["version"])
    low = liquidation_amounts(c["cover"], *base, **common)
    high = liquidation_amounts(c["cover"] + extra, *base, **common)
    assert high[1] + high[2] >= (low[1] + low[2]) * (1 - 1e-12)
    assert high[0] >= low[0] * (1 - 1e-12) - 1e-300
    # v2 / v3.0 close factors do not depend on values: a dearer collateral never seizes more tokens
    if c["version"] in ("v2", "v3.0"):
        dearer = liquidation_amounts(c["cover"], c["coll"], c["debt"], c["pc"] * 1.5, *base[3:], **common)
        assert dearer[1] + dearer[2] <= (low[1] + low[2]) * (1 + 1e-12)


@settings(max_examples=400, deadline=None)
@given(positions)
def test_float_matches_integer_port(p):
    """The float API equals the integer port up to the contracts' rounding, away from the
    decisions the contracts take on rounded integers (thresholds within a few units).

    Budgets: the repayment differs by < 2 debt units (a half-up or floored close-factor cap, or
    floor + percentDiv on the insufficient-collateral path). Each debt unit is worth ``conv``
    collateral units (bonus included), so the collateral differs by < 2 * conv from that, plus
    < 4 units from its own roundings (see test_float_liquidation_vectors); the fee, a share
    <= 1 of the bonus part, by < 2 * conv + 2.
    """
    coll, debt, cover = _position(p)
    version = p["version"]
    hf_int = user_account_data([coll], [debt], version).health_factor
    assume(abs(hf_int - aave.CLOSE_FACTOR_HF_THRESHOLD) > 10**6 and abs(hf_int - E18) > 10**6)
    coll_usd = Fraction(coll.balance * coll.price, 10**coll.decimals * USD)
    debt_usd = Fraction(debt.balance * debt.price, 10**debt.decimals * USD)
    for value in (coll_usd, debt_usd):                       # $2,000 close-factor threshold
        assume(abs(value - 2000) > Fraction(1, 10**6))
    conv = Fraction(debt.price * 10**coll.decimals, coll.price * 10**debt.decimals) * coll.liquidation_bonus_bps / 10000
    # insufficient-collateral boundary: the bonus-inclusive seizure vs the balance
    wanted = min(cover, debt.balance) * conv
    assume(abs(wanted - coll.balance) > 2 * conv + 8)
    bonus = coll.liquidation_bonus_bps / 1e4 - 1.0
    fee = coll.protocol_fee_bps / 1e4
    args = (cover / 10**debt.decimals, coll.balance / 10**coll.decimals, debt.balance / 10**debt.decimals,
            coll.price / USD, debt.price / USD, hf_int / 1e18, version)
    kwargs = dict(liquidation_bonus=bonus, protocol_fee=fee)
    coll_budget, fee_budget = math.ceil(2 * conv) + 4, math.ceil(2 * conv) + 2
    try:
        exact = liquidation(coll, debt, cover, version)
    except AaveRevert as err:
        got = liquidation_amounts(*args, **kwargs)
        if err.reason == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD" or got == (0.0, 0.0, 0.0):
            assert got == (0.0, 0.0, 0.0)
            return
        # MUST_NOT_LEAVE_DUST decided on floored integers: the float call may only pass if a
        # leftover lies within the rounding budget of $1,000
        assert err.reason == "MUST_NOT_LEAVE_DUST"
        debt_left = (args[2] - got[0]) * args[4]
        coll_left = (args[1] - got[1] - got[2]) * args[3]
        slack = (2 * args[4] / 10**debt.decimals + coll_budget * args[3] / 10**coll.decimals) * (1 + 1e-9) + 2e-8
        assert min(debt_left, coll_left) < aave.MIN_LEFTOVER_USD + slack
        return
    got = liquidation_amounts(*args, **kwargs, dust_rule=False)
    assert _units_close(got[0], exact.actual_debt_to_liquidate, debt.decimals, 2)
    assert _units_close(got[1], exact.collateral_to_liquidator, coll.decimals, coll_budget)
    assert _units_close(got[2], exact.protocol_fee, coll.decimals, fee_budget)
