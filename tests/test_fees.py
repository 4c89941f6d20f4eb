"""EIP-1559 base fee and effective tips (``contagion.fees``), against the shared vectors."""

from __future__ import annotations

import math

import pytest

from contagion.errors import ContagionError
from contagion.fees import effective_gas_price, effective_tip, next_base_fee


def test_base_fee_vectors(vectors):
    data = vectors("eip1559")
    cases = data["base_fee_vectors"]
    assert len(cases) >= 10
    for case in cases:
        parent = None if case["parentBaseFee"] is None or case.get("parentIsLondon") is False \
            else int(case["parentBaseFee"])
        got = next_base_fee(parent, int(case["parentGasUsed"]), int(case["parentGasLimit"]))
        assert got == int(case["expectedBaseFee"]), case


def test_empty_blocks_from_one_gwei(vectors):
    seq = [int(x) for x in vectors("eip1559")["empty_block_sequence_from_1gwei"]]
    fee = seq[0]
    for expected in seq[1:]:
        fee = next_base_fee(fee, 0, 30_000_000)
        assert fee == expected


def test_closed_forms_and_bounds():
    # a full block raises the base fee by exactly 1/8, an empty one lowers it by 1/8
    assert next_base_fee(8 * 10**9, 30_000_000, 30_000_000) == 9 * 10**9
    assert next_base_fee(8 * 10**9, 0, 30_000_000) == 7 * 10**9
    # other elasticity and denominator
    assert next_base_fee(10**9, 10_000_000, 30_000_000, elasticity=3, denominator=8) == 10**9
    assert next_base_fee(10**9, 30_000_000, 30_000_000, elasticity=3, denominator=4) == 10**9 + 10**9 * 2 // 4
    for bad in (-1, 1.5, True):
        with pytest.raises(ContagionError, match="parent_base_fee must be an integer"):
            next_base_fee(bad, 0, 30_000_000)


def test_effective_tip_and_price():
    assert effective_tip(100.0, 2.0, 30.0) == 2.0
    assert effective_tip(31.0, 2.0, 30.0) == 1.0             # capped by max_fee - base_fee
    assert effective_tip(29.0, 2.0, 30.0) == -math.inf       # cannot be included
    assert effective_gas_price(31.0, 2.0, 30.0) == 31.0
    assert math.isnan(effective_gas_price(29.0, 2.0, 30.0))
    assert effective_tip(50.0, 50.0, 0.0) == 50.0            # a legacy bid in a first-price market
