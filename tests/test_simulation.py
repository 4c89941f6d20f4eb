"""The shipped minimal scenario end to end: a real cascade, determinism, conservation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.engine.ledger import Ledger
from contagion.errors import InvariantError, SimulationError
from contagion.markets.oracle import TRANSMITTER_FUNDING
from contagion.markets.venue import DEFAULT_BASE_INVENTORY
from _support import small_scenario


def scenario_numbers(net):
    """Quantities read from the scenario file itself."""
    scn = net.scenario
    points = scn.venues["cex_eth_usd"].path.points
    start = points[0][1]
    low = min(p for _, p in points)
    return scn, start, low


# --------------------------------------------------------------------------------- the cascade
def test_pool_falls_below_the_exogenous_low(minimal_net, minimal_result):
    _, start, low = scenario_numbers(minimal_net)
    assert (start, low) == (2000.0, 1300.0)
    prices = minimal_result.prices
    pool = prices[prices["source"] == "uni_eth_usdc"]["price"]
    venue = prices[prices["source"] == "cex_eth_usd"]
    assert venue["exogenous"].min() == low          # the shock itself stops at the scenario's low
    assert pool.min() < low                          # forced sales took the pool further
    assert venue["price"].min() < low                # and, through arbitrage, the venue too


def test_liquidations_come_in_generations_linked_by_sales_and_oracle_updates(minimal_result):
    liq = minimal_result.liquidations.set_index("liquidation_id")
    updates = minimal_result.oracle_updates.set_index("update_id")
    swaps = minimal_result.swaps
    assert liq["generation"].max() >= 3
    # follow one chain back from generation 3 to the shock
    child = liq[liq["generation"] == 3].iloc[0]
    chain = [child]
    while chain[-1]["generation"] > 1:
        chain.append(liq.loc[chain[-1]["parent_id"]])
    assert [int(x["generation"]) for x in chain] == [3, 2, 1]
    for later, earlier in zip(chain, chain[1:]):
        trigger = updates.loc[later["trigger_update_id"]]
        # the parent's sale moved the pool down before the update that triggered the child was observed
        sale = swaps[(swaps["tx_id"] == earlier["tx_id"]) & (swaps["market_kind"] == "pool")].iloc[0]
        assert sale["price_after"] < sale["price_before"]
        assert earlier["time"] <= trigger["observed_at"] < later["time"]
        # the child was liquidatable at the published price but not at the exogenous one
        assert later["induced"]
        assert trigger["price"] < later["liquidation_price"] <= trigger["exogenous_price"]


def test_cascade_reaches_positions_the_shock_alone_could_not(minimal_net, minimal_result):
    scn, start, low = scenario_numbers(minimal_net)
    positions = minimal_result.positions
    initial = positions[positions["snapshot"] == "initial"]
    # a position generated with health factor h at price `start` has liquidation price start / h:
    # the exogenous path alone can liquidate it only if start / h > low
    beyond = initial.loc[initial["health_factor"] >= start / low, "position"]
    assert np.allclose(initial["liquidation_price"] * initial["health_factor"], start, rtol=1e-12)
    liquidated = set(minimal_result.liquidations["position"])
    reached = liquidated & set(beyond)
    assert len(reached) > 0
    assert minimal_result.summary()["cascade_only_positions"] == len(reached)


def test_summary_headlines(minimal_result):
    s = minimal_result.summary()
    assert s["liquidations"] == len(minimal_result.liquidations) > 0
    assert s["drop.exogenous.cex_eth_usd"] == pytest.approx(1 - 1300 / 2000)
    assert s["amplification.uni_eth_usdc"] > 1
    assert s["cascade_depth"] == minimal_result.liquidations["generation"].max()
    assert s["protocols_infected"] == 1
    assert 0 < s["induced_share"] < 1


# ------------------------------------------------------------------------------- determinism
def test_same_seed_same_results_other_seed_different(minimal_net, minimal_result):
    again = contagion.run(minimal_net, seed=1)
    pd.testing.assert_frame_equal(again.liquidations, minimal_result.liquidations)
    pd.testing.assert_frame_equal(again.prices, minimal_result.prices)
    other = contagion.run(minimal_net, seed=2)
    assert not other.liquidations.equals(minimal_result.liquidations)


def test_seed_defaults_to_the_scenario(minimal_net):
    sim = contagion.Simulation(minimal_net)
    assert sim.seed == minimal_net.scenario.seed == 1


def test_run_continues_and_rejects_going_back():
    sim = contagion.Simulation(contagion.Network.from_dict(small_scenario()), seed=0)
    first = sim.run(300)
    second = sim.run(600)
    assert first.blocks["time"].max() == 300 and second.blocks["time"].max() == 600
    with pytest.raises(SimulationError, match="already at t=600"):
        sim.run(600)


# ------------------------------------------------------------------------------- conservation
def test_tokens_are_conserved_through_the_whole_run(minimal_net):
    sim = contagion.Simulation(minimal_net, seed=1, check_invariants=True)
    res = sim.run()
    scn = minimal_net.scenario
    initial = res.positions[res.positions["snapshot"] == "initial"]
    keepers, arb = scn.agents["keepers"], scn.agents["arbitrageur"]
    lend, pool = scn.protocols["lend"], scn.pools["uni_eth_usdc"]
    start = scn.venues["cex_eth_usd"].path.points[0][1]
    expected = {
        "ETH": pool.reserves[0] + keepers.count * keepers.inventory["ETH"] + arb.inventory["ETH"]
        + DEFAULT_BASE_INVENTORY + TRANSMITTER_FUNDING + initial["collateral"].sum(),
        "USDC": pool.reserves[1] + keepers.count * keepers.inventory["USDC"] + arb.inventory["USDC"]
        + DEFAULT_BASE_INVENTORY * start + lend.liquidity + lend.positions.total_debt,
    }
    for asset, total in expected.items():
        assert sim.ledger.total(asset) == pytest.approx(total, rel=1e-13)
    for row in res.manifest["conservation"]:
        assert abs(row["error"]) <= row["bound"]
    # ... and a lot moved: keepers paid gas in ETH, sold collateral, and ended with more USDC
    keeper_usdc = sum(sim.ledger.balance(k.account, "USDC") for k in sim.agents["keepers"])
    assert keeper_usdc > keepers.count * keepers.inventory["USDC"]
    assert sim.ledger.balance("producer:ethereum", "ETH") > 0


def test_a_leak_is_caught_after_the_block(monkeypatch):
    original = Ledger.transfer

    def leaky(self, src, dst, asset, amount):
        original(self, src, dst, asset, amount)
        if src.startswith("pool:"):
            self._bal[self._account_ix[dst]][self._asset_ix[asset]] += 1e-3  # tokens from nowhere

    monkeypatch.setattr(Ledger, "transfer", leaky)
    sim = contagion.Simulation(contagion.Network.from_dict(small_scenario()), seed=0, check_invariants=True)
    with pytest.raises(InvariantError, match="token conservation violated"):
        sim.run()


def test_overrides_change_the_run(minimal_net):
    sim = contagion.Simulation(minimal_net, seed=1, overrides={"agents.keepers.count": 2})
    assert len(sim.agents["keepers"]) == 2
    assert sim.net.overrides == {"agents.keepers.count": 2}
