"""``networks/lp_flight.yaml``: liquidity providers who flee deepen the cascade.

The same scenario and seed run twice: once as shipped (LPs owning ``share`` of the thin
concentrated pool withdraw as volatility and drawdown rise) and once with thresholds no price
path can reach (the LPs stay). Expected quantities come from the scenario's parameters (the LPs'
share and count, the range of the pool's liquidity), and the comparison is between the two runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from _support import NETWORKS

pytestmark = pytest.mark.slow

STAY = {"agents.lps.volatility_threshold": 1e9, "agents.lps.drawdown_threshold": 0.99}


@pytest.fixture(scope="module")
def net():
    return contagion.load_network(NETWORKS / "lp_flight.yaml")


@pytest.fixture(scope="module")
def runs(net):
    """``{"flight": (simulation, result), "stay": (simulation, result)}``, seed 1."""
    out = {}
    for label, overrides in (("flight", None), ("stay", STAY)):
        sim = contagion.Simulation(net, seed=1, overrides=overrides)
        out[label] = (sim, sim.run())
    return out


def _liquidity_by_owner(sim) -> dict[str, float]:
    pool = sim.pools["uni_v3_eth_usdc"].math
    owners: dict[str, float] = {}
    for position in pool.positions.values():
        owners[position.owner] = owners.get(position.owner, 0.0) + position.liquidity
    return owners


def test_every_lp_leaves_and_the_passive_share_remains(net, runs):
    spec = net.scenario.agents["lps"]
    sim, res = runs["flight"]
    events = res.lp_events
    withdrawals = events[events["action"] == "withdraw"]
    assert sorted(withdrawals["agent"]) == sorted(f"lps#{k}" for k in range(spec.count))
    assert (events["action"] == "deposit").sum() == 0          # return_after is not set
    assert set(withdrawals["reason"].str.split("+").explode()) <= {"volatility", "drawdown"}

    # with withdraw_fraction 1, what is left is exactly the passive LPs' (1 - share)
    start = contagion.Simulation(net, seed=1)
    initial = math.fsum(_liquidity_by_owner(start).values())
    left = _liquidity_by_owner(sim)
    assert set(left) == {"passive"}
    assert left["passive"] / initial == pytest.approx(1.0 - spec.share, rel=1e-9)

    # the pool paid every LP out of its own balances: tokens are conserved
    conservation = res.manifest["conservation"]
    assert all(abs(row["error"]) <= row["bound"] for row in conservation), conservation
    sim.check()              # ledger balances of the pool == what its ticks and positions account for


def test_lps_who_stay_never_move(runs):
    sim, res = runs["stay"]
    assert res.lp_events.empty
    assert "passive" in _liquidity_by_owner(sim) and len(_liquidity_by_owner(sim)) == 21   # 20 LPs + passive


def test_flight_thins_the_pool_before_the_crash_ends(net, runs):
    """Withdrawals happen during the fall, not after it: the flight is part of the cascade."""
    _, res = runs["flight"]
    points = net.scenario.venues["cex_eth_usd"].path.points
    fall_start, fall_end = points[1][0], points[2][0]
    times = res.lp_events["time"].to_numpy()
    assert times.min() > fall_start
    assert np.median(times) < fall_end


def test_flight_deepens_the_cascade(runs):
    flight, stay = runs["flight"][1].summary(), runs["stay"][1].summary()
    pool, oracle = "uni_v3_eth_usdc", "eth_usd"
    # forced sales meet a pool a fifth as deep: they push it, and the spot oracle, further
    assert flight[f"drop.pool.{pool}"] > stay[f"drop.pool.{pool}"]
    assert flight[f"oracle_error_max.{oracle}"] > 1.5 * stay[f"oracle_error_max.{oracle}"]
    # so more generations of liquidations, more debt liquidated, more bad debt
    assert flight["cascade_depth"] > 2 * stay["cascade_depth"]
    assert flight["liquidated_debt_usd"] > 1.2 * stay["liquidated_debt_usd"]
    assert flight["liquidations"] > stay["liquidations"]
    assert flight["bad_debt_usd"] > 10 * max(stay["bad_debt_usd"], 1.0)


def test_the_pool_never_leaves_its_liquidity(net, runs):
    """The pool's lowest price stays at or above the bottom of its lowest range: a swap that would
    run out of liquidity reverts instead of dragging the price through an empty range."""
    spec = net.scenario.pools["uni_v3_eth_usdc"]
    dist = spec.distribution
    floor = spec.price * math.exp(-3 * dist.sigma - dist.width)
    for label in ("flight", "stay"):
        prices = runs[label][1].prices
        pool = prices[prices["source"] == "uni_v3_eth_usdc"]["price"]
        tick_width = 1.0001 ** 60                   # ranges are rounded outwards to the tick spacing
        assert pool.min() >= floor / tick_width, label
