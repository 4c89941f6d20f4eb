"""Push oracles in the simulation: deviation and heartbeat rounds, publication through blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from _support import small_scenario

POINTS = [[0, 2000], [120, 2000], [1020, 1800], [1200, 1800]]


def run(points=POINTS, until=1200, spam=0, **changes):
    data = small_scenario(**changes)
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"]["points"] = points
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    if spam:
        chain = sim.chains["ethereum"]
        sim.ledger.add_account("spammer", "test")
        sim.ledger.mint("spammer", "ETH", 1_000.0)

        def flood():
            yield sim.env.timeout(150)  # just before the first 0.5% move (at t = 165 s)
            for _ in range(spam):  # each fills a whole block and outbids the feed
                chain.submit(sender="spammer", agent_type="background", kind="spam",
                             gas_used=chain.gas_limit, gas_price=500.0, action=lambda b: None)

        sim.env.process(flood())
    return sim, sim.run(until)


def exogenous(t, tick=1.0):
    times, prices = zip(*POINTS)
    return float(np.interp(math.floor(t / tick) * tick, times, prices))


def test_deviation_updates_follow_the_ocr_rule():
    sim, res = run()
    updates = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"].reset_index(drop=True)
    assert updates["reason"].iloc[0] == "genesis" and updates["price"].iloc[0] == 2000.0
    later = updates.iloc[1:]
    assert set(later["reason"]) == {"deviation"}
    # each report deviates from the answer it replaces by at least the threshold (inclusive)
    ratio = later["price"].to_numpy() / updates["price"].to_numpy()[:-1]
    assert np.all(np.abs(ratio - 1) >= 0.005 - 1e-15)
    # it reports what the venue showed at its observation (no agents: mid = exogenous path)
    assert later["price"].tolist() == pytest.approx([exogenous(t) for t in later["observed_at"]], rel=1e-12)
    # published in a block after the observation, through a transaction
    assert np.all(later["published_at"] % 12 == 0) and np.all(later["published_at"] > later["observed_at"])
    assert np.all(later["tx_id"] >= 0)
    assert np.allclose(later["lag"], later["published_at"] - later["observed_at"])
    # a 10% fall with a 0.5% threshold: at most ln(0.9)/ln(0.995) = 21 reports; at least 15, since one
    # round (5 s) moves 0.056% and a pending report (<= 12 s) skips at most 3 rounds: 0.5%+4*0.056% each
    assert 15 <= len(later) <= int(math.log(0.9) / math.log(0.995))
    tx = res.transactions[res.transactions["kind"] == "oracle_update"]
    assert set(tx["status"]) == {"included"} and len(tx) == len(later)


def test_heartbeat_when_the_price_is_flat():
    sim, res = run(points=[[0, 2000]], until=400, **{"oracles.eth_usd.heartbeat": 60})
    updates = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"].reset_index(drop=True)
    later = updates.iloc[1:]
    assert set(later["reason"]) == {"heartbeat"} and len(later) >= 4
    age = later["observed_at"].to_numpy() - updates["published_at"].to_numpy()[:-1]
    # strictly older than the heartbeat, and noticed within one round (5 s)
    assert np.all(age > 60) and np.all(age <= 65)


def test_congestion_delays_the_report():
    _, calm = run()
    _, busy = run(spam=10)
    first = lambda r: r.oracle_updates[r.oracle_updates["reason"] == "deviation"].iloc[0]  # noqa: E731
    a, b = first(calm), first(busy)
    assert a["observed_at"] == b["observed_at"] <= 264       # the feed saw the same thing, during the spam
    # the ten full-block transactions submitted at t = 150 fill the blocks at 156, 168, ..., 264:
    # the report, outbid, lands in the first block after them
    assert b["published_at"] == 156 + 10 * 12
    assert a["published_at"] < b["published_at"] and a["lag"] <= 12
    assert b["lag"] - a["lag"] >= 8 * 12


def test_answer_is_used_by_the_protocol_in_the_same_block():
    sim, res = run()
    protocol = sim.protocols["lend"]
    last = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"].iloc[-1]
    assert protocol.ratio == last["price"] / 1.0
    rows = res.protocols[res.protocols["time"] == last["published_at"]]
    assert rows["price"].iloc[0] == last["price"]
