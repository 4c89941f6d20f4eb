"""``networks/congestion.yaml``: congestion prices out the oracle, liquidations come late, bad
debt grows.

The scenario runs twice with seed 1: as shipped, and with no background demand. The checks
compare the two runs and derive their thresholds from the scenario's parameters (the oracle's
bid, the base fee rule, the price path, the protocol's liquidation threshold).
"""

from __future__ import annotations

import numpy as np
import pytest

import contagion
from _support import NETWORKS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net():
    return contagion.load_network(NETWORKS / "congestion.yaml")


@pytest.fixture(scope="module")
def runs(net):
    return {"congested": contagion.run(net, seed=1),
            "calm": contagion.run(net, seed=1, overrides={"chains.ethereum.background.rate": 0})}


def test_the_oracle_report_is_priced_out(net, runs):
    bid = net.scenario.oracles["eth_usd"].gas_price
    block_time = net.scenario.chains["ethereum"].block_time
    congested, calm = runs["congested"], runs["calm"]
    # without congestion the base fee never reaches the transmitter's bid: reports land next block
    assert calm.blocks["base_fee"].max() < bid
    calm_tx = calm.transactions[calm.transactions["agent_type"] == "oracle"]
    assert calm_tx["inclusion_delay"].max() <= 2 * block_time
    # with congestion the base fee rises above the bid; a report waits for as long as it stays there
    blocks = congested.blocks
    assert blocks["base_fee"].max() > bid
    reports = congested.transactions[congested.transactions["agent_type"] == "oracle"]
    slow = reports.sort_values("inclusion_delay").iloc[-1]
    waited = blocks[(blocks["time"] > slow["submitted_at"]) & (blocks["time"] < slow["included_at"])]
    assert slow["inclusion_delay"] > 20 * block_time
    # in every block of the wait the report was priced out: the base fee was above its bid, or the
    # block was full of transactions paying more than the bid
    gas_limit, report_gas = net.scenario.chains["ethereum"].gas_limit, net.scenario.oracles["eth_usd"].gas_used
    outbid = (waited["gas_used"] > gas_limit - report_gas) & (waited["min_gas_price"] > bid)
    assert ((waited["base_fee"] > bid) | outbid).all()
    assert (waited["base_fee"] > bid).mean() > 0.8                  # most of it by the base fee itself
    assert blocks.loc[blocks["time"] == slow["included_at"], "base_fee"].iloc[0] <= bid


def test_the_oracle_lags_the_market_while_it_is_priced_out(net, runs):
    points = net.scenario.venues["cex_eth_usd"].path.points
    low = points[-1][1]
    updates = runs["congested"].oracle_updates
    feed = updates[updates["oracle"] == "eth_usd"].sort_values("published_at")
    fall_end = points[2][0]
    # when the fall ends the on-chain answer is still far above the market
    answer_then = feed.loc[feed["published_at"] <= fall_end, "price"].iloc[-1]
    assert answer_then > low * 1.15
    calm = runs["calm"].oracle_updates
    calm_then = calm.loc[(calm["oracle"] == "eth_usd") & (calm["published_at"] <= fall_end), "price"].iloc[-1]
    assert calm_then < low * 1.05                                   # a few blocks behind the market


def test_congestion_liquidates_later_and_deeper_underwater_with_more_bad_debt(net, runs):
    lt = net.scenario.protocols["lend"].liquidation_threshold
    bonus = net.scenario.protocols["lend"].liquidation_bonus
    congested, calm = runs["congested"], runs["calm"]
    late, timely = congested.liquidations, calm.liquidations
    assert np.median(late["time"]) > np.median(timely["time"]) + 300
    assert late["health_factor"].mean() < timely["health_factor"].mean() - 0.05
    # a position liquidated below HF = lt (1 + bonus) cannot pay the bonus: the rest is bad debt
    insolvent = lt * (1 + bonus)
    assert (late["health_factor"] < insolvent).sum() > 5 * max(1, (timely["health_factor"] < insolvent).sum())
    bad_late, bad_timely = congested.summary()["bad_debt_usd"], calm.summary()["bad_debt_usd"]
    assert bad_late > 5 * bad_timely
    for res in (congested, calm):
        assert all(abs(r["error"]) <= r["bound"] for r in res.manifest["conservation"])


def test_timing_summary_fields(runs):
    for res in runs.values():
        s = res.summary()
        tx = res.transactions
        oracle = tx[(tx["agent_type"] == "oracle") & tx["status"].isin(["included", "reverted"])]
        assert s["inclusion_delay_s.oracle"] == pytest.approx(oracle["inclusion_delay"].mean(), rel=1e-12)
        assert s["inclusion_delay_max_s.oracle"] == oracle["inclusion_delay"].max()
        assert s["base_fee_max_gwei.ethereum"] == res.blocks["base_fee"].max()
        assert 0 < s["block_fullness.ethereum"] <= 1
    assert runs["congested"].summary()["block_fullness.ethereum"] > 2 * runs["calm"].summary()["block_fullness.ethereum"]
