"""Maker vaults in the simulation: Liquidations 1.2 (Black Thursday in miniature), 2.0 (Dutch
auctions: curve prices, chost, redo, incentives), the vow and debt auctions, conservation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import contagion
from contagion import auctions as au
from _support import apply_changes

FIRST_BID = 1e-18


def maker_scenario(**changes) -> dict:
    """ETH/DAI vaults priced by an OSM (10 min hop) over a push feed; ETH falls 200 -> 140 in 30 min.

    20 vaults, 1M DAI of debt, collateralization 1.05-1.35 times ``mat`` = 1.5: all of them become
    unsafe, and at 140 each one's collateral is worth at least 1.05 * 1.5 * 0.7 = 1.1 times its debt.
    """
    data = {
        "name": "maker-test", "description": "test", "seed": 3, "until": "2h",
        "chains": {"ethereum": {"block_time": "13s", "gas_limit": 10_000_000, "native_asset": "ETH"}},
        "assets": {"ETH": {"chain": "ethereum", "kind": "native"}, "DAI": {"chain": "ethereum", "kind": "stable"},
                   "MKR": {"chain": "ethereum", "kind": "governance"}},
        "venues": {
            "cex_eth": {"asset": "ETH", "quote": "DAI",
                        "path": {"kind": "piecewise", "points": [[0, 200], ["5min", 200], ["35min", 140]]}},
            "cex_mkr": {"asset": "MKR", "quote": "DAI", "path": {"kind": "piecewise", "points": [[0, 500]]}},
        },
        "oracles": {
            "median": {"kind": "push", "chain": "ethereum", "asset": "ETH", "sources": ["cex_eth"],
                       "deviation_threshold": 0.01, "heartbeat": "1h", "gas_price": 1000},
            "osm": {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "median", "hop": "10min",
                    "gas_price": 1000},
        },
        "protocols": {"vaults": {
            "type": "maker", "chain": "ethereum", "collateral": "ETH", "debt": "DAI", "governance": "MKR",
            "oracle": "osm", "mat": 1.5, "chop": 0.13, "dust": 20, "surplus": 0,
            "liquidation": "flip",
            "flip": {"beg": 0.03, "ttl": "10min", "tau": "6h", "lump": 200},
            "debt_auctions": {"sump": 20_000, "dump": 100, "beg": 0.03, "ttl": "10min", "tau": "1h"},
            "liquidates_into": ["cex_eth"],
            "positions": {"kind": "generated", "count": 20, "total_debt": 1_000_000, "debt_sigma": 0.5,
                          "health_factor": {"distribution": "uniform", "low": 1.05, "high": 1.35}},
        }},
        "agents": {
            "bidders": {"kind": "auction_keeper", "count": 2, "watches": ["vaults"],
                        "inventory": {"ETH": 50, "DAI": 2_000_000}, "gas_price": 20, "discount": 0.05,
                        "price_sources": ["cex_eth", "cex_mkr"]},
            "zero_bidder": {"kind": "auction_keeper", "watches": ["vaults"], "inventory": {"ETH": 50, "DAI": 10},
                            "gas_price": 300, "strategy": "minimum", "min_bid": FIRST_BID, "houses": ["flip"],
                            "discount": 0.0, "price_sources": ["cex_eth"]},
        },
    }
    return apply_changes(data, changes, none_deletes=True)


def run(data: dict, until=None) -> contagion.Result:
    return simulate(data, until)[1]


def simulate(data: dict, until=None):
    """``(simulation, result, DAI minted-minus-burned at genesis)`` with invariants checked every block."""
    sim = contagion.Simulation(contagion.Network.from_dict(copy.deepcopy(data)), check_invariants=True)
    genesis = {row.asset: row.expected for row in sim.ledger.conservation()}
    res = sim.run(until)
    res.genesis = genesis
    return sim, res


def flip_outcome(res):
    """``(debt moved to the vow, DAI raised, kicks, deals)`` of the flip auctions of a run."""
    a = res.auctions[res.auctions["house"] == "flip"]
    kicks, deals = a[a["action"] == "kick"], a[a["action"] == "deal"]
    return float(kicks["due"].sum()), float(a["paid"].sum()), kicks, deals


# ----------------------------------------------------------------------- Black Thursday
def test_black_thursday_in_miniature_keepers_without_dai():
    """Keepers with no DAI cannot bid; the zero-bid keeper's one-wei bids win every lot."""
    res = run(maker_scenario(**{"agents.bidders.inventory": {"ETH": 50, "DAI": 0}}))
    debt, raised, kicks, deals = flip_outcome(res)
    assert len(kicks) >= 20 and debt > 900_000       # every vault was bitten (the whole 1M of debt)
    assert len(deals) == len(kicks)                  # every auction ended ...
    assert (deals["keeper"] == "zero_bidder#0").all() and (deals["bid"] == FIRST_BID).all()   # ... for 1 wei
    assert raised == pytest.approx(FIRST_BID * len(deals), rel=1e-9)
    assert raised / debt < 1e-20
    # the collateral went to the zero bidder: all of what the vaults lost
    eth_won = float(deals["received"].sum())
    assert eth_won == pytest.approx(float(kicks["lot"].sum()), rel=1e-12)
    # nothing covered the debt: the vow holds all of it, and it is all bad debt
    vow = res.vow.iloc[-1]
    assert vow["healed"] == pytest.approx(raised, rel=1e-9) and vow["surplus"] == 0.0   # the wei bids
    assert vow["sin"] == pytest.approx(debt, rel=1e-12)
    assert vow["bad_debt"] == pytest.approx(debt, rel=1e-12)


