"""Sale routing: a keeper's seized collateral split across pools and venues by marginal price.

Expected allocations come from closed forms: two constant-product pools at the same price with
the same fee are split in proportion to their reserves (equal marginal output), and a greedy
split in ``n`` slices is within one slice of it. Keeper runs are checked against the scenario's
own parameters (delays, markets named in ``sell_into``).
"""

from __future__ import annotations

import numpy as np
import pytest

import contagion
from contagion.agents.routing import SaleRouter
from _support import small_scenario

TWO_POOLS = {
    "deep": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "USDC"],
             "reserves": [3000, 6_000_000], "fee": 0.003},
    "shallow": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "USDC"],
                "reserves": [1000, 2_000_000], "fee": 0.003},
}


def make_sim(keepers=None, **changes):
    data = small_scenario(**changes)
    data["pools"].update(TWO_POOLS)
    if keepers is not None:
        data["agents"]["keepers"].update(keepers)
    return contagion.Simulation(contagion.Network.from_dict(data), seed=0)


def test_greedy_split_is_proportional_to_depth_for_equal_prices():
    sim = make_sim()
    router = SaleRouter([sim.pools["deep"], sim.pools["shallow"]], "ETH", "USDC")
    amount, slices = 400.0, 40
    alloc, total = router.plan(amount, "greedy", slices)
    # equal marginal output: x_i / R_i equal, so 3/4 of the sale goes to the pool 3x deeper
    assert alloc["deep"] == pytest.approx(0.75 * amount, abs=amount / slices)
    assert sum(alloc.values()) == pytest.approx(amount, rel=1e-12)
    # the plan's total is what the two sales pay, and no other split of the slices pays more
    paid = sim.pools["deep"].quote("ETH", alloc["deep"]) + sim.pools["shallow"].quote("ETH", alloc["shallow"])
    assert total == pytest.approx(paid, rel=1e-12)
    piece = amount / slices
    for k in range(slices + 1):
        other = (sim.pools["deep"].quote("ETH", k * piece) if k else 0.0) + \
                (sim.pools["shallow"].quote("ETH", amount - k * piece) if k < slices else 0.0)
        assert other <= total * (1 + 1e-12)
    first, first_total = router.plan(amount, "first")
    assert first == {"deep": amount} and first_total < total


def test_plans_are_priced_after_pending_and_committed_sales():
    sim = make_sim()
    pool = sim.pools["shallow"]
    router = SaleRouter([pool], "ETH", "USDC")
    alone = router.output(pool, 10.0)
    router.add_pending("shallow", 50.0)
    after_pending = router.output(pool, 10.0)
    assert after_pending == pytest.approx(pool.quote_sequence("ETH", [50.0, 10.0])[1], rel=1e-12)
    assert after_pending < alone
    router.commit({"shallow": 20.0})
    assert router.output(pool, 10.0) == pytest.approx(pool.quote_sequence("ETH", [70.0, 10.0])[1], rel=1e-12)
    router.add_pending("not_a_market", 1e9)          # sales into other markets do not matter here
    assert router.output(pool, 10.0) == pytest.approx(pool.quote_sequence("ETH", [70.0, 10.0])[1], rel=1e-12)


def test_a_venue_is_priced_by_its_impact_model():
    sim = make_sim()
    venue, pool = sim.venues["cex_eth_usd"], sim.pools["shallow"]
    router = SaleRouter([pool, venue], "ETH", "USDC")
    m, k = venue.mid(), venue.permanent_impact + venue.temporary_impact
    q = 30.0
    assert router.output(venue, q) == pytest.approx(q * m * (1 - k * q / 2), rel=1e-12)
    router.commit({venue.name: 20.0})
    # the second sale walks the book from where the first left it
    assert router.output(venue, q) == pytest.approx(50 * m * (1 - k * 50 / 2) - 20 * m * (1 - k * 20 / 2), rel=1e-9)


def test_keepers_route_across_a_pool_and_a_venue():
    keepers = {"sell_into": ["uni_eth_usdc", "cex_eth_usd"], "routing": "greedy", "route_slices": 8,
               "venue_delay": 30}
    sim = make_sim(keepers)
    res = sim.run()
    sales = res.swaps[res.swaps["agent_type"] == "keeper"]
    assert set(sales["market"]) == {"uni_eth_usdc", "cex_eth_usd"}
    liq = res.liquidations.set_index("tx_id")
    tx = res.transactions.set_index("tx_id")
    on_venue = sales[sales["market"] == "cex_eth_usd"]
    on_pool = sales[sales["market"] == "uni_eth_usdc"]
    # pool sales are in the liquidation's transaction; venue sales follow its inclusion by venue_delay
    assert set(on_pool["tx_id"]) <= set(liq.index)
    assert (on_venue["tx_id"] == -1).all()
    included = np.sort(tx.loc[liq.index.unique(), "included_at"].to_numpy())
    for t in on_venue["time"]:
        assert np.any(np.isclose(included + 30.0, t))
    # each liquidation's seized collateral is sold in full: the pool and venue parts add up
    seized = res.liquidations.groupby("keeper")["seized"].sum()
    sold = sales.groupby("trader")["amount_in"].sum()
    assert sold.reindex(seized.index).to_numpy() == pytest.approx(seized.to_numpy(), rel=1e-9)
    sim.check()


def test_sell_into_ignores_markets_of_another_pair():
    data = small_scenario()
    data["assets"]["WBTC"] = {"chain": "ethereum", "kind": "wrapped"}
    data["pools"]["btc_pool"] = {"kind": "constant_product", "chain": "ethereum", "assets": ["WBTC", "USDC"],
                                 "reserves": [100, 6_000_000]}
    data["agents"]["keepers"]["sell_into"] = ["btc_pool", "uni_eth_usdc"]
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    keeper = sim.agents["keepers"][0]
    assert [m.name for m in keeper.routes(sim.protocols["lend"], "ETH", "USDC")] == ["uni_eth_usdc"]


def test_sell_into_must_name_markets():
    data = small_scenario()
    data["agents"]["keepers"]["sell_into"] = ["uni_eth_usdc", "nowhere"]
    with pytest.raises(contagion.ScenarioError, match=r"agents\.keepers\.sell_into\[1\]: must name a pool or a venue"):
        contagion.Network.from_dict(data)
