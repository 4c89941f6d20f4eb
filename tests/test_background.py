"""Background demand for block space: Poisson arrivals, fee levels, volatility, congestion."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.fees import next_base_fee
from contagion.markets.volatility import realized_volatility
from _support import small_scenario


def make_sim(background, seed=0, **chain):
    data = small_scenario()
    data["agents"] = {}
    data["chains"]["ethereum"].update(chain, background=background)
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=seed)
    sim.ledger.add_account("alice", "test")
    sim.ledger.mint("alice", "ETH", 10.0)
    return sim


def test_arrivals_are_poisson_at_the_rate_and_fill_blocks():
    rate, horizon = 3.0, 1200
    sim = make_sim({"rate": rate, "gas_per_tx": 21_000, "priority_fee": 5})
    res = sim.run(horizon)
    blocks = res.blocks
    arrived = blocks["n_background"].sum() + len(sim.chains["ethereum"].mempool)
    assert arrived == pytest.approx(rate * horizon, abs=4 * math.sqrt(rate * horizon))
    assert (blocks["background_gas"] == 21_000 * blocks["n_background"]).all()
    assert set(res.transactions["agent_type"]) == {"oracle"}    # background is counted per block, not per row
    sim.ledger.check_conservation()


def test_fees_scale_with_the_venues_realized_volatility():
    background = {"rate": 2.0, "priority_fee": 4.0, "volatility_source": "cex_eth_usd", "volatility_window": "10min",
                  "rate_per_volatility": 0.5, "fee_per_volatility": 2.0}
    data_path = {"kind": "gbm", "start": 2000, "volatility": 3.0}
    data = small_scenario()
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"] = data_path
    data["chains"]["ethereum"]["background"] = background
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=4)
    sim.run(900)
    demand = sim.chains["ethereum"].background
    venue = sim.venues["cex_eth_usd"]
    times = np.arange(300.0, 901.0)                                  # the 1 s samples in the window
    sigma = realized_volatility(times, [venue.mid(t) for t in times])   # no trades: mid = exogenous path
    assert demand.sigma() == pytest.approx(sigma, rel=1e-9)
    assert 2.0 < sigma < 4.0                                          # near the path's 300 %
    assert demand.rate() == pytest.approx(2.0 * (1 + 0.5 * sigma), rel=1e-12)
    assert demand.median_fee() == pytest.approx(4.0 * (1 + 2.0 * sigma), rel=1e-12)


def test_congestion_prices_out_low_bids_and_lifts_the_base_fee():
    # demand 10 tx/s x 200k gas = 2M gas/s against 30M gas per 12 s = 2.5M gas/s at the limit,
    # 1.25M gas/s at the target: blocks run above target and the base fee climbs by up to 1/8 a block
    background = {"rate": 10.0, "gas_per_tx": 200_000, "priority_fee": 3.0, "priority_fee_sigma": 0.0,
                  "max_fee": 1000.0, "max_fee_sigma": 0.0}
    sim = make_sim(background, fee_market="eip1559", initial_base_fee=10)
    chain = sim.chains["ethereum"]
    sim.run(60)
    res = sim.result()
    fees = res.blocks["base_fee"].to_numpy() * 1e9
    used = res.blocks["gas_used"].to_numpy()
    for k in range(1, len(fees)):
        assert fees[k] == pytest.approx(next_base_fee(int(round(fees[k - 1])), int(used[k - 1]), 30_000_000), abs=1)
    assert fees[-1] > fees[0] * 1.2
    # a bid whose max fee is under the base fee waits; one that outbids the background goes next block
    low = chain.submit(sender="alice", agent_type="test", kind="test", gas_used=100_000, max_fee=fees[-1] / 1e9 * 0.9,
                       priority_fee=1.0, action=lambda b: None)
    high = chain.submit(sender="alice", agent_type="test", kind="test", gas_used=100_000, max_fee=1000.0,
                        priority_fee=10.0, action=lambda b: None)
    sim.run(73)
    assert high.status == "included" and high.block.number == len(fees) + 1
    assert low.status == "pending"
