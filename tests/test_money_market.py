"""Multi-collateral money markets (Aave v2/v3, Compound v2) in a run.

Books are written as snapshots with known balances, so every expected amount is a closed form of
those balances, the oracle prices and the reserve parameters (REFERENCE-MATH §4 and §5a).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion._ext import liquidation as compiled
from contagion._reference import liquidation as reference
from contagion.engine.chain import Revert
from _support import NETWORKS

ETH, BTC = 2000.0, 60000.0
RESERVES = {
    "WETH": {"oracle": "eth_usd", "ltv": 0.8, "liquidation_threshold": 0.825, "liquidation_bonus": 0.05,
             "protocol_fee": 0.1, "emode_category": "eth"},
    "wstETH": {"oracle": "steth_usd", "ltv": 0.7, "liquidation_threshold": 0.8, "liquidation_bonus": 0.06,
               "protocol_fee": 0.1, "emode_category": "eth"},
    "WBTC": {"oracle": "btc_usd", "ltv": 0.7, "liquidation_threshold": 0.75, "liquidation_bonus": 0.065,
             "protocol_fee": 0.2},
    "USDC": {"oracle": "usdc_usd", "ltv": 0.75, "liquidation_threshold": 0.8, "liquidation_bonus": 0.045,
             "liquidity": 1e8},
}


def scenario(tmp_path, rows, family="aave_v3", version="3.0", until="10min", eth_points=None, **protocol):
    """A chain, four assets priced by push oracles on flat venues, and a money market whose book is
    ``rows`` = [(account, asset, side, amount[, emode])]."""
    columns = ["account", "asset", "side", "amount"] + (["emode"] if len(rows[0]) == 5 else [])
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "book.csv", index=False)
    venues, oracles = {}, {}
    for asset, price in (("WETH", ETH), ("wstETH", 1.15 * ETH), ("WBTC", BTC)):
        points = eth_points if asset == "WETH" and eth_points else [[0, price]]
        venues[f"cex_{asset}"] = {"asset": asset, "quote": "USDC", "path": {"kind": "piecewise", "points": points}}
        name = {"WETH": "eth_usd", "wstETH": "steth_usd", "WBTC": "btc_usd"}[asset]
        oracles[name] = {"kind": "push", "chain": "ethereum", "asset": asset, "sources": [f"cex_{asset}"],
                         "deviation_threshold": 0.005, "heartbeat": "1h"}
    oracles["usdc_usd"] = {"kind": "fixed", "asset": "USDC", "price": 1.0}
    data = {
        "name": "mm", "until": until,
        "chains": {"ethereum": {"block_time": 12, "native_asset": "WETH"}},
        "assets": {"WETH": {"chain": "ethereum", "kind": "native"}, "wstETH": {"chain": "ethereum"},
                   "WBTC": {"chain": "ethereum"}, "USDC": {"chain": "ethereum", "kind": "stable"}},
        "venues": venues, "oracles": oracles,
        "protocols": {"mm": {"type": family, "chain": "ethereum", "version": version, "reserves": RESERVES,
                             "emode": {"eth": {"ltv": 0.9, "liquidation_threshold": 0.93, "liquidation_bonus": 0.01}},
                             "accounts": {"kind": "snapshot", "path": "book.csv"}, **protocol}},
    }
    return contagion.Network.from_dict(data, base_dir=tmp_path)


def market(tmp_path, rows, check_invariants=True, **kw):
    sim = contagion.Simulation(scenario(tmp_path, rows, **kw), seed=0, check_invariants=check_invariants)
    sim.ledger.add_account("liq", "test")
    for asset, amount in (("USDC", 1e7), ("WETH", 1e4), ("wstETH", 1e4), ("WBTC", 100)):
        sim.ledger.mint("liq", asset, amount)
    return sim, sim.protocols["mm"]


def liquidate(sim, mm, account, repay, coll, debt):
    """Run one liquidation in a transaction; returns the transaction."""
    tx = sim.chains["ethereum"].submit(sender="liq", agent_type="test", kind="liquidation", gas_used=300_000,
                                       gas_price=1, action=lambda b: mm.liquidate("liq", account, repay, "test", coll,
                                                                                   debt))
    sim.run(sim.env.now + 12)
    return tx


def test_health_factor_is_the_lt_weighted_collateral_over_debt(tmp_path):
    rows = [(0, "WETH", "collateral", 10.0), (0, "WBTC", "collateral", 0.5), (0, "USDC", "debt", 30_000.0),
            (1, "WETH", "collateral", 1.0), (1, "wstETH", "collateral", 2.0), (1, "WETH", "debt", 3.0),
            (2, "USDC", "collateral", 1000.0)]
    rows = [r[:4] for r in rows]
    sim, mm = market(tmp_path, rows)
    hf0 = (10 * ETH * 0.825 + 0.5 * BTC * 0.75) / 30_000
    hf1 = (1 * ETH * 0.825 + 2 * 1.15 * ETH * 0.8) / (3.0 * ETH)
    assert mm.hf[:3] == pytest.approx([hf0, hf1, math.inf], rel=1e-14)
    assert list(mm.liquidatable_ids()) == [1]                     # hf1 = 0.888 < 1


def test_emode_uses_the_category_threshold(tmp_path):
    rows = [(0, "WETH", "collateral", 1.0, ""), (0, "wstETH", "collateral", 2.0, ""), (0, "WETH", "debt", 2.5, "eth")]
    sim, mm = market(tmp_path, rows)
    assert mm.hf[0] == pytest.approx((1 * ETH * 0.93 + 2 * 1.15 * ETH * 0.93) / (2.5 * ETH), rel=1e-14)
    assert mm.liquidatable_ids().size == 0


def test_only_holders_of_the_repriced_asset_are_recomputed(tmp_path):
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 15_000.0),
            (1, "WBTC", "collateral", 1.0), (1, "USDC", "debt", 40_000.0)]
    sim, mm = market(tmp_path, rows, check_invariants=False, eth_points=[[0, ETH], [1, ETH * 0.8]])
    assert [list(h) for h in mm.holders] == [[0], [], [1], [0, 1]]
    mm.hf[1] = 123.0                    # a stale value the next ETH update must not touch
    sim.advance(13)                     # the oracle reports the 20 % fall in block 1
    assert mm.prices[0] == ETH * 0.8
    assert mm.hf[1] == 123.0
    assert mm.hf[0] == pytest.approx(10 * ETH * 0.8 * 0.825 / 15_000, rel=1e-14)


def test_a_reverted_price_update_is_undone_exactly(tmp_path):
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 15_500.0)]
    sim, mm = market(tmp_path, rows)
    before = mm.num.copy(), mm.den.copy(), mm.hf.copy(), mm.flags.copy(), mm.prices.copy()
    oracle = sim.oracles["eth_usd"]

    def publish_then_fail(block):
        oracle._publish(oracle._update(ETH * 0.9, ETH * 0.9, "deviation", 0.0, 0.0))
        assert mm.flags[0] == 1                          # 10 * 1800 * 0.825 / 15500 = 0.958
        raise Revert("no")

    tx = sim.chains["ethereum"].submit(sender="liq", agent_type="test", kind="test", gas_used=1, gas_price=1,
                                       action=publish_then_fail)
    sim.run(13)
    assert tx.status == "reverted"
    for got, want in zip((mm.num, mm.den, mm.hf, mm.flags, mm.prices), before):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("family, version, hf_full", [("aave_v3", "3.0", 0.95), ("aave_v2", "3.0", None)])
def test_close_factor_bonus_and_protocol_fee(tmp_path, family, version, hf_full):
    # HF = 10 * 2000 * 0.825 / 17000 = 0.9706 > 0.95: half of the debt
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 17_000.0)]
    sim, mm = market(tmp_path, rows, family=family, version=version)
    treasury = mm.treasury
    tx = liquidate(sim, mm, 0, 1e12, "WETH", "USDC")
    assert tx.status == "included"
    repaid, got = tx.result
    assert repaid == pytest.approx(8_500.0, rel=1e-14)
    seized = 8_500.0 / ETH * 1.05
    fee = (seized - seized / 1.05) * 0.1 if family == "aave_v3" else 0.0
    assert got == pytest.approx(seized - fee, rel=1e-12)                 # the vector's 4.44125 ETH for v3
    assert sim.ledger.balance(treasury, "WETH") == pytest.approx(fee, rel=1e-12)
    row = sim.result().liquidations.iloc[0]
    assert row["debt_left"] == pytest.approx(8_500.0) and row["collateral_left"] == pytest.approx(10 - seized)


def test_v3_full_close_below_095_and_the_bad_debt_path(tmp_path):
    # HF = 10 * 2000 * 0.825 / 18000 = 0.9167 <= 0.95: all of it; 18000 * 1.05 / 2000 = 9.45 ETH < 10
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 18_000.0),
            (1, "WETH", "collateral", 1.0), (1, "USDC", "debt", 2_000.0)]   # HF 0.825: not enough collateral
    sim, mm = market(tmp_path, rows)
    tx = liquidate(sim, mm, 0, 1e12, "WETH", "USDC")
    assert tx.result[0] == pytest.approx(18_000.0, rel=1e-14)
    tx = liquidate(sim, mm, 1, 1e12, "WETH", "USDC")
    repaid, got = tx.result
    assert repaid == pytest.approx(1 * ETH / 1.05, rel=1e-12)            # collateral-capped
    assert got == pytest.approx(1.0 - (1.0 - 1 / 1.05) * 0.1, rel=1e-12)
    assert mm.bad_debt_usd() == pytest.approx(2_000.0 - ETH / 1.05, rel=1e-9)


def test_v33_close_factor_thresholds_and_dust_rule(tmp_path):
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 17_000.0),     # big: half the total debt
            (1, "WETH", "collateral", 0.9), (1, "USDC", "debt", 1_500.0),       # under $2,000: all of it
            (2, "WETH", "collateral", 1.2), (2, "USDC", "debt", 1_990.0)]      # a partial one would leave dust
    sim, mm = market(tmp_path, rows, version="3.3")
    assert mm.max_repay(0, 0, 3) == pytest.approx(8_500.0, rel=1e-14)
    assert mm.max_repay(1, 0, 3) == 1_500.0
    with pytest.raises(Revert, match="MustNotLeaveDust"):
        mm.amounts(2, 0, 3, 1_000.0)                                      # would leave $990 of debt
    assert mm.amounts(2, 0, 3, 500.0)[0] == 500.0                         # leaves $1,490 and $1,875
    assert mm.amounts(2, 0, 3, 1e12)[0] == 1_990.0


def test_compound_v2_seize_share_and_too_much(tmp_path):
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 17_000.0)]
    sim, mm = market(tmp_path, rows, family="compound_v2", close_factor=0.5, liquidation_incentive=0.08,
                     protocol_seize_share=0.028)
    repay, got, share = mm.amounts(0, 0, 3, 8_000.0)
    seized = 8_000.0 / ETH * 1.08
    assert (repay, got, share) == pytest.approx((8_000.0, seized * 0.972, seized * 0.028), rel=1e-14)
    assert mm.amounts(0, 0, 3, 1e9)[0] == 8_500.0                        # close factor
    rows = [(0, "WETH", "collateral", 0.2), (0, "USDC", "debt", 1_000.0)]
    sim, mm = market(tmp_path, rows, family="compound_v2")
    with pytest.raises(Revert, match="LIQUIDATE_SEIZE_TOO_MUCH"):
        mm.amounts(0, 0, 3, 500.0)                                        # 500 * 1.08 / 2000 = 0.27 ETH > 0.2
    groups = mm.liquidation_groups(np.array([0]), {"USDC": 1e9})      # a keeper asks for what 0.2 ETH pays
    assert groups[0].repay[0] == pytest.approx(0.2 * ETH / 1.08, rel=1e-8)


def test_groups_match_the_scalar_rule(tmp_path):
    rng = np.random.default_rng(4)
    rows = []
    for i in range(300):
        for asset in rng.choice(["WETH", "wstETH", "WBTC"], rng.integers(1, 3), replace=False):
            rows.append((i, asset, "collateral", float(rng.uniform(0.1, 5) * (1 if asset != "WBTC" else 0.05))))
        rows.append((i, str(rng.choice(["USDC", "WETH"])), "debt", 0.0))
    sim, mm = market(tmp_path, rows, version="3.3")
    # give every account a debt that puts it near liquidation, then recompute
    for i in range(300):
        lo, hi = mm.debt_ptr[i], mm.debt_ptr[i + 1]
        coll = sum(x * mm.prices[a] * mm.lt_table[0, a] for a, x in mm.balances(i, "collateral").items())
        a = int(mm.debt_asset[lo])
        mm.debt_amount[lo] = coll * rng.uniform(0.9, 1.2) / mm.prices[a]
    mm._refresh(np.arange(300, dtype=np.int64))
    ids = mm.liquidatable_ids()
    assert 50 < ids.size < 300
    budget = {"USDC": 5_000.0, "WETH": 3.0}
    seen = 0
    groups = mm.liquidation_groups(ids, budget)
    grouped = np.concatenate([g.ids for g in groups])
    assert len(set(grouped)) == grouped.size and set(grouped) <= set(ids)   # each account in one group at most
    for group in groups:
        c, d = mm.asset_index[group.collateral_asset], mm.asset_index[group.debt_asset]
        for i, repay, seize in zip(group.ids, group.repay, group.seize):
            assert mm.best_pair(int(i)) == (c, d)
            r, got, _ = mm.amounts(int(i), c, d, budget[group.debt_asset])
            assert (repay, seize) == pytest.approx((r, got), rel=1e-12)
            seen += 1
    assert seen == grouped.size > 0


def _random_book(rng, n=2000, assets=6):
    counts = rng.integers(0, 4, n)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    coll_asset = np.concatenate([rng.choice(assets, k, replace=False) for k in counts]).astype(np.int64)
    dcounts = rng.integers(0, 3, n)
    dptr = np.concatenate([[0], np.cumsum(dcounts)]).astype(np.int64)
    debt_asset = np.concatenate([rng.choice(assets, k, replace=False) for k in dcounts]).astype(np.int64)
    return (ptr, coll_asset, rng.exponential(size=ptr[-1]), dptr, debt_asset, rng.exponential(size=dptr[-1]),
            rng.integers(0, 3, n).astype(np.int64))


def test_kernel_parity_on_random_books():
    rng = np.random.default_rng(11)
    n, assets = 2000, 6
    book = _random_book(rng, n, assets)
    ptr, coll_asset, coll_amount, dptr, debt_asset, debt_amount, emode = book
    prices = rng.uniform(0.5, 3, assets)
    lt = rng.uniform(0.5, 0.95, 3 * assets)
    ids = rng.permutation(n).astype(np.int64)
    outs = []
    for module in (compiled, reference):
        num, den = np.zeros(n), np.zeros(n)
        hf, flags, entered = np.full(n, np.inf), np.zeros(n, dtype=np.uint8), np.empty(n, dtype=np.int64)
        k = module.mm_update(ids, *book, prices, lt, num, den, hf, flags, entered)
        first = sorted(entered[:k])
        # then asset 2's price falls by 30 %: shift, and compare with a fresh computation
        owner_c = np.repeat(np.arange(n), np.diff(ptr)).astype(np.int64)
        owner_d = np.repeat(np.arange(n), np.diff(dptr)).astype(np.int64)
        ce = np.flatnonzero(coll_asset == 2).astype(np.int64)
        de = np.flatnonzero(debt_asset == 2).astype(np.int64)
        holders = np.union1d(owner_c[ce], owner_d[de]).astype(np.int64)
        moved = prices.copy()
        moved[2] *= 0.7
        k2 = module.mm_reprice(ce, owner_c, coll_amount, de, owner_d, debt_amount, holders, emode, lt, assets, 2,
                               moved[2] - prices[2], num, den, hf, flags, entered)
        outs.append((hf.copy(), flags.copy(), first, sorted(entered[:k2])))
        fresh = np.empty(n)
        module.mm_health_factors(np.arange(n, dtype=np.int64), *book, moved, lt, fresh)
        assert np.allclose(hf, fresh, rtol=1e-13) and np.array_equal(flags.astype(bool), fresh < 1)
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])
    assert outs[0][2] == outs[1][2] and outs[0][3] == outs[1][3] and len(outs[0][3]) > 0
    # closed form for one account
    i = int(np.flatnonzero(np.diff(ptr) * np.diff(dptr))[0])
    row = emode[i] * assets
    num_i = sum(coll_amount[k] * prices[coll_asset[k]] * lt[row + coll_asset[k]] for k in range(ptr[i], ptr[i + 1]))
    den_i = sum(debt_amount[k] * prices[debt_asset[k]] for k in range(dptr[i], dptr[i + 1]))
    out = np.empty(1)
    compiled.mm_health_factors(np.array([i], dtype=np.int64), *book, prices, lt, out)
    assert out[0] == pytest.approx(num_i / den_i, rel=1e-14)


def test_shipped_scenario_liquidates_across_pairs_and_conserves():
    net = contagion.load_network(NETWORKS / "aave_v3_multicollateral.yaml")
    sim = contagion.Simulation(net, seed=1)
    res = sim.run("75min")
    liq = res.liquidations
    pairs = set(zip(liq["collateral_asset"], liq["debt_asset"]))
    assert {("WETH", "USDC"), ("wstETH", "WETH")} <= pairs
    assert (liq["health_factor"] < 1).all()
    sim.check()
    assert all(abs(r["error"]) <= r["bound"] for r in res.manifest["conservation"])
    # e-mode liquidations pay the category's 1 % bonus: seized value / repaid value = 1.01 (less the fee)
    emode = liq[(liq["collateral_asset"] == "wstETH") & (liq["debt_asset"] == "WETH")]
    ratio = emode["seized_usd"] / emode["repaid_usd"]
    assert np.allclose(ratio, 1.01, rtol=1e-9)


def test_bad_snapshots_are_clear_errors(tmp_path):
    with pytest.raises(contagion.ScenarioError, match=r"asset must be a reserve of the market, got 'DOGE'"):
        market(tmp_path, [(0, "DOGE", "collateral", 1.0)])
    with pytest.raises(contagion.ScenarioError, match=r"side must be collateral or debt, got 'borrow'"):
        market(tmp_path, [(0, "WETH", "borrow", 1.0)])
    data = scenario(tmp_path, [(0, "WETH", "collateral", 1.0)]).to_dict()
    data["protocols"]["mm"]["reserves"]["WETH"]["oracle"] = "btc_usd"
    with pytest.raises(contagion.ScenarioError, match=r"protocols\.mm\.reserves\.WETH\.oracle: oracle prices WBTC"):
        contagion.Network.from_dict(data, base_dir=tmp_path)


def test_keepers_only_watch_fixed_spread_protocols(tmp_path):
    data = scenario(tmp_path, [(0, "WETH", "collateral", 1.0)]).to_dict()
    data["protocols"]["vaults"] = {**data["protocols"]["mm"], "type": "aave_v2"}
    data["agents"] = {"k": {"kind": "keeper", "watches": ["mm", "vaults"]},
                      "b": {"kind": "borrowers", "watches": ["mm"]}}
    with pytest.raises(contagion.ScenarioError, match=r"agents\.b\.watches\[0\]: must be a protocol of type lending "
                                                      r"\(it is aave_v3\)"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
    del data["agents"]["b"]
    assert contagion.Network.from_dict(data, base_dir=tmp_path).scenario.agents["k"].watches == ["mm", "vaults"]


@pytest.mark.parametrize("family, version, aave_version", [("aave_v3", "3.0", "v3.0"), ("aave_v3", "3.3", "v3.3"),
                                                            ("aave_v2", "3.0", "v2")])
def test_amounts_agree_with_the_aave_formulas(tmp_path, family, version, aave_version):
    # random two-collateral, two-debt accounts; the protocol's amounts for every (collateral, debt)
    # pair against contagion.liquidation.aave.liquidation_amounts on the same balances and prices
    from contagion.liquidation import aave
    rng = np.random.default_rng(11)
    rows = []
    for i in range(40):
        rows += [(i, "WETH", "collateral", float(rng.uniform(0.2, 30))),
                 (i, "WBTC", "collateral", float(rng.uniform(0.001, 1))),
                 (i, "USDC", "debt", float(rng.uniform(100, 60_000)))]
        if i % 3:
            rows.append((i, "wstETH", "debt", float(rng.uniform(0.1, 10))))
    sim, mm = market(tmp_path, rows, family=family, version=version)
    checked = 0
    for i in np.flatnonzero(mm.hf < 1.0):
        debts = mm.balances(i, "debt")
        total_usd = sum(x * mm.prices[a] for a, x in debts.items())
        for c, coll in mm.balances(i, "collateral").items():
            for d, debt in debts.items():
                fee = 0.0 if family == "aave_v2" else float(mm.protocol_fee[c])
                for request in (0.1 * debt, 0.7 * debt, 1e12):
                    want = aave.liquidation_amounts(request, coll, debt, mm.prices[c], mm.prices[d], float(mm.hf[i]),
                                                    aave_version, liquidation_bonus=float(mm.bonus_table[0, c]),
                                                    protocol_fee=fee, total_debt_value_usd=total_usd)
                    try:
                        got = mm.amounts(i, c, d, request)
                    except Revert as exc:
                        assert "MustNotLeaveDust" in str(exc) and want == (0.0, 0.0, 0.0)
                        continue
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
                    checked += 1
    assert checked > 100


def test_compound_amounts_agree_with_the_seize_formula(tmp_path):
    from contagion.liquidation import compound
    rng = np.random.default_rng(12)
    rows = []
    for i in range(30):
        rows += [(i, "WETH", "collateral", float(rng.uniform(0.5, 30))), (i, "USDC", "debt", float(rng.uniform(1e3, 6e4)))]
    sim, mm = market(tmp_path, rows, family="compound_v2", close_factor=0.5, liquidation_incentive=0.08,
                     protocol_seize_share=0.028)
    checked = 0
    for i in np.flatnonzero(mm.hf < 1.0):
        coll, debt = mm.balances(i, "collateral")[0], mm.balances(i, "debt")[3]
        repay = 0.4 * debt
        want = compound.seize_amounts(repay, 1.0, ETH, 1.0, liquidation_incentive=1.08, protocol_seize_share=0.028)
        if want[0] > coll:
            continue
        got = mm.amounts(i, 0, 3, repay)
        assert got[0] == repay
        assert got[1:] == pytest.approx(want[1:], rel=1e-12)
        checked += 1
    assert checked > 5


# ------------------------------------------------------------------------ Aave v3 isolation mode
def isolated_reserves(ceiling=50_000.0):
    reserves = {k: dict(v) for k, v in RESERVES.items()}
    reserves["WBTC"].update(isolated=True, debt_ceiling=ceiling)
    reserves["USDC"]["borrowable_in_isolation"] = True
    return reserves


def test_isolation_debt_falls_by_each_repayment_and_a_revert_restores_it(tmp_path):
    # account 0 is isolated on WBTC: 0.5 BTC ($30,000 * 0.75 = $22,500) against $24,000 USDC
    rows = [(0, "WBTC", "collateral", 0.5), (0, "USDC", "debt", 24_000.0),
            (1, "WBTC", "collateral", 0.1), (1, "USDC", "debt", 1_000.0),
            (2, "WETH", "collateral", 10.0), (2, "USDC", "debt", 17_000.0)]
    sim, mm = market(tmp_path, rows, reserves=isolated_reserves())
    k = mm.asset_index["WBTC"]
    assert list(mm.isolated_on) == [k, k, -1]
    assert mm.isolation_debt[k] == 25_000.0
    tx = liquidate(sim, mm, 0, 5_000.0, "WBTC", "USDC")
    assert tx.status == "included" and tx.result[0] == 5_000.0
    assert mm.isolation_debt[k] == 20_000.0
    liquidate(sim, mm, 2, 1e12, "WETH", "USDC")                       # not isolated: no change
    assert mm.isolation_debt[k] == 20_000.0

    def fail_after(b):
        mm.liquidate("liq", 0, 2_000.0, "test", "WBTC", "USDC")
        raise Revert("later step fails")
    tx = sim.chains["ethereum"].submit(sender="liq", agent_type="test", kind="liquidation", gas_used=300_000,
                                       gas_price=1, action=fail_after)
    sim.run(sim.env.now + 12)
    assert tx.status == "reverted" and mm.isolation_debt[k] == 20_000.0


@pytest.mark.parametrize("rows, message", [
    ([(0, "WBTC", "collateral", 0.5), (0, "WETH", "collateral", 1.0), (0, "USDC", "debt", 1_000.0)],
     r"account 0 uses isolated collateral WBTC with other collateral \(WETH\)"),
    ([(7, "WBTC", "collateral", 0.5), (7, "WETH", "debt", 1.0)],
     r"account 7 is isolated on WBTC and owes WETH, which is not borrowable_in_isolation"),
    ([(0, "WBTC", "collateral", 1.0), (0, "USDC", "debt", 30_000.0), (1, "WBTC", "collateral", 1.0),
      (1, "USDC", "debt", 30_000.0)],
     r"accounts isolated on WBTC owe 60,000.00, above protocols.mm.reserves.WBTC.debt_ceiling \(50,000.00\)"),
])
def test_snapshots_that_break_isolation_rules_are_clear_errors(tmp_path, rows, message):
    with pytest.raises(contagion.ScenarioError, match=r"book.csv: protocols.mm.accounts.path: " + message):
        market(tmp_path, rows, reserves=isolated_reserves())


def test_isolation_settings_are_validated(tmp_path):
    rows = [(0, "WETH", "collateral", 10.0), (0, "USDC", "debt", 1_000.0)]
    reserves = isolated_reserves()
    reserves["WETH"]["debt_ceiling"] = 1e6
    with pytest.raises(contagion.ScenarioError, match=r"reserves.WETH.debt_ceiling applies to isolated assets only"):
        scenario(tmp_path, rows, reserves=reserves)
    with pytest.raises(contagion.ScenarioError, match=r"isolation mode is an Aave v3 feature, not one of compound_v2"):
        scenario(tmp_path, rows, family="compound_v2", reserves=isolated_reserves())


def test_generated_isolated_accounts_hold_one_collateral_and_borrow_in_isolation(tmp_path):
    reserves = isolated_reserves(ceiling=None)
    data = scenario(tmp_path, [(0, "WETH", "collateral", 1.0), (0, "USDC", "debt", 1.0)], reserves=reserves).to_dict()
    data["protocols"]["mm"]["accounts"] = {
        "kind": "generated", "count": 3000, "total_debt_usd": 3e7, "collateral": {"WETH": 0.5, "WBTC": 0.5},
        "debt": {"USDC": 0.5, "WETH": 0.5}, "collaterals_per_account": 2,
        "health_factor": {"distribution": "lognormal", "median": 1.5, "sigma": 0.2, "low": 1.01, "high": 4}}
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path), seed=3)
    mm = sim.protocols["mm"]
    k, usdc = mm.asset_index["WBTC"], mm.asset_index["USDC"]
    iso = np.flatnonzero(mm.isolated_on == k)
    assert 0.3 * mm.n_accounts < iso.size < 0.7 * mm.n_accounts
    owed = 0.0
    for i in iso:
        assert list(mm.balances(i, "collateral")) == [k]
        debts = mm.balances(i, "debt")
        assert list(debts) == [usdc]
        owed += debts[usdc]
    assert mm.isolation_debt[k] == pytest.approx(owed, rel=1e-12)
    # accounts not isolated borrow both debt assets
    others = np.flatnonzero(mm.isolated_on < 0)
    assert {a for i in others for a in mm.balances(i, "debt")} == {usdc, mm.asset_index["WETH"]}
    data["protocols"]["mm"]["reserves"]["USDC"]["borrowable_in_isolation"] = False
    with pytest.raises(contagion.ScenarioError, match=r"need a debt asset with borrowable_in_isolation: true"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
