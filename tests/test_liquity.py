"""Liquity in a run: stability-pool offsets, redistribution, Recovery Mode, depositors, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.engine.chain import Revert
from contagion.errors import ScenarioError
from _support import NETWORKS, apply_changes

# trove 0 falls to ICR 1.05 when ETH gaps from $2,000 to $1,500; the others stay safe
COLL = np.array([1.4, 10.0, 20.0, 30.0])
DEBT = np.array([2000.0, 5000.0, 8000.0, 9000.0])
GAS_SHARE, RESERVE = 0.005, 200.0


def liquity_data(tmp_path, coll=COLL, debt=DEBT, *, sp: float, drop_to: float = 1500.0,
                 depositors: dict | None = None) -> dict:
    pd.DataFrame({"collateral": coll, "debt": debt}).to_csv(tmp_path / "troves.csv", index=False)
    agents = {"liquidator": {"kind": "trove_liquidator", "watches": ["liquity"], "inventory": {"ETH": 10},
                             "gas_price": 50}}
    if depositors is not None:
        agents["depositors"] = {"kind": "stability_depositor", "watches": ["liquity"], "count": 1, "share": 0.5,
                                "inventory": {"ETH": 1}, **depositors}
    return {
        "name": "liquity_test", "description": "a few troves", "seed": 2, "until": "10min",
        "chains": {"ethereum": {"block_time": "12s", "native_asset": "ETH"}},
        "assets": {"ETH": {"chain": "ethereum", "kind": "native"}, "LUSD": {"chain": "ethereum", "kind": "stable"}},
        "venues": {"cex": {"asset": "ETH", "quote": "LUSD",
                           "path": {"kind": "piecewise", "points": [[0, 2000], [60, 2000], [61, drop_to],
                                                                    [3600, drop_to]]}}},
        "oracles": {"eth_usd": {"kind": "push", "chain": "ethereum", "asset": "ETH", "sources": ["cex"],
                                "deviation_threshold": 0.005, "heartbeat": "1h"}},
        "protocols": {"liquity": {"type": "liquity", "chain": "ethereum", "collateral": "ETH", "debt": "LUSD",
                                  "oracles": {"ETH": "eth_usd"}, "stability_pool": sp,
                                  "positions": {"kind": "snapshot", "path": "troves.csv"}}},
        "agents": agents,
    }


def run(data, tmp_path, **kwargs):
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path), check_invariants=True, **kwargs)
    return sim, sim.run()


def lusd_total(sim) -> float:
    """LUSD in existence outside the venue's own inventory (nobody trades on the venue here)."""
    assert sim.ledger.balance("venue:cex", "LUSD") == 1e7 * 2000.0
    return sim.ledger.total("LUSD") - sim.ledger.balance("venue:cex", "LUSD")


@pytest.fixture(scope="module")
def offset_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("liquity_offset")
    return run(liquity_data(tmp, sp=10_000.0, depositors={"drawdown_threshold": None}), tmp)


