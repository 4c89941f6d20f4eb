"""Liquidity providers: the measures they watch, their thresholds, withdrawals and returns.

Expected values come from the formulas in the module's documentation evaluated by hand on
constructed price series, and from the scenario's parameters (share, count, window, return_after).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.agents.liquidity_provider import realized_volatility
from contagion.markets.paths import SECONDS_PER_YEAR
from _support import small_scenario


def test_realized_volatility_formula():
    times = [0.0, 12.0, 24.0, 36.0]
    prices = [100.0, 101.0, 99.0, 99.0]
    r = [math.log(101 / 100), math.log(99 / 101), 0.0]
    expected = math.sqrt(sum(x * x for x in r) / 36.0 * SECONDS_PER_YEAR)
    assert realized_volatility(times, prices) == pytest.approx(expected, rel=1e-15)
    assert realized_volatility([0.0], [100.0]) == 0.0
    assert realized_volatility([5.0, 5.0], [100.0, 90.0]) == 0.0          # no time covered


def scenario(kind="cp", **lps):
    """A 40-minute run: ETH falls 10 % from minute 2 to 17, then stays; LPs own half of the pool."""
    data = small_scenario(until="40min")
    data["protocols"]["lend"]["positions"]["count"] = 10
    if kind == "v3":
        data["pools"]["uni_eth_usdc"] = {
            "kind": "concentrated", "chain": "ethereum", "assets": ["ETH", "USDC"], "price": 2000,
            "ranges": [{"lower": 1000, "upper": 4000, "value": 3_000_000}],
            "distribution": {"total_value": 3_000_000, "sigma": 0.05, "width": 0.02, "positions": 5}}
    data["agents"]["lps"] = {"kind": "liquidity_provider", "count": 4, "watches": ["uni_eth_usdc"], "share": 0.5,
                             "inventory": {"ETH": 1}, "window": "5min", "volatility_threshold": None,
                             "drawdown_threshold": 0.02, "threshold_dispersion": 0.0, **lps}
    return contagion.Network.from_dict(data)


def test_thresholds_are_spread_by_the_dispersion_from_the_lps_own_streams():
    net = scenario(threshold_dispersion=0.5, volatility_threshold=2.0)
    a = contagion.Simulation(net, seed=3).agents["lps"]
    b = contagion.Simulation(net, seed=3).agents["lps"]
    c = contagion.Simulation(net, seed=4).agents["lps"]
    dd = [lp.drawdown_threshold for lp in a]
    vol = [lp.volatility_threshold for lp in a]
    assert dd == [lp.drawdown_threshold for lp in b] and dd != [lp.drawdown_threshold for lp in c]
    assert all(0.01 <= x <= 0.03 for x in dd) and len(set(dd)) == 4
    assert all(1.0 <= x <= 3.0 for x in vol)


def test_lps_get_equal_shares_of_the_pool():
    sim = contagion.Simulation(scenario(), seed=0)
    pool = sim.pools["uni_eth_usdc"]
    values = [pool.holding_value(lp.account) for lp in sim.agents["lps"]]
    total = pool.value_of([pool.balance(a) for a in pool.assets])
    assert values == pytest.approx([total * 0.5 / 4] * 4, rel=1e-12)
    assert pool.holding_value("passive") == pytest.approx(total * 0.5, rel=1e-12)


@pytest.mark.parametrize("kind", ["cp", "v3"])
def test_withdraw_on_drawdown_then_return_after_calm(kind):
    net = scenario(kind, return_after="3min")
    sim = contagion.Simulation(net, seed=0, check_invariants=True)
    pool = sim.pools["uni_eth_usdc"]
    initial = {lp.account: pool.holding_value(lp.account) for lp in sim.agents["lps"]}
    res = sim.run()
    events = res.lp_events
    prices = res.prices[res.prices["source"] == "uni_eth_usdc"].set_index("time")["price"]
    for lp in sim.agents["lps"]:
        mine = events[events["agent"] == lp.account].sort_values("time")
        assert list(mine["action"][:2]) == ["withdraw", "deposit"], lp.account
        out, back = mine.iloc[0], mine.iloc[1]
        # the withdrawal came once the drawdown over the window passed 2 %, not before
        window = prices[(prices.index >= out["time"] - 300 - 12) & (prices.index < out["time"])]
        assert out["reason"] == "drawdown" and out["drawdown"] > 0.02
        assert 1 - window.iloc[-1] / window.max() == pytest.approx(out["drawdown"], rel=1e-9)
        assert out["value"] == pytest.approx(initial[lp.account], rel=0.15)   # worth what was put in, give or take the fall
        # the return came after at least return_after of calm (drawdown back under the threshold)
        assert back["time"] - out["time"] >= 180
        assert back["drawdown"] <= 0.02
        # what went back is what came out, as far as the price move allows
        assert back["amount0"] <= out["amount0"] * (1 + 1e-12) and back["amount1"] <= out["amount1"] * (1 + 1e-12)
    assert all(abs(r["error"]) <= r["bound"] for r in res.manifest["conservation"])


def test_lp_transactions_pay_gas_and_can_be_delayed():
    net = scenario()
    res = contagion.run(net, seed=0)
    tx = res.transactions[res.transactions["agent_type"] == "liquidity_provider"]
    assert len(tx) == 4 and set(tx["kind"]) == {"lp_withdraw"} and (tx["status"] == "included").all()
    assert tx["fee_native"].to_numpy() == pytest.approx(np.full(4, 150_000 * 30e-9), rel=1e-12)
    assert (tx["inclusion_delay"] > 0).all()
