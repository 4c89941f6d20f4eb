"""The lending market in a run: liquidation arithmetic, triggers, provenance, bad debt, reverts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.engine.chain import Revert
from _support import small_scenario

HF = {"distribution": "lognormal", "median": 1.12, "sigma": 0.08, "low": 1.02, "high": 2.0}
LT, CF, BONUS = 0.825, 0.5, 0.05


@pytest.fixture(scope="module")
def run():
    data = small_scenario(**{"protocols.lend.positions.health_factor": HF})
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0, check_invariants=True)
    return sim, sim.run()


def first_liquidations(res) -> pd.DataFrame:
    return res.liquidations.sort_values("liquidation_id").drop_duplicates("position", keep="first")


def test_liquidations_happen_and_follow_the_fixed_spread_rule(run):
    _, res = run
    liq = res.liquidations
    assert len(liq) >= 10
    debt_before = liq["repaid"] + liq["debt_left"]
    coll_before = liq["seized"] + liq["collateral_left"]
    assert np.all(liq["health_factor"] < 1.0)
    # health factor at liquidation = collateral * price * lt / debt
    assert np.allclose(liq["health_factor"], coll_before * liq["price"] * LT / debt_before, rtol=1e-12)
    uncapped = liq["collateral_left"] > 0
    # close factor: at most half the debt per call (no full-close rule in this scenario)
    assert np.all(liq["repaid"] <= CF * debt_before * (1 + 1e-12))
    # bonus: seized collateral is worth (1 + bonus) x repaid at the oracle price
    assert np.allclose(liq.loc[uncapped, "seized"], liq.loc[uncapped, "repaid"] * (1 + BONUS) / liq.loc[uncapped, "price"],
                       rtol=1e-12)


def test_trigger_is_the_first_update_below_the_liquidation_price(run):
    _, res = run
    updates = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"].sort_values("update_id")
    initial = res.positions[res.positions["snapshot"] == "initial"].set_index("position")
    for _, row in first_liquidations(res).iterrows():
        key = initial.loc[row["position"], "liquidation_price"]
        assert row["liquidation_price"] == pytest.approx(key, rel=1e-12)   # untouched before
        below = updates[updates["price"] < key]
        assert row["trigger_update_id"] == below["update_id"].iloc[0]
        trigger = below.iloc[0]
        assert row["induced"] == (key <= trigger["exogenous_price"])
        assert row["time"] >= trigger["published_at"]


def test_every_liquidation_points_to_a_published_update(run):
    _, res = run
    assert set(res.liquidations["trigger_update_id"]) <= set(res.oracle_updates["update_id"])


def test_liquidation_sale_is_in_the_same_transaction(run):
    _, res = run
    sales = res.swaps[res.swaps["agent_type"] == "keeper"].set_index("tx_id")
    for _, row in res.liquidations.iterrows():
        sale = sales.loc[row["tx_id"]]
        assert sale["asset_in"] == "ETH" and sale["amount_in"] == row["seized"]
        assert sale["price_after"] < sale["price_before"]


def test_protocol_accounts_match_the_book(run):
    sim, res = run
    protocol = sim.protocols["lend"]
    assert sim.ledger.balance(protocol.account, "ETH") == pytest.approx(protocol.collateral.sum(), rel=1e-12)
    repaid = res.liquidations["repaid"].sum()
    assert protocol.total_debt == pytest.approx(1_500_000 - repaid, rel=1e-12)
    # what keepers repaid arrived in the protocol's account
    liquidity = sim.scenario.protocols["lend"].liquidity
    assert sim.ledger.balance(protocol.account, "USDC") == pytest.approx(liquidity + repaid, rel=1e-12)


def test_liquidating_a_healthy_position_reverts(run):
    sim, _ = run
    protocol = sim.protocols["lend"]
    healthy = int(np.argmax(protocol.health_factors()))
    assert protocol.health_factors()[healthy] > 1.0
    sim.ledger.add_account("tester", "test")
    sim.ledger.mint("tester", "USDC", 1e6)
    with pytest.raises(Revert, match="is healthy"):
        protocol.liquidate("tester", healthy, 1e6, "tester")
    with pytest.raises(Revert, match="no position"):
        protocol.liquidate("tester", 10_000, 1e6, "tester")


def test_a_gap_down_leaves_bad_debt():
    # the venue gaps 35% down at once: positions near HF 1.05 end with collateral worth less than debt
    data = small_scenario(**{"protocols.lend.positions.health_factor": HF})
    data["venues"]["cex_eth_usd"]["path"]["points"] = [[0, 2000], [60, 2000], [61, 1300], [1200, 1300]]
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0, check_invariants=True)
    res = sim.run()
    liq = res.liquidations
    emptied = liq[liq["collateral_left"] == 0]
    assert len(emptied) > 0
    # capped seizures: repay = collateral x price / (1 + bonus)
    assert np.allclose(emptied["repaid"], emptied["seized"] * emptied["price"] / (1 + BONUS), rtol=1e-12)
    protocol = sim.protocols["lend"]
    written_off = emptied.drop_duplicates("position", keep="last")["debt_left"].sum()
    assert protocol.written_off == pytest.approx(written_off, rel=1e-12)
    assert res.summary()["bad_debt_usd"] >= written_off
