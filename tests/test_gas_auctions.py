"""Gas auctions between keepers (fixed, share of profit, public PGA, sealed bids) and flash loans.

One position becomes liquidatable when the oracle reports a 10 % fall; with a close factor of 1
the first liquidation takes all of it, so every other attempt must fail. Expected bids come from
the strategies' rules applied to the numbers in the run's own tables (profit, gas used).
"""

from __future__ import annotations

import pytest

import contagion
from contagion.engine.chain import GWEI
from _support import small_scenario


def one_position(mempool="public", keepers=None, until="4min"):
    data = small_scenario(until=until)
    data["chains"]["ethereum"]["mempool"] = mempool
    data["venues"]["cex_eth_usd"]["path"]["points"] = [[0, 2000], ["30s", 2000], ["31s", 1800], ["10min", 1800]]
    lend = data["protocols"]["lend"]
    lend["close_factor"] = 1.0
    lend["positions"] = {"kind": "generated", "count": 1, "total_debt": 100_000, "debt_sigma": 0,
                         "health_factor": {"distribution": "uniform", "low": 1.05, "high": 1.06}}
    data["agents"] = keepers
    return contagion.Network.from_dict(data)


def keeper(**changes):
    return {"kind": "keeper", "count": 1, "watches": ["lend"], "inventory": {"ETH": 10, "USDC": 1_000_000},
            "reaction_latency": 0.5, "latency_jitter": 0.0, **changes}


def test_pga_winner_outbids_the_loser_who_pays_for_the_failed_attempt():
    net = one_position(keepers={"alice": keeper(gas_strategy="pga", gas_price=20),
                                "bob": keeper(gas_strategy="pga", gas_price=20, reaction_latency=0.7)})
    res = contagion.run(net, seed=0)
    tx = res.transactions[res.transactions["kind"] == "liquidation"]
    final = tx[tx["status"].isin(["included", "reverted"])].set_index("sender")
    assert set(final.index) == {"alice#0", "bob#0"}
    won = final[final["status"] == "included"].iloc[0]
    lost = final[final["status"] == "reverted"].iloc[0]
    assert won["gas_price"] > lost["gas_price"] and won["block"] == lost["block"]
    assert lost["fee_native"] > 0
    assert lost["fee_native"] == pytest.approx(lost["gas_used"] * lost["gas_price"] * GWEI, rel=1e-12)
    # the auction went through replacements, each at least pga_increment above the rival's bid
    replaced = tx[tx["status"] == "replaced"]
    assert len(replaced) >= 2 and (replaced["fee_native"] == 0).all()
    bids = tx.sort_values("submitted_at")[["sender", "max_fee"]].to_numpy()
    assert bids[0][1] == bids[1][1] == 20.0                     # both open with the fixed bid
    for (s0, b0), (s1, b1) in zip(bids[1:], bids[2:]):         # then each answer outbids the last
        if s1 != s0:
            assert b1 >= b0 * 1.125 * (1 - 1e-12)
    # nobody bid beyond break-even: gas stays below the liquidation's profit
    liq = res.liquidations.iloc[0]
    sale = res.swaps.loc[res.swaps["tx_id"] == won["tx_id"], "amount_out"].sum()
    profit_native = (sale - liq["repaid"]) / 1800.0
    assert won["gas_used"] * won["gas_price"] * GWEI < profit_native


def test_sealed_bids_the_best_wins_and_the_loser_pays_nothing():
    net = one_position("sealed", keepers={"alice": keeper(gas_strategy="sealed_bid", profit_fraction=0.6),
                                          "bob": keeper(gas_strategy="sealed_bid", profit_fraction=0.3)})
    res = contagion.run(net, seed=0)
    tx = res.transactions[res.transactions["kind"] == "liquidation"].set_index("sender")
    assert set(tx["status"]) == {"included", "dropped"}
    assert tx.loc["alice#0", "status"] == "included" and tx.loc["bob#0", "status"] == "dropped"
    assert tx.loc["bob#0", "fee_native"] == 0 and "would revert" in tx.loc["bob#0", "revert_reason"]
    # bids are the share of the expected profit: their ratio is the ratio of the shares
    assert tx.loc["alice#0", "max_fee"] / tx.loc["bob#0", "max_fee"] == pytest.approx(2.0, rel=1e-6)
    assert (res.transactions["status"] != "replaced").all()


def test_pga_in_public_but_fixed_bidders_skip_what_others_target():
    net = one_position(keepers={"alice": keeper(gas_price=50), "bob": keeper(gas_price=40, reaction_latency=0.7)})
    res = contagion.run(net, seed=0)
    tx = res.transactions[res.transactions["kind"] == "liquidation"]
    assert list(tx["sender"]) == ["alice#0"] and tx["status"].iloc[0] == "included"


def test_fraction_of_profit_bid():
    net = one_position(keepers={"alice": keeper(gas_strategy="fraction_of_profit", profit_fraction=0.25)})
    res = contagion.run(net, seed=0)
    tx = res.transactions[res.transactions["kind"] == "liquidation"].iloc[0]
    liq = res.liquidations.iloc[0]
    sale = res.swaps.loc[res.swaps["tx_id"] == tx["tx_id"], "amount_out"].sum()
    eth_usd = res.oracle_updates.loc[res.oracle_updates["oracle"] == "eth_usd", "price"].iloc[-1]
    # 25 % of the quoted profit, converted to gwei per gas; the quote was made before inclusion
    expected = 0.25 * (sale - liq["repaid"]) / eth_usd / (tx["gas_used"] * GWEI)
    assert tx["gas_price"] == pytest.approx(expected, rel=1e-3)


def test_flash_loan_funds_a_keeper_without_capital():
    flash = {"fee": 0.0009, "liquidity": {"USDC": 10_000_000}}
    poor = keeper(inventory={"ETH": 10}, flash_loan=flash)
    res = contagion.run(one_position(keepers={"alice": poor}), seed=0)
    assert len(res.liquidations) == 1
    liq = res.liquidations.iloc[0]
    sim = contagion.Simulation(one_position(keepers={"alice": poor}), seed=0)
    sim.run()
    ledger = sim.ledger
    # the lender got its loan back with the fee; the keeper kept the rest of the sale
    assert ledger.balance("flash_lender:alice", "USDC") == pytest.approx(10_000_000 + 0.0009 * liq["repaid"], rel=1e-12)
    sale = res.swaps.loc[res.swaps["agent_type"] == "keeper", "amount_out"].sum()
    assert ledger.balance("alice#0", "USDC") == pytest.approx(sale - liq["repaid"] * 1.0009, rel=1e-9)
    ledger.check_conservation()
    # without the flash loan the same keeper cannot liquidate
    broke = contagion.run(one_position(keepers={"alice": keeper(inventory={"ETH": 10})}), seed=0)
    assert broke.liquidations.empty
