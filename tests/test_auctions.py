"""Maker auction math (contagion.auctions) against the shared dss vectors, closed forms and the rules."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from contagion import auctions as au
from contagion.errors import LiquidationError

RTOL = 1e-9


def _int(text) -> int:
    """Vector numbers: decimal strings, ``"40e18"``, ``"1.13e27"``, ``"20 RAD"``."""
    text = str(text).strip()
    if text.endswith("RAD"):
        return int(Decimal(text[:-3].strip().replace(",", "")) * au.RAD)
    if text.endswith("M"):
        return int(Decimal(text[:-1]) * 10**6)
    return int(Decimal(text))


def _rad_amount(text: str) -> int:
    """``"10M RAD"`` -> 1e7 * RAD."""
    number = text.replace("RAD", "").strip()
    scale = 10**6 if number.endswith("M") else 1
    return int(Decimal(number.rstrip("M")) * scale) * au.RAD


@pytest.fixture(scope="module")
def maker(vectors):
    return vectors("maker_liquidations")


def _curve_int(case) -> int:
    p, top, dur = case["params"], _int(case["top"]), int(case["dur"])
    if case["calc"] == "linear":
        return au.linear_price_int(top, dur, int(p["tau"]))
    if case["calc"] == "stairstep":
        return au.stairstep_price_int(top, dur, int(p["cut"]), int(p["step"]))
    return au.exponential_price_int(top, dur, int(p["cut"]))


def _curve_float(case) -> float:
    p, top, dur = case["params"], _int(case["top"]) / au.RAY, float(case["dur"])
    if case["calc"] == "linear":
        return au.linear_price(top, dur, float(p["tau"]))
    if case["calc"] == "stairstep":
        return au.stairstep_price(top, dur, int(p["cut"]) / au.RAY, float(p["step"]))
    return au.exponential_price(top, dur, int(p["cut"]) / au.RAY)


# ------------------------------------------------------------------------------------ abaci
def test_abaci_vectors_integer_exact(maker):
    cases = maker["abaci"]
    assert len(cases) == 43
    for case in cases:
        assert _curve_int(case) == _int(case["price"]), case


def test_abaci_vectors_float(maker):
    for case in maker["abaci"]:
        expected = _int(case["price"]) / au.RAY
        got = _curve_float(case)
        # the contract rounds every rpow product half-up at 1e-27: far inside 1e-9 relative
        assert got == pytest.approx(expected, rel=RTOL, abs=1e-24), case


def test_auction_price_dispatches_and_validates():
    assert au.auction_price(100.0, 30.0, "linear", tau=60.0) == pytest.approx(50.0)
    assert au.auction_price(100.0, 180.0, "stairstep", cut=0.5, step=90.0) == pytest.approx(25.0)
    assert au.auction_price(100.0, 2.0, "exponential", cut=0.5) == pytest.approx(25.0)
    with pytest.raises(LiquidationError, match="calc must be one of"):
        au.auction_price(1.0, 1.0, "cubic")
    with pytest.raises(LiquidationError, match="needs tau"):
        au.auction_price(1.0, 1.0, "linear")
    with pytest.raises(LiquidationError, match="cut must be <= 1"):
        au.stairstep_price(1.0, 1.0, cut=1.5, step=1.0)
    with pytest.raises(LiquidationError, match="dur must be finite and >= 0"):
        au.linear_price([1.0, 1.0], [1.0, -1.0], tau=10.0)


def test_curves_broadcast_over_arrays():
    top = np.array([100.0, 200.0])
    dur = np.array([[0.0], [90.0], [179.0], [180.0]])
    got = au.stairstep_price(top, dur, cut=0.99, step=90.0)
    assert got.shape == (4, 2)
    np.testing.assert_allclose(got[:, 1], 200.0 * 0.99 ** np.array([0, 1, 1, 2]), rtol=1e-15)


def test_rpow_rounds_half_up_and_edges():
    assert au.rpow(0, 0) == au.RAY and au.rpow(0, 5) == 0 and au.rpow(7, 1) == 7
    # 1.5^2 with base 10: (15 * 15 + 5) // 10 = 23 (2.25 rounds up to 2.3)
    assert au.rpow(15, 2, 10) == 23
    with pytest.raises(au.AuctionRevert, match="rpow: overflow"):
        au.rpow(2**128, 2, au.RAY)


# --------------------------------------------------------------------------- clip.take/status
def test_clip_take_vectors(maker):
    for case in maker["clip_take"]:
        i = {k: _int(v) for k, v in case["inputs"].items()}
        args = (i["tab"], i["lot"], i["price"], i["amt"], i["max"], i["chost"])
        expected = case["expected"]
        if "revert" in expected:
            with pytest.raises(au.AuctionRevert, match=expected["revert"]):
                au.take_int(*args)
            with pytest.raises(au.AuctionRevert, match=expected["revert"]):
                au.take(i["tab"] / au.RAD, i["lot"] / au.WAD, i["price"] / au.RAY, i["amt"] / au.WAD,
                        i["max"] / au.RAY, i["chost"] / au.RAD)
            continue
        got = au.take_int(*args)
        for key, value in expected.items():
            assert got[key] == (value if isinstance(value, bool) else _int(value)), (case["name"], key)
        f = au.take(i["tab"] / au.RAD, i["lot"] / au.WAD, i["price"] / au.RAY, i["amt"] / au.WAD,
                    i["max"] / au.RAY, i["chost"] / au.RAD)
        assert f.owe == pytest.approx(_int(expected["owe"]) / au.RAD, rel=RTOL)
        assert f.slice == pytest.approx(_int(expected["slice"]) / au.WAD, rel=RTOL)
        assert f.tab == pytest.approx(_int(expected["tabAfter"]) / au.RAD, rel=RTOL)
        assert f.lot == pytest.approx(_int(expected["lotAfter"]) / au.WAD, rel=RTOL)
        assert f.finished is expected["auctionEnds"]
        assert f.returned == pytest.approx(_int(expected["collateralReturnedToUsr"]) / au.WAD, rel=RTOL)
        assert f.digs == pytest.approx(_int(expected["dogDigs"]) / au.RAD, rel=RTOL)


def test_clip_take_partial_respects_chost():
    # tab 110, chost 22: buying 20 at 5 would leave 10 < 22, so the take is cut to leave exactly 22
    r = au.take(tab=110.0, lot=40.0, price=5.0, amt=20.0, max_price=5.0, chost=22.0)
    assert r.owe == pytest.approx(88.0) and r.slice == pytest.approx(88.0 / 5.0)
    assert r.tab == pytest.approx(22.0) and not r.finished
    # buying the whole lot is always allowed, even below chost
    r = au.take(tab=20.0, lot=3.0, price=5.0, amt=3.0, max_price=5.0, chost=22.0)
    assert r.finished and r.lot == 0.0 and r.owe == pytest.approx(15.0) and r.digs == pytest.approx(20.0)
    exact = au.take_int(110 * au.RAD, 40 * au.WAD, 5 * au.RAY, 20 * au.WAD, 5 * au.RAY, 22 * au.RAD)
    assert exact["owe"] == 88 * au.RAD and exact["tabAfter"] == 22 * au.RAD


def test_clip_status_vectors(maker):
    for case in maker["clip_status"]:
        top, dur = _int(case["top"]), int(case["dur"])
        price = _int(case["price"])
        assert au.needs_redo_int(top, price, dur, int(case["tail"]), _int(case["cusp"])) is case["needsRedo"], case
        assert au.needs_redo(top / au.RAY, price / au.RAY, float(dur), float(case["tail"]),
                             _int(case["cusp"]) / au.RAY) is case["needsRedo"], case


def test_clip_status_prices_match_the_linear_and_eth_a_curves(maker):
    for case in maker["clip_status"]:
        top, dur = _int(case["top"]), int(case["dur"])
        if case["name"].startswith("ETH-A"):
            price = au.stairstep_price_int(top, dur, 99 * 10**25, 90)
        elif "tau 10h" in case["name"]:
            price = au.linear_price_int(top, dur, 36000)
        elif case["name"].startswith("..."):
            continue  # continuation rows: checked with their parents' curves above by value
        else:
            price = au.linear_price_int(top, dur, 3600)
        assert price == _int(case["price"]), case["name"]


def test_incentive_vectors(maker):
    for case in maker["incentives"]:
        tip, chip, tab = _int(case["tip"]), _int(case["chip"]), _int(case["tab"])
        assert au.incentive_int(tip, chip, tab) == _int(case["coin"])
        assert au.incentive(tip / au.RAD, chip / au.WAD, tab / au.RAD) == pytest.approx(_int(case["coin"]) / au.RAD,
                                                                                         rel=RTOL)


# ------------------------------------------------------------------------------------- flip
def test_flip_bid_rule_vectors(maker):
    for case in maker["flip_bid_rules"]:
        beg = _int(case["beg"])
        if case["phase"] == "tend":
            prev, bid, tab = _int(case["prevBid"]), _int(case["bid"]), _int(case["tab"])
            assert au.tend_accepted_int(prev, bid, tab, beg) is case["accepted"], case["name"]
            assert au.tend_accepted(prev / au.RAD, bid / au.RAD, tab / au.RAD, beg / au.WAD - 1.0) \
                is case["accepted"], case["name"]
        else:
            prev, lot = _int(case["prevLot"]), _int(case["lot"])
            assert au.dent_accepted_int(prev, lot, beg) is case["accepted"], case["name"]
            assert au.dent_accepted(prev / au.WAD, lot / au.WAD, beg / au.WAD - 1.0) is case["accepted"], case["name"]


def test_min_tend_and_max_dent():
    assert au.min_tend(0.0, 1000.0, 0.03) == 1e-18            # a first bid of one wei is enough
    assert au.min_tend(100.0, 1000.0, 0.03) == pytest.approx(103.0)
    assert au.min_tend(990.0, 1000.0, 0.03) == 1000.0           # the tab caps the step
    assert au.tend_accepted(990.0, 1000.0, 1000.0, 0.03)
    assert au.max_dent(103.0, 0.03) == pytest.approx(100.0)
    assert au.dent_accepted(103.0, au.max_dent(103.0, 0.03), 0.03)


# -------------------------------------------------------------------------------- cat / dog
def test_cat_bite_vectors(maker):
    for case in maker["cat_bite"]:
        i = case["inputs"]
        ink, art, rate, spot = _int(i["ink"]), _int(i["art"]), _int(i["rate"]), _int(i["spot"])
        if "lump" in i:
            lot, dart, tab = au.bite_lump_int(ink, art, rate, spot, _int(i["lump"]), _int(i["chop"]))
            assert (lot, dart, tab) == (_int(case["lot"]), _int(case["art"]), _int(case["tab"]))
            # float: mat chosen so that the vault is unsafe at price = spot * mat
            f = au.bite_lump(ink / au.WAD, art / au.WAD, rate / au.RAY, spot / au.RAY * 1.5, 1.5,
                             _int(i["chop"]) / au.RAY - 1.0, lump=_int(i["lump"]) / au.WAD)
            assert f.ink == pytest.approx(lot / au.WAD, rel=RTOL)
            assert f.art == pytest.approx(dart / au.WAD, rel=RTOL)
            assert f.tab == pytest.approx(tab / au.RAD, rel=RTOL)
            continue
        dink, dart, tab = au.bite_int(ink, art, rate, spot, _rad_amount(i["dust"]), _rad_amount(i["dunk"]),
                                      _rad_amount(i["box"]), _int(i["litter"]), _int(i["chop"]))
        assert (dink, dart, tab) == (_int(case["dink"]), _int(case["dart"]), _int(case["tab"]))
        f = au.bite(ink / au.WAD, art / au.WAD, rate / au.RAY, spot / au.RAY * 1.5, 1.5,
                    _int(i["chop"]) / au.WAD - 1.0, dust=_rad_amount(i["dust"]) / au.RAD,
                    dunk=_rad_amount(i["dunk"]) / au.RAD, box=_rad_amount(i["box"]) / au.RAD,
                    litter=_int(i["litter"]) / au.RAD)
        assert f.ink == pytest.approx(dink / au.WAD, rel=RTOL)
        assert f.art == pytest.approx(dart / au.WAD, rel=RTOL)
        # the integer tab floors dart first (dart * rate * chop / WAD), the float one does not:
        # 1.13 * 44247.787610619469026548 = 49999.99999999999999999924 vs 50000 - both within 1e-9
        assert f.tab == pytest.approx(tab / au.RAD, rel=RTOL)


def test_bite_limits():
    with pytest.raises(au.AuctionRevert, match="Cat/not-unsafe"):
        au.bite(10.0, 100.0, 1.0, 200.0, 1.5, 0.13, dust=20.0, dunk=5e4, box=1e7, litter=0.0)
    with pytest.raises(au.AuctionRevert, match="Cat/liquidation-limit-hit"):
        au.bite(10.0, 2000.0, 1.0, 200.0, 1.5, 0.13, dust=20.0, dunk=5e4, box=1e7, litter=1e7 - 10.0)
    # with room left, the bite is capped by it: art' = room / rate / (1 + chop)
    r = au.bite(10.0, 2000.0, 1.0, 200.0, 1.5, 0.13, dust=20.0, dunk=5e4, box=1e7, litter=1e7 - 565.0)
    assert r.art == pytest.approx(500.0) and r.tab == pytest.approx(565.0) and r.ink == pytest.approx(2.5)


def test_bark_rules_and_integer_port_agree():
    # vault: 10 ETH, 1500 DAI debt, mat 1.5, price 200 -> unsafe (liquidation price 225)
    whole = au.bark(10.0, 1500.0, 1.0, 200.0, 1.5, 0.13, dust=100.0, Hole=1e7, Dirt=0.0, hole=1e6, dirt=0.0)
    assert whole == pytest.approx(au.BiteResult(10.0, 1500.0, 1500.0, 1695.0))
    # room 1130 -> dart 1000, leaves 500 >= dust: partial
    part = au.bark(10.0, 1500.0, 1.0, 200.0, 1.5, 0.13, dust=100.0, Hole=1e7, Dirt=0.0, hole=1130.0, dirt=0.0)
    assert part.art == pytest.approx(1000.0) and part.ink == pytest.approx(10.0 * 1000.0 / 1500.0)
    # room 1650 -> dart 1460.2, would leave 39.8 < dust: the whole vault is taken
    dusty = au.bark(10.0, 1500.0, 1.0, 200.0, 1.5, 0.13, dust=100.0, Hole=1e7, Dirt=0.0, hole=1650.0, dirt=0.0)
    assert dusty.art == 1500.0
    with pytest.raises(au.AuctionRevert, match="Dog/dusty-auction-from-partial-liquidation"):
        au.bark(10.0, 1500.0, 1.0, 200.0, 1.5, 0.13, dust=100.0, Hole=1e7, Dirt=0.0, hole=100.0, dirt=0.0)
    with pytest.raises(au.AuctionRevert, match="Dog/liquidation-limit-hit"):
        au.bark(10.0, 1500.0, 1.0, 200.0, 1.5, 0.13, dust=100.0, Hole=1e7, Dirt=1e7, hole=1e6, dirt=0.0)
    W, R, D = au.WAD, au.RAY, au.RAD
    exact = au.bark_int(10 * W, 1500 * W, R, 200 * R * 10 // 15, 100 * D, 113 * 10**16, 10**7 * D, 0, 1130 * D, 0)
    assert exact == (6666666666666666666, 1000 * W, 1000 * D, 1130 * D)
    assert exact[0] / W == pytest.approx(part.ink, rel=RTOL)
