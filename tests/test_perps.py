"""The perps protocol in a run: the book, the liquidation engine against a venue or a pool, the
insurance fund, auto-deleveraging in ranking order, funding, conservation, determinism, and
scenario validation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.amm import constant_product as cp
from contagion.errors import ScenarioError
from _support import apply_changes

CRASH = [[0, 7900], [120, 7900], [600, 6500], [630, 5300], [1200, 4800], [1800, 4800]]

BASE = {
    "name": "perps_test",
    "description": "a BTC perpetual through a crash",
    "seed": 3,
    "until": "30min",
    "chains": {"appchain": {"block_time": "2s", "gas_limit": 30_000_000, "native_asset": "ETH"}},
    "assets": {"ETH": {"chain": "appchain", "kind": "native"},
               "BTC": {"chain": "appchain", "kind": "wrapped", "decimals": 8},
               "USDC": {"chain": "appchain", "kind": "stable", "decimals": 6}},
    "venues": {"cex": {"asset": "BTC", "quote": "USDC", "path": {"kind": "piecewise", "points": CRASH},
                       "permanent_impact": 5e-5, "temporary_impact": 5e-5, "resilience_half_life": "60s",
                       "inventory": {"BTC": 1_000_000, "USDC": 10_000_000_000}}},
    "pools": {},
    "oracles": {"btc_usd": {"kind": "push", "chain": "appchain", "asset": "BTC", "sources": ["cex"],
                            "deviation_threshold": 0.001, "heartbeat": "1h", "round_interval": "2s",
                            "gas_price": 60},
                "usdc_usd": {"kind": "fixed", "asset": "USDC", "price": 1.0}},
    "protocols": {"perp": {
        "type": "perps", "chain": "appchain", "quote": "USDC", "insurance_fund": 20_000,
        "markets": {"BTC-USD": {"base": "BTC", "oracle": "btc_usd", "liquidates_into": "cex",
                                "open_interest": 20_000_000,
                                "margin": {"kind": "liquidity_tier", "initial_margin": 0.05,
                                           "maintenance_fraction": 0.6}}},
        "accounts": {"kind": "generated", "count": 400, "isolated_share": 0.3, "long_share": 0.55,
                     "leverage": {"median": 8, "sigma": 0.5, "low": 1, "high": 20}, "entry_sigma": 0.1},
        "engine": {"gas_price": 100},
        "market_maker": {"inventory": {"BTC": 20_000, "USDC": 200_000_000}}}},
    "agents": {},
}

MMR_RATE = 0.05 * 0.6   # the base scenario's liquidity tier: maintenance = 3 % of notional


def scenario(**changes) -> dict:
    """The base scenario with ``{"dotted.path": value}`` changes."""
    return apply_changes(copy.deepcopy(BASE), changes)


def _sim(data, seed=3, **kw):
    return contagion.Simulation(contagion.Network.from_dict(data), seed=seed, **kw)


def _run(data, seed=3, **kw):
    sim = _sim(data, seed, **kw)
    return sim, sim.run()


@pytest.fixture(scope="module")
def small_fund():
    """The crash with a $20,000 insurance fund: it runs out and ADL fires."""
    start = _sim(scenario())                      # the book as generated (same seed), before any block
    sim, res = _run(scenario(), check_invariants=True)
    return start, sim, res


@pytest.fixture(scope="module")
def large_fund():
    return _run(scenario(**{"protocols.perp.insurance_fund": 1e9}))


# ------------------------------------------------------------------------------------ the book
def test_generated_book_follows_its_distribution():
    data = scenario(**{"protocols.perp.accounts.count": 300})
    data["venues"]["cex_eth"] = {"asset": "ETH", "quote": "USDC", "path": {"kind": "piecewise", "points": [[0, 2000]]}}
    data["oracles"]["eth_usd"] = {"kind": "push", "chain": "appchain", "asset": "ETH", "sources": ["cex_eth"],
                                  "deviation_threshold": 0.005, "heartbeat": "1h"}
    brackets = [{"notional_cap": 50_000, "initial_margin_rate": 0.008, "maintenance_margin_rate": 0.004},
                {"notional_cap": 250_000, "initial_margin_rate": 0.01, "maintenance_margin_rate": 0.005},
                {"initial_margin_rate": 0.02, "maintenance_margin_rate": 0.01}]
    data["protocols"]["perp"]["markets"]["ETH-USD"] = {
        "base": "ETH", "oracle": "eth_usd", "liquidates_into": "cex_eth", "open_interest": 6_000_000,
        "margin": {"kind": "brackets", "brackets": brackets}}
    sim = _sim(data)
    perp = sim.protocols["perp"]
    book = perp.book
    prices = np.array([7900.0, 2000.0])
    notional = np.abs(book.size) * prices
    for k, oi in enumerate([20_000_000, 6_000_000]):
        longs, shorts = book.size[:, k] > 0, book.size[:, k] < 0
        assert notional[longs, k].sum() == pytest.approx(oi / 2, rel=1e-12)
        assert notional[shorts, k].sum() == pytest.approx(oi / 2, rel=1e-12)
    held = (book.size != 0).sum(axis=1)
    assert np.all(held[book.isolated] == 1) and np.all(held[~book.isolated] == 2)
    assert 0.15 < book.isolated.mean() < 0.45                     # isolated_share 0.3 of 300 accounts
    # equity at the initial prices is at least the initial margin (5 % tier; ETH brackets) and
    # the market maker starts flat
    equity = book.quote + book.size @ prices
    im_btc = 0.05 * notional[:, 0]
    caps, rates = np.array([50_000, 250_000, np.inf]), np.array([0.008, 0.01, 0.02])
    im_eth = notional[:, 1] * rates[np.minimum(np.searchsorted(caps, notional[:, 1]), 2)]
    assert np.all(equity >= (im_btc + im_eth) * (1 - 1e-12))
    leverage = notional.sum(axis=1) / equity
    assert leverage.max() <= 20 * (1 + 1e-9)
    # (up to rounding: the market maker holds minus the sum of the generated sizes)
    assert np.all(np.abs(perp.mm_size) <= 1e-12 * np.abs(book.size).sum(axis=0))
    assert abs(perp.mm_quote) <= 1e-9
    # the positions snapshot reports TNC and TMMR at the initial prices
    snap = sim._initial_positions["perp"]
    eth_mm = notional[:, 1] * np.array([0.004, 0.005, 0.01])[np.minimum(np.searchsorted(caps, notional[:, 1]), 2)] \
        - np.array([0.0, 50.0, 1300.0])[np.minimum(np.searchsorted(caps, notional[:, 1]), 2)]
    assert np.allclose(snap["collateral"], equity, rtol=1e-12)
    assert np.allclose(snap["debt"], MMR_RATE * notional[:, 0] + np.where(notional[:, 1] > 0, eth_mm, 0), rtol=1e-12)


def test_isolated_liquidation_price_makes_equity_equal_maintenance():
    sim = _sim(scenario())
    snap = sim._initial_positions["perp"]
    book = sim.protocols["perp"].book
    one = np.flatnonzero(book.isolated)
    price = snap["liquidation_price"][one]
    s = book.size[one, 0]
    assert np.allclose(book.quote[one] + s * price, MMR_RATE * np.abs(s) * price, rtol=1e-9)
    assert np.all(price[s > 0] < 7900) and np.all(price[s < 0] > 7900)


# ------------------------------------------------------------------------- the engine's fills
def test_liquidation_rows_follow_the_dydx_formulas(small_fund):
    start, _, res = small_fund
    liq = res.perps_liquidations
    assert len(liq) > 50 and (liq["side"] == "long").all()       # a crash liquidates longs
    book = start.protocols["perp"].book
    single = liq[liq["account"].map(lambda i: book.isolated[i])]
    # single-position accounts: TMMR = PMMR, so the bankruptcy price is P - TNC / size and the
    # fillable price P - clamp(1 - TNC/TMMR, 0, 1) x 0.1 x TMMR / size
    p, s, tnc, tmmr = (single[c].to_numpy() for c in ("oracle_price", "size_before", "net_collateral",
                                                       "maintenance_margin"))
    assert np.allclose(single["bankruptcy_price"], p - tnc / s, rtol=1e-12)
    assert np.allclose(single["fillable_price"], p - np.clip(1 - tnc / tmmr, 0, 1) * 0.1 * tmmr / s, rtol=1e-12)
    assert np.allclose(tmmr, MMR_RATE * s * p, rtol=1e-12)
    filled = liq[liq["size_closed"] > 0]
    # a sale whose last unit is at the fillable price or better averages at least that
    assert np.all(filled["fill_price"] >= filled["fillable_price"] * (1 - 1e-12))
    assert np.allclose(filled["quote_received"], filled["fill_price"] * filled["size_closed"], rtol=1e-12)
    # insurance delta: the dYdX rule on the bankruptcy quote of the closed size (linear tier:
    # BQ(c) = c x bankruptcy price for a single-position account), except where the fund ran out
    free = filled[filled["account"].map(lambda i: book.isolated[i]) & (filled["insurance_fund_after"] > 0)]
    bq = free["size_closed"] * free["bankruptcy_price"]
    expect = np.where(free["quote_received"] - bq <= 0, free["quote_received"] - bq,
                      np.minimum(0.005 * free["quote_received"], free["quote_received"] - bq))
    assert np.allclose(free["insurance_delta"], expect, rtol=1e-9, atol=1e-9)
    assert (free["insurance_delta"] > 0).any() and (free["insurance_delta"] < 0).any()


def test_every_fill_is_a_row_of_the_shared_liquidations_table(small_fund):
    _, sim, res = small_fund
    fills = res.perps_liquidations[res.perps_liquidations["size_closed"] > 0].set_index("liquidation_id")
    shared = res.liquidations[res.liquidations["protocol"] == "perp"].set_index("liquidation_id")
    assert sorted(shared.index) == sorted(fills.index)
    shared = shared.loc[fills.index]
    assert (shared["collateral_asset"] == "BTC").all() and (shared["debt_asset"] == "USDC").all()
    assert np.allclose(shared["seized"], fills["size_closed"], rtol=0)
    assert np.allclose(shared["repaid"], fills["quote_received"].abs(), rtol=0)
    assert np.allclose(shared["health_factor"], fills["net_collateral"] / fills["maintenance_margin"], rtol=1e-12)
    assert (shared["generation"] == fills["generation"]).all()
    assert res.summary()["liquidations"] == len(fills)


def test_every_liquidation_points_to_an_update_that_made_it_liquidatable(small_fund):
    _, _, res = small_fund
    liq, updates = res.perps_liquidations, res.oracle_updates.set_index("update_id")
    assert set(liq["trigger_update_id"]) <= set(updates.index)
    assert np.all(liq["time"].to_numpy() >= updates.loc[liq["trigger_update_id"], "published_at"].to_numpy())
    assert (liq["generation"] >= 1).all()


def test_adl_fires_only_after_the_fund_is_exhausted_in_bitmex_order(small_fund):
    start, _, res = small_fund
    liq, adl, state = res.perps_liquidations, res.adl, res.perps_state
    assert len(adl) > 0 and (adl["ranking"] == "bitmex").all()
    assert (adl["insurance_fund"] == 0.0).all()
    with_adl = liq[liq["size_adl"] > 0]
    assert (with_adl["insurance_fund_after"] == 0.0).all()
    first_adl = adl["time"].min()
    first_empty = liq.loc[liq["insurance_fund_after"] == 0.0, "time"].min()
    assert first_adl >= first_empty
    assert (state.loc[state["time"] < first_empty, "insurance_fund"] > 0).all()
    _replay_adl(start.protocols["perp"].book, liq, adl, "bitmex")


def test_large_fund_means_no_adl(large_fund):
    _, res = large_fund
    assert len(res.adl) == 0
    assert (res.perps_liquidations["size_adl"] == 0).all()
    assert (res.perps_state["insurance_fund"] > 0).all()
    paid = res.perps_liquidations["insurance_delta"]
    assert (paid < 0).any()                      # the fund did cover deficits, and had enough


@pytest.mark.parametrize("method", ["binance", "dydx"])
def test_other_adl_rankings(method):
    data = scenario(**{"protocols.perp.adl_ranking": method})
    start = _sim(data)
    _, res = _run(data)
    assert len(res.adl) > 0 and (res.adl["ranking"] == method).all()
    _replay_adl(start.protocols["perp"].book, res.perps_liquidations, res.adl, method)


def _replay_adl(book, liq, adl, method):
    """Replay every ADL from the initial book: the counterparties are the top of the ranking computed
    here from the formulas (shorts only change through ADL in a crash without funding)."""
    quote, size, entry = book.quote.copy(), book.size[:, 0].copy(), book.entry[:, 0].copy()
    adl = adl.sort_values("adl_id")
    liq = liq.set_index("liquidation_id")
    for liq_id, rows in adl.groupby("liquidation_id", sort=False):
        p = rows["oracle_price"].iloc[0]
        price = rows["price"].iloc[0]
        shorts = np.flatnonzero(size < 0)
        tnc = quote[shorts] + size[shorts] * p
        shorts, tnc = shorts[tnc > 0], tnc[tnc > 0]
        s = size[shorts]
        if method == "dydx":
            chosen = rows["counterparty"].to_numpy()
            start = int(np.flatnonzero(shorts == chosen[0])[0])
            expected = shorts[(start + np.arange(len(chosen))) % shorts.size]
        else:
            if method == "bitmex":
                bankrupt = p - tnc / s                    # one position: its own bankruptcy price
                v_mark, v_bank, v_entry = s * p, s * bankrupt, s * entry[shorts]
                leverage = np.abs(v_mark) / (v_mark - v_bank)
                pnl = (v_mark - v_entry) / np.abs(v_entry)
                score = np.where(pnl > 0, pnl * leverage, pnl / leverage)
            else:
                upnl = s * (p - entry[shorts])
                wallet = tnc - upnl
                mm = MMR_RATE * np.abs(s) * p
                score = np.maximum(upnl, 0) / np.maximum(1, wallet) * np.where(tnc > 0, mm / tnc, 0)
            expected = shorts[np.lexsort((shorts, -score))]
            assert np.allclose(rows["score"], np.sort(score)[::-1][:len(rows)], rtol=1e-9)
        assert rows["counterparty"].tolist() == expected[:len(rows)].tolist()
        assert rows["rank"].tolist() == list(range(len(rows)))
        remaining = liq.loc[liq_id, "size_adl"]
        assert rows["size"].sum() == pytest.approx(remaining, rel=1e-12)
        for j, b in zip(rows["counterparty"], rows["size"]):
            assert b == pytest.approx(min(remaining, -size[j]), rel=1e-12)
            remaining -= b
            quote[j] -= b * price
            size[j] += b


# ----------------------------------------------------------------------------- conservation
def test_liquidations_conserve_money(small_fund):
    start, sim, res = small_fund
    perp0, perp = start.protocols["perp"], sim.protocols["perp"]
    ledger0, ledger = start.ledger, sim.ledger
    deposits = ledger0.balance(perp0.account, "USDC")
    assert deposits == pytest.approx(math.fsum(perp0.book.quote), rel=1e-12)
    held, fund = ledger.balance(perp.account, "USDC"), ledger.balance(perp.insurance_account, "USDC")
    # margin and the insurance fund only pay each other
    assert held + fund == pytest.approx(deposits + 20_000, rel=1e-12)
    assert fund - 20_000 == pytest.approx(math.fsum(res.perps_liquidations["insurance_delta"]), abs=1e-6)
    # the book's quote entries (accounts and market maker) are what the protocol holds
    assert math.fsum(perp.book.quote) + perp.mm_quote == pytest.approx(held, rel=1e-12)
    assert math.fsum(perp.book.size[:, 0]) + perp.mm_size[0] == pytest.approx(0.0, abs=1e-9)
    # the market maker's hedges and the venue only trade with each other
    for asset in ("BTC", "USDC"):
        before = ledger0.balance(perp0.market_maker_account, asset) + ledger0.balance("venue:cex", asset)
        after = ledger.balance(perp.market_maker_account, asset) + ledger.balance("venue:cex", asset)
        assert after == pytest.approx(before, rel=1e-12)
    # the market maker took over every closed size
    assert perp.mm_size[0] == pytest.approx(res.perps_liquidations["size_closed"].sum(), rel=1e-9)
    assert all(row["error"] == 0 or abs(row["error"]) <= row["bound"] for row in res.manifest["conservation"])


def test_funding_is_zero_sum():
    data = scenario(**{"protocols.perp.markets.BTC-USD.funding": {"interval": "2min", "max_rate": 0.01}})
    sim, res = _run(data, check_invariants=True)
    funding = res.perps_funding
    assert len(funding) == 15
    gross = funding["longs_paid"].abs() + funding["shorts_paid"].abs()
    total = funding["longs_paid"] + funding["shorts_paid"] + funding["market_maker_paid"]
    assert np.all(np.abs(total) <= 1e-12 * gross)
    assert np.allclose(funding["rate"], np.clip(funding["mark_price"] / funding["oracle_price"] - 1, -0.01, 0.01),
                       rtol=1e-12)
    # one payment, executed against the end state and rolled back: every account pays s P rate
    perp = sim.protocols["perp"]
    quote0, mm0 = perp.book.quote.copy(), perp.mm_quote
    held = sim.ledger.balance(perp.account, "USDC")
    with sim.dry_run(perp.chain) as block:
        rate = perp.pay_funding(block, 0)
        p = perp.oracles[0].answer
        assert rate != 0
        assert np.allclose(quote0 - perp.book.quote, perp.book.size[:, 0] * p * rate, rtol=1e-12, atol=1e-9)
        assert math.fsum(perp.book.quote) + perp.mm_quote == pytest.approx(math.fsum(quote0) + mm0, abs=1e-6)
        assert sim.ledger.balance(perp.account, "USDC") == held
    assert np.array_equal(perp.book.quote, quote0) and perp.mm_quote == mm0


# --------------------------------------------------------------------------- spot markets
def test_liquidation_sales_move_the_pool_they_hedge_on():
    data = scenario()
    data["pools"]["pool"] = {"kind": "constant_product", "chain": "appchain", "assets": ["BTC", "USDC"],
                             "reserves": [2_000, 15_800_000], "fee": 0.0005}
    data["protocols"]["perp"]["markets"]["BTC-USD"]["liquidates_into"] = "pool"
    data["agents"]["arb"] = {"kind": "arbitrageur", "watches": ["pool"], "venue": "cex", "gas_price": 40,
                             "inventory": {"BTC": 2_000, "USDC": 20_000_000, "ETH": 100}}
    sim, res = _run(data)
    swaps = res.swaps[res.swaps["market"] == "pool"].sort_values("swap_id")
    hedges = swaps[swaps["trader"] == sim.protocols["perp"].market_maker_account]
    assert len(hedges) > 10
    x, y = 2_000.0, 15_800_000.0                        # replay the pool's reserves from every swap
    for _, sw in swaps.iterrows():
        assert sw["price_before"] == pytest.approx(y / x, rel=1e-9)
        if sw["asset_in"] == "BTC":
            assert sw["amount_out"] == pytest.approx(cp.amount_out(sw["amount_in"], x, y, 0.0005), rel=1e-9)
            x, y = x + sw["amount_in"], y - sw["amount_out"]
        else:
            assert sw["amount_out"] == pytest.approx(cp.amount_out(sw["amount_in"], y, x, 0.0005), rel=1e-9)
            x, y = x - sw["amount_out"], y + sw["amount_in"]
        assert sw["price_after"] == pytest.approx(y / x, rel=1e-9)
    assert (hedges["asset_in"] == "BTC").all() and (hedges["price_after"] < hedges["price_before"]).all()
    # each fill is its hedge: same transaction, same size, price = the pool's output per BTC
    liq = res.perps_liquidations[res.perps_liquidations["size_closed"] > 0].sort_values("liquidation_id")
    assert len(liq) == len(hedges)
    assert np.array_equal(liq["tx_id"].to_numpy(), hedges["tx_id"].to_numpy())
    assert np.allclose(liq["size_closed"], hedges["amount_in"], rtol=1e-12)
    assert np.allclose(liq["fill_price"], hedges["amount_out"].to_numpy() / hedges["amount_in"].to_numpy(),
                       rtol=1e-12)


def test_liquidation_sales_move_the_venue_by_its_impact(small_fund):
    _, sim, res = small_fund
    mm = sim.protocols["perp"].market_maker_account
    sales = res.swaps[(res.swaps["market"] == "cex") & (res.swaps["trader"] == mm)]
    assert len(sales) > 10 and (sales["asset_in"] == "BTC").all()
    slope = 5e-5 + 5e-5                                  # permanent + temporary impact per BTC
    assert np.allclose(sales["price_after"], sales["price_before"] * (1 - slope * sales["amount_in"]), rtol=1e-12)
    fill = sales["price_before"] * (1 - 0.5 * slope * sales["amount_in"])
    assert np.allclose(sales["amount_out"], sales["amount_in"] * fill, rtol=1e-12)


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_tables():
    a = contagion.run(contagion.Network.from_dict(scenario()), seed=5)
    b = contagion.run(contagion.Network.from_dict(scenario()), seed=5)
    c = contagion.run(contagion.Network.from_dict(scenario()), seed=6)
    for table in ("perps_liquidations", "adl", "perps_state"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
    assert not getattr(a, "perps_liquidations").equals(getattr(c, "perps_liquidations"))


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("path, value, message", [
    ("protocols.perp.markets.BTC-USD.oracle", "usdc_usd", "protocols.perp.markets.BTC-USD.oracle: oracle prices USDC, not BTC"),
    ("protocols.perp.markets.BTC-USD.liquidates_into", "nowhere", "liquidates_into: must name a pool or a venue"),
    ("protocols.perp.markets.BTC-USD.base", "USDC", "markets.BTC-USD.base: must differ from the protocol's quote"),
    ("protocols.perp.quote", "DAI", "protocols.perp.quote: must name an entry of assets"),
    ("protocols.perp.market_maker.inventory", {"XYZ": 1}, "market_maker.inventory.XYZ: must name an entry of assets"),
    ("protocols.perp.markets.BTC-USD.margin", {"kind": "brackets", "brackets": [
        {"notional_cap": 10, "initial_margin_rate": 0.01, "maintenance_margin_rate": 0.02}]},
     "maintenance_margin_rate must be <= initial_margin_rate"),
    ("protocols.perp.markets.BTC-USD.margin", {"kind": "brackets", "brackets": [
        {"notional_cap": 10, "initial_margin_rate": 0.01, "maintenance_margin_rate": 0.005},
        {"notional_cap": 5, "initial_margin_rate": 0.02, "maintenance_margin_rate": 0.01}]},
     "notional_cap must increase"),
    ("protocols.perp.accounts.leverage", {"median": 30, "low": 1, "high": 20}, "median must lie in"),
    ("protocols.perp.adl_ranking", "random", "adl_ranking"),
    ("protocols.perp.insurance_fund", -1, "insurance_fund: must be >= 0"),
])
def test_bad_scenarios_name_the_key_and_rule(path, value, message):
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        contagion.Network.from_dict(scenario(**{path: value}))


def test_a_pool_on_another_chain_or_pair_is_refused():
    data = scenario()
    data["chains"]["other"] = {"block_time": "12s", "native_asset": "ETH2"}
    data["assets"]["ETH2"] = {"chain": "other", "kind": "native"}
    data["assets"]["BTC2"] = {"chain": "other"}
    data["assets"]["USDC2"] = {"chain": "other"}
    data["pools"]["far"] = {"kind": "constant_product", "chain": "other", "assets": ["BTC2", "USDC2"],
                            "reserves": [1, 1]}
    data["protocols"]["perp"]["markets"]["BTC-USD"]["liquidates_into"] = "far"
    with pytest.raises(ScenarioError, match=r"liquidates_into: must trade BTC/USDC \(it trades BTC2/USDC2\), got 'far'"):
        contagion.Network.from_dict(data)


def test_summary_reports_the_fund_and_adl(small_fund, large_fund):
    _, _, res = small_fund
    _, big = large_fund
    s, b = res.summary(), big.summary()
    assert s["insurance_fund_drawdown.perp"] == pytest.approx(20_000.0)      # the whole fund
    assert s["adl.perp"] == len(res.adl) > 0
    fund = big.perps_state["insurance_fund"]
    assert b["insurance_fund_drawdown.perp"] == pytest.approx(float(fund.iloc[0] - fund.min()))
    assert b["adl.perp"] == 0


def test_single_pair_indicators_are_nan_without_a_lending_book(large_fund):
    _, big = large_fund
    s = big.summary()
    for key in ("threshold_proximity", "margin_to_liquidity", "liquidity_depth_ratio"):
        assert math.isnan(s[key]), key
