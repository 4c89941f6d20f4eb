"""networks/black_thursday_2020.yaml: congestion prices the keepers out and a zero bidder wins the
English auctions; without congestion the same keepers cover the debt and its penalty."""

from __future__ import annotations

import pytest
import yaml

import contagion
from _support import NETWORKS

pytestmark = pytest.mark.slow

PATH = NETWORKS / "black_thursday_2020.yaml"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(PATH.read_text())


@pytest.fixture(scope="module")
def congested():
    return contagion.run(contagion.load_network(PATH), seed=1)


@pytest.fixture(scope="module")
def calm():
    return contagion.run(contagion.load_network(PATH), seed=1, overrides={"chains.ethereum.background.rate": 0})


def _flip(res):
    a = res.auctions[res.auctions["house"] == "flip"]
    return a, a[a["action"] == "kick"], a[a["action"] == "deal"]


def test_congestion_hands_the_auctions_to_the_zero_bidder(congested, spec):
    a, kicks, deals = _flip(congested)
    assert len(kicks) > 1000
    zero = deals[deals["keeper"] == "zero_bidder#0"]
    for_nothing = zero[zero["bid"] == spec["agents"]["zero_bidder"]["min_bid"]]
    assert len(for_nothing) > len(kicks) / 3                # lots won with a single one-wei bid
    # what it won is worth millions at the market: the collateral of those auctions at the day's low
    low = min(p for _, p in spec["venues"]["cex_eth_usd"]["path"]["points"])
    assert float(for_nothing["received"].sum()) * low > 5e6
    raised = float(a["paid"].sum())
    due = float(kicks["due"].sum())
    assert raised / due < 0.6
    # the keepers' transactions waited longer than a bid lives (ttl) while the zero bidder's did not
    tx = congested.transactions
    landed = tx[tx["status"].isin(["included", "reverted"])]
    keepers = landed[landed["sender"].str.startswith("keepers")]
    ttl = 600.0
    assert keepers["inclusion_delay"].quantile(0.75) > ttl
    assert landed[landed["sender"] == "zero_bidder#0"]["inclusion_delay"].max() < ttl


def test_congested_shortfall_is_covered_by_minting_mkr(congested, spec):
    a = congested.auctions
    vow = congested.vow.iloc[-1]
    deals = a[(a["house"] == "flop") & (a["action"] == "deal")]
    assert len(deals) > 0
    assert vow["governance_minted"] == pytest.approx(float(deals["received"].sum()), rel=1e-12)
    # each debt auction raised sump DAI for at most dump MKR
    flop = spec["protocols"]["eth_a"]["debt_auctions"]
    sump, dump = flop["sump"], flop["dump"]
    assert (deals["bid"] == sump).all() and (deals["lot"] <= dump).all()
    # they were needed: the auctions' shortfall exceeds the vow's surplus buffer at the start
    flip = a[a["house"] == "flip"]
    per = flip.groupby("auction_id").agg(due=("due", "first"), paid=("paid", "sum"))
    shortfall = float((per["due"] - per["paid"]).clip(lower=0).sum())
    assert shortfall > spec["protocols"]["eth_a"]["surplus"] + sump
    assert congested.vow.iloc[0]["surplus"] == spec["protocols"]["eth_a"]["surplus"]


def test_without_congestion_keepers_cover_debt_and_penalty(calm, spec):
    a, kicks, deals = _flip(calm)
    chop = spec["protocols"]["eth_a"]["chop"]
    raised, due = float(a["paid"].sum()), float(kicks["due"].sum())
    assert 0.9 <= raised / due <= 1.0 + chop
    zero = deals[deals["keeper"] == "zero_bidder#0"]
    assert len(zero) < 0.01 * len(deals)
    assert calm.vow.iloc[-1]["governance_minted"] == 0.0


def test_summary_reports_where_the_shortfall_went(congested, calm, spec):
    s, c = congested.summary(), calm.summary()
    a, kicks, _ = _flip(congested)
    # recovery: DAI raised over the debt the auctions carried; the congested day loses most of it
    assert s["auction_recovery.eth_a"] == pytest.approx(float(a["paid"].sum()) / float(kicks["due"].sum()), rel=1e-12)
    assert s["auction_recovery.eth_a"] < 0.6 and c["auction_recovery.eth_a"] >= 0.9
    per = a.groupby("auction_id").agg(due=("due", "first"), paid=("paid", "sum"))
    assert s["auction_shortfall.eth_a"] == pytest.approx(float((per["due"] - per["paid"]).clip(lower=0).sum()))
    # the shortfall was recapitalised by debt auctions: the protocol's bad debt ends at 0
    assert s["bad_debt_usd.eth_a"] == 0.0 and s["debt_auctions.eth_a"] > 0
    assert s["governance_minted.eth_a"] == pytest.approx(float(congested.vow["governance_minted"].iloc[-1]))
    assert c["debt_auctions.eth_a"] == 0 and c["governance_minted.eth_a"] == 0.0