def test_the_stability_pool_burns_the_debt_and_pays_depositors_the_collateral(offset_run):
    sim, res = offset_run
    system = sim.protocols["liquity"]
    rows = res.trove_liquidations
    assert rows["trove"].tolist() == [0]
    row = rows.iloc[0]
    gas = COLL[0] * GAS_SHARE                                      # 0.007 ETH to the liquidator
    assert (row["mode"], row["price"]) == ("normal", 1500.0)
    assert row["icr"] == pytest.approx(COLL[0] * 1500 / DEBT[0], rel=1e-15)          # 1.05
    assert row["debt_offset"] == DEBT[0] and row["debt_redistributed"] == 0.0
    assert row["collateral_to_sp"] == pytest.approx(COLL[0] - gas, rel=1e-15)       # 1.393 ETH
    assert row["collateral_gas_compensation"] == pytest.approx(gas, rel=1e-15)
    assert row["debt_gas_compensation"] == RESERVE
    offset = res.sp_offsets.iloc[0]
    assert (offset["deposits_before"], offset["deposits_after"]) == (10_000.0, 8_000.0)
    assert offset["depositors"] == 2
    # each half of the pool lost 1,000 LUSD and gained half of 1.393 ETH
    assert system.deposits.tolist() == pytest.approx([4000.0, 4000.0], rel=1e-15)
    assert system.gains.tolist() == pytest.approx([(COLL[0] - gas) / 2] * 2, rel=1e-15)
    assert sim.ledger.balance(system.sp_account, "LUSD") == pytest.approx(8000.0, rel=1e-15)
    assert sim.ledger.balance(system.sp_account, "ETH") == pytest.approx(COLL[0] - gas, rel=1e-15)
    # depositors bought 1.393 ETH worth $2,089.5 with 2,000 LUSD: the liquidation discount
    assert (COLL[0] - gas) * 1500 - DEBT[0] == pytest.approx(89.5, rel=1e-12)
    # exactly the debt was burned; the minted LUSD left equals the troves' debt
    assert system.burned == DEBT[0]
    assert lusd_total(sim) == pytest.approx(DEBT.sum() - DEBT[0], rel=1e-15)
    assert system.total_debt == pytest.approx(DEBT[1:].sum(), rel=1e-15)
    # the liquidator holds the LUSD reserve and the collateral compensation; the other troves are untouched
    assert sim.ledger.balance("liquidator#0", "LUSD") == RESERVE
    fee = res.transactions[res.transactions["sender"] == "liquidator#0"]["fee_native"].sum()
    assert sim.ledger.balance("liquidator#0", "ETH") == pytest.approx(10 - fee + gas, rel=1e-12)
    assert system.coll[1:].tolist() == COLL[1:].tolist() and system.debt[1:].tolist() == DEBT[1:].tolist()


def test_nothing_is_sold_on_a_market(offset_run):
    _, res = offset_run
    assert res.swaps.empty
    assert set(res.transactions["kind"]) <= {"oracle_update", "liquidation"}


def test_a_liquidation_row_joins_the_cascade(offset_run):
    _, res = offset_run
    liq = res.liquidations.iloc[0]
    update = res.oracle_updates[res.oracle_updates["price"] == 1500.0]["update_id"].iloc[0]
    assert (liq["trigger_update_id"], liq["induced"], liq["generation"]) == (update, False, 1)
    assert liq["repaid"] == DEBT[0] and liq["seized"] == pytest.approx(COLL[0], rel=1e-15)
    assert liq["health_factor"] == pytest.approx(1.05 / 1.1, rel=1e-12)
    assert liq["liquidation_price"] == pytest.approx(1.1 * DEBT[0] / COLL[0], rel=1e-15)


@pytest.mark.parametrize("sp", [0.0, 1200.0])
def test_what_the_pool_cannot_cover_is_redistributed_pro_rata_to_collateral(tmp_path, sp):
    sim, res = run(liquity_data(tmp_path, sp=sp), tmp_path)
    system = sim.protocols["liquity"]
    liquid = COLL[0] * (1 - GAS_SHARE)                              # 1.393 ETH after gas compensation
    offset = min(sp, DEBT[0])
    to_sp = liquid * offset / DEBT[0]
    debt_r, coll_r = DEBT[0] - offset, liquid - to_sp
    row = res.trove_liquidations.iloc[0]
    assert row["debt_offset"] == offset and row["debt_redistributed"] == pytest.approx(debt_r, rel=1e-15)
    assert row["collateral_to_sp"] == pytest.approx(to_sp, rel=1e-15)
    assert row["collateral_redistributed"] == pytest.approx(coll_r, rel=1e-15)
    red = res.redistributions.iloc[0]
    assert (red["recipients"], red["recipient_collateral"]) == (3, 60.0)
    assert red["debt_per_collateral"] == pytest.approx(debt_r / 60.0, rel=1e-15)
    share = COLL[1:] / COLL[1:].sum()                               # 10 : 20 : 30
    assert system.coll[1:].tolist() == pytest.approx((COLL[1:] + coll_r * share).tolist(), rel=1e-15)
    assert system.debt[1:].tolist() == pytest.approx((DEBT[1:] + debt_r * share).tolist(), rel=1e-15)
    assert (system.coll[0], system.debt[0]) == (0.0, 0.0)
    # debt moved, none vanished: only the offset part was burned
    assert lusd_total(sim) == pytest.approx(DEBT.sum() - offset, rel=1e-15)
    assert system.total_debt == pytest.approx(DEBT.sum() - offset, rel=1e-15)
    assert sim.ledger.balance(system.account, "ETH") == pytest.approx(COLL.sum() - COLL[0] * GAS_SHARE - to_sp,
                                                                     rel=1e-15)
    assert res.swaps.empty
    assert res.summary()["bad_debt_usd"] == 0.0
    assert all(r.ok for r in sim.ledger.conservation())
    if sp == 0.0:
        assert res.sp_offsets.empty


