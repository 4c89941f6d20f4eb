"""The Comet market in a run: absorb, reserves and bad debt, buyCollateral, provenance, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.comet import absorb_amounts
from contagion.engine.chain import Revert
from contagion.errors import ScenarioError
from _support import NETWORKS, apply_changes

# four accounts: debt (USDC), ETH and COMP collateral
DEBT = np.array([1000.0, 1400.0, 2300.0, 1450.0])
COLL = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 20.0], [1.0, 0.0]])
LCF, LF = np.array([0.895, 0.70]), np.array([0.95, 0.93])
ETH_AFTER, COMP = 1500.0, 50.0
RESERVES, TARGET = 3000.0, 1000.0


def comet_data(tmp_path, *, buyer_usdc: float | None = 1500.0, reserves: float = RESERVES,
               target: float = TARGET, rebate: float = 0.0) -> dict:
    """A market of the four accounts above; ETH gaps from $2,000 to $1,500 at one minute."""
    pd.DataFrame({"debt": DEBT, "ETH": COLL[:, 0], "COMP": COLL[:, 1]}).to_csv(tmp_path / "accounts.csv", index=False)
    agents = {"absorber": {"kind": "absorber", "watches": ["comet"], "inventory": {"ETH": 10}, "gas_price": 50}}
    if buyer_usdc is not None:
        agents["buyer"] = {"kind": "collateral_buyer", "watches": ["comet"], "inventory": {"ETH": 10, "USDC": buyer_usdc},
                           "gas_price": 40}
    return {
        "name": "comet_test", "description": "four accounts", "seed": 3, "until": "10min",
        "chains": {"ethereum": {"block_time": "12s", "native_asset": "ETH"}},
        "assets": {"ETH": {"chain": "ethereum", "kind": "native"}, "COMP": {"chain": "ethereum"},
                   "USDC": {"chain": "ethereum", "kind": "stable", "decimals": 6}},
        "venues": {"cex": {"asset": "ETH", "quote": "USDC",
                           "path": {"kind": "piecewise", "points": [[0, 2000], [60, 2000], [61, ETH_AFTER],
                                                                    [3600, ETH_AFTER]]}}},
        "pools": {"uni": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "USDC"],
                          "reserves": [100, 200_000]}},
        "oracles": {"eth_usd": {"kind": "push", "chain": "ethereum", "asset": "ETH", "sources": ["cex"],
                                "deviation_threshold": 0.005, "heartbeat": "1h"},
                    "comp_usd": {"kind": "fixed", "asset": "COMP", "price": COMP},
                    "usdc_usd": {"kind": "fixed", "asset": "USDC", "price": 1.0}},
        "protocols": {"comet": {
            "type": "comet", "chain": "ethereum", "base": "USDC",
            "collaterals": {"ETH": {"borrow_collateral_factor": 0.825, "liquidate_collateral_factor": 0.895,
                                    "liquidation_factor": 0.95},
                            "COMP": {"borrow_collateral_factor": 0.65, "liquidate_collateral_factor": 0.70,
                                     "liquidation_factor": 0.93}},
            "oracles": {"USDC": "usdc_usd", "ETH": "eth_usd", "COMP": "comp_usd"},
            "store_front_price_factor": 0.5, "target_reserves": target, "reserves": reserves, "liquidity": 10_000,
            "liquidates_into": ["uni"], "absorb_rebate": rebate,
            "positions": {"kind": "snapshot", "path": "accounts.csv"}}},
        "agents": agents,
    }


def run(data, tmp_path, **kwargs):
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path), check_invariants=True, **kwargs)
    return sim, sim.run()


@pytest.fixture(scope="module")
def absorbed(tmp_path_factory):
    """Absorbs only (no buyer): the protocol keeps the collateral."""
    tmp = tmp_path_factory.mktemp("comet_absorb")
    return run(comet_data(tmp, buyer_usdc=None), tmp)


@pytest.fixture(scope="module")
def bought(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("comet_buy")
    return run(comet_data(tmp), tmp)


def test_the_oracle_publishes_the_gap(absorbed):
    _, res = absorbed
    eth = res.oracle_updates[res.oracle_updates["oracle"] == "eth_usd"]
    assert eth["price"].tolist() == [2000.0, ETH_AFTER]


def test_absorb_takes_all_collateral_and_credits_its_liquidation_factor_value(absorbed):
    sim, res = absorbed
    ab = res.absorbs.set_index("account").sort_index()
    assert ab.index.tolist() == [1, 2, 3]            # account 0 (1,342.5 of liquidity for 1,000 of debt) is safe
    prices = np.array([ETH_AFTER, COMP])
    credit = COLL @ (prices * LF)                    # sum of value x liquidation factor, USDC at $1
    for i in (1, 2, 3):
        row = ab.loc[i]
        assert row["debt"] == DEBT[i]
        assert row["collateral_value"] == pytest.approx(COLL[i] @ prices, rel=1e-12)
        assert row["credited"] == pytest.approx(credit[i], rel=1e-12)
        assert row["new_balance"] == pytest.approx(max(0.0, credit[i] - DEBT[i]), rel=1e-12, abs=1e-9)
        assert row["base_paid_out"] == pytest.approx(max(credit[i], DEBT[i]), rel=1e-12)
        assert row["shortfall"] == pytest.approx(max(0.0, DEBT[i] - credit[i]), rel=1e-12, abs=1e-9)
        assert row["reserves_before"] - row["reserves_after"] == pytest.approx(row["base_paid_out"], rel=1e-12)
    # the public math agrees
    c, nb, paid, short = absorb_amounts(DEBT[1:], COLL[1:], prices, LF)
    assert np.allclose(ab["credited"], c, rtol=1e-12) and np.allclose(ab["shortfall"], short, atol=1e-9)
    assert ab.loc[3, "shortfall"] == pytest.approx(25.0, rel=1e-12)     # 1,450 owed, 1,425 credited
    protocol = sim.protocols["comet"]
    # the accounts hold nothing any more; account 1 and 2 keep their excess credit as supply
    assert np.all(protocol.collateral[1:] == 0.0) and np.array_equal(protocol.collateral[0], COLL[0])
    assert protocol.balance[1:].tolist() == pytest.approx([25.0, 55.0, 0.0], abs=1e-9)
    assert protocol.collateral_reserves.tolist() == [3.0, 20.0]
    # no token moved: the protocol holds the same collateral as at the start
    assert sim.ledger.balance(protocol.account, "ETH") == 4.0
    assert sim.ledger.balance(protocol.account, "COMP") == 20.0


def test_reserves_pay_for_the_absorbs_and_go_negative(absorbed):
    sim, res = absorbed
    paid = sum(max(c, d) for c, d in zip(COLL[1:] @ (np.array([ETH_AFTER, COMP]) * LF), DEBT[1:]))
    expected = RESERVES - paid                                   # 3,000 - (1,425 + 2,355 + 1,450)
    assert expected == pytest.approx(-2230.0)
    protocol = sim.protocols["comet"]
    assert protocol.reserves == pytest.approx(expected, rel=1e-12)
    last = res.protocols.iloc[-1]
    assert last["bad_debt"] == pytest.approx(-expected, rel=1e-12)    # negative reserves, USDC at $1
    assert last["debt"] == pytest.approx(DEBT[0], rel=1e-12)
    state = res.comet_state.iloc[-1]
    assert state["reserves"] == pytest.approx(expected, rel=1e-12) and state["for_sale"]
    assert state["collateral_reserves_value"] == pytest.approx(3 * ETH_AFTER + 20 * COMP, rel=1e-12)
    # Comet's identity: base held = reserves + supply - borrow
    held = sim.ledger.balance(protocol.account, "USDC")
    assert held == pytest.approx(RESERVES + 10_000, rel=1e-15)
    assert state["reserves"] == pytest.approx(held - state["total_supply"] + state["total_borrow"], rel=1e-9)


def test_absorbs_are_liquidations_with_provenance(absorbed):
    _, res = absorbed
    liq = res.liquidations
    update = res.oracle_updates[res.oracle_updates["price"] == ETH_AFTER]["update_id"].iloc[0]
    assert set(liq["trigger_update_id"]) == {update}
    assert not liq["induced"].any() and set(liq["generation"]) == {1}    # the gap alone did it
    # one row per account and collateral asset; the debt forgiven is split by share of the credit
    assert sorted(zip(liq["position"], liq["collateral_asset"])) == [(1, "ETH"), (2, "COMP"), (2, "ETH"), (3, "ETH")]
    two = liq[liq["position"] == 2].set_index("collateral_asset")
    assert two.loc["ETH", "repaid"] == pytest.approx(2300.0 * 1425.0 / 2355.0, rel=1e-12)
    assert two.loc["COMP", "repaid"] == pytest.approx(2300.0 * 930.0 / 2355.0, rel=1e-12)
    assert two.loc["COMP", "seized"] == 20.0 and two.loc["COMP", "price"] == COMP
    assert liq.groupby("position")["repaid"].sum().tolist() == pytest.approx(DEBT[1:].tolist(), rel=1e-12)
    hf = (COLL @ (np.array([ETH_AFTER, COMP]) * LCF)) / DEBT
    assert liq.groupby("position")["health_factor"].first().tolist() == pytest.approx(hf[1:].tolist(), rel=1e-12)
    assert (liq["health_factor"] < 1).all()
    # account 1's ETH liquidation price: debt / (c lcf)
    assert liq[liq["position"] == 1]["liquidation_price"].iloc[0] == pytest.approx(1400.0 / 0.895, rel=1e-12)
    assert res.absorbs["tx_id"].nunique() == 1                          # one batch


def test_buy_collateral_pays_the_store_front_price_and_stops_at_target(bought):
    sim, res = bought
    buys = res.collateral_buys.sort_values("buy_id")
    assert len(buys) >= 2
    store_front = ETH_AFTER * (1 - 0.5 * (1 - 0.95))                  # 1,462.5 USDC per ETH
    assert (buys["asset"] == "ETH").all()                             # no market for COMP: it stays unsold
    assert np.allclose(buys["price"], store_front, rtol=1e-15)
    assert np.allclose(buys["collateral_bought"], buys["base_paid"] / store_front, rtol=1e-12)
    assert np.allclose(buys["discount"], 0.025, rtol=1e-9)
    assert np.allclose(buys["reserves_after"], buys["reserves_before"] + buys["base_paid"], rtol=1e-12)
    # every purchase happened below the target; the last one took the reserves over it
    assert (buys["reserves_before"] < TARGET).all()
    assert buys["reserves_after"].iloc[-1] >= TARGET
    assert buys["reserves_before"].iloc[0] == pytest.approx(RESERVES - 5230.0, rel=1e-12)
    protocol = sim.protocols["comet"]
    assert protocol.reserves == pytest.approx(RESERVES - 5230.0 + buys["base_paid"].sum(), rel=1e-12)
    left = protocol.collateral_reserves[0]
    assert left == pytest.approx(3.0 - buys["collateral_bought"].sum(), rel=1e-12) and left > 0
    # once at target the store front is closed for the rest of the run, though ETH is left
    after = res.comet_state[res.comet_state["time"] > buys["time"].iloc[-1]]
    assert len(after) > 10 and not after["for_sale"].any()
    with sim.dry_run(protocol.chain):
        with pytest.raises(Revert, match="NotForSale"):
            protocol.buy_collateral("buyer#0", "ETH", 0.0, 100.0, "buyer#0")
    # each purchase was sold into the pool in the same transaction
    sales = res.swaps.set_index("tx_id")
    for _, row in buys.iterrows():
        assert sales.loc[row["tx_id"], "amount_in"] == pytest.approx(row["collateral_bought"], rel=1e-15)


def test_buy_collateral_reverts(absorbed):
    sim, _ = absorbed
    protocol = sim.protocols["comet"]
    sim.ledger.add_account("tester", "test")
    sim.ledger.mint("tester", "USDC", 1e6)
    store_front = ETH_AFTER * 0.975
    with sim.dry_run(protocol.chain):
        with pytest.raises(Revert, match="InsufficientReserves"):
            protocol.buy_collateral("tester", "ETH", 0.0, 3.5 * store_front, "tester")
        with pytest.raises(Revert, match="TooMuchSlippage"):
            protocol.buy_collateral("tester", "ETH", 1.01, store_front, "tester")
        with pytest.raises(Revert, match="not a collateral asset"):
            protocol.buy_collateral("tester", "USDC", 0.0, 10.0, "tester")
        got = protocol.buy_collateral("tester", "COMP", 0.0, 482.5, "tester")
        assert got == pytest.approx(482.5 / (COMP * (1 - 0.5 * 0.07)), rel=1e-12)     # 10 COMP
        assert protocol.reserves == pytest.approx(-2230.0 + 482.5, rel=1e-12)
    assert protocol.reserves == pytest.approx(-2230.0, rel=1e-12)                        # rolled back
    with sim.dry_run(protocol.chain):
        with pytest.raises(Revert, match="NotLiquidatable: account 0"):
            protocol.absorb("tester", [0], "tester")


def test_money_is_conserved(bought):
    sim, res = bought
    rows = sim.ledger.conservation()
    assert all(r.ok for r in rows)
    usdc = next(r for r in rows if r.asset == "USDC")
    # minted: reserves + liquidity held by the protocol, the debts held by borrowers, the pool, the buyer
    # and the venue's default inventory (1e7 ETH's worth at the start price)
    assert usdc.expected == pytest.approx(RESERVES + 10_000 + DEBT.sum() + 200_000 + 1500.0 + 1e7 * 2000, rel=1e-15)
    protocol = sim.protocols["comet"]
    buys = res.collateral_buys
    assert sim.ledger.balance(protocol.account, "USDC") == pytest.approx(RESERVES + 10_000 + buys["base_paid"].sum(),
                                                                        rel=1e-12)
    assert sim.ledger.balance(protocol.account, "ETH") == pytest.approx(4.0 - buys["collateral_bought"].sum(),
                                                                       rel=1e-12)


def test_absorb_rebate_is_paid_out_of_reserves(tmp_path):
    sim, res = run(comet_data(tmp_path, buyer_usdc=None, rebate=5.0), tmp_path)
    protocol = sim.protocols["comet"]
    assert protocol.reserves == pytest.approx(-2230.0 - 3 * 5.0, rel=1e-12)
    assert sim.ledger.balance("absorber#0", "USDC") == 15.0


def test_same_seed_same_tables(tmp_path):
    frames = [run(comet_data(tmp_path), tmp_path, seed=9)[1] for _ in range(2)]
    for table in ("absorbs", "collateral_buys", "liquidations", "comet_state", "transactions"):
        pd.testing.assert_frame_equal(frames[0].frames[table], frames[1].frames[table])


# ------------------------------------------------------------------------------- shipped scenario
@pytest.fixture(scope="module")
def shipped():
    net = contagion.load_network(NETWORKS / "comet_usdc.yaml")
    sim = contagion.Simulation(net, check_invariants=False)
    return sim, sim.run()


@pytest.mark.slow
def test_shipped_scenario_absorbs_in_a_cascade_and_stops_selling_at_target(shipped):
    sim, res = shipped
    ab, buys, state = res.absorbs, res.collateral_buys, res.comet_state
    assert len(ab) > 100
    assert ab["generation"].max() > 1 and ab["induced"].any()            # buyers' sales fed back to the oracles
    store_front = buys["oracle_price"] * (1 - 0.5 * (1 - buys["asset"].map({"ETH": 0.95, "WBTC": 0.95, "COMP": 0.93})))
    assert np.allclose(buys["price"], store_front, rtol=1e-12)
    assert (buys["reserves_before"] < 5_000_000).all()
    assert (~state["for_sale"]).any() and (state["reserves"] >= 5_000_000).any()
    closed = state[~state["for_sale"]]
    assert (closed["reserves"] >= 5_000_000).all()
    sim.check()


# ------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("path, value, match", [
    ("protocols.comet.collaterals.ETH.borrow_collateral_factor", 0.9,
     "protocols.comet.collaterals.ETH: .*borrow_collateral_factor must be < liquidate_collateral_factor"),
    ("protocols.comet.collaterals.ETH.liquidation_factor", 1.5, r"liquidation_factor: must be in \(0, 1\]"),
    ("protocols.comet.store_front_price_factor", 1.2, r"store_front_price_factor: must be in \[0, 1\]"),
    ("protocols.comet.oracles", {"USDC": "usdc_usd", "ETH": "eth_usd"},
     "protocols.comet.oracles.COMP: required: an oracle for the base and for each collateral asset"),
    ("protocols.comet.oracles.COMP", "eth_usd", "protocols.comet.oracles.COMP: oracle prices ETH, not COMP"),
    ("protocols.comet.liquidates_into", ["nowhere"], r"protocols.comet.liquidates_into\[0\]: must name a pool or a venue"),
    ("protocols.comet.base", "ETH", "protocols.comet.collaterals.ETH: must differ from the base asset"),
    ("protocols.comet.reserves", -20_000, "reserves \\+ liquidity .* must be >= 0"),
    ("agents.absorber.watches", ["uni"], r"agents.absorber.watches\[0\]: must name an entry of protocols"),
])
def test_bad_comet_scenarios_name_the_key(tmp_path, path, value, match):
    data = apply_changes(comet_data(tmp_path), {path: value})
    with pytest.raises(ScenarioError, match=match):
        contagion.Network.from_dict(data, base_dir=tmp_path)


def test_generated_books_respect_the_mix_and_the_supply_cap(tmp_path):
    data = comet_data(tmp_path)
    data["protocols"]["comet"]["positions"] = {
        "kind": "generated", "count": 400, "total_debt": 1e6, "collateral_mix": {"ETH": 3, "COMP": 1},
        "health_factor": {"distribution": "uniform", "low": 1.2, "high": 2.0}}
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path))
    protocol = sim.protocols["comet"]
    hf = protocol.health_factors()
    assert hf.min() >= 1.2 and hf.max() <= 2.0
    weighted = protocol.collateral * np.array([2000.0, COMP]) * LCF
    assert np.allclose(weighted[:, 0] / weighted.sum(axis=1), 0.75, rtol=1e-12)     # exactly the mix
    assert protocol.debt.sum() == pytest.approx(1e6, rel=1e-12)
    data["protocols"]["comet"]["positions"]["mix_concentration"] = 0.5
    data["protocols"]["comet"]["positions"]["collateral_mix"] = {"ETH": 1, "XYZ": 1}
    with pytest.raises(ScenarioError, match="positions.collateral_mix.XYZ: must be a collateral asset"):
        contagion.Network.from_dict(data, base_dir=tmp_path)
    data["protocols"]["comet"]["positions"]["collateral_mix"] = {"ETH": 1, "COMP": 1}
    data["protocols"]["comet"]["collaterals"]["ETH"]["supply_cap"] = 10.0
    with pytest.raises(ScenarioError, match="collaterals.ETH.supply_cap: must be >= the ETH the accounts supply"):
        contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path))


def test_a_reverted_absorb_leaves_no_trace(tmp_path):
    data = comet_data(tmp_path, buyer_usdc=None)
    del data["agents"]["absorber"]
    sim = contagion.Simulation(contagion.Network.from_dict(data, base_dir=tmp_path), check_invariants=True)
    sim.run("90s")
    protocol = sim.protocols["comet"]
    # largest shortfall first: liquidities -257.5 (account 2), -107.5 (3), -57.5 (1)
    assert protocol.liquidatable_ids().tolist() == [2, 3, 1]
    state = lambda: (protocol.balance.copy(), protocol.collateral.copy(), protocol.collateral_reserves.copy(),
                     protocol.trigger.copy(), protocol.reserves, protocol.total_supply, protocol.total_borrow,
                     sim.recorder.count("absorbs"), sim.recorder.count("liquidations"))
    before = state()
    sim.ledger.add_account("tester", "test")
    with sim.dry_run(protocol.chain):
        protocol.absorb("tester", [1, 2, 3], "tester")
        assert protocol.reserves == pytest.approx(RESERVES - 5230.0, rel=1e-12)
        assert sim.recorder.count("absorbs") == 3
    with sim.dry_run(protocol.chain):
        with pytest.raises(Revert, match="NotLiquidatable: account 0"):
            protocol.absorb("tester", [1, 0], "tester")                 # account 1 was absorbed first
    after = state()
    for a, b in zip(before, after):
        assert np.array_equal(a, b)
    sim.check()


def test_summary_reports_reserves_absorbs_and_buys(bought):
    _, res = bought
    s = res.summary()
    reserves = res.comet_state["reserves"]
    # the absorbs take the reserves from 3,000 to -2,230 (test above); buys only raise them again
    assert reserves.iloc[0] == RESERVES and reserves.min() == pytest.approx(-2230.0, rel=1e-12)
    assert s["reserves_drawdown.comet"] == pytest.approx(RESERVES + 2230.0, rel=1e-12)
    assert s["absorbs.comet"] == len(res.absorbs) > 0
    assert s["collateral_bought_base.comet"] == pytest.approx(float(res.collateral_buys["base_paid"].sum()))
