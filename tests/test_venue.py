"""Venues: exogenous paths and the linear impact model; runtime pools."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.engine.chain import Revert
from contagion.markets.paths import SECONDS_PER_YEAR, GbmPath, PiecewisePath
from contagion.markets.venue import VenueDepthError
from contagion.scenario.models import GbmPath as GbmSpec
from contagion.scenario.models import JumpDiffusionPath as JumpSpec
from contagion.scenario.models import PiecewisePath as PiecewiseSpec
from _support import small_scenario


def make_sim(**changes):
    data = small_scenario(**changes)
    data["agents"] = {}
    s = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    s.ledger.add_account("trader", "test")
    s.ledger.mint("trader", "ETH", 1_000.0)
    s.ledger.mint("trader", "USDC", 10_000_000.0)
    return s


# ------------------------------------------------------------------------------------- paths
def test_piecewise_path_interpolates_on_the_tick_grid():
    spec = PiecewiseSpec(kind="piecewise", points=[(0, 100.0), (100, 200.0)])
    path = PiecewisePath(spec, tick=10.0)
    assert path(0) == 100.0
    assert path(55) == 150.0          # held at the t=50 grid value
    assert path(59.999) == 150.0
    assert path(60) == 160.0
    assert path(1e6) == 200.0         # flat after the last point
    assert path.low(100) == 100.0


def test_piecewise_low_over_a_dip():
    spec = PiecewiseSpec(kind="piecewise", points=[(0, 100.0), (10, 50.0), (20, 80.0)])
    path = PiecewisePath(spec, tick=1.0)
    assert path.low(5) == 75.0 and path.low(30) == 50.0


def test_gbm_is_seeded_and_independent_of_horizon():
    spec = GbmSpec(kind="gbm", start=100.0, drift=0.1, volatility=0.8)
    a = GbmPath(spec, 1.0, np.random.default_rng(5))
    b = GbmPath(spec, 1.0, np.random.default_rng(5))
    c = GbmPath(spec, 1.0, np.random.default_rng(6))
    late = a(20_000)           # generates several chunks first
    assert b(10) == a(10) and b(20_000) == late
    assert c(10) != a(10)
    assert a(0) == 100.0


def test_gbm_log_returns_have_the_gbm_moments():
    mu, sigma, tick = 0.5, 1.2, 60.0
    path = GbmPath(GbmSpec(kind="gbm", start=1.0, drift=mu, volatility=sigma), tick, np.random.default_rng(11))
    n = 200_000
    logs = np.log([path(k * tick) for k in range(n + 1)])
    r = np.diff(logs)
    dt = tick / SECONDS_PER_YEAR
    mean, var = (mu - sigma**2 / 2) * dt, sigma**2 * dt
    assert abs(r.mean() - mean) < 5 * math.sqrt(var / n)
    assert abs(r.var() / var - 1) < 5 * math.sqrt(2 / n)


def test_gbm_jumps_add_their_variance():
    tick, lam, jm, js = 60.0, 2000.0, -0.01, 0.02
    spec = JumpSpec(kind="jump_diffusion", start=1.0, volatility=0.0, jump_intensity=lam, jump_mean=jm, jump_std=js)
    path = GbmPath(spec, tick, np.random.default_rng(3))
    n = 100_000
    r = np.diff(np.log([path(k * tick) for k in range(n + 1)]))
    rate = lam * tick / SECONDS_PER_YEAR                 # expected jumps per step
    assert r.mean() == pytest.approx(rate * jm, rel=0.1)
    assert r.var() == pytest.approx(rate * (js**2 + jm**2), rel=0.1)


# ------------------------------------------------------------------------------------ venues
def test_fill_price_and_impact_follow_the_linear_model():
    sim = make_sim()
    venue = sim.venues["cex_eth_usd"]
    gamma, kappa = venue.permanent_impact, venue.temporary_impact
    m0 = venue.mid()
    q = 1_000.0
    expected_paid = q * m0 * (1 + (gamma + kappa) * q / 2)       # walking the book linearly
    paid = venue.buy("trader", q)
    assert paid == pytest.approx(expected_paid, rel=1e-12)
    assert venue.mid() == pytest.approx(m0 * (1 + (gamma + kappa) * q), rel=1e-12)   # right after
    sim.env.run(until=1.0)                                    # half-life 0: the temporary part is gone
    assert venue.mid() == pytest.approx(m0 * (1 + gamma * q), rel=1e-12)
    m1 = venue.mid()
    got = venue.sell("trader", 400.0)
    assert got == pytest.approx(400.0 * m1 * (1 - (gamma + kappa) * 400.0 / 2), rel=1e-12)
    sim.env.run(until=2.0)
    assert venue.mid() == pytest.approx(m1 * (1 - gamma * 400.0), rel=1e-12)
    swaps = sim.result().swaps
    assert swaps["market_kind"].tolist() == ["venue", "venue"]
    assert swaps["amount_in"].iloc[0] == pytest.approx(expected_paid)


def test_temporary_impact_decays_with_the_half_life():
    sim = make_sim(**{"venues.cex_eth_usd.resilience_half_life": 60, "venues.cex_eth_usd.permanent_impact": 0.0,
                      "venues.cex_eth_usd.temporary_impact": 1e-5, "venues.cex_eth_usd.path.points": [[0, 2000]]})
    venue = sim.venues["cex_eth_usd"]
    m0 = venue.mid()
    venue.sell("trader", 500.0)                              # -0.5 %
    assert venue.mid() / m0 - 1 == pytest.approx(-0.005, rel=1e-12)
    for t, left in ((60.0, 0.5), (120.0, 0.25), (600.0, 2.0**-10)):
        sim.env.run(until=t)
        assert venue.mid() / m0 - 1 == pytest.approx(-0.005 * left, rel=1e-9)
    # a second trade stacks on what is left of the first
    sim.env.run(until=660.0)
    before = venue.mid()
    venue.sell("trader", 500.0)
    assert venue.mid() == pytest.approx(before * (1 - 0.005), rel=1e-12)


def test_exact_quote_inverses():
    venue = make_sim().venues["cex_eth_usd"]
    for quote in (1.0, 5e4, 3e6):
        assert venue.cost_to_buy(venue.base_for_quote(quote)) == pytest.approx(quote, rel=1e-10)
        assert venue.proceeds_of_sale(venue.base_to_raise(quote)) == pytest.approx(quote, rel=1e-10)


def test_trades_beyond_depth_are_refused():
    venue = make_sim().venues["cex_eth_usd"]
    too_big = 1.0 / (venue.permanent_impact + venue.temporary_impact)
    with pytest.raises(VenueDepthError, match="exceeds its depth"):
        venue.fill_price(-too_big)
    with pytest.raises(VenueDepthError, match="cannot raise"):
        venue.base_to_raise(1e15)
    assert venue.max_sell() < too_big


def test_venue_trades_conserve_tokens():
    sim = make_sim()
    venue = sim.venues["cex_eth_usd"]
    totals = [sim.ledger.total(a) for a in ("ETH", "USDC")]
    venue.buy("trader", 123.4)
    venue.sell("trader", 50.0)
    assert [sim.ledger.total(a) for a in ("ETH", "USDC")] == pytest.approx(totals, rel=1e-15)
    sim.ledger.check_conservation()


# ------------------------------------------------------------------------------------- pools
def test_pool_swap_in_a_transaction_uses_the_amm_math():
    sim = make_sim()
    pool = sim.pools["uni_eth_usdc"]
    x, y = pool.reserves()
    assert pool.price() == y / x
    expected = 10.0 * 0.997 * y / (x + 10.0 * 0.997)
    assert pool.quote("ETH", 10.0) == pytest.approx(expected, rel=1e-14)
    chain = sim.chains["ethereum"]
    tx = chain.submit(sender="trader", agent_type="test", kind="swap", gas_used=120_000, gas_price=1,
                      action=lambda b: pool.swap("trader", "ETH", 10.0, expected * 0.999))
    res = sim.run(13)
    assert tx.status == "included" and tx.result == pytest.approx(expected, rel=1e-14)
    assert pool.reserves() == pytest.approx((x + 10.0, y - expected), rel=1e-15)
    row = res.swaps.iloc[0]
    assert (row["tx_id"], row["market"], row["block"]) == (tx.tx_id, "uni_eth_usdc", 1)
    assert row["price_after"] == pytest.approx((y - expected) / (x + 10.0))


def test_pool_swap_reverts_below_min_out():
    sim = make_sim()
    pool = sim.pools["uni_eth_usdc"]
    quote = pool.quote("ETH", 10.0)
    with pytest.raises(Revert, match="below minimum"):
        pool.swap("trader", "ETH", 10.0, quote * 1.0001)
    with pytest.raises(Revert, match="does not trade"):
        pool.quote("BTC", 1.0)


# ----------------------------------------------------------------------------------- replay
def _replay_sim(tmp_path, csv_text, **path):
    (tmp_path / "eth.csv").write_text(csv_text)
    data = small_scenario()
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"] = {"kind": "replay", "path": "eth.csv", **path}
    data["venues"]["cex_eth_usd"]["tick"] = 1
    return contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path), seed=0)


def test_replay_interpolates_holds_and_scales(tmp_path):
    rows = "time,price\n10,2000\n0,1900\n70,1300\n"          # unsorted rows are sorted by time
    linear = _replay_sim(tmp_path, rows).venues["cex_eth_usd"].path
    assert [linear(t) for t in (0, 5, 10, 40, 70, 500)] == [1900, 1950, 2000, 1650, 1300, 1300]
    assert linear(5.5) == 1950                               # held within the 1 s tick
    assert linear.low(40) == 1650 and linear.low(1e4) == 1300
    step = _replay_sim(tmp_path, rows, interpolation="step", scale=0.5).venues["cex_eth_usd"].path
    assert [step(t) for t in (0, 9, 10, 69, 70)] == [950, 950, 1000, 1000, 650]


def test_replay_accepts_timestamps_from_the_first_row(tmp_path):
    rows = "time,price\n2020-03-12T10:00:00Z,200\n2020-03-12T10:01:00Z,180\n2020-03-12T10:03:00Z,120\n"
    path = _replay_sim(tmp_path, rows).venues["cex_eth_usd"].path
    assert path(0) == 200 and path(60) == 180 and path(120) == 150 and path(3600) == 120


def test_replay_drives_a_run(tmp_path):
    rows = "time,price\n0,2000\n120,2000\n600,1700\n"
    sim = _replay_sim(tmp_path, rows)
    res = sim.run("15min")
    venue = res.prices[res.prices["source"] == "cex_eth_usd"]
    assert venue["exogenous"].iloc[-1] == 1700 and venue["exogenous"].max() == 2000
    assert res.manifest["exogenous_low"]["cex_eth_usd"] == 1700


@pytest.mark.parametrize("rows, match", [
    ("t,price\n0,1\n", r"missing column\(s\) \['time'\]"),
    ("time,price\n0,1\nsoon,2\n", r"time must be seconds or a timestamp \(all rows alike\), got 'soon' in row 2"),
    ("time,price\n0,1\n5,-3\n", r"price must be a number > 0, got -3 in row 2"),
    ("time,price\n0,1\n0,2\n", r"times must be distinct"),
    ("time,price\n2020-03-12,1\nlater,2\n", r"time must be seconds or a timestamp, got 'later' in row 2"),
])
def test_bad_replay_files_are_clear_errors(tmp_path, rows, match):
    with pytest.raises(contagion.ScenarioError, match=rf"eth\.csv: venues\.cex_eth_usd\.path: {match}"):
        _replay_sim(tmp_path, rows)


def test_missing_replay_file_names_the_key(tmp_path):
    data = small_scenario()
    data["venues"]["cex_eth_usd"]["path"] = {"kind": "replay", "path": "nope.csv"}
    with pytest.raises(contagion.ScenarioError, match=r"venues\.cex_eth_usd\.path\.path: file not found"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