def test_recovery_mode_caps_offsets_and_redistributes_troves_under_100_percent(tmp_path):
    # D: ICR 0.9, A: 1.2, C: 1.4, B: 1.5 at $1,000; TCR 48.2 / 34 = 1.418 < 1.5
    coll = np.array([1.8, 2.4, 14.0, 30.0])
    debt = np.array([2000.0, 2000.0, 10_000.0, 20_000.0])
    sim, res = run(liquity_data(tmp_path, coll, debt, sp=5000.0, drop_to=1000.0), tmp_path)
    system = sim.protocols["liquity"]
    rows = res.trove_liquidations.set_index("trove")
    assert rows.index.tolist() == [0, 1] and (rows["mode"] == "recovery").all()
    # D (ICR <= 100 %): all of it redistributed, although the pool had 5,000 LUSD
    d = rows.loc[0]
    assert d["debt_offset"] == 0.0 and d["debt_redistributed"] == 2000.0
    assert d["collateral_redistributed"] == pytest.approx(1.8 * 0.995, rel=1e-15)
    # A (MCR <= ICR < TCR, debt <= pool): capped offset at 110 % of its debt, the surplus to its owner
    a = rows.loc[1]
    capped = 2000.0 * 1.1 / 1000.0
    assert a["debt_offset"] == 2000.0 and a["debt_redistributed"] == 0.0
    assert a["collateral_gas_compensation"] == pytest.approx(capped * GAS_SHARE, rel=1e-15)
    assert a["collateral_to_sp"] == pytest.approx(capped * (1 - GAS_SHARE), rel=1e-15)
    assert a["collateral_surplus"] == pytest.approx(2.4 - capped, rel=1e-12)
    assert sim.ledger.balance(system.borrowers, "ETH") == pytest.approx(2.4 - capped, rel=1e-12)
    # C (ICR 1.4 < TCR) owes more than the 3,000 left in the pool: not liquidated; B is above the TCR
    red = res.redistributions.iloc[0]
    assert (red["recipients"], red["recipient_collateral"]) == (2, 44.0)
    assert system.coll[2:].tolist() == pytest.approx((coll[2:] + 1.8 * 0.995 * coll[2:] / 44).tolist(), rel=1e-15)
    assert system.debt[2:].tolist() == pytest.approx((debt[2:] + 2000.0 * coll[2:] / 44).tolist(), rel=1e-15)
    state = res.liquity_state.iloc[-1]
    assert state["recovery_mode"] and state["sp_deposits"] == pytest.approx(3000.0, rel=1e-15)
    # D leaves its gas compensation, A all of its collateral (pool, liquidator, owner); A's debt is gone
    assert state["tcr"] == pytest.approx((coll.sum() - 1.8 * 0.005 - 2.4) * 1000 / 32_000, rel=1e-12)
    # C is liquidatable by the Recovery Mode rule, but no batch can liquidate it
    assert system.liquidatable_ids().tolist() == [2]
    assert system.sequence([2]) == []
    with sim.dry_run(system.chain):
        with pytest.raises(Revert, match="nothing to liquidate"):
            system.batch_liquidate("liquidator#0", [2, 3], "liquidator#0")
    assert res.swaps.empty


def test_the_last_trove_is_never_liquidated(tmp_path):
    # alone, the trove's ICR is the TCR (1.05): Recovery Mode, where Liquity skips the last trove
    sim, res = run(liquity_data(tmp_path, np.array([1.4]), np.array([2000.0]), sp=0.0), tmp_path)
    assert res.liquidations.empty
    system = sim.protocols["liquity"]
    assert system.recovery_mode() and system.liquidatable_ids().tolist() == [0]
    assert system.sequence([0]) == []