def test_black_thursday_in_miniature_keepers_priced_out_by_congestion():
    """Keepers with DAI but a 20 gwei bid never get into blocks that other users fill at 40-60 gwei
    (13M gas of demand per 10M-gas block)."""
    data = maker_scenario(**{"chains.ethereum.background": {
        "rate": 10.0, "gas_per_tx": 100_000, "priority_fee": 50, "priority_fee_sigma": 0.1, "expiry": "10min"}})
    res = run(data)
    debt, raised, kicks, deals = flip_outcome(res)
    tx = res.transactions
    bidders = tx[tx["sender"].str.startswith("bidders")]
    assert len(bidders) > 0 and not bidders["status"].isin(["included", "reverted"]).any()
    assert len(kicks) >= 20 and len(deals) == len(kicks)
    assert (deals["keeper"] == "zero_bidder#0").all()
    assert raised / debt < 1e-20


def test_black_thursday_in_miniature_working_keepers_recover_the_debt():
    res = run(maker_scenario())
    debt, raised, kicks, deals = flip_outcome(res)
    assert len(deals) == len(kicks) >= 20
    # at 140 each lot is worth >= 1.1 x its debt, so keepers bidding 95 % of value cover >= 90 %
    assert raised / debt >= 0.9
    assert (deals["bid"] > 1.0).all()
    # each auction raised at most its tab = due * (1 + chop)
    a = res.auctions[res.auctions["house"] == "flip"]
    per = a.groupby("auction_id").agg(paid=("paid", "sum"), due=("due", "first"))
    assert (per["paid"] <= per["due"] * 1.13 * (1 + 1e-12)).all()
    assert res.vow.iloc[-1]["bad_debt"] == pytest.approx(0.0, abs=1e-6)


def test_flip_bids_follow_beg_and_ttl():
    res = run(maker_scenario())
    a = res.auctions[res.auctions["house"] == "flip"]   # rows are in execution order
    assert a["auction_id"].nunique() >= 20 and a["action"].isin(["tend", "dent"]).sum() >= 20
    assert (a["action"] == "deal").sum() >= 20
    for _, rows in a.groupby("auction_id"):
        bids = rows[rows["action"].isin(["tend", "dent"])]
        tends = bids[bids["action"] == "tend"]["bid"].to_numpy()
        tab = float(rows["tab"].iloc[0])
        for prev, nxt in zip(np.r_[0.0, tends[:-1]], tends):
            assert au.tend_accepted(prev, nxt, tab, 0.03)
        lots = bids[bids["action"] == "dent"]["lot"].to_numpy()
        for prev, nxt in zip(np.r_[float(rows["lot"].iloc[0]), lots[:-1]], lots):
            assert au.dent_accepted(prev, nxt, 0.03)
        deal = rows[rows["action"] == "deal"]
        if len(deal):   # dealt only after the last bid's ttl (10 min) or the auction's tau
            assert float(deal["time"].iloc[0]) > float(bids["time"].max()) + 600 - 1


