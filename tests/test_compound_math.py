"""Compound v2 liquidation math (:mod:`contagion.liquidation.compound`): integer port and float API.

Expected numbers come from the shared reference vectors (``compound_liquidation.json``:
``v2_seize``, ``v2_seize_split``, ``v2_account_liquidity``, every entry), from closed forms worked
out in the comments, or from invariants on random inputs. Nothing is copied from the module's
own output.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contagion.errors import LiquidationError
from contagion.liquidation import compound
from contagion.liquidation.compound import (
    MAX_UINT256,
    PROTOCOL_SEIZE_SHARE,
    PROTOCOL_SEIZE_SHARE_MANTISSA,
    AccountAsset,
    CompoundRevert,
    account_liquidity,
    account_liquidity_usd,
    exchange_rate_from_mantissa,
    liquidate_borrow,
    liquidate_borrow_allowed,
    liquidate_calculate_seize_tokens,
    max_close,
    price_from_mantissa,
    seize_amounts,
    seize_split,
)

E18 = 10**18
HALF = 5 * 10**17


def _seize_args(entry: dict) -> dict:
    return dict(price_borrowed_mantissa=int(entry["priceBorrowedMantissa"]),
                price_collateral_mantissa=int(entry["priceCollateralMantissa"]),
                exchange_rate_mantissa=int(entry["exchangeRateMantissa"]),
                actual_repay_amount=int(entry["actualRepayAmount"]),
                liquidation_incentive_mantissa=int(entry["liquidationIncentiveMantissa"]))


def _asset(a: dict) -> AccountAsset:
    return AccountAsset(int(a["cTokenBalance"]), int(a["borrowBalance"]), int(a["exchangeRate"]),
                        int(a["oraclePrice"]), int(a["collateralFactor"]))


def _seize_rounding_bound(args: dict) -> Fraction:
    """Largest |integer - exact| (cToken units) that the three floored Exp steps can cause.

    ``num = floor(I*pB/1e18)`` loses < 1 (relative < 1/num), ``den = floor(pC*rate/1e18)`` loses
    < 1 (the ratio grows by < 1/(den)), ``ratio = floor(num*1e18/den)`` loses < 1, and the final
    ``floor(ratio*repay/1e18)`` < 1. In cToken units: ``repay/1e18 * (1 + r*(1/num + 1/den))
    + 1`` with ``r`` the exact ratio mantissa.
    """
    inc, pb = args["liquidation_incentive_mantissa"], args["price_borrowed_mantissa"]
    pc, rate = args["price_collateral_mantissa"], args["exchange_rate_mantissa"]
    repay = args["actual_repay_amount"]
    num, den = Fraction(inc * pb, E18), Fraction(pc * rate, E18)
    r = num * E18 / den
    return Fraction(repay, E18) * (1 + r * (1 / num + 1 / (math.floor(den)))) + 1


# --------------------------------------------------------------------------------------------
# reference vectors: integer port
# --------------------------------------------------------------------------------------------

def test_seize_vectors(vectors):
    entries = vectors("compound_liquidation")["v2_seize"]
    assert entries
    for entry in entries:
        args = _seize_args(entry)
        expected = entry["seizeTokens"]
        if expected.startswith("error PRICE_ERROR"):
            with pytest.raises(CompoundRevert, match=r"^Compound v2: PRICE_ERROR \(oracle price of the borrowed asset is 0\)") as info:
                liquidate_calculate_seize_tokens(**args)
            assert info.value.reason == "PRICE_ERROR" and info.value.error_code == 13
        else:
            assert liquidate_calculate_seize_tokens(**args) == int(expected), entry


def test_seize_split_vectors(vectors):
    for entry in vectors("compound_liquidation")["v2_seize_split"]:
        got = seize_split(int(entry["seizeTokens"]), int(entry["exchangeRateMantissa"]),
                          int(entry["protocolSeizeShareMantissa"]))
        assert got == (int(entry["liquidatorSeizeTokens"]), int(entry["protocolSeizeTokens"]),
                       int(entry["protocolSeizeAmount_addedToReserves"])), entry
        assert int(entry["protocolSeizeShareMantissa"]) == PROTOCOL_SEIZE_SHARE_MANTISSA
        # the default share is the contract's 2.8 %
        assert seize_split(int(entry["seizeTokens"]), int(entry["exchangeRateMantissa"])) == got


def test_account_liquidity_vectors(vectors):
    for entry in vectors("compound_liquidation")["v2_account_liquidity"]:
        assets = [_asset(a) for a in entry["assets"]]
        assert account_liquidity(assets) == (int(entry["liquidity"]), int(entry["shortfall"])), entry["name"]
        borrowed = next(a for a in assets if a.borrow_balance)
        assert max_close(borrowed.borrow_balance, HALF) == int(entry["maxClose_closeFactor_0_5"])


# --------------------------------------------------------------------------------------------
# integer port: closed forms
# --------------------------------------------------------------------------------------------

def test_seize_tokens_floor_at_every_exp_step():
    # incentive 1.08, borrowed priced 3, collateral priced 7, 0.3 underlying per cToken:
    # num = floor(1.08e18 * 3e18 / 1e18) = 3.24e18; den = floor(7e18 * 0.3e18 / 1e18) = 2.1e18
    # ratio = floor(3.24e18 * 1e18 / 2.1e18) = floor(1.542857142857142857142...e18) = 1542857142857142857
    # seize = floor(1542857142857142857 * 7 / 1e18) = floor(10.8) = 10
    args = dict(price_borrowed_mantissa=3 * E18, price_collateral_mantissa=7 * E18,
                exchange_rate_mantissa=3 * 10**17, actual_repay_amount=7,
                liquidation_incentive_mantissa=108 * 10**16)
    assert liquidate_calculate_seize_tokens(**args) == 10
    assert liquidate_calculate_seize_tokens(**dict(args, actual_repay_amount=7 * E18)) == 1542857142857142857 * 7


def test_seize_tokens_arithmetic_reverts():
    # pC * rate < 1e18 makes the denominator 0 -> Panic(0x12)
    with pytest.raises(CompoundRevert, match=r"Panic\(0x12\): division by zero"):
        liquidate_calculate_seize_tokens(E18, 1, 10**17, 1, E18)
    with pytest.raises(CompoundRevert, match=r"Panic\(0x11\): arithmetic overflow \(ratio \* actualRepayAmount\)"):
        liquidate_calculate_seize_tokens(E18, E18, E18, 2**250, E18)
    with pytest.raises(CompoundRevert, match=r"PRICE_ERROR \(oracle price of the collateral asset is 0\)"):
        liquidate_calculate_seize_tokens(E18, 0, E18, 1, E18)


def test_close_factor_check_boundary():
    # maxClose = floor(0.5e18 * 16,000,000,001 / 1e18) = 8,000,000,000 (half a unit truncated)
    borrow = 16_000_000_001
    assert max_close(borrow, HALF) == 8_000_000_000
    liquidate_borrow_allowed(8_000_000_000, borrow, 1, HALF)          # allowed: returns None
    with pytest.raises(CompoundRevert, match=r"^Compound v2: TOO_MUCH_REPAY \(repay 8000000001 > closeFactor \* borrow = 8000000000\)") as info:
        liquidate_borrow_allowed(8_000_000_001, borrow, 1, HALF)
    assert info.value.error_code == 17
    with pytest.raises(CompoundRevert, match=r"INSUFFICIENT_SHORTFALL") as info:
        liquidate_borrow_allowed(1, borrow, 0, HALF)
    assert info.value.error_code == 3
    # deprecated markets skip shortfall and close factor, but not the borrow itself
    liquidate_borrow_allowed(borrow, borrow, 0, HALF, deprecated=True)
    with pytest.raises(CompoundRevert, match=r"Can not repay more than the total borrow"):
        liquidate_borrow_allowed(borrow + 1, borrow, 0, HALF, deprecated=True)


def test_liquidate_borrow_chain(vectors):
    # the ETH-collateral / USDC-borrow account of the vectors after the price drop (shortfall),
    # liquidated for 5,000 USDC at 1.08 against ETH at $1,900:
    #   num = 1.08e18 * 1e30 / 1e18 = 1.08e30; den = 1900e18 * 2e26 / 1e18 = 3.8e29
    #   ratio = floor(1.08e30 * 1e18 / 3.8e29) = floor(2.842105263157894736842e18)
    #   seize = floor(ratio * 5e9 / 1e18) = floor(14210526315.789...) = 14210526315 cETH units
    entry = vectors("compound_liquidation")["v2_account_liquidity"][1]
    assets = [_asset(a) for a in entry["assets"]]
    eth, usdc = assets
    shortfall = account_liquidity(assets).shortfall
    kwargs = dict(borrow_balance=usdc.borrow_balance, shortfall=shortfall,
                  borrower_c_token_balance=eth.c_token_balance, price_borrowed_mantissa=usdc.oracle_price_mantissa,
                  price_collateral_mantissa=eth.oracle_price_mantissa, exchange_rate_mantissa=eth.exchange_rate_mantissa)
    with pytest.raises(CompoundRevert, match=r"LIQUIDATE_SEIZE_TOO_MUCH \(seizeTokens 14210526315 > borrower balance 5000000000\)"):
        liquidate_borrow(5_000 * 10**6, **kwargs)
    # 1,500 USDC: seize = floor(floor(2.842105263157894736e18) * 1.5e9 / 1e18) = 4263157894
    ratio = 108 * 10**28 * E18 // (1900 * 10**18 * 2 * 10**26 // E18)
    seize = ratio * 1_500 * 10**6 // E18
    assert seize == 4_263_157_894
    protocol = seize * 28 * 10**15 // E18
    got = liquidate_borrow(1_500 * 10**6, **kwargs)
    assert got == (1_500 * 10**6, seize, seize - protocol, protocol, 2 * 10**26 * protocol // E18)
    with pytest.raises(CompoundRevert, match=r"TOO_MUCH_REPAY"):
        liquidate_borrow(8_000 * 10**6 + 1, **kwargs)
    with pytest.raises(CompoundRevert, match=r"LiquidateCloseAmountIsZero"):
        liquidate_borrow(0, **kwargs)
    with pytest.raises(CompoundRevert, match=r"INSUFFICIENT_SHORTFALL"):
        liquidate_borrow(1, **dict(kwargs, shortfall=0))


def test_hypothetical_account_liquidity(vectors):
    # the first vector account has $1,650 of borrowing power and $16,000 of debt (shortfall 14,350);
    # hypothetically redeeming all 50 cETH removes the $1,650 and borrowing 1 more USDC adds $1.
    entry = vectors("compound_liquidation")["v2_account_liquidity"][0]
    assets = [_asset(a) for a in entry["assets"]]
    assert account_liquidity(assets, modify=0, redeem_tokens=5_000_000_000) == (0, 14_350 * E18 + 1_650 * E18)
    assert account_liquidity(assets, modify=1, borrow_amount=10**6) == (0, 14_351 * E18)
    with pytest.raises(LiquidationError, match=r"modify must be an index into assets \(0..1\), got 2"):
        account_liquidity(assets, modify=2)
    with pytest.raises(LiquidationError, match=r"redeem_tokens and borrow_amount need modify"):
        account_liquidity(assets, borrow_amount=1)
    zero_price = AccountAsset(1, 0, E18, 0, HALF)
    with pytest.raises(CompoundRevert, match=r"PRICE_ERROR \(oracle price of asset 1 is 0\)"):
        account_liquidity([assets[0], zero_price])


def test_integer_validation():
    with pytest.raises(LiquidationError, match=r"^Compound v2: actual_repay_amount must be a uint256 \(0 <= value < 2\*\*256\), got -1"):
        liquidate_calculate_seize_tokens(E18, E18, E18, -1, E18)
    with pytest.raises(LiquidationError, match=r"AccountAsset.collateral_factor_mantissa must be an integer, got 0.5"):
        AccountAsset(1, 1, E18, E18, 0.5)
    with pytest.raises(LiquidationError, match=r"seize_tokens must be an integer, got True"):
        seize_split(True, E18)
    with pytest.raises(CompoundRevert, match=r"protocol share above 100 %"):
        seize_split(10, E18, 2 * E18)


# --------------------------------------------------------------------------------------------
# integer port: properties
# --------------------------------------------------------------------------------------------

seize_inputs = st.fixed_dictionaries({
    "price_borrowed_mantissa": st.integers(10**15, 10**33),
    "price_collateral_mantissa": st.integers(10**15, 10**33),
    "exchange_rate_mantissa": st.integers(10**14, 10**28),
    "actual_repay_amount": st.integers(0, 10**27),
    "liquidation_incentive_mantissa": st.integers(E18, 15 * 10**17),
})


@settings(max_examples=400, deadline=None)
@given(seize_inputs, st.integers(0, 10**24), st.integers(0, 10**17))
def test_seize_tokens_monotone_and_close_to_exact(args, more_repay, more_incentive):
    if args["price_collateral_mantissa"] * args["exchange_rate_mantissa"] < E18:
        with pytest.raises(CompoundRevert, match=r"Panic\(0x12\)"):
            liquidate_calculate_seize_tokens(**args)
        return
    seize = liquidate_calculate_seize_tokens(**args)
    bigger = dict(args, actual_repay_amount=args["actual_repay_amount"] + more_repay)
    assert liquidate_calculate_seize_tokens(**bigger) >= seize
    richer = dict(args, liquidation_incentive_mantissa=args["liquidation_incentive_mantissa"] + more_incentive)
    assert liquidate_calculate_seize_tokens(**richer) >= seize
    exact = Fraction(args["actual_repay_amount"] * args["liquidation_incentive_mantissa"] * args["price_borrowed_mantissa"],
                     args["price_collateral_mantissa"] * args["exchange_rate_mantissa"])
    assert abs(seize - exact) <= _seize_rounding_bound(args)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**30), st.integers(10**14, 10**30), st.integers(0, E18))
def test_seize_split_properties(tokens, rate, share):
    liquidator, protocol, amount = seize_split(tokens, rate, share)
    assert liquidator + protocol == tokens
    assert protocol == tokens * share // E18 and protocol <= tokens
    assert amount == rate * protocol // E18
    # with the 2.8 % default the protocol never gets more than 2.8 %
    assert seize_split(tokens, rate).protocol_seize_tokens * 1000 <= tokens * 28


# --------------------------------------------------------------------------------------------
# float API: vectors (converted units), closed forms, validation
# --------------------------------------------------------------------------------------------

def test_float_seize_amounts_vectors(vectors):
    # The float formula is unit-free: feeding mantissas / 1e18 and the repay in smallest units
    # returns cTokens in cToken units. The integer result differs only by the three floored Exp
    # steps (see _seize_rounding_bound); the tolerance is 1e-9 relative or that bound, whichever
    # is larger. For the entry that seizes 0 (1e9 wei of ETH repaid against USDC-priced
    # collateral) the exact value is 1.08e-8 cToken units and the floors give 0.
    for entry in vectors("compound_liquidation")["v2_seize"]:
        args = _seize_args(entry)
        if entry["seizeTokens"].startswith("error"):
            with pytest.raises(LiquidationError, match=r"price_borrowed_usd must be finite and > 0"):
                seize_amounts(args["actual_repay_amount"], args["price_borrowed_mantissa"] / 1e18,
                              args["price_collateral_mantissa"] / 1e18, args["exchange_rate_mantissa"] / 1e18)
            continue
        seized, to_liquidator, to_protocol = seize_amounts(
            float(args["actual_repay_amount"]), args["price_borrowed_mantissa"] / 1e18,
            args["price_collateral_mantissa"] / 1e18, args["exchange_rate_mantissa"] / 1e18,
            liquidation_incentive=args["liquidation_incentive_mantissa"] / 1e18)
        expected = int(entry["seizeTokens"])
        tolerance = max(Fraction(1, 10**9) * expected, _seize_rounding_bound(args))
        assert abs(Fraction(seized) - expected) <= tolerance, entry
        assert to_protocol == pytest.approx(seized * 0.028, rel=1e-15)
        assert to_liquidator + to_protocol == pytest.approx(seized, rel=1e-15)


def test_float_seize_in_token_units():
    # 5 ETH repaid at $2,000 against USDC collateral at $1 with 0.02 USDC per cUSDC (8 decimals):
    # 5 * 1.08 * 2000 / (1 * 0.02) = 540,000 cUSDC; the integer vector (13.5e18 seize tokens for
    # the same mantissas with an 18-decimal exchange rate) is the same ratio in other units.
    seized, to_liq, to_protocol = seize_amounts(5.0, 2000.0, 1.0, 0.02, liquidation_incentive=1.08)
    assert seized == pytest.approx(540_000.0, rel=1e-15)
    assert to_protocol == pytest.approx(540_000.0 * PROTOCOL_SEIZE_SHARE, rel=1e-15)
    assert to_liq == pytest.approx(540_000.0 * (1 - PROTOCOL_SEIZE_SHARE), rel=1e-15)
    # unit conversions of the vector mantissas
    assert price_from_mantissa(10**30, 6) == 1.0 and price_from_mantissa(2000 * E18, 18) == 2000.0
    assert price_from_mantissa(3 * 10**32, 8) == 30_000.0
    assert exchange_rate_from_mantissa(2 * 10**26, 18) == 0.02
    assert exchange_rate_from_mantissa(2 * 10**14, 6) == 0.02
    assert exchange_rate_from_mantissa(np.array([2e26, 4e26]), 18).tolist() == [0.02, 0.04]


def test_float_seize_split_vectors(vectors):
    # the protocol keeps share * seize; the integer floors it to a cToken unit (budget 1 unit)
    for entry in vectors("compound_liquidation")["v2_seize_split"]:
        tokens = int(entry["seizeTokens"])
        share = int(entry["protocolSeizeShareMantissa"]) / 1e18
        seized, to_liq, to_protocol = seize_amounts(float(tokens), 1.0, 1.0, 1.0, liquidation_incentive=1.0,
                                                    protocol_seize_share=share)
        assert seized == tokens
        assert abs(Fraction(to_protocol) - int(entry["protocolSeizeTokens"])) <= max(Fraction(1, 10**9) * tokens * share, 1)
        assert abs(Fraction(to_liq) - int(entry["liquidatorSeizeTokens"])) <= max(Fraction(1, 10**9) * tokens, 1)


def test_float_account_liquidity_vectors(vectors):
    # Per asset: value = cTokens * exchange rate * price, converted with the asset's decimals
    # (cETH: 8 decimals over ETH's 18; cUSDC: 8 over USDC's 6). The integer port floors three
    # products of 1e18-scaled USD, far below 1e-9 relative of a $14,350 shortfall.
    decimals = [18, 6]
    for entry in vectors("compound_liquidation")["v2_account_liquidity"]:
        values, factors, borrows = [], [], []
        for asset, dec in zip(entry["assets"], decimals):
            price = price_from_mantissa(int(asset["oraclePrice"]), dec)
            rate = exchange_rate_from_mantissa(int(asset["exchangeRate"]), dec)
            values.append(int(asset["cTokenBalance"]) / 10**8 * rate * price)
            factors.append(int(asset["collateralFactor"]) / 1e18)
            borrows.append(int(asset["borrowBalance"]) / 10**dec * price)
        liquidity, shortfall = account_liquidity_usd(values, factors, borrows, axis=0)
        assert liquidity == pytest.approx(int(entry["liquidity"]) / 1e18, rel=1e-9, abs=1e-12)
        assert shortfall == pytest.approx(int(entry["shortfall"]) / 1e18, rel=1e-9)


def test_float_account_liquidity_shapes():
    liquidity, shortfall = account_liquidity_usd(np.array([2000.0, 1000.0]), 0.825, np.array([1000.0, 900.0]))
    assert liquidity.tolist() == pytest.approx([650.0, 0.0]) and shortfall.tolist() == pytest.approx([0.0, 75.0])
    assert account_liquidity_usd(1000.0, 0.5, 500.0) == (0.0, 0.0)
    # account 0: 2000*0.8 + 100*0.5 - 1500 = +150; account 1: 10*0.8 + 0*0.5 - 20 = -12
    batch = account_liquidity_usd([[2000.0, 100.0], [10.0, 0.0]], [0.8, 0.5], [[1500.0], [20.0]], axis=1)
    assert batch[0].tolist() == pytest.approx([150.0, 0.0]) and batch[1].tolist() == pytest.approx([0.0, 12.0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(repay_amount=-1.0), r"repay_amount must be finite and >= 0; element 0 is"),
    (dict(price_collateral_usd=0.0), r"price_collateral_usd must be finite and > 0"),
    (dict(exchange_rate=float("inf")), r"exchange_rate must be finite and > 0"),
    (dict(liquidation_incentive=-1.0), r"liquidation_incentive must be finite and >= 0"),
    (dict(protocol_seize_share=1.1), r"protocol_seize_share must be finite and >= 0 and <= 1"),
    (dict(repay_amount=[1.0, 2.0], exchange_rate=[1.0, 2.0, 3.0]), r"the arguments must broadcast together"),
])
def test_float_seize_validation(kwargs, message):
    args = dict(repay_amount=1.0, price_borrowed_usd=1.0, price_collateral_usd=2000.0, exchange_rate=0.02)
    args.update(kwargs)
    with pytest.raises(LiquidationError, match=rf"^seize_amounts: {message}"):
        seize_amounts(**args)


def test_float_liquidity_and_conversion_validation():
    with pytest.raises(LiquidationError, match=r"^account_liquidity_usd: collateral_factors must be finite and >= 0 and <= 1"):
        account_liquidity_usd(1.0, 1.5, 1.0)
    with pytest.raises(LiquidationError, match=r"^price_from_mantissa: underlying_decimals must be an int in \[0, 36\], got 40"):
        price_from_mantissa(1, 40)
    with pytest.raises(LiquidationError, match=r"^exchange_rate_from_mantissa: the mantissa must be >= 0, got -5"):
        exchange_rate_from_mantissa(-5, 18)


# --------------------------------------------------------------------------------------------
# float API: properties and parity with the integer port
# --------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 1e9), st.floats(1e-3, 1e5), st.floats(1e-3, 1e5), st.floats(1e-4, 1e3),
       st.floats(1.0, 1.5), st.floats(0.0, 1.0), st.floats(0.0, 1e6))
def test_float_seize_properties(repay, pb, pc, rate, incentive, share, more):
    seized, to_liq, to_protocol = seize_amounts(repay, pb, pc, rate, liquidation_incentive=incentive,
                                                protocol_seize_share=share)
    assert to_protocol <= seized * share * (1 + 1e-15) and to_liq >= 0.0
    assert seize_amounts(repay + more, pb, pc, rate, liquidation_incentive=incentive)[0] >= seized
    assert seize_amounts(repay, pb, pc * 2, rate, liquidation_incentive=incentive)[0] <= seized


@settings(max_examples=300, deadline=None)
@given(seize_inputs)
def test_float_matches_integer_port(args):
    if args["price_collateral_mantissa"] * args["exchange_rate_mantissa"] < E18:
        return
    exact = liquidate_calculate_seize_tokens(**args)
    seized = seize_amounts(float(args["actual_repay_amount"]), args["price_borrowed_mantissa"] / 1e18,
                           args["price_collateral_mantissa"] / 1e18, args["exchange_rate_mantissa"] / 1e18,
                           liquidation_incentive=args["liquidation_incentive_mantissa"] / 1e18)[0]
    assert abs(Fraction(seized) - exact) <= max(Fraction(1, 10**9) * exact, _seize_rounding_bound(args))


def test_module_exports():
    assert set(compound.__all__) >= {"liquidate_calculate_seize_tokens", "seize_split", "account_liquidity",
                                     "liquidate_borrow_allowed", "seize_amounts", "account_liquidity_usd"}
    assert MAX_UINT256 == 2**256 - 1
