"""Chains and mempools: block timing, ordering, gas limit, reverts that still pay, dropped txs."""

from __future__ import annotations

import pytest

import contagion
from contagion.engine.chain import GWEI, Mempool, Revert, Transaction
from _support import small_scenario


@pytest.fixture
def sim():
    """A network with no agents and a flat venue: only the transactions a test submits."""
    data = small_scenario()
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"]["points"] = [[0, 2000]]
    s = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    for name in ("alice", "bob", "carol"):
        s.ledger.add_account(name, "test")
        s.ledger.mint(name, "ETH", 10.0)
        s.ledger.mint(name, "USDC", 1_000.0)
    return s


def submit(sim, sender, gas_price, gas_used=100_000, action=None, log=None, tag=None, target=None):
    chain = sim.chains["ethereum"]

    def default(block):
        if log is not None:
            log.append(tag)

    return chain.submit(sender=sender, agent_type="test", kind="test", gas_used=gas_used,
                        gas_price=gas_price, action=action or default, target=target)


def test_blocks_every_block_time(sim):
    res = sim.run(12 * 5 + 1)
    assert res.blocks["time"].tolist() == [12.0, 24.0, 36.0, 48.0, 60.0]
    assert res.blocks["block"].tolist() == [1, 2, 3, 4, 5]


def test_order_is_gas_price_then_arrival(sim):
    log = []
    submit(sim, "alice", 30, log=log, tag="a30")
    submit(sim, "bob", 50, log=log, tag="b50")
    submit(sim, "carol", 30, log=log, tag="c30")
    submit(sim, "alice", 50, log=log, tag="a50")
    sim.run(13)
    assert log == ["b50", "a50", "a30", "c30"]


def test_gas_limit_defers_what_does_not_fit(sim):
    limit = sim.chains["ethereum"].gas_limit
    txs = [submit(sim, "alice", 10 + k, gas_used=int(limit * 0.4)) for k in range(3)]
    res = sim.run(25)
    rows = res.transactions.set_index("tx_id")
    # highest bids first: the two best fit in block 1, the cheapest waits for block 2
    assert rows.loc[txs[2].tx_id, "block"] == 1 and rows.loc[txs[1].tx_id, "block"] == 1
    assert rows.loc[txs[0].tx_id, "block"] == 2
    assert rows.loc[txs[0].tx_id, "inclusion_delay"] == 24.0
    assert res.blocks["gas_used"].tolist() == [2 * int(limit * 0.4), int(limit * 0.4)]


def test_reverted_transaction_pays_gas_and_changes_nothing_else(sim):
    ledger = sim.ledger
    pool = sim.pools["uni_eth_usdc"]
    reserves = pool.reserves()

    def swap_then_fail(block):
        pool.swap("alice", "ETH", 1.0)
        ledger.transfer("alice", "bob", "USDC", 5.0)
        raise Revert("changed my mind")

    tx = submit(sim, "alice", 20, gas_used=150_000, action=swap_then_fail)
    res = sim.run(13)
    fee = 150_000 * 20 * GWEI
    assert tx.status == "reverted" and tx.revert_reason == "changed my mind"
    assert ledger.balance("alice", "ETH") == pytest.approx(10.0 - fee, rel=1e-15)
    assert ledger.balance("producer:ethereum", "ETH") == pytest.approx(fee, rel=1e-15)
    assert ledger.balance("alice", "USDC") == 1_000.0 and ledger.balance("bob", "USDC") == 1_000.0
    assert pool.reserves() == reserves
    assert res.swaps.empty  # the swap row was rolled back with the transaction
    row = res.transactions.iloc[0]
    assert (row["status"], row["fee_native"], row["block"]) == ("reverted", pytest.approx(fee), 1)
    assert res.blocks["n_reverted"].tolist() == [1]


def test_insufficient_balance_inside_an_action_reverts(sim):
    tx = submit(sim, "alice", 20, action=lambda b: sim.ledger.transfer("alice", "bob", "USDC", 5_000.0))
    sim.run(13)
    assert tx.status == "reverted" and tx.revert_reason.startswith("insufficient balance")


def test_sender_who_cannot_pay_gas_is_dropped(sim):
    sim.ledger.add_account("pauper", "test")
    tx = submit(sim, "pauper", 20)
    res = sim.run(13)
    assert tx.status == "dropped"
    row = res.transactions.iloc[0]
    assert (row["status"], row["block"], row["fee_native"]) == ("dropped", -1, 0.0)
    assert res.blocks["n_tx"].tolist() == [0]


def test_pending_transactions_are_reported(sim):
    limit = sim.chains["ethereum"].gas_limit
    submit(sim, "alice", 10, gas_used=limit)
    submit(sim, "bob", 5, gas_used=limit)
    res = sim.run(13)
    assert sorted(res.transactions["status"].tolist()) == ["included", "pending"]


def test_result_callback_and_targets(sim):
    seen = []
    chain = sim.chains["ethereum"]
    tx = chain.submit(sender="alice", agent_type="test", kind="test", gas_used=21_000, gas_price=1,
                      action=lambda b: 42, target=("thing", 1), on_result=seen.append)
    assert chain.mempool.is_targeted(("thing", 1)) and chain.mempool.targeted(("thing", 1)) == [tx]
    sim.run(13)
    assert seen == [tx] and tx.result == 42 and not chain.mempool.is_targeted(("thing", 1))


def test_mempool_ordering_unit():
    pool = Mempool()
    txs = [Transaction(i, "s", "t", "k", 1, price, lambda b: None) for i, price in enumerate([5, 9, 5, 7])]
    for tx in txs:
        pool.add(tx)
    assert [tx.tx_id for tx in pool.ordered()] == [1, 3, 0, 2]
    pool.remove(txs[1])
    assert len(pool) == 3