# ----------------------------------------------------------------------- Dutch auctions
def clip_scenario(**changes) -> dict:
    data = maker_scenario(**{
        "protocols.vaults.liquidation": "clip", "protocols.vaults.flip": None,
        "protocols.vaults.clip": {"calc": {"kind": "linear", "tau": "1h"}, "buf": 1.2, "tail": "40min",
                                  "cusp": 0.5, "chip": 0.01, "tip": 100, "hole": 5_000_000},
        "agents.zero_bidder": None})
    return apply_changes(data, changes)


def _tops(clip_rows):
    """Starting price and start time in effect for each take: from the last kick or redo before it."""
    out = {}
    for _, row in clip_rows.iterrows():   # rows are in execution order
        if row["action"] in ("kick", "redo"):
            out[row["auction_id"]] = (row["price"], math.floor(row["time"]))
        yield row, out.get(row["auction_id"])


def test_take_pays_the_linear_curve_price_at_its_time():
    res = run(clip_scenario())
    a = res.auctions[res.auctions["house"] == "clip"]
    takes = 0
    for row, (top, tic) in ((r, t) for r, t in _tops(a) if r["action"] == "take"):
        dur = math.floor(row["time"]) - tic
        assert row["price"] == pytest.approx(top * (3600 - dur) / 3600, rel=1e-12)
        assert row["paid"] == pytest.approx(row["received"] * row["price"], rel=1e-12)   # owe = slice * price
        takes += 1
    assert takes >= 20
    # kicks start at buf x the oracle's price
    kicks = a[a["action"] == "kick"]
    osm = res.oracle_updates[res.oracle_updates["oracle"] == "osm"]
    for _, k in kicks.iterrows():
        price = float(osm[osm["published_at"] <= k["time"]]["price"].iloc[-1])
        assert k["price"] == pytest.approx(1.2 * price, rel=1e-12)


