"""The options protocol (contagion.protocols.options): scenario validation, genesis, margin,
liquidation, settlement, the volatility level, conservation of money and determinism.

Margins here are computed independently of the package: a Black-Scholes on ``math.erfc`` and the
SPAN scan written out below."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

import contagion
from _support import NETWORKS, apply_changes
from contagion.errors import ScenarioError

GAMMA = NETWORKS / "gamma_squeeze.yaml"
YEAR = 365 * 86400.0
_ERFC = np.frompyfunc(math.erfc, 1, 1)

# SPAN's sixteen scenarios: (price move in ranges, volatility move in ranges, weight)
SPAN = [(0, 1, 1), (0, -1, 1), (1 / 3, 1, 1), (1 / 3, -1, 1), (-1 / 3, 1, 1), (-1 / 3, -1, 1),
        (2 / 3, 1, 1), (2 / 3, -1, 1), (-2 / 3, 1, 1), (-2 / 3, -1, 1), (1, 1, 1), (1, -1, 1),
        (-1, 1, 1), (-1, -1, 1), (2, 0, 0.35), (-2, 0, 0.35)]


def gamma_data(**changes) -> dict:
    """``networks/gamma_squeeze.yaml`` as data, with ``{"dotted.path": value}`` changes."""
    return apply_changes(yaml.safe_load(GAMMA.read_text()), changes)


def network(data: dict, base_dir=NETWORKS) -> contagion.Network:
    return contagion.Network.from_dict(data, source="gamma_squeeze.yaml", base_dir=base_dir)


def book_of(sim, name: str = "opts") -> dict:
    """The accounts and legs a protocol opened at genesis (copies)."""
    p = sim.protocols[name]
    s = p.leg_series
    return {"acct": p.leg_acct.copy(), "K": p.strike[s].copy(), "expiry": p.expiry[s].copy(),
            "call": p.is_call[s].copy(), "q": p.leg_qty.copy(), "under": p.coll_under.copy(),
            "coll": p.collateral.copy(), "kind": list(p.owner_kind), "n": p.n_accounts}


def ncdf(x):
    return 0.5 * _ERFC(-np.asarray(x, dtype=float) / math.sqrt(2.0)).astype(float)


def bs(S, K, T, sig, call, r=0.0):
    """Black-Scholes prices on arrays (intrinsic value when T <= 0)."""
    S, K, T, sig, call = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (S, K, T, sig)),
                                             np.asarray(call, dtype=bool))
    out = np.where(call, np.maximum(S - K, 0.0), np.maximum(K - S, 0.0))
    live = T > 0
    if live.any():
        s, k, t, v, c = S[live], K[live], T[live], sig[live], call[live]
        d1 = (np.log(s / k) + (r + v * v / 2) * t) / (v * np.sqrt(t))
        d2 = d1 - v * np.sqrt(t)
        kr = k * np.exp(-r * t)
        out[live] = np.where(c, s * ncdf(d1) - kr * ncdf(d2), kr * ncdf(-d2) - s * ncdf(-d1))
    return out


def bs_delta(S, K, T, sig, call):
    d1 = (np.log(S / K) + sig * sig / 2 * T) / (sig * np.sqrt(T))
    return np.where(call, ncdf(d1), ncdf(d1) - 1.0)


def health(book: dict, S: float, iv: float, t: float, price_range: float, vol_range: float,
           alive=None, vol_floor: float = 0.01) -> dict:
    """Margin of every account (SPAN scan, no horizon): collateral value, liability, risk, HF."""
    n, a = book["n"], book["acct"]
    q = book["q"] if alive is None else np.where(alive[a], book["q"], 0.0)
    T = np.maximum(book["expiry"] - t, 0.0) / YEAR
    v0 = bs(S, book["K"], T, iv, book["call"])
    liability = np.bincount(a, q * v0, minlength=n)
    under = np.where(book["under"], book["coll"], 0.0)
    worst = np.zeros(n)
    for m, v, w in SPAN:
        vs = bs(S * (1 + m * price_range), book["K"], T, max(vol_floor, iv + v * vol_range), book["call"])
        loss = w * (np.bincount(a, q * (vs - v0), minlength=n) - under * S * m * price_range)
        worst = np.maximum(worst, loss)
    value = np.where(book["under"], book["coll"] * S, book["coll"])
    need = liability + worst
    with np.errstate(divide="ignore", invalid="ignore"):
        hf = np.where(need > 0, value / need, np.inf)
    return {"value": value, "liability": liability, "risk": worst, "hf": hf}


# ====================================================================== scenario validation
def _errors(data: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        network(data)
    return str(info.value)


@pytest.mark.parametrize("changes,expected", [
    ({"protocols.opts.oracles": {"ETH": "eth_usd"}},
     "gamma_squeeze.yaml: protocols.opts.oracles.USDC: required: an oracle for the underlying and the quote asset"),
    ({"protocols.opts.oracles": {"ETH": "usdc_usd", "USDC": "usdc_usd"}},
     "protocols.opts.oracles.ETH: oracle prices USDC, not ETH, got 'usdc_usd'"),
    ({"protocols.opts.underlying": "BTC"},
     "protocols.opts.underlying: must name an entry of assets (ETH, USDC), got 'BTC'"),
    ({"protocols.opts.keeper.inventory": {"USDC": 1000}},
     "protocols.opts.keeper.inventory: must hold the chain's native asset ETH to pay gas"),
    ({"protocols.opts.series": None}, "protocols.opts: generated writers need `series` (the grid they write from)"),
    ({"protocols.opts.writers.legs": 40}, "protocols.opts: writers.legs must be <= the number of series (30), got 40"),
    ({"protocols.opts.margin.extreme_multiple": 7},
     "protocols.opts.margin: price_range x max(1, extreme_multiple) must be < 1 (a shocked price must stay "
     "positive), got 1.05"),
    ({"protocols.opts.margin.method": "span"},
     "protocols.opts.margin.method: must be one of 'scenario' or 'greeks', got 'span'"),
    ({"protocols.opts.implied_volatility.base": -0.2}, "protocols.opts.implied_volatility.base: must be > 0, got -0.2"),
    ({"protocols.opts.implied_volatility.vol": 0.2},
     "protocols.opts.implied_volatility.vol: unknown key (allowed: base, drawdown_sensitivity, window, half_life, "
     "noise, floor), got 0.2"),
    ({"protocols.opts.writers.cash_share": 1.5}, "protocols.opts.writers.cash_share: must be in [0, 1], got 1.5"),
    ({"agents.makers.protocol": "nope"}, "agents.makers.protocol: must name an entry of protocols (opts), got 'nope'"),
    ({"agents.makers.hedge_on": "eth_usd"},
     "agents.makers.hedge_on: must name a venue or a pool (cex_eth_usd), got 'eth_usd'"),
    ({"agents.makers.collateral": {"USDC": 1, "ETH": 1}},
     "agents.makers: collateral must name exactly one asset, got ['ETH', 'USDC']"),
    ({"agents.makers.collateral": {"USDC": 1e12}},
     "agents.makers.collateral.USDC: must be covered by the inventory (it holds 7e+07 USDC), got 1000000000000.0"),
    ({"agents.makers.book.0.strike": 1900}, "agents.makers.book[0]: give exactly one of moneyness and strike"),
    ({"agents.makers.book.0.type": "straddle"},
     "agents.makers.book[0].type: must be one of 'call' or 'put', got 'straddle'"),
])
def test_invalid_scenarios_name_the_key_and_rule(changes, expected):
    text = _errors(gamma_data(**changes))
    assert expected in text, text


def test_market_maker_must_point_at_an_options_protocol(scenario_data):
    data = gamma_data()
    minimal = scenario_data
    data["pools"] = minimal["pools"]
    data["protocols"]["lend"] = minimal["protocols"]["lend"]
    data["protocols"]["lend"]["oracles"] = {"ETH": "eth_usd", "USDC": "usdc_usd"}
    data["agents"]["makers"]["protocol"] = "lend"
    assert "agents.makers.protocol: must name a protocol of type options (it is of type lending), got 'lend'" \
        in _errors(data)


def test_hedge_market_must_trade_the_pair():
    data = gamma_data()
    data["assets"]["WBTC"] = {"chain": "ethereum"}
    data["venues"]["cex_btc"] = {"asset": "WBTC", "quote": "USDC",
                                 "path": {"kind": "piecewise", "points": [[0, 30000]]}}
    data["agents"]["makers"]["hedge_on"] = "cex_btc"
    assert "agents.makers.hedge_on: must trade ETH/USDC (it trades USDC/WBTC), got 'cex_btc'" in _errors(data)


def test_graph_has_the_family_relations():
    net = network(gamma_data())
    g = net.graph
    assert g.has_edge("opts", "ethereum", key="hosted_on")
    assert g.edges["opts", "eth_usd", "uses_oracle"]["asset"] == "ETH"
    assert g.edges["opts", "usdc_usd", "uses_oracle"]["asset"] == "USDC"
    assert g.edges["opts", "USDC", "collateral"]["margin"] == "scenario"
    assert g.has_edge("opts", "ETH", key="collateral")          # cash_share 0.7: both kinds of collateral
    assert g.has_edge("opts", "USDC", key="debt")
    assert g.has_edge("makers", "opts", key="watches") and g.has_edge("makers", "cex_eth_usd", key="watches")
    paths = net.exposure_paths("ETH", "opts")
    assert [("ETH", ""), ("cex_eth_usd", "trades"), ("eth_usd", "reads"), ("opts", "uses_oracle")] in paths
    cash_only = network(gamma_data(**{"protocols.opts.writers.cash_share": 1.0})).graph
    assert not cash_only.has_edge("opts", "ETH", key="collateral")


# ================================================================================ genesis
def test_series_grid_premiums_and_collateral_at_genesis():
    data = gamma_data(**{"protocols.opts.writers.count": 50})
    sim = contagion.Simulation(network(data), seed=3)
    p = sim.protocols["opts"]
    book = book_of(sim)
    ledger = sim.ledger
    # the grid: 3 expiries x 5 moneyness x 2 types, strikes 2000 x m rounded to $50, then the makers'
    grid = {(c, round(2000 * m / 50) * 50.0, e) for c in (True, False) for m in (0.8, 0.9, 1.0, 1.1, 1.2)
            for e in (86400.0, 7 * 86400.0, 28 * 86400.0)}
    listed = set(zip(p.is_call.tolist(), p.strike.tolist(), p.expiry.tolist()))
    assert grid <= listed
    # the makers' 0.95 1-day put is new; their 0.9 7-day put is a grid series
    assert listed - grid == {(False, 1900.0, 86400.0)} and p.strike.size == 31
    writers = np.array([k == "writer" for k in book["kind"]])
    assert writers.sum() == 50 and book["n"] == 51
    assert math.fsum(book["q"][writers[book["acct"]]]) == pytest.approx(20_000, rel=1e-12)
    # premiums at S = 2000, the base level 0.7, t = 0, paid by the buyers
    premium = np.bincount(book["acct"], book["q"] * bs(2000.0, book["K"], book["expiry"] / YEAR, 0.7, book["call"]),
                          minlength=book["n"])
    assert ledger.balance("writers:opts", "USDC") == pytest.approx(premium[writers].sum(), rel=1e-9)
    assert ledger.balance("makers#0", "USDC") == pytest.approx(70e6 - 60e6 + premium[50], rel=1e-12)
    assert ledger.balance("buyers:opts", "USDC") == 0.0
    # collateral in the protocol; every writer starts at a health factor in [low, high]
    assert ledger.balance("protocol:opts", "USDC") == pytest.approx(book["coll"][~book["under"]].sum(), rel=1e-12)
    assert ledger.balance("protocol:opts", "ETH") == pytest.approx(book["coll"][book["under"]].sum(), rel=1e-12)
    h = health(book, 2000.0, 0.7, 0.0, 0.15, 0.15)
    assert np.all((h["hf"][writers] >= 1.05 - 1e-9) & (h["hf"][writers] <= 4 + 1e-9))
    assert np.allclose(h["hf"], p.evaluate().health_factor, rtol=1e-9)
    assert sim.result().positions.query("snapshot == 'initial'")["health_factor"].to_numpy() == \
        pytest.approx(h["hf"], rel=1e-9)


def test_health_factor_out_of_reach_of_underlying_collateral_is_an_error():
    data = gamma_data(**{"protocols.opts.writers.cash_share": 0.0,
                         "protocols.opts.writers.health_factor": {"distribution": "uniform", "low": 8, "high": 9}})
    with pytest.raises(ScenarioError, match="writers.health_factor: a health factor of .* cannot be reached "
                                            "with underlying collateral"):
        contagion.Simulation(network(data), seed=1)


def test_greeks_margin_method():
    data = gamma_data(**{"protocols.opts.writers.count": 40, "protocols.opts.margin.method": "greeks",
                         "protocols.opts.margin.price_range": 0.1, "protocols.opts.margin.vol_range": 0.2})
    sim = contagion.Simulation(network(data), seed=6)
    book = book_of(sim)
    T = book["expiry"] / YEAR
    d1 = (np.log(2000.0 / book["K"]) + 0.7**2 / 2 * T) / (0.7 * np.sqrt(T))
    pdf = np.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
    delta = np.where(book["call"], ncdf(d1), ncdf(d1) - 1.0)
    gamma, vega = pdf / (2000.0 * 0.7 * np.sqrt(T)), 2000.0 * pdf * np.sqrt(T)
    a, n, q = book["acct"], book["n"], book["q"]
    port_delta = np.where(book["under"], book["coll"], 0.0) - np.bincount(a, q * delta, minlength=n)
    port_gamma, port_vega = -np.bincount(a, q * gamma, minlength=n), -np.bincount(a, q * vega, minlength=n)
    move = 2000.0 * 0.1
    risk = np.maximum(0.0, np.abs(port_delta) * move - 0.5 * port_gamma * move**2) + np.abs(port_vega) * 0.2
    ev = sim.protocols["opts"].evaluate()
    assert ev.risk == pytest.approx(risk, rel=1e-9)
    liability = np.bincount(a, q * bs(2000.0, book["K"], T, 0.7, book["call"]), minlength=n)
    value = np.where(book["under"], book["coll"] * 2000.0, book["coll"])
    assert ev.health_factor == pytest.approx(value / (liability + risk), rel=1e-9)
    writers = np.array([k == "writer" for k in book["kind"]])
    assert np.all((ev.health_factor[writers] >= 1.05 - 1e-9) & (ev.health_factor[writers] <= 4 + 1e-9))


def _snapshot_data(tmp_path, rows: str) -> dict:
    (tmp_path / "writers.csv").write_text(rows)
    data = gamma_data(**{"protocols.opts.writers": {"kind": "snapshot", "path": "writers.csv"}})
    data["agents"] = {}
    return data


def test_snapshot_writers(tmp_path):
    rows = ("writer,type,strike,expiry,contracts,collateral_asset,collateral\n"
            "a,put,1800,7d,10,quote,9000\n"
            "a,call,2200,604800,5,quote,9000\n"
            "b,call,2100,1d,3,ETH,3.5\n")
    sim = contagion.Simulation(network(_snapshot_data(tmp_path, rows), base_dir=tmp_path), seed=1)
    book = book_of(sim)
    assert book["n"] == 2 and book["acct"].tolist() == [0, 0, 1]
    assert book["K"].tolist() == [1800.0, 2200.0, 2100.0] and book["expiry"].tolist() == [604800.0, 604800.0, 86400.0]
    assert book["call"].tolist() == [False, True, True] and book["q"].tolist() == [10.0, 5.0, 3.0]
    assert book["under"].tolist() == [False, True] and book["coll"].tolist() == [9000.0, 3.5]
    h = health(book, 2000.0, 0.7, 0.0, 0.15, 0.15)
    assert sim.protocols["opts"].evaluate().health_factor == pytest.approx(h["hf"], rel=1e-9)


@pytest.mark.parametrize("rows,match", [
    ("writer,type,strike,expiry,contracts,collateral\na,put,1800,7d,10,9000\n",
     r"missing columns \['collateral_asset'\]"),
    ("writer,type,strike,expiry,contracts,collateral_asset,collateral\na,straddle,1800,7d,10,quote,9000\n",
     "row 2: type must be call or put, got 'straddle'"),
    ("writer,type,strike,expiry,contracts,collateral_asset,collateral\na,put,-5,7d,10,quote,9000\n",
     "row 2: strike must be a number > 0, got -5"),
    ("writer,type,strike,expiry,contracts,collateral_asset,collateral\na,put,1800,7m,10,quote,9000\n",
     "row 2: expiry must be a duration"),
    ("writer,type,strike,expiry,contracts,collateral_asset,collateral\na,put,1800,7d,10,BTC,9000\n",
     "row 2: collateral_asset must be quote or underlying"),
    ("writer,type,strike,expiry,contracts,collateral_asset,collateral\na,put,1800,7d,10,quote,9000\n"
     "a,put,1700,7d,10,quote,8000\n", "row 3: collateral must repeat writer a's collateral"),
])
def test_snapshot_writers_errors(tmp_path, rows, match):
    with pytest.raises(ScenarioError, match=match) as info:
        contagion.Simulation(network(_snapshot_data(tmp_path, rows), base_dir=tmp_path), seed=1)
    assert "protocols.opts.writers.path" in str(info.value)


def test_snapshot_file_must_exist(tmp_path):
    data = gamma_data(**{"protocols.opts.writers": {"kind": "snapshot", "path": "missing.csv"}})
    with pytest.raises(ScenarioError, match="protocols.opts.writers.path: file not found"):
        network(data, base_dir=tmp_path)


# ========================================================================== liquidation
@pytest.fixture(scope="module")
def fall_run():
    """The gamma scenario with 60 writers during the fall: the book before the run and the result."""
    data = gamma_data(**{"protocols.opts.writers.count": 60, "protocols.opts.keeper.max_per_block": 1000,
                         "until": "1h30min"})
    sim = contagion.Simulation(network(data), seed=2)
    book = book_of(sim)
    return book, sim.run()


def test_writers_are_liquidated_exactly_when_margin_fails(fall_run):
    book, res = fall_run
    liq = res.option_liquidations.set_index("account")
    state = res.options_state
    assert len(liq) >= 10
    assert not (res.transactions["status"] == "reverted").any()
    liquidated_at = {int(a): int(row.block) for a, row in liq.iterrows()}
    first_failure: dict[int, int] = {}
    for row in state.itertuples():
        alive = np.array([liquidated_at.get(i, 10**9) > row.block for i in range(book["n"])])
        h = health(book, row.price, row.iv, row.time, 0.15, 0.15, alive=alive)
        for i in np.flatnonzero(alive & (h["hf"] < 1.0)):
            first_failure.setdefault(int(i), int(row.block))
    # below margin at the end of block b (the state the keeper reacts to) <=> liquidated in block b + 1
    assert {i: b + 1 for i, b in first_failure.items()} == liquidated_at
    # and at execution, recomputed from the row's price, level and time, still below margin
    for account, row in liq.iterrows():
        h = health(book, row.price, row.iv, row.time, 0.15, 0.15)
        assert h["hf"][account] == pytest.approx(row.health_factor, rel=1e-9) and row.health_factor < 1.0
        assert h["liability"][account] == pytest.approx(row.liability, rel=1e-9)
        assert h["risk"][account] == pytest.approx(row.risk, rel=1e-9)
        assert row.collateral == book["coll"][account]


def test_liquidation_arithmetic_and_provenance(fall_run):
    _, res = fall_run
    liq = res.option_liquidations
    bonus = 0.05
    paid = np.minimum(liq["liability"], liq["collateral_value"] / (1 + bonus))
    assert liq["paid"].to_numpy() == pytest.approx(paid.to_numpy(), rel=1e-12)
    assert liq["seized_value"].to_numpy() == pytest.approx((liq["paid"] * (1 + bonus)).to_numpy(), rel=1e-12)
    unit_price = np.where(liq["collateral_asset"] == "ETH", liq["price"], 1.0)
    assert (liq["seized"] * unit_price).to_numpy() == pytest.approx(liq["seized_value"].to_numpy(), rel=1e-12)
    assert (liq["seized"] + liq["returned"]).to_numpy() == pytest.approx(liq["collateral"].to_numpy(), rel=1e-12)
    assert (liq["liability"] - liq["paid"]).to_numpy() == pytest.approx(liq["bad_debt"].to_numpy(), abs=1e-9)
    # the cross-family view carries the same liquidations, each stamped with a real oracle update
    common = res.liquidations.set_index("liquidation_id").loc[liq["liquidation_id"]]
    assert common["repaid"].to_numpy() == pytest.approx(liq["paid"].to_numpy(), rel=0)
    assert (common["protocol"] == "opts").all() and (common["debt_asset"] == "USDC").all()
    updates = res.oracle_updates.set_index("update_id")
    assert liq["trigger_update_id"].isin(updates.index).all()
    assert (updates.loc[liq["trigger_update_id"], "oracle"] == "eth_usd").all()
    assert (liq["generation"] >= 1).all()
    assert res.summary()["protocols_infected"] == 1


def test_a_healthy_account_cannot_be_liquidated():
    sim = contagion.Simulation(network(gamma_data(**{"protocols.opts.writers.count": 20})), seed=1)
    p = sim.protocols["opts"]
    before = (p.collateral.copy(), p.leg_qty.copy(), sim.ledger.balance("protocol:opts", "USDC"),
              sim.ledger.balance("buyers:opts", "USDC"))
    keeper = p.keeper_account
    tx = p.chain.submit(sender=keeper, agent_type="keeper", kind="liquidation", gas_used=400_000,
                        action=lambda block: p.liquidate(keeper, 0, keeper), gas_price=100.0)
    sim.run("13s")
    assert tx.status == "reverted"
    assert tx.revert_reason.startswith("opts: account 0 is not below maintenance margin (health factor")
    assert np.array_equal(p.collateral, before[0]) and np.array_equal(p.leg_qty, before[1])
    assert sim.ledger.balance("protocol:opts", "USDC") == before[2]
    assert sim.ledger.balance("buyers:opts", "USDC") == before[3]


# ======================================================================= money conserved
ACCOUNTS = ("writers:opts", "buyers:opts", "options_keeper:opts", "protocol:opts")


def _balances(sim) -> dict:
    return {(a, asset): sim.ledger.balance(a, asset) for a in ACCOUNTS for asset in ("USDC", "ETH")}


def _run_with_flows(data, seed):
    sim = contagion.Simulation(network(data), seed=seed, check_invariants=True)
    book, start = book_of(sim), _balances(sim)
    res = sim.run()
    return book, start, res, _balances(sim)


def _expected_balances(book, start, res) -> dict:
    """Where every unit of collateral, buy-back and payoff must be, from the tables and the book."""
    liq, stl = res.option_liquidations, res.option_settlements
    fees = res.transactions.query("sender == 'options_keeper:opts'")["fee_native"].sum()
    seized = liq.groupby("collateral_asset")["seized"].sum()
    returned = liq.groupby("collateral_asset")["returned"].sum()
    coll = book["coll"].copy()
    for row in stl.itertuples():
        coll[row.account] -= row.paid
    liquidated = np.zeros(book["n"], dtype=bool)
    liquidated[liq["account"].to_numpy()] = True
    unexpired = np.bincount(book["acct"], book["expiry"] > res.manifest["until"], minlength=book["n"]) > 0
    closed = ~liquidated & ~unexpired               # every option settled: collateral back to the wallet
    still = ~liquidated & unexpired
    cash = ~book["under"]
    return {
        ("buyers:opts", "USDC"): start[("buyers:opts", "USDC")] + liq["paid"].sum()
        + stl.loc[stl["paid_asset"] == "USDC", "paid"].sum(),
        ("buyers:opts", "ETH"): start[("buyers:opts", "ETH")] + stl.loc[stl["paid_asset"] == "ETH", "paid"].sum(),
        ("options_keeper:opts", "USDC"): start[("options_keeper:opts", "USDC")] - liq["paid"].sum()
        + seized.get("USDC", 0.0),
        ("options_keeper:opts", "ETH"): start[("options_keeper:opts", "ETH")] + seized.get("ETH", 0.0) - fees,
        ("protocol:opts", "USDC"): coll[still & cash].sum(),
        ("protocol:opts", "ETH"): coll[still & ~cash].sum(),
        ("writers:opts", "USDC"): start[("writers:opts", "USDC")] + returned.get("USDC", 0.0)
        + coll[closed & cash].sum(),
        ("writers:opts", "ETH"): start[("writers:opts", "ETH")] + returned.get("ETH", 0.0) + coll[closed & ~cash].sum(),
    }


def _assert_flows(book, start, res, end):
    assert all(abs(r["error"]) <= r["bound"] for r in res.manifest["conservation"])
    expected = _expected_balances(book, start, res)
    for key, value in expected.items():
        assert end[key] == pytest.approx(value, rel=1e-9, abs=1e-6), key


def test_a_gap_leaves_bad_debt_and_money_is_conserved():
    """A 30 % gap down at 10 minutes, no market makers: liquidations with bad debt."""
    data = gamma_data(**{"protocols.opts.writers.count": 120, "protocols.opts.keeper.max_per_block": 1000,
                         "venues.cex_eth_usd.path.points": [[0, 2000], ["10min", 2000], ["10min1s", 1400],
                                                            ["1h", 1400]],
                         "until": "30min"})
    data["agents"] = {}
    book, start, res, end = _run_with_flows(data, seed=4)
    liq = res.option_liquidations
    short = liq[liq["bad_debt"] > 0]
    assert len(short) >= 5
    # collateral short of the buy-back plus bonus: all of it is seized, the buyers get C / (1 + bonus)
    assert short["returned"].to_numpy() == pytest.approx(0.0, abs=1e-9)
    assert short["paid"].to_numpy() == pytest.approx((short["collateral_value"] / 1.05).to_numpy(), rel=1e-12)
    assert res.protocols.iloc[-1]["bad_debt"] == pytest.approx(liq["bad_debt"].sum(), rel=1e-12)
    _assert_flows(book, start, res, end)


def test_settlement_pays_the_payoffs_and_money_is_conserved():
    """Short expiries and a keeper without capital: nothing is liquidated, everything settles."""
    data = gamma_data(**{"protocols.opts.writers.count": 60, "protocols.opts.writers.cash_share": 0.5,
                         "protocols.opts.series.expiries": ["30min", "1h"],
                         "protocols.opts.keeper.inventory": {"ETH": 10},
                         "venues.cex_eth_usd.path.points": [[0, 2000], ["10min", 2000], ["40min", 1500],
                                                            ["2h", 1500]],
                         "until": "1h10min"})
    data["agents"] = {}
    book, start, res, end = _run_with_flows(data, seed=5)
    stl = res.option_settlements
    assert res.option_liquidations.empty
    assert sorted(stl["expiry"].unique()) == [1800.0, 3600.0]
    updates = res.oracle_updates
    for expiry, rows in stl.groupby("expiry"):
        # settled at the oracle's answer in effect at the settlement's block
        tx_block = rows["block"].iloc[0]
        answer = updates[updates["block"] < tx_block].query("oracle == 'eth_usd'")["price"].iloc[-1]
        S = rows["price"].iloc[0]
        assert S == answer
        legs = book["expiry"] == expiry
        payoff = np.where(book["call"], np.maximum(S - book["K"], 0), np.maximum(book["K"] - S, 0)) * book["q"]
        owed = np.bincount(book["acct"][legs], payoff[legs], minlength=book["n"])
        assert rows.set_index("account")["owed"].to_numpy() == pytest.approx(owed[rows["account"]], rel=1e-12)
        assert (rows["paid_value"] + rows["bad_debt"]).to_numpy() == pytest.approx(rows["owed"].to_numpy(), rel=1e-12)
    assert (stl["bad_debt"] > 0).sum() >= 3              # the unfunded keeper left under-margined writers
    assert res.options_state.iloc[-1]["open_interest"] == 0.0
    assert res.options_state.iloc[-1]["bad_debt"] == pytest.approx(stl["bad_debt"].sum(), rel=1e-12)
    _assert_flows(book, start, res, end)


def test_market_makers_premium_and_collateral_come_back_at_expiry():
    data = gamma_data(**{"protocols.opts.writers.count": 5, "agents.makers.book.0.expiry": "20min",
                         "agents.makers.book.1.expiry": "30min", "agents.makers.hedge": False,
                         "venues.cex_eth_usd.path.points": [[0, 2000]], "until": "40min"})
    sim = contagion.Simulation(network(data), seed=1)
    book = book_of(sim)
    mm = book["n"] - 1
    premium = (book["q"] * bs(2000.0, book["K"], book["expiry"] / YEAR, 0.7, book["call"]))[book["acct"] == mm].sum()
    assert sim.ledger.balance("makers#0", "USDC") == pytest.approx(10e6 + premium, rel=1e-12)
    res = sim.run()
    stl = res.option_settlements.query("owner_kind == 'market_maker'")
    assert len(stl) == 2
    # both puts expire out of the money (the fall starts at 20 minutes, from 2000): nothing owed, margin back
    assert stl["owed"].sum() == 0.0
    assert sim.ledger.balance("makers#0", "USDC") == pytest.approx(70e6 + premium, rel=1e-12)
    assert sim.ledger.balance("protocol:opts", "USDC") == pytest.approx(
        sum(c for c, u, k in zip(book["coll"], book["under"], book["kind"]) if not u and k == "writer"), rel=1e-9)


# ======================================================================= volatility level
def _levels(state, base, sensitivity, window, half_life, floor, start_price=2000.0):
    times = [0.0] + state["time"].tolist()
    prices = [start_price] + state["price"].tolist()
    level, out = base, []
    for k in range(1, len(times)):
        t = times[k]
        high = max(p for s, p in zip(times[:k + 1], prices[:k + 1]) if s >= t - window)
        target = base + sensitivity * (1 - prices[k] / high)
        level = max(floor, target + (level - target) * 2 ** (-(t - times[k - 1]) / half_life))
        out.append(level)
    return np.array(out)


def test_volatility_level_follows_the_drawdown_rule(fall_run):
    _, res = fall_run
    state = res.options_state
    assert state["iv"].to_numpy() == pytest.approx(_levels(state, 0.7, 2.0, 7200.0, 600.0, 0.1), rel=1e-12)
    assert state["iv"].iloc[0] == pytest.approx(0.7, rel=1e-12) and state["iv"].max() > 0.9


def test_volatility_noise_is_seeded_and_has_the_stated_size():
    data = gamma_data(**{"protocols.opts.writers.count": 10, "protocols.opts.implied_volatility.noise": 0.05,
                         "protocols.opts.implied_volatility.half_life": "1h", "agents.makers.hedge": False,
                         "until": "1h30min"})
    net = network(data)
    a, c = (contagion.run(net, seed=s).options_state for s in (1, 2))
    assert not a["iv"].equals(c["iv"])          # the stream depends on the seed (same seed: see below)
    # standardized innovations of the Ornstein-Uhlenbeck step: mean 0, standard deviation 1
    decay = 2 ** (-12.0 / 3600.0)
    target = 0.7 + 2.0 * a["drawdown"].to_numpy()
    level = a["iv"].to_numpy()
    z = (level[1:] - target[1:] - (level[:-1] - target[1:]) * decay) / (0.05 * math.sqrt(1 - decay**2))
    assert abs(z.mean()) < 4 / math.sqrt(len(z)) and abs(z.std() - 1) < 0.1


# ========================================================================= determinism
def test_same_seed_same_tables():
    data = gamma_data(**{"protocols.opts.writers.count": 40, "until": "45min"})
    net = network(data)
    a, b = contagion.run(net, seed=9), contagion.run(net, seed=9)
    for table in ("options_state", "option_liquidations", "hedges", "liquidations", "swaps"):
        assert a.frames[table].equals(b.frames[table]), table
    c = contagion.run(net, seed=10)
    assert not a.frames["options_state"].equals(c.frames["options_state"])
