"""Borrowers who defend their positions: top-ups and repayments through the mempool."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import contagion
from _support import NETWORKS, small_scenario

HF = {"distribution": "lognormal", "median": 1.12, "sigma": 0.08, "low": 1.02, "high": 2.0}
LT = 0.825


def run(seed=0, **owners):
    data = small_scenario(**{"protocols.lend.positions.health_factor": HF})
    data["agents"]["owners"] = {"kind": "borrowers", "watches": ["lend"], "inventory": {"ETH": 10_000, "USDC": 1e7},
                                "gas_price": 100, "reaction_latency": 5, **owners}
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=seed, check_invariants=True)
    return sim, sim.run()


def test_attentive_owners_restore_the_target_health_factor():
    sim, res = run(probability=1.0, top_up_share=0.5, target_health_factor=1.5, trigger_health_factor=1.1)
    acts = res.borrower_actions
    assert len(acts) > 20 and set(acts["action"]) == {"top_up", "repay"}
    assert (acts["health_factor_before"] < 1.1).all()
    assert acts["health_factor_after"].to_numpy() == pytest.approx(np.full(len(acts), 1.5), rel=1e-9)
    assert (acts.loc[acts["action"] == "top_up", "asset"] == "ETH").all()
    assert (acts.loc[acts["action"] == "repay", "asset"] == "USDC").all()
    # what the owners paid is what the protocol received
    market = sim.protocols["lend"]
    gas = res.transactions.loc[res.transactions["sender"] == "owners#0", "fee_native"].sum()
    paid_eth = 10_000 - sim.ledger.balance("owners#0", "ETH") - gas
    paid_usdc = 1e7 - sim.ledger.balance("owners#0", "USDC")
    assert paid_eth == pytest.approx(acts.loc[acts["action"] == "top_up", "amount"].sum(), rel=1e-12)
    assert paid_usdc == pytest.approx(acts.loc[acts["action"] == "repay", "amount"].sum(), rel=1e-12)
    assert market.collateral.sum() == pytest.approx(sim.ledger.balance(market.account, "ETH"), rel=1e-12)


def test_defended_book_is_liquidated_less_than_an_undefended_one():
    _, idle = run(probability=0.0)
    _, defended = run(probability=1.0)
    assert idle.borrower_actions.empty and len(idle.liquidations) > 20
    assert len(defended.liquidations) < len(idle.liquidations) / 4


def test_attention_is_drawn_once_per_position():
    sim, res = run(probability=0.3)
    owners = sim.agents["owners"][0]
    attentive = owners.attentive["lend"]
    assert abs(attentive.mean() - 0.3) < 4 * (0.3 * 0.7 / attentive.size) ** 0.5
    assert set(res.borrower_actions["position"]) <= set(np.flatnonzero(attentive))


def test_out_of_funds_owners_revert_and_pay_gas():
    _, res = run(probability=1.0, top_up_share=0.0, inventory={"ETH": 1.0, "USDC": 5_000})
    tx = res.transactions[res.transactions["agent_type"] == "borrower"]
    reverted = tx[tx["status"] == "reverted"]
    assert len(reverted) > 0 and reverted["revert_reason"].str.contains("no USDC left").all()
    assert (reverted["fee_native"] > 0).all()
    assert res.borrower_actions["amount"].sum() == pytest.approx(5_000, rel=1e-12)   # all of it went in
    # owners stop sending what they could not pay gas for
    assert tx["fee_native"].sum() <= 1.0 and (tx["status"] != "dropped").all()


def test_congestion_prices_out_the_top_ups():
    """On congestion.yaml, owners bidding 40 gwei save their positions when blocks are calm and
    lose them when the base fee runs above their bid."""
    data = yaml.safe_load((NETWORKS / "congestion.yaml").read_text())
    data["agents"]["owners"] = {"kind": "borrowers", "watches": ["lend"], "inventory": {"ETH": 1e6},
                                "probability": 1.0, "top_up_share": 1.0, "gas_price": 40,
                                "trigger_health_factor": 1.15, "reaction_latency": 12}
    net = contagion.Network.from_dict(data, base_dir=NETWORKS)
    calm = contagion.run(net, seed=1, overrides={"chains.ethereum.background.rate": 0})
    busy = contagion.run(net, seed=1)
    # the base fee spent a long stretch above the owners' bid, and none of them got in meanwhile
    blocks = busy.blocks
    priced_out = blocks.loc[blocks["base_fee"] > 40, "block"]
    assert len(priced_out) > 30 and calm.blocks["base_fee"].max() < 40
    tx = busy.transactions[busy.transactions["agent_type"] == "borrower"]
    assert not tx["block"].isin(priced_out).any()
    assert len(calm.borrower_actions) > 0
    assert len(busy.liquidations) > 5 * max(len(calm.liquidations), 1)
