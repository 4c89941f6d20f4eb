"""Runtime pools of the three kinds inside a simulation: one interface, conserved tokens, journaled
state, optimal arbitrage, depth, and liquidity withdrawals and deposits.

Expected numbers come from the AMM's own invariants and closed forms (marginal price after the
optimal trade equals the target net of fee; constant-product depth in closed form), or from doing
the same operations step by step; nothing is copied from a run's output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.engine.chain import Revert
from _support import small_scenario

POOLS = {
    "cp": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "USDC"],
           "reserves": [1000, 2_000_000], "fee": 0.003},
    "v3": {"kind": "concentrated", "chain": "ethereum", "assets": ["ETH", "USDC"], "price": 2000, "fee": 0.003,
           "ranges": [{"lower": 1500, "upper": 2500, "value": 2_000_000},
                      {"lower": 1900, "upper": 2100, "value": 1_000_000}]},
    "curve": {"kind": "stableswap", "chain": "ethereum", "assets": ["ETH", "USDC"], "balances": [1000, 2_000_000],
              "rates": [2000, 1], "amplification": 50, "fee": 0.0004, "admin_fee": 0.5},
}


def make_sim(**changes):
    data = small_scenario(**changes)
    data["agents"] = {}
    data["pools"].update(POOLS)
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    sim.ledger.add_account("trader", "test")
    sim.ledger.mint("trader", "ETH", 10_000.0)
    sim.ledger.mint("trader", "USDC", 20_000_000.0)
    return sim


def totals(sim):
    return [sim.ledger.total(a) for a in ("ETH", "USDC")]


@pytest.fixture(params=list(POOLS))
def kind(request):
    return request.param


def test_one_interface_for_every_kind(kind):
    sim = make_sim()
    pool = sim.pools[kind]
    assert pool.assets == ("ETH", "USDC")
    p = pool.price()
    assert p == pytest.approx(2000.0, rel=2e-3)                       # every pool starts at 2000 USDC/ETH
    assert pool.price_of("USDC", "ETH") == pytest.approx(1.0 / p, rel=1e-12)
    # small trades pay the marginal price less the fee
    out = pool.quote("ETH", 1e-3)
    assert out / 1e-3 == pytest.approx(p * (1 - pool.fee), rel=1e-5)
    with pytest.raises(Revert, match="does not trade"):
        pool.quote("BTC", 1.0)


def test_swap_conserves_tokens_and_matches_the_quote(kind):
    sim = make_sim()
    pool = sim.pools[kind]
    before, price = totals(sim), pool.price()
    quoted = pool.quote("ETH", 25.0)
    held = [pool.balance(a) for a in pool.assets]
    got = pool.swap("trader", "ETH", 25.0, quoted * (1 - 1e-12), "test")
    assert got == pytest.approx(quoted, rel=1e-12)
    assert [pool.balance(a) for a in pool.assets] == pytest.approx([held[0] + 25.0, held[1] - got], rel=1e-15)
    assert totals(sim) == pytest.approx(before, rel=1e-15)
    assert pool.price() < price
    row = sim.result().swaps.iloc[-1]
    assert (row["market"], row["asset_in"], row["amount_in"], row["asset_out"]) == (kind, "ETH", 25.0, "USDC")
    assert row["amount_out"] == got and row["price_before"] == price and row["price_after"] == pool.price()
    sim.check()                                      # the pool's own state agrees with its ledger balances


def test_a_reverted_swap_leaves_the_pool_as_it_was(kind):
    sim = make_sim()
    pool = sim.pools[kind]
    chain = sim.chains["ethereum"]
    price, held = pool.price(), [pool.balance(a) for a in pool.assets]
    quoted = pool.quote("USDC", 100_000.0)

    def swap_then_fail(block):
        pool.swap("trader", "USDC", 100_000.0, 0.0, "test")
        assert pool.price() > price                   # the swap happened inside the transaction
        raise Revert("later step failed")

    tx = chain.submit(sender="trader", agent_type="test", kind="swap", gas_used=100_000, gas_price=1,
                      action=swap_then_fail)
    sim.run(13)
    assert tx.status == "reverted"
    assert pool.price() == price
    assert [pool.balance(a) for a in pool.assets] == held
    assert pool.quote("USDC", 100_000.0) == quoted
    sim.check()


def test_quote_sequence_equals_consecutive_swaps(kind):
    sim = make_sim()
    pool = sim.pools[kind]
    amounts = [5.0, 0.0, 40.0, 1.5]
    planned = pool.quote_sequence("ETH", amounts)
    price = pool.price()
    assert pool.price() == price                     # quoting changed nothing
    done = [pool.swap("trader", "ETH", a, 0.0, "test") if a > 0 else 0.0 for a in amounts]
    assert planned == pytest.approx(done, rel=1e-12)
    batch = make_sim().pools[kind].quote_batch("ETH", amounts)
    assert batch[0] == pytest.approx(done[0], rel=1e-12)   # independent swaps from the same state
    assert batch[2] > done[2]                               # ...pay more than the same swap made later


def _marginal(pool, asset_in, amount):
    """d(output)/d(input) of a swap of ``amount`` from the current state (central difference)."""
    h = amount * 1e-6
    return (pool.quote(asset_in, amount + h) - pool.quote(asset_in, amount - h)) / (2 * h)


@pytest.mark.parametrize("target", [1700.0, 1990.0, 2300.0])
def test_arbitrage_trade_brings_the_marginal_price_net_of_fee_to_the_target(kind, target):
    sim = make_sim()
    pool = sim.pools[kind]
    gamma = 1.0 - pool.fee
    asset_in, amount = pool.arbitrage_trade(target)
    p = pool.price()
    if gamma * p <= target <= p / gamma:
        assert amount == 0.0                          # inside the no-arbitrage band
        return
    assert asset_in == ("ETH" if target < p else "USDC")
    # first-order condition: the trade's last unit is paid exactly the outside price
    assert _marginal(pool, asset_in, amount) == pytest.approx(target if asset_in == "ETH" else 1.0 / target,
                                                              rel=1e-5)
    # and the trade is optimal: a bit more or a bit less earns less against the target price
    def profit(a):
        out = make_sim().pools[kind].quote(asset_in, a)
        return out * target - a if asset_in == "USDC" else out - a * target
    assert profit(amount) >= max(profit(amount * 0.99), profit(amount * 1.01))


@pytest.mark.parametrize("move", [0.01, 0.05])
def test_depth_is_the_sale_whose_last_unit_is_paid_the_fraction_less(kind, move):
    sim = make_sim()
    pool = sim.pools[kind]
    sell = pool.depth("ETH", move)
    if kind == "cp":   # closed form: gamma y x / (x + gamma a)^2 = (1 - move) gamma y / x
        x, _ = pool.reserves()
        assert sell == pytest.approx(x * (1 / math.sqrt(1 - move) - 1) / (1 - pool.fee), rel=1e-12)
    first = pool.quote("ETH", 1e-6) / 1e-6
    assert _marginal(pool, "ETH", sell) == pytest.approx(first * (1 - move), rel=1e-5)
    if kind == "v3":   # the fee is kept outside the liquidity: the pool's price itself moves by `move`
        p = pool.price()
        pool.swap("trader", "ETH", sell, 0.0, "test")
        assert pool.price() == pytest.approx(p * (1 - move), rel=1e-9)


def test_withdraw_and_deposit_conserve_and_are_proportional(kind):
    sim = make_sim()
    pool = sim.pools[kind]
    sim.ledger.add_account("lp", "test")
    pool.grant("lp", 0.25)
    value = pool.holding_value("lp")
    total_value = pool.value_of([pool.balance(a) for a in pool.assets])
    assert value == pytest.approx(0.25 * total_value, rel=1e-6)
    assert sorted(pool.lp_holders()) == ["lp", "passive"]
    before, price = totals(sim), pool.price()
    out = pool.withdraw("lp", 1.0)
    assert pool.value_of(out) == pytest.approx(value, rel=1e-6)
    assert [sim.ledger.balance("lp", a) for a in pool.assets] == pytest.approx(out, rel=1e-15)
    assert pool.price() == pytest.approx(price, rel=1e-9)      # a withdrawal does not move the price
    assert pool.holding_value("lp") == 0.0
    with pytest.raises(Revert, match="holds no liquidity"):
        pool.withdraw("lp", 1.0)
    # a thinner pool: the same sale moves the price more
    thin = pool.quote("ETH", 50.0)
    used = pool.deposit("lp", out)
    assert all(u <= o * (1 + 1e-12) for u, o in zip(used, out))
    assert pool.value_of(used) == pytest.approx(value, rel=1e-9)      # same price: all of it goes back
    assert pool.quote("ETH", 50.0) > thin
    assert totals(sim) == pytest.approx(before, rel=1e-15)
    sim.check()


def test_concentrated_withdrawal_takes_the_positions_nearest_the_price_first():
    sim = make_sim()
    pool = sim.pools["v3"]
    sim.ledger.add_account("lp", "test")
    pool.grant("lp", 0.5)                             # half of each range: [1500, 2500] and [1900, 2100]
    narrow, wide = [pool.math.positions[pid] for pid in pool._owned("lp")]
    assert narrow.upper - narrow.lower < wide.upper - wide.lower
    # withdrawing 30 % of the value takes the narrow range (worth a third of the LP's value) first
    value = pool.holding_value("lp")
    pool.withdraw("lp", 0.3)
    left = [p for p in pool.math.positions.values() if p.owner == "lp"]
    assert [(p.lower, p.upper) for p in left] == [(wide.lower, wide.upper)]
    assert pool.holding_value("lp") == pytest.approx(value * 2 / 3, rel=1e-6)


def test_arbitrageurs_align_every_kind_with_the_venue():
    """End to end: pools start away from the venue; the arbitrageur's swaps go through the mempool
    and bring each within its no-arbitrage band (plus the venue's impact from its hedges)."""
    changes = {"venues.cex_eth_usd.path.points": [[0, 2100], ["20min", 2100]]}
    data = small_scenario(**changes)
    data["pools"].update(POOLS)
    data["agents"]["arbitrageur"]["watches"] = ["uni_eth_usdc", *POOLS]
    data["agents"]["keepers"]["watches"] = ["lend"]
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0, check_invariants=True)
    res = sim.run("3min")
    venue = sim.venues["cex_eth_usd"].mid()
    for name, pool in sim.pools.items():
        assert pool.price() * (1 - pool.fee) <= venue * (1 + 1e-6), name
        assert venue <= pool.price() / (1 - pool.fee) * (1 + 2e-3), name
    arb = res.swaps[(res.swaps["agent_type"] == "arbitrageur") & (res.swaps["market_kind"] == "pool")]
    assert set(arb["market"]) == set(sim.pools)
    assert set(arb["asset_in"]) == {"USDC"}           # every pool was cheap: the arbitrageur bought ETH
    assert np.all(res.transactions.loc[res.transactions["agent_type"] == "arbitrageur", "status"] == "included")
