"""Chainlink OCR update rules: deviation test, on-chain median, per-round report decision.

Expected values come from ``../shared/vectors/chainlink_ocr.json`` (a port of libocr's
``DefaultDeviationFunc`` with exact big.Rat comparison) or from exact rational arithmetic.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from contagion.oracle_rules import deviates, deviates_ppb, median, should_report


def _exact_ratio_on_boundary(v: dict) -> bool:
    old, new = int(v["old"]), int(v["new"])
    if old == 0:
        return False
    return Fraction(abs(new - old), abs(old)) == Fraction(v["thresholdPPB"], 10**9)


def _exact_in_float(v: dict) -> bool:
    return all(int(float(int(v[k]))) == int(v[k]) for k in ("old", "new"))


def test_deviation_vectors_ppb_exact(vectors):
    cases = vectors("chainlink_ocr")["deviation_vectors"]
    assert cases
    assert {v["deviates"] for v in cases} == {True, False}
    for v in cases:
        got = deviates_ppb(v["thresholdPPB"], int(v["old"]), int(v["new"]))
        assert got is v["deviates"], v


def test_deviation_vectors_float(vectors):
    """The float ``deviates`` agrees with the exact rule away from the exact boundary.

    Excluded (decided in exact arithmetic, not by listing them):

    * vectors whose ``|new - old| / |old|`` equals the threshold exactly: the float product
      ``threshold * |old|`` is rounded and may land one ulp above ``|new - old|`` (it does for
      thresholdPPB = 1 at old = 1e18), so the inclusive comparison is not reliable there;
    * vectors whose integers are not exactly representable as float64 (1000000000999999999
      becomes 1000000001000000000, which is a different, boundary, case).
    """
    cases = vectors("chainlink_ocr")["deviation_vectors"]
    usable = [v for v in cases if _exact_in_float(v) and not _exact_ratio_on_boundary(v)]
    excluded = [v for v in cases if v not in usable]
    # the file's boundary cases (5 of them) and the unrepresentable one are the only exclusions
    assert len(excluded) == 6
    assert {v["deviates"] for v in usable} == {True, False}
    for v in usable:
        got = deviates(float(int(v["old"])), float(int(v["new"])), v["thresholdPPB"] / 1e9)
        assert got is v["deviates"], v


def test_deviates_ppb_float_inputs_and_zero_old():
    # float inputs take the float branch: |new-old| * 1e9 >= ppb * |old|
    assert deviates_ppb(5_000_000, 2000.0, 2010.0) is True       # 10e9 >= 10e9
    assert deviates_ppb(5_000_000, 2000.0, 2009.0) is False
    assert deviates_ppb(5_000_000, 0, 0) is False
    assert deviates_ppb(5_000_000, 0, -3) is True
    assert deviates(0.0, 0.0, 0.5) is False
    assert deviates(0.0, 1e-300, 0.5) is True
    # the exact branch for Fractions: 1/200 relative move at 0.5 % is inclusive
    assert deviates_ppb(5_000_000, Fraction(200), Fraction(201)) is True
    assert deviates_ppb(5_000_000, Fraction(200), Fraction(20099, 100)) is False


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deviates_ppb_matches_exact_rational_rule(seed):
    rng = np.random.default_rng(seed)
    for _ in range(500):
        ppb = int(rng.integers(1, 100_000_000))
        old = int(rng.integers(-10**12, 10**12))
        # a new value at, just below or just above the threshold, or random
        kind = int(rng.integers(0, 4))
        if kind == 3 or old == 0:
            new = int(rng.integers(-10**12, 10**12))
        else:
            step = abs(old) * ppb // 10**9 + (kind - 1)
            new = old + step * (1 if rng.random() < 0.5 else -1)
        want = (new != 0) if old == 0 else Fraction(abs(new - old), abs(old)) >= Fraction(ppb, 10**9)
        assert deviates_ppb(ppb, old, new) is want, (ppb, old, new)


def test_median_vectors(vectors):
    cases = vectors("chainlink_ocr")["median_vectors"]
    assert cases
    for v in cases:
        assert median(v["observations"]) == v["median"], v
        # order of the observations does not matter
        assert median(list(reversed(v["observations"]))) == v["median"], v


def test_median_upper_for_even_count_and_empty():
    # sorted [1, 2, 3, 4, 5, 6]: element 6 // 2 = 3 -> 4 (upper median)
    assert median([6, 1, 5, 2, 4, 3]) == 4
    assert median(iter([2.5, 1.5])) == 2.5
    with pytest.raises(ValueError, match="median of no observations"):
        median([])


# --------------------------------------------------------------------------------------------
# should_report
# --------------------------------------------------------------------------------------------

def test_should_report_first():
    assert should_report(2000.0, None, None, 100.0, 0.005, 3600.0) == "first"
    assert should_report(2000.0, 2000.0, None, 100.0, 0.005, 3600.0) == "first"
    assert should_report(2000.0, None, 50.0, 100.0, 0.005, 3600.0) == "first"


@pytest.mark.parametrize("threshold, old, at, below", [
    # dyadic thresholds: threshold * old is exact in float64, the boundary is exact
    (0.25, 100.0, 125.0, 124.99999999999999),
    (0.0078125, 2048.0, 2064.0, 2063.9999999999995),
    (2.0 ** -10, 1024.0, 1023.0, 1023.0000000000001),
    # ETH/USD 0.5 % at $2,000: a $10 move is exactly 0.5 %
    (0.005, 2000.0, 2010.0, 2009.9999999999998),
    (0.005, 2000.0, 1990.0, 1990.0000000000002),
])
def test_should_report_deviation_inclusive(threshold, old, at, below):
    # `at` is exactly on the (decimal) threshold, `below` just inside it, in exact arithmetic
    exact_threshold = Fraction(repr(threshold))
    assert abs(Fraction(at) - Fraction(old)) == exact_threshold * Fraction(old)
    assert abs(Fraction(below) - Fraction(old)) < exact_threshold * Fraction(old)
    now, updated = 1000.0, 900.0
    assert should_report(at, old, updated, now, threshold, 3600.0) == "deviation"
    assert should_report(below, old, updated, now, threshold, 3600.0) is None


def test_should_report_heartbeat_strict():
    updated, heartbeat = 1_700_000_000.0, 3600.0
    # unchanged answer: only the heartbeat can trigger, strictly after updated_at + heartbeat
    assert should_report(2000.0, 2000.0, updated, updated + heartbeat, 0.005, heartbeat) is None
    assert should_report(2000.0, 2000.0, updated, updated + heartbeat + 1, 0.005, heartbeat) == "heartbeat"
    assert should_report(2000.0, 2000.0, updated, updated + heartbeat - 1, 0.005, heartbeat) is None
    # a small move below the threshold does not change that
    assert should_report(2005.0, 2000.0, updated, updated + heartbeat, 0.005, heartbeat) is None
    assert should_report(2005.0, 2000.0, updated, updated + heartbeat + 1, 0.005, heartbeat) == "heartbeat"


def test_should_report_deviation_takes_precedence_over_heartbeat():
    updated, heartbeat = 0.0, 86400.0
    stale = updated + 10 * heartbeat
    assert should_report(1.01, 1.0, updated, stale, 0.0025, heartbeat) == "deviation"
    assert should_report(1.001, 1.0, updated, stale, 0.0025, heartbeat) == "heartbeat"
    # first beats both
    assert should_report(1.01, None, None, stale, 0.0025, heartbeat) == "first"


def test_decimal_threshold_is_exact_in_the_float_rule():
    # 0.5 % of 2000 is exactly 10 when 0.005 is read as the decimal it is written as
    assert deviates(2000.0, 2010.0, 0.005) and deviates(2000.0, 1990.0, 0.005)
    assert not deviates(2000.0, 2009.9999999999998, 0.005)
    # agrees with the exact ppb rule wherever the float prices are exact integers
    for old, new in [(200_000_000_000, 201_000_000_000), (100_000_000, 100_250_000), (300, 294)]:
        for ppb in (2_500_000, 5_000_000, 20_000_000):
            assert deviates(float(old), float(new), ppb / 1e9) == deviates_ppb(ppb, old, new)