def test_depositors_cannot_leave_while_a_trove_is_liquidatable(tmp_path):
    data = liquity_data(tmp_path, sp=10_000.0, depositors={"drawdown_threshold": 0.01, "threshold_dispersion": 0.0,
                                                           "gas_price": 100})
    sim, res = run(data, tmp_path)
    withdrawals = res.transactions[res.transactions["kind"] == "sp_withdraw"].sort_values("tx_id")
    first = withdrawals.iloc[0]
    assert first["status"] == "reverted"
    assert first["revert_reason"] == "StabilityPool: Cannot withdraw while there are liquidatable troves"
    liquidation = res.transactions[res.transactions["kind"] == "liquidation"].iloc[0]
    assert liquidation["block"] == first["block"]                  # outbid by the depositor, included after it
    done = res.sp_withdrawals.iloc[0]
    # after the offset: 5,000 - 1,000 LUSD and half of the 1.393 ETH
    assert done["debt_withdrawn"] == pytest.approx(4000.0, rel=1e-15)
    assert done["collateral_gain"] == pytest.approx(1.393 / 2, rel=1e-12)
    assert (done["deposit_left"], done["pool_deposits"], done["reason"]) == (0.0, pytest.approx(4000.0), "drawdown")
    assert sim.ledger.balance("depositors#0", "LUSD") == pytest.approx(4000.0, rel=1e-15)
    assert len(res.sp_withdrawals) == 1                             # nothing left to withdraw


def test_same_seed_same_tables(tmp_path):
    data = liquity_data(tmp_path, sp=1200.0, depositors={"drawdown_threshold": 0.01})
    frames = [run(data, tmp_path, seed=4)[1] for _ in range(2)]
    for table in ("trove_liquidations", "sp_offsets", "redistributions", "sp_withdrawals", "liquity_state",
                  "transactions"):
        pd.testing.assert_frame_equal(frames[0].frames[table], frames[1].frames[table])


# ------------------------------------------------------------------------------- shipped scenario
@pytest.fixture(scope="module")
def shipped():
    sim = contagion.Simulation(contagion.load_network(NETWORKS / "liquity_stability_pool.yaml"))
    return sim, sim.run()


@pytest.mark.slow
def test_shipped_scenario_empties_the_pool_then_redistributes(shipped):
    sim, res = shipped
    rows, state = res.trove_liquidations, res.liquity_state
    assert res.swaps.empty                                           # no market sale at all
    first_red = res.redistributions["time"].min()
    assert res.sp_offsets["time"].max() <= first_red                 # the pool first, then redistribution
    assert state[state["time"] >= first_red]["sp_deposits"].max() == 0.0
    assert rows["debt_offset"].sum() == pytest.approx(12_000_000 - res.sp_withdrawals["debt_withdrawn"].sum(),
                                                      rel=1e-9)
    assert state["recovery_mode"].any()
    assert (res.sp_withdrawals["reason"] == "drawdown").all()
    assert res.summary()["bad_debt_usd"] == 0.0
    sim.check()


# ------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("path, value, match", [
    ("protocols.liquity.mcr", 1.0, r"protocols.liquity.mcr: must be > 1"),
    ("protocols.liquity.ccr", 1.05, "ccr must be > mcr"),
    ("protocols.liquity.oracles", {"ETH": "eth_usd", "LUSD": "eth_usd"},
     "protocols.liquity.oracles.LUSD: key must be the collateral asset ETH"),
    ("protocols.liquity.debt", "ETH", "protocols.liquity.debt: must differ from the collateral asset"),
    ("agents.depositors.share", 1.5, r"agents.depositors.share: must be in \(0, 1\]"),
    ("agents.liquidator.batch_size", 0, "agents.liquidator.batch_size: must be >= 1"),
])
def test_bad_liquity_scenarios_name_the_key(tmp_path, path, value, match):
    data = apply_changes(liquity_data(tmp_path, sp=100.0, depositors={}), {path: value})
    with pytest.raises(ScenarioError, match=match):
        contagion.Network.from_dict(data, base_dir=tmp_path)


