"""The gamma feedback loop (contagion.agents.market_maker on networks/gamma_squeeze.yaml): market
makers short gamma who delta-hedge deepen the venue's fall; each hedge is the change of the book's
Black-Scholes delta times the hedge ratio; venue and pool hedges move prices by their own models."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from test_options_protocol import GAMMA, YEAR, book_of, gamma_data, ncdf, network

GAMMA_IMPACT = 1.0e-6 + 1.0e-6        # the venue's permanent + temporary impact per ETH


def book_delta(book: dict, S: float, iv: float, t: float) -> float:
    """Delta of the makers' written book (they are the last account), underlying units."""
    mine = book["acct"] == book["n"] - 1
    K, q, call = book["K"][mine], book["q"][mine], book["call"][mine]
    T = (book["expiry"][mine] - t) / YEAR
    d1 = (np.log(S / K) + iv * iv / 2 * T) / (iv * np.sqrt(T))
    option_delta = np.where(call, ncdf(d1), -ncdf(-d1))
    return -math.fsum(q * option_delta)


@pytest.fixture(scope="module")
def runs():
    net = contagion.load_network(GAMMA)
    sim = contagion.Simulation(net, seed=1)
    book = book_of(sim)
    hedged = sim.run()
    unhedged = contagion.run(net, seed=1, overrides={"agents.makers.hedge": False})
    return book, hedged, unhedged


def test_hedging_short_gamma_deepens_the_venue_drawdown(runs):
    _, hedged, unhedged = runs
    h, u = hedged.summary(), unhedged.summary()
    # unhedged, nothing trades on the venue: its fall is the shock's, 12 %
    assert u["drop.exogenous.cex_eth_usd"] == pytest.approx(0.12, rel=1e-12)
    assert u["drop.venue.cex_eth_usd"] == pytest.approx(0.12, rel=1e-12)
    # hedged, the makers sell into the fall: the venue falls about 3 points further
    assert h["drop.venue.cex_eth_usd"] > 0.14
    fall = hedged.hedges.query("time > 1200 and time <= 4800")
    assert (fall["executed"] < 0).all() and -fall["executed"].sum() > 25_000
    # the deeper fall lifts the volatility level further and liquidates more writers
    assert hedged.options_state["iv"].max() > unhedged.options_state["iv"].max() + 0.03
    assert len(hedged.option_liquidations) > len(unhedged.option_liquidations) + 10
    assert hedged.options_state["drawdown"].max() > unhedged.options_state["drawdown"].max() + 0.02


def test_the_extra_fall_is_the_hedges_impact(runs):
    _, hedged, _ = runs
    hedges = hedged.hedges
    # each trade walks the venue's linear book: mid x (1 + (gamma + kappa) q)
    assert hedges["price_after"].to_numpy() == pytest.approx(
        (hedges["price_before"] * (1 + GAMMA_IMPACT * hedges["executed"])).to_numpy(), rel=1e-12)
    # the permanent part accumulates: at the end (temporary part decayed for 100 minutes, half-life
    # 10 minutes), the venue sits at the exogenous price times prod(1 + gamma q)
    last = hedges.iloc[-1]
    permanent = np.prod(1 + 1.0e-6 * hedges["executed"].to_numpy())
    exo_at_last = 1760.0                                   # the path is flat after 1h20
    temporary = last["price_after"] / (exo_at_last * permanent) - 1
    prices = hedged.prices.query("source == 'cex_eth_usd'")
    end = prices.iloc[-1]
    want = 1760.0 * permanent * (1 + temporary * 2 ** (-(end["time"] - last["executed_at"]) / 600.0))
    assert end["price"] == pytest.approx(want, rel=1e-12)


def test_each_hedge_is_the_change_of_the_books_delta_times_the_ratio(runs):
    book, hedged, _ = runs
    state = hedged.options_state
    previous = -1.0 * book_delta(book, 2000.0, 0.7, 0.0)          # hedged at the start, before trading
    assert len(hedged.hedges) >= 10
    for row in hedged.hedges.itertuples():
        delta = book_delta(book, row.spot, row.iv, row.time)
        assert row.book_delta == pytest.approx(delta, rel=1e-9)
        assert row.spot == row.price_before                        # the venue's mid when deciding
        # the level set after the last block before the decision (a rebalance at a block's time
        # comes first: its timer was set earlier)
        assert row.iv == state[state["time"] < row.time]["iv"].iloc[-1]
        assert row.position_before == pytest.approx(previous, rel=1e-12, abs=1e-9)
        assert row.trade == pytest.approx(-1.0 * (delta - (-previous)), abs=1e-9 * abs(delta))
        assert row.executed == row.trade                           # the inventory never binds here
        previous += row.executed
    assert state["mm_hedge"].iloc[-1] == pytest.approx(previous, rel=1e-12)


