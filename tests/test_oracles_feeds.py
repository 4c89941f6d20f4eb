"""Spot and pull oracles, observation latency, staleness guards, and the oracle timing table."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.markets.oracles import SignedPrice
from _support import small_scenario

BLOCK = 12.0


def near_book(data: dict, count: int = 100, low: float = 1.01, high: float = 1.2) -> dict:
    data["protocols"]["lend"]["positions"]["count"] = count
    data["protocols"]["lend"]["positions"]["health_factor"] = {"distribution": "uniform", "low": low, "high": high}
    return data


def fund(sim, account: str, eth: float = 10_000.0, usdc: float = 10_000_000.0) -> str:
    sim.ledger.add_account(account, "test")
    sim.ledger.mint(account, "ETH", eth)
    sim.ledger.mint(account, "USDC", usdc)
    return account


def submit_at(sim, when: float, sender: str, action, kind: str = "test", gas_price: float = 100.0):
    """Submit a transaction at ``when``; returns a dict that will hold it."""
    box = {}

    def go():
        yield sim.env.timeout(when - sim.env.now)
        box["tx"] = sim.chains["ethereum"].submit(sender=sender, agent_type="test", kind=kind, gas_used=500_000,
                                                  gas_price=gas_price, action=action)

    sim.env.process(go())
    return box


# ------------------------------------------------------------------------------------------ spot
def spot_sim():
    data = near_book(small_scenario())
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"]["points"] = [[0, 2000]]
    data["oracles"]["eth_spot"] = {"kind": "spot", "asset": "ETH", "pool": "uni_eth_usdc"}
    data["protocols"]["lend"]["oracles"]["ETH"] = "eth_spot"
    return contagion.Simulation(contagion.Network.from_dict(data), seed=3)


def test_a_swap_then_a_liquidation_in_one_transaction_sees_the_swapped_price():
    sim = spot_sim()
    lend, pool = sim.protocols["lend"], sim.pools["uni_eth_usdc"]
    me = fund(sim, "manipulator")
    healthy_before = lend.liquidatable_ids().size
    seen = {}

    def manipulate_and_liquidate(block):
        pool.swap(me, "ETH", 200.0, 0.0, "test")       # 2000 ETH pool: the price falls ~17 %
        seen["price"] = pool.price()
        target = int(lend.liquidatable_ids()[0])
        seen["target"] = target
        return lend.liquidate(me, target, 1e12, me)

    box = submit_at(sim, 30.0, me, manipulate_and_liquidate)
    res = sim.run(60.0)
    tx = box["tx"]
    assert healthy_before == 0 and tx.status == "included"
    liq = res.liquidations.iloc[0]
    assert liq["tx_id"] == tx.tx_id and liq["position"] == seen["target"]
    x, y = 2000.0, 4_000_000.0                          # the pool's reserves; 0.3 % fee stays in the pool
    assert liq["price"] == seen["price"] == pytest.approx(y * x / (x + 200 * 0.997) / (x + 200), rel=1e-12)
    # the trigger is the spot update published inside the same transaction, after the swap
    up = res.oracle_updates.set_index("update_id").loc[liq["trigger_update_id"]]
    assert up["oracle"] == "eth_spot" and up["reason"] == "spot" and up["tx_id"] == tx.tx_id
    assert up["price"] == seen["price"]


def test_a_later_transaction_of_the_same_block_sees_the_swapped_price_too():
    sim = spot_sim()
    lend, pool = sim.protocols["lend"], sim.pools["uni_eth_usdc"]
    me = fund(sim, "manipulator")
    a = submit_at(sim, 30.0, me, lambda b: pool.swap(me, "ETH", 200.0, 0.0, "test"), gas_price=200.0)
    b = submit_at(sim, 31.0, me, lambda b: lend.liquidate(me, int(lend.liquidatable_ids()[0]), 1e12, me))
    res = sim.run(60.0)
    assert a["tx"].block == b["tx"].block and a["tx"].status == b["tx"].status == "included"
    assert res.liquidations["price"].iloc[0] == res.swaps["price_after"].iloc[0]


def test_a_spot_oracle_publishes_after_every_swap():
    data = small_scenario()
    data["oracles"]["eth_spot"] = {"kind": "spot", "asset": "ETH", "pool": "uni_eth_usdc"}
    res = contagion.run(contagion.Network.from_dict(data), seed=1, until=600)
    spot = res.oracle_updates[(res.oracle_updates["oracle"] == "eth_spot") & (res.oracle_updates["reason"] == "spot")]
    swaps = res.swaps[res.swaps["market"] == "uni_eth_usdc"]
    assert len(spot) == len(swaps) > 0
    assert spot["tx_id"].tolist() == swaps["tx_id"].tolist()
    assert spot["price"].to_numpy() == pytest.approx(swaps["price_after"].to_numpy(), rel=1e-12)


# ------------------------------------------------------------------------------------------ pull
FALL = [[0, 2000], [60, 2000], [660, 1800], [1200, 1800]]


def pull_scenario(agents=True, **pull) -> dict:
    data = near_book(small_scenario())
    data["venues"]["cex_eth_usd"]["path"]["points"] = FALL
    data["oracles"]["eth_pull"] = {"kind": "pull", "chain": "ethereum", "asset": "ETH", "sources": ["cex_eth_usd"],
                                   "interval": "1s", "max_age": "30s", **pull}
    data["protocols"]["lend"]["oracles"]["ETH"] = "eth_pull"
    if not agents:
        data["agents"] = {}
    return data


def test_pull_prices_change_only_when_a_transaction_brings_them():
    sim = contagion.Simulation(contagion.Network.from_dict(pull_scenario(agents=False)), seed=1)
    res = sim.run(900)
    pull = sim.oracles["eth_pull"]
    ups = res.oracle_updates[res.oracle_updates["oracle"] == "eth_pull"]
    assert ups["reason"].tolist() == ["genesis"] and sim.protocols["lend"].ratio == 2000.0
    # meanwhile the signed prices followed the venue, one per second
    signed = pull.newest_signed()
    assert signed.publish_time == signed.signed_at == 900.0 and signed.price == 1800.0
    assert pull.age(900.0) == 900.0


def test_keepers_bundle_the_newest_signed_price_with_each_liquidation():
    res = contagion.run(contagion.Network.from_dict(pull_scenario()), seed=1, until=900)
    ups = res.oracle_updates[(res.oracle_updates["oracle"] == "eth_pull") & (res.oracle_updates["reason"] == "pull")]
    tx = res.transactions.set_index("tx_id")
    liq = res.liquidations
    assert len(liq) > 0 and len(ups) > 0
    # every stored price came with a liquidation transaction, which liquidated in the same transaction
    assert (tx.loc[ups["tx_id"], "kind"] == "liquidation").all()
    assert set(ups["tx_id"]) <= set(liq["tx_id"])
    # the price a liquidation used is the latest stored one, at most max_age old at inclusion
    for _, row in liq.iterrows():
        latest = ups[ups["published_at"] <= row["time"]].iloc[-1]
        assert row["price"] == latest["price"]
        assert row["time"] - latest["observed_at"] <= 30.0
    # the bundled update's gas is paid: liquidation transactions use more gas than without it
    gas = tx.loc[liq["tx_id"].unique(), "gas_used"]
    assert (gas >= 300_000 + 150_000).all()


def test_a_signed_price_older_than_max_age_makes_the_liquidation_revert():
    sim = contagion.Simulation(contagion.Network.from_dict(pull_scenario(agents=False)), seed=1)
    lend, pull = sim.protocols["lend"], sim.oracles["eth_pull"]
    me = fund(sim, "liquidator")
    sim.advance(600.0)
    target = int(lend.liquidatable_ids(1800.0)[0])    # liquidatable at 1800, not at the stored 2000

    def bundle(publish_time):
        signed = SignedPrice("eth_pull", 1800.0, 1800.0, publish_time, publish_time)

        def action(block):
            pull.push(signed)
            return lend.liquidate(me, target, 1e12, me)
        return action

    # included at 612: a price published at 581 is 31 s old (max_age 30 s), one published at 590 is 22 s old
    old = submit_at(sim, 605.0, me, bundle(581.0))
    sim.advance(612.0)
    assert old["tx"].status == "reverted"
    assert old["tx"].revert_reason == ("lend: stale price: eth_pull's price was published 31s ago "
                                       "(max_age 30s)")
    assert pull.publish_time == 0.0                        # the update was reverted with the liquidation
    fresh = submit_at(sim, 615.0, me, bundle(602.0))
    res = sim.run(625.0)
    assert fresh["tx"].status == "included" and pull.publish_time == 602.0
    assert res.liquidations["position"].tolist() == [target]
    assert res.summary()["stale_reverts.lend"] == 1


def test_keepers_send_nothing_with_prices_that_are_stale_already():
    # signed prices are 45 s old when signed (observation latency): any liquidation would revert
    res = contagion.run(contagion.Network.from_dict(pull_scenario(observation_latency="45s")), seed=1, until=900)
    assert res.liquidations.empty
    assert not (res.transactions["kind"] == "liquidation").any()


# --------------------------------------------------------------------------------- staleness guard
STEP = [[0, 2000], [100, 2000], [101, 1800], [1200, 1800]]
MAX_AGE = 30.0


def guarded(max_age=MAX_AGE, agents=True) -> dict:
    data = near_book(small_scenario(), count=300)
    data["venues"]["cex_eth_usd"]["path"]["points"] = STEP
    del data["agents"]["arbitrageur"]
    data["agents"]["keepers"].update(count=2, max_liquidations_per_block=3)  # several blocks of work
    if not agents:
        data["agents"] = {}
    if max_age is not None:
        data["protocols"]["lend"]["max_oracle_age"] = max_age
    return data


def test_liquidations_revert_while_the_oracle_is_stale():
    res = contagion.run(contagion.Network.from_dict(guarded()), seed=1, until=600)
    ups = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"]
    last = ups.iloc[-1]
    # the step is reported once: observed at 105, published in the block at 108; nothing after
    assert last["price"] == 1800.0 and last["published_at"] == 108.0 and len(ups) == 2
    liq = res.liquidations
    assert len(liq) > 0 and (liq["time"] - last["published_at"] <= MAX_AGE).all()
    # transactions sent while the answer was fresh and included once it was stale reverted
    tx = res.transactions[res.transactions["kind"] == "liquidation"]
    stale = tx[tx["revert_reason"].str.contains("stale oracle", na=False)]
    assert len(stale) > 0 and (stale["included_at"] - last["published_at"] > MAX_AGE).all()
    assert stale["revert_reason"].iloc[0].startswith("lend: stale oracle: eth_usd's answer is 36s old")
    assert res.summary()["stale_reverts.lend"] == len(stale)
    # keepers stop sending once the answer is already stale
    assert (tx["submitted_at"] - last["published_at"] <= MAX_AGE).all()


def test_without_the_guard_the_same_keepers_liquidate_later_too():
    guarded_run = contagion.run(contagion.Network.from_dict(guarded()), seed=1, until=600)
    free = contagion.run(contagion.Network.from_dict(guarded(max_age=None)), seed=1, until=600)
    assert len(free.liquidations) > len(guarded_run.liquidations)
    assert (free.liquidations["time"] - 108.0 > MAX_AGE).any()


# -------------------------------------------------------------------------- observation latency
def test_push_reports_the_sources_price_observation_latency_ago():
    data = small_scenario(**{"oracles.eth_usd.observation_latency": "30s"})
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"]["points"] = FALL
    res = contagion.run(contagion.Network.from_dict(data), seed=1, until=900)
    ups = res.oracle_updates[(res.oracle_updates["oracle"] == "eth_usd") & (res.oracle_updates["reason"] != "genesis")]
    assert len(ups) > 5
    times, prices = zip(*FALL)
    # each report is the venue's (exogenous) price at a round time (multiples of 5 s) ...
    assert (ups["observed_at"] % 5.0 == 0).all()
    assert ups["price"].to_numpy() == pytest.approx(np.interp(ups["observed_at"], times, prices), rel=1e-12)
    # ... sampled at the latest round at or before the report's round minus 30 s
    delay = ups["submitted_at"] - ups["observed_at"]
    assert (delay >= 30.0).all() and (delay < 35.0).all()
    assert (ups["lag"] >= 30.0).all()


# ------------------------------------------------------------------------------- timing table
def test_oracle_lag_table_compares_answers_with_the_reference_venue():
    res = contagion.run(contagion.Network.from_dict(guarded(agents=False)), seed=1, until=300)
    lag = res.oracle_lag
    assert set(lag["oracle"]) == {"eth_usd"}                     # usdc_usd (fixed) has no reference venue
    assert len(lag) == len(res.blocks)
    times, prices = zip(*STEP)
    mid = np.interp(np.floor(lag["time"]), times, prices)          # no agents: the venue's mid is the path
    assert lag["reference"].to_numpy() == pytest.approx(mid, rel=1e-12)
    assert lag["error"].to_numpy() == pytest.approx(lag["answer"].to_numpy() / mid - 1.0, rel=1e-9, abs=1e-15)
    ups = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"]
    last_pub = np.array([ups[ups["published_at"] <= t]["published_at"].max() for t in lag["time"]])
    assert lag["age"].to_numpy() == pytest.approx(lag["time"].to_numpy() - last_pub)
    # block 108 still shows the old answer against the new price; the summary reads the same table
    row = lag.set_index("time").loc[96.0]
    assert row["error"] == 0.0
    assert lag.set_index("time").loc[108.0, "error"] == 0.0
    s = res.summary()
    assert s["oracle_venue_error_max.eth_usd"] == pytest.approx(lag["error"].abs().max())
    assert s["oracle_age_max_s.eth_usd"] == lag["age"].max()
    assert math.isclose(s["oracle_lag_s.eth_usd"], 108.0 - 105.0)
