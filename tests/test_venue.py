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
    spec = GbmSpec(kind="gbm", start=1.0, volatility=0.0, jump_intensity=lam, jump_mean=jm, jump_std=js)
    path = GbmPath(spec, tick, np.random.default_rng(3))
    n = 100_000
    r = np.diff(np.log([path(k * tick) for k in range(n + 1)]))
    rate = lam * tick / SECONDS_PER_YEAR                 # expected jumps per step
    assert r.mean() == pytest.approx(rate * jm, rel=0.1)
    assert r.var() == pytest.approx(rate * (js**2 + jm**2), rel=0.1)


# ------------------------------------------------------------------------------------ venues
def test_fill_price_and_permanent_move_follow_the_linear_model():
    sim = make_sim()
    venue = sim.venues["cex_eth_usd"]
    gamma, eta = venue.permanent_impact, venue.temporary_impact
    m0 = venue.mid()
    q = 1_000.0
    expected_paid = q * m0 * (1 + (gamma / 2 + eta) * q)
    paid = venue.buy("trader", q)
    assert paid == pytest.approx(expected_paid, rel=1e-12)
    assert venue.mid() == pytest.approx(m0 * (1 + gamma * q), rel=1e-12)
    m1 = venue.mid()
    got = venue.sell("trader", 400.0)
    assert got == pytest.approx(400.0 * m1 * (1 - (gamma / 2 + eta) * 400.0), rel=1e-12)
    assert venue.mid() == pytest.approx(m1 * (1 - gamma * 400.0), rel=1e-12)
    swaps = sim.result().swaps
    assert swaps["market_kind"].tolist() == ["venue", "venue"]
    assert swaps["amount_in"].iloc[0] == pytest.approx(expected_paid)


def test_exact_quote_inverses():
    venue = make_sim().venues["cex_eth_usd"]
    for quote in (1.0, 5e4, 3e6):
        assert venue.cost_to_buy(venue.base_for_quote(quote)) == pytest.approx(quote, rel=1e-10)
        assert venue.proceeds_of_sale(venue.base_to_raise(quote)) == pytest.approx(quote, rel=1e-10)


def test_trades_beyond_depth_are_refused():
    venue = make_sim().venues["cex_eth_usd"]
    too_big = 1.0 / venue.permanent_impact
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
