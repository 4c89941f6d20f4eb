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
    txs = [Transaction(i, "s", "t", "k", 1, price, price, lambda b: None) for i, price in enumerate([5, 9, 5, 7])]
    for tx in txs:
        pool.add(tx)
    assert [tx.tx_id for tx in pool.ordered()] == [1, 3, 0, 2]
    pool.remove(txs[1])
    assert len(pool) == 3


# ------------------------------------------------------------------------------ fee markets
def chain_sim(**chain):
    data = small_scenario()
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"]["points"] = [[0, 2000]]
    data["chains"]["ethereum"].update(chain)
    s = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    for name in ("alice", "bob", "carol"):
        s.ledger.add_account(name, "test")
        s.ledger.mint(name, "ETH", 10.0)
    return s


def bid(sim, sender, max_fee, priority_fee, gas_used=100_000, action=None, **kw):
    return sim.chains["ethereum"].submit(sender=sender, agent_type="test", kind="test", gas_used=gas_used,
                                         max_fee=max_fee, priority_fee=priority_fee,
                                         action=action or (lambda b: None), **kw)


def test_eip1559_base_fee_follows_block_fullness_and_is_burned():
    from contagion.fees import next_base_fee

    sim = chain_sim(fee_market="eip1559", initial_base_fee=10, gas_limit=1_000_000)
    chain = sim.chains["ethereum"]
    # block 1: 800k gas of 1M (target 500k): base rises; block 2 empty: it falls
    txs = [bid(sim, "alice", 50, 2, gas_used=400_000), bid(sim, "bob", 50, 3, gas_used=400_000)]
    res = sim.run(25)
    b1 = next_base_fee(10 * 10**9, 800_000, 1_000_000)
    b2 = next_base_fee(b1, 0, 1_000_000)
    assert res.blocks["base_fee"].tolist() == [10.0, b1 / 1e9]
    assert chain.base_fee_wei == b2
    rows = res.transactions.set_index("tx_id")
    for tx, tip in zip(txs, (2, 3)):
        assert rows.loc[tx.tx_id, "gas_price"] == 10 + tip
        assert rows.loc[tx.tx_id, "fee_native"] == pytest.approx(400_000 * (10 + tip) * GWEI, rel=1e-12)
    # the producer gets the tips, the base fee is burned
    assert sim.ledger.balance(chain.producer_account, "ETH") == pytest.approx(400_000 * 5 * GWEI, rel=1e-12)
    paid = (10.0 - sim.ledger.balance("alice", "ETH")) + (10.0 - sim.ledger.balance("bob", "ETH"))
    assert paid - sim.ledger.balance(chain.producer_account, "ETH") == pytest.approx(800_000 * 10 * GWEI, rel=1e-9)
    sim.ledger.check_conservation()


def test_eip1559_orders_by_effective_tip_and_waits_for_the_base_fee():
    from contagion.fees import next_base_fee

    sim = chain_sim(fee_market="eip1559", initial_base_fee=30)
    log = []
    bid(sim, "alice", 100, 2, action=lambda b: log.append("a: tip 2"))
    bid(sim, "bob", 31, 5, action=lambda b: log.append("b: tip min(5, 31-30) = 1"))
    bid(sim, "carol", 60, 3, action=lambda b: log.append("c: tip 3"))
    low = bid(sim, "carol", 29, 29, action=lambda b: log.append("priced out"))
    sim.run(13)
    assert log == ["c: tip 3", "a: tip 2", "b: tip min(5, 31-30) = 1"]
    assert low.status == "pending"
    # block 1 used 300k gas of a 15M target: the base fee falls below the low bid's max fee
    sim.run(25)
    assert log[-1] == "priced out" and low.block.number == 2
    assert low.block.base_fee * 1e9 == next_base_fee(30 * 10**9, 300_000, 30_000_000)


def test_replacement_needs_the_bump_on_both_fees():
    sim = chain_sim(fee_market="eip1559", initial_base_fee=10)
    old = bid(sim, "alice", 40, 2, target=("thing", 1))
    weak = bid(sim, "alice", 44, 3, target=("thing", 1), replaces=old)        # +10 % max fee, +50 % tip
    assert weak.status == "pending" and old.status == "replaced"
    under = bid(sim, "alice", 60, 3.2, replaces=weak)                        # tip only +6.7 %
    assert under.status == "rejected" and under.revert_reason == "replacement transaction underpriced"
    assert weak.status == "pending"
    with pytest.raises(contagion.SimulationError, match="not a pending transaction of bob"):
        bid(sim, "bob", 100, 10, replaces=weak)
    res = sim.run(13)
    rows = res.transactions.set_index("tx_id")
    assert rows.loc[old.tx_id, "status"] == "replaced" and rows.loc[old.tx_id, "fee_native"] == 0
    assert rows.loc[weak.tx_id, "status"] == "included"
    assert rows.loc[under.tx_id, "status"] == "rejected"