def test_hedge_ratio_and_minimum_trade():
    data = gamma_data(**{"agents.makers.hedge_ratio": 0.5, "agents.makers.min_trade": 500.0,
                         "protocols.opts.writers.count": 20, "until": "1h30min"})
    sim = contagion.Simulation(network(data), seed=1)
    book = book_of(sim)
    res = sim.run()
    hedges = res.hedges
    assert len(hedges) >= 4 and (hedges["trade"].abs() >= 500.0).all() and (hedges["hedge_ratio"] == 0.5).all()
    position = -0.5 * book_delta(book, 2000.0, 0.7, 0.0)
    for row in hedges.itertuples():
        delta = book_delta(book, row.spot, row.iv, row.time)
        assert row.position_before == pytest.approx(position, rel=1e-12)
        assert row.trade == pytest.approx(-0.5 * delta - position, abs=1e-9 * abs(delta))
        position += row.executed


def test_unhedged_makers_do_not_trade(runs):
    _, _, unhedged = runs
    assert unhedged.hedges.empty
    assert not (unhedged.swaps["agent_type"] == "market_maker").any()
    assert (unhedged.options_state["mm_hedge"] == 0.0).all()
    # the written book is short gamma and its delta grows as ETH falls
    state = unhedged.options_state
    assert (state["mm_gamma"] < 0).all()
    assert state["mm_delta"].iloc[-1] > 3 * state["mm_delta"].iloc[0]


def test_pool_hedges_are_transactions_and_follow_the_constant_product():
    data = gamma_data(**{"protocols.opts.writers.count": 20, "agents.makers.hedge_on": "uni_eth_usdc",
                         "until": "1h30min"})
    data["pools"] = {"uni_eth_usdc": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "USDC"],
                                      "reserves": [200_000, 400_000_000], "fee": 0.003}}
    sim = contagion.Simulation(network(data), seed=1)
    book = book_of(sim)
    res = sim.run()
    hedges = res.hedges
    assert len(hedges) >= 5 and (hedges["market_kind"] == "pool").all()
    assert (hedges["tx_id"] >= 0).all() and (hedges["block"] >= 1).all()
    assert (hedges["executed"] > 0).any() and (hedges["executed"] < 0).any()
    txs = res.transactions.query("kind == 'hedge'")
    assert (txs["status"] == "included").all() and len(txs) == len(hedges)
    # nothing else trades the pool: each swap follows the constant-product formula from the reserves
    x, y = 200_000.0, 400_000_000.0
    swaps = res.swaps.query("market == 'uni_eth_usdc'").sort_values("swap_id")
    assert len(swaps) == len(hedges)
    for swap, row in zip(swaps.itertuples(), hedges.itertuples()):
        assert swap.price_before == pytest.approx(y / x, rel=1e-12) and row.spot == pytest.approx(y / x, rel=1e-12)
        a = swap.amount_in * 0.997
        if swap.asset_in == "ETH":
            out = a * y / (x + a)
            x, y = x + swap.amount_in, y - out
            assert row.executed == -swap.amount_in
        else:
            out = a * x / (y + a)
            x, y = x - out, y + swap.amount_in
            assert row.executed == pytest.approx(swap.amount_out, rel=0)
        assert swap.amount_out == pytest.approx(out, rel=1e-12)
        # the pool moved by nothing but this book since the decision: the purchase asked for exactly
        # the quote amount returning the wanted underlying
        assert row.executed == pytest.approx(row.trade, rel=1e-9)
        delta = book_delta(book, row.spot, row.iv, row.time)
        assert row.target == pytest.approx(-delta, rel=1e-9)
    assert res.options_state["mm_hedge"].iloc[-1] == pytest.approx(
        -book_delta(book, 2000.0, 0.7, 0.0) + hedges["executed"].sum(), rel=1e-12)


def test_hedging_on_a_venue_quoted_the_other_way_round():
    data = gamma_data(**{"protocols.opts.writers.count": 10, "until": "1h"})
    data["venues"]["cex_usd_eth"] = {
        "asset": "USDC", "quote": "ETH", "inventory": {"USDC": 1e9, "ETH": 1e6},
        "path": {"kind": "piecewise", "points": [[0, 0.0005], ["20min", 0.0005], ["1h20min", 1 / 1760]]},
        "permanent_impact": 2e-9, "temporary_impact": 2e-9}
    data["agents"]["makers"]["hedge_on"] = "cex_usd_eth"
    sim = contagion.Simulation(network(data), seed=1)
    book = book_of(sim)
    res = sim.run()
    hedges = res.hedges
    assert len(hedges) == 12 and (hedges["executed"] < 0).sum() >= 5      # every 5 minutes, 5min..1h
    position = -book_delta(book, 2000.0, 0.7, 0.0)
    for row in hedges.itertuples():
        # the spot is the inverse of the venue's USDC price in ETH
        assert row.spot == pytest.approx(row.price_before, rel=0) and row.executed == row.trade
        assert row.trade == pytest.approx(-book_delta(book, row.spot, row.iv, row.time) - position, rel=1e-9)
        position += row.executed
    # selling x ETH buys the USDC that x ETH pays for: the maker's ETH moves by exactly the trades
    assert sim.ledger.balance("makers#0", "ETH") - 60_000 == pytest.approx(hedges["executed"].sum(), rel=1e-12)