def test_stairstep_take_prices_and_incentives_minted():
    res = run(clip_scenario(**{"protocols.vaults.clip.calc": {"kind": "stairstep", "cut": 0.99, "step": "90s"}}))
    a = res.auctions[res.auctions["house"] == "clip"]
    takes = [(r, t) for r, t in _tops(a) if r["action"] == "take"]
    assert len(takes) >= 20
    for row, (top, tic) in takes:
        assert row["price"] == pytest.approx(top * 0.99 ** ((math.floor(row["time"]) - tic) // 90), rel=1e-12)
    kicks = a[a["action"] == "kick"]
    assert len(kicks) >= 20
    np.testing.assert_allclose(kicks["incentive"], 100 + 0.01 * kicks["tab"], rtol=1e-12)
    # the rewards were minted to the keepers and added to the vow's debt
    assert res.vow.iloc[-1]["incentives"] == pytest.approx(float(a["incentive"].sum()), rel=1e-12)
    conservation = {row["asset"]: row for row in res.manifest["conservation"]}
    assert conservation["DAI"]["expected"] >= float(a["incentive"].sum())


def test_partial_takes_respect_chost():
    # one small keeper whose DAI buys only part of each lot
    data = clip_scenario(**{"agents.bidders.count": 1, "agents.bidders.inventory": {"ETH": 50, "DAI": 30_000},
                            "protocols.vaults.dust": 5_000})
    res = run(data)
    a = res.auctions[res.auctions["house"] == "clip"]
    takes = a[a["action"] == "take"]
    chost = 5_000 * 1.13
    assert len(takes) > 0
    left = takes["tab"]
    assert ((left == 0) | (left >= chost * (1 - 1e-12))).all()
    partial = takes[(takes["tab"] > 0) & (takes["lot"] > 0)]
    assert len(partial) > 0


def test_redo_after_tail_and_cusp_pays_incentive():
    # nobody takes (keepers want a 90 % discount): auctions must be reset by tail (40 min) or cusp
    data = clip_scenario(**{"agents.bidders.discount": 0.9, "until": "4h"})
    res = run(data)
    a = res.auctions[res.auctions["house"] == "clip"]
    redos = a[a["action"] == "redo"]
    assert len(redos) > 0
    # each redo came when the previous start was done: dur > tail or price / top < cusp (linear: dur > 1800)
    starts = {}
    for _, row in a.iterrows():
        if row["action"] == "redo":
            _, tic = starts[row["auction_id"]]
            dur = math.floor(row["time"]) - tic
            assert dur > 1800          # linear over 1 h: below cusp 0.5 after 30 min, before tail 40 min
            assert row["incentive"] == pytest.approx(100 + 0.01 * row["tab"], rel=1e-12)
        if row["action"] in ("kick", "redo"):
            starts[row["auction_id"]] = (row["price"], math.floor(row["time"]))


# ------------------------------------------------------------------- vow and debt auctions
def test_bad_debt_goes_to_debt_auctions_that_mint_governance_tokens():
    _, res = simulate(maker_scenario(**{"agents.bidders.inventory": {"ETH": 50, "DAI": 0},
                                "agents.flop_bidder": {"kind": "auction_keeper", "watches": ["vaults"],
                                                       "inventory": {"ETH": 50, "DAI": 1_000_000},
                                                       "gas_price": 100, "houses": ["flop"], "discount": 0.1,
                                                       "price_sources": ["cex_mkr"]}}), until="5h")
    a = res.auctions[res.auctions["house"] == "flop"]
    kicks, dents, deals = (a[a["action"] == x] for x in ("kick", "dent", "deal"))
    assert len(kicks) > 0 and len(deals) > 0
    # the bidder lowers the lot to what sump is worth to it: 20,000 / (500 x 0.9) MKR
    np.testing.assert_allclose(dents["lot"], 20_000 / 450.0, rtol=1e-12)
    minted = float(deals["received"].sum())
    assert minted == pytest.approx(len(deals) * 20_000 / 450.0, rel=1e-12)
    vow = res.vow.iloc[-1]
    assert vow["governance_minted"] == pytest.approx(minted, rel=1e-12)
    mkr = {row["asset"]: row for row in res.manifest["conservation"]}["MKR"]
    assert mkr["expected"] - res.genesis["MKR"] == pytest.approx(minted, rel=1e-9)   # minted only by flop deals
    # each debt auction's first bid cancelled sump of the debt on auction
    assert float(dents["paid"].sum()) == pytest.approx(20_000 * len(dents[dents["paid"] > 0]), rel=1e-12)


def test_money_is_conserved_and_the_vow_balances():
    """Ledger conservation after every block (check_invariants) and at the end; the vow's books: its
    debt is what liquidations and rewards added, less the DAI burned settling it; DAI is minted after
    genesis only as keeper rewards and MKR only by debt auctions; collateral that left the vaults is
    on sale, won, or returned to the owners."""
    flop_bidder = {"kind": "auction_keeper", "watches": ["vaults"], "inventory": {"ETH": 50, "DAI": 1_000_000},
                   "houses": ["flop"], "price_sources": ["cex_mkr"]}
    for data in (maker_scenario(), clip_scenario(),
                 maker_scenario(**{"agents.bidders.inventory": {"ETH": 50, "DAI": 0},
                                   "agents.flop_bidder": flop_bidder}),
                 clip_scenario(**{"agents.bidders.inventory": {"ETH": 50, "DAI": 300_000},
                                  "agents.flop_bidder": flop_bidder})):
        sim, res = simulate(data, "4h")
        rows = {row["asset"]: row for row in res.manifest["conservation"]}
        for row in rows.values():
            assert abs(row["error"]) <= row["bound"], row
        a = res.auctions
        vow = res.vow.iloc[-1]
        due = float(a[(a["action"] == "kick") & (a["house"] != "flop")]["due"].sum())
        incentives = float(a["incentive"].sum())
        assert vow["incentives"] == pytest.approx(incentives, rel=1e-12, abs=1e-12)
        assert vow["sin"] == pytest.approx(due + incentives - vow["healed"], rel=1e-9, abs=1e-6)
        # minted - burned of DAI since genesis = rewards minted - DAI burned by heal and kiss
        assert rows["DAI"]["expected"] - res.genesis["DAI"] == pytest.approx(incentives - vow["healed"],
                                                                            rel=1e-9, abs=1e-6)
        flop_deals = a[(a["house"] == "flop") & (a["action"] == "deal")]
        minted_mkr = rows["MKR"]["expected"] - res.genesis["MKR"]     # genesis: the MKR venue's inventory
        assert minted_mkr == pytest.approx(float(flop_deals["received"].sum()), rel=1e-9, abs=1e-9)
        assert vow["governance_minted"] == pytest.approx(float(flop_deals["received"].sum()), rel=1e-12)
        # collateral: what left the vaults = still on sale + won by keepers + returned to the owners
        p = sim.protocols["vaults"]
        on_sale = sim.ledger.balance(p.auction_account, "ETH")
        kicked = float(a[(a["action"] == "kick") & (a["house"] != "flop")]["lot"].sum())
        won = float(a[a["action"].isin(["deal", "take"]) & (a["house"] != "flop")]["received"].sum())
        assert kicked == pytest.approx(won + float(a["returned"].sum()) + on_sale, rel=1e-9)
        assert sim.ledger.balance(p.account, "ETH") == pytest.approx(float(p.ink.sum()), rel=1e-12)


# ------------------------------------------------------------------------ more mechanisms
def test_cat_12_limits_auction_size_and_debt_in_flight():
    data = maker_scenario(**{"protocols.vaults.flip": {"beg": 0.03, "ttl": "10min", "tau": "6h",
                                                       "dunk": 30_000, "box": 100_000}})
    res = run(data, until="3h")
    a = res.auctions
    kicks = a[(a["house"] == "flip") & (a["action"] == "kick")]
    assert len(kicks) > 10
    assert (kicks["tab"] <= 30_000 * (1 + 1e-12)).all()                 # tab <= dunk
    np.testing.assert_allclose(kicks["tab"], kicks["due"] * 1.13, rtol=1e-12)
    assert (res.vow["in_flight"] <= 100_000 * (1 + 1e-12)).all()         # litter <= box
    # liquidations continue as auctions are dealt and release their tab (cat.claw)
    deals = a[(a["house"] == "flip") & (a["action"] == "deal")]
    assert kicks["time"].max() > deals["time"].min()


def test_flash_funded_take_repays_the_loan_from_a_pool_sale():
    data = clip_scenario(**{
        "pools": {"uni": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "DAI"],
                          "reserves": [50_000, 8_000_000], "fee": 0.003}},
        "agents.bidders.inventory": {"ETH": 50, "DAI": 0},
        "agents.bidders.flash_loan": {"fee": 0.0009, "liquidity": {"DAI": 10_000_000}},
        "agents.bidders.sell_into": ["uni"],
        "agents.bidders.discount": 0.1, "agents.bidders.houses": ["clip"]})
    sim, res = simulate(data, "2h")
    a = res.auctions
    takes = a[(a["house"] == "clip") & (a["action"] == "take")]
    assert len(takes) > 0
    lender = sim.ledger.balance("flash_lender:bidders", "DAI")
    swaps = res.swaps[res.swaps["market"] == "uni"]
    assert len(swaps) == len(takes)                       # every take sold its collateral in the pool
    # the lender got back every loan plus 0.09 %; the keepers kept the rest of the sale as DAI
    assert lender > 10_000_000
    keepers_dai = sum(sim.ledger.balance(f"bidders#{i}", "DAI") for i in range(2))
    incentives = float(a["incentive"].sum())
    sold = float(swaps["amount_out"].sum())
    paid = float(takes["paid"].sum())
    assert keepers_dai == pytest.approx(sold - paid - (lender - 10_000_000) + incentives, rel=1e-9)
    # fees are 0.09 % of what was borrowed: at most the DAI the takes paid (the rest came from rewards)
    assert 0 < lender - 10_000_000 <= 0.0009 * paid * (1 + 1e-12)