def test_transactions_expire():
    sim = chain_sim(fee_market="eip1559", initial_base_fee=50, tx_expiry=30)
    seen = []
    tx = bid(sim, "alice", 20, 1, on_result=seen.append)
    res = sim.run(37)
    assert tx.status == "expired" and seen == [tx]
    row = res.transactions.set_index("tx_id").loc[tx.tx_id]
    assert row["status"] == "expired" and row["block"] == -1 and row["fee_native"] == 0


def test_sealed_bundles_that_would_revert_pay_nothing_and_are_private():
    sim = chain_sim(mempool="sealed")
    chain = sim.chains["ethereum"]

    def fail(block):
        raise Revert("lost the race")

    a = chain.submit(sender="alice", agent_type="test", kind="test", gas_used=100_000, gas_price=10,
                     action=fail, target=("liquidate", "lend", 1))
    b = chain.submit(sender="bob", agent_type="test", kind="test", gas_used=100_000, gas_price=10,
                     action=lambda blk: None, target=("liquidate", "lend", 2))
    assert chain.mempool.targets(viewer="alice") == {("liquidate", "lend", 1): [a]}
    assert chain.mempool.pending(viewer="carol") == []
    before = sim.ledger.balance("alice", "ETH")
    res = sim.run(13)
    assert a.status == "dropped" and "would revert: lost the race" in a.revert_reason
    assert sim.ledger.balance("alice", "ETH") == before
    assert b.status == "included"
    assert res.blocks["n_reverted"].tolist() == [0] and res.blocks["gas_used"].tolist() == [100_000]


# ----------------------------------------------------------------------------- block timing
def test_halts_stop_blocks_and_the_first_comes_at_the_end():
    sim = chain_sim(halts=[{"start": 30, "end": "2min"}])
    tx = submit(sim, "alice", 10)
    sim.chains["ethereum"].process  # noqa: B018 - the process exists from the start
    res = sim.run(150)
    times = res.blocks["time"].tolist()
    assert times == [12.0, 24.0, 120.0, 132.0, 144.0]
    assert tx.block.number == 1


def test_missed_slots_and_jitter_from_the_chains_own_stream():
    p, jitter = 0.25, 3.0
    sim = chain_sim(missed_slot_probability=p, block_time_jitter=jitter)
    res = sim.run(12 * 4000)
    blocks = res.blocks
    slots = blocks["missed_slots"].sum() + len(blocks)
    assert slots == pytest.approx(4000, abs=2)
    assert blocks["missed_slots"].sum() / slots == pytest.approx(p, abs=4 * (p * (1 - p) / slots) ** 0.5)
    offsets = blocks["time"].to_numpy() % 12.0
    assert offsets.min() >= 0 and offsets.max() <= jitter
    assert offsets.mean() == pytest.approx(jitter / 2, abs=4 * jitter / (12 * len(blocks)) ** 0.5)
    again = chain_sim(missed_slot_probability=p, block_time_jitter=jitter).run(600).blocks["time"].tolist()
    assert again == blocks["time"].tolist()[:len(again)]


def test_bad_chain_parameters_are_clear_errors():
    data = small_scenario()
    data["chains"]["ethereum"]["block_time_jitter"] = 12
    with pytest.raises(contagion.ScenarioError, match=r"chains\.ethereum: block_time_jitter must be < block_time"):
        contagion.Network.from_dict(data)
    data = small_scenario()
    data["chains"]["ethereum"]["halts"] = [{"start": 60, "end": 30}]
    with pytest.raises(contagion.ScenarioError, match=r"chains\.ethereum\.halts\[0\]: end must be after start"):
        contagion.Network.from_dict(data)
    data = small_scenario()
    data["chains"]["ethereum"]["background"] = {"rate": 1, "volatility_source": "nope"}
    with pytest.raises(contagion.ScenarioError, match=r"chains\.ethereum\.background\.volatility_source"):
        contagion.Network.from_dict(data)