def test_generated_book_limits(tmp_path):
    data = liquity_data(tmp_path, sp=0.0)
    hf = {"distribution": "uniform", "low": 1.2, "high": 3.0}
    data["protocols"]["liquity"]["positions"] = {"kind": "generated", "count": 100, "total_debt": 150_000,
                                                 "health_factor": hf}
    with pytest.raises(ScenarioError, match=r"positions.total_debt: must be >= count x \(min_net_debt \+ "
                                            r"gas_compensation\) = 200000"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
    data["protocols"]["liquity"]["positions"]["total_debt"] = 1e6
    data["protocols"]["liquity"]["stability_pool"] = 990_000
    with pytest.raises(ScenarioError, match="stability_pool: must be <= the debt token the troves minted"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
    data["protocols"]["liquity"]["stability_pool"] = 100_000
    data["agents"]["d1"] = {"kind": "stability_depositor", "watches": ["liquity"], "share": 0.7}
    data["agents"]["d2"] = {"kind": "stability_depositor", "watches": ["liquity"], "share": 0.6}
    with pytest.raises(ScenarioError, match="agents.d2.share: stability depositor populations of liquity own more"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
    del data["agents"]["d2"]
    data["agents"]["d1"]["watches"] = ["nope"]
    with pytest.raises(ScenarioError, match=r"agents.d1.watches\[0\]: must name an entry of protocols"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
    del data["agents"]["d1"]
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path))
    system = sim.protocols["liquity"]
    assert system.debt.min() >= 2000.0 and system.debt.sum() == pytest.approx(1e6, rel=1e-12)
    icr = system.icr()
    assert icr.min() >= 1.1 * 1.2 - 1e-12 and icr.max() <= 1.1 * 3.0 + 1e-12
    assert sim.ledger.balance(system.gas_pool, "LUSD") == 100 * RESERVE
    assert sim.ledger.balance(system.borrowers, "LUSD") == pytest.approx(1e6 - 100 * RESERVE - 100_000, rel=1e-12)


def test_a_rolled_back_liquidation_leaves_no_trace(tmp_path):
    data = liquity_data(tmp_path, sp=1200.0)
    del data["agents"]["liquidator"]
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path), check_invariants=True)
    sim.run("90s")
    system = sim.protocols["liquity"]
    assert system.liquidatable_ids().tolist() == [0]
    state = lambda: (system.coll.copy(), system.debt.copy(), system.deposits.copy(), system.gains.copy(),
                     system.trigger.copy(), system.index.keys.copy(), system.total_coll, system.total_debt,
                     system.burned, sim.ledger.total("LUSD"), sim.recorder.count("trove_liquidations"))
    before = state()
    sim.ledger.add_account("tester", "test")
    with sim.dry_run(system.chain):
        rows = system.batch_liquidate("tester", [0, 1], "tester")        # trove 1 is safe: skipped
        assert [r["trove"] for r in rows] == [0]
        assert system.deposits.sum() == 0.0 and system.debt[1] > DEBT[1]
        assert sim.ledger.balance("tester", "LUSD") == RESERVE
    after = state()
    for a, b in zip(before, after):
        assert np.array_equal(a, b)
    assert system.liquidatable_ids().tolist() == [0]
    sim.check()


@pytest.mark.slow
def test_summary_reports_offset_and_redistributed_debt(shipped):
    _, res = shipped
    s = res.summary()
    assert s["debt_offset.liquity"] == pytest.approx(float(res.sp_offsets["debt_offset"].sum()))
    assert s["debt_redistributed.liquity"] == pytest.approx(float(res.redistributions["debt"].sum()))
    assert s["debt_offset.liquity"] > 0 and s["debt_redistributed.liquity"] > 0
    # every liquidated trove's debt went one of the two ways
    rows = res.trove_liquidations
    assert s["debt_offset.liquity"] + s["debt_redistributed.liquity"] == pytest.approx(
        float(rows["debt_offset"].sum() + rows["debt_redistributed"].sum()), rel=1e-9)
