"""The Oracle Security Module: a value read at a poke takes effect at the next poke, one hop later."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.engine.chain import Revert
from _support import small_scenario

BLOCK = 12.0
HOP = 590.0           # not a multiple of the block time: boundaries fall between blocks
ROUND = 5.0
STEP_AT = 701.0       # the venue's price steps from 2000 to 1500 at this second
POINTS = [[0, 2000], [700, 2000], [STEP_AT, 1500], [4000, 1500]]


def next_block(t: float) -> float:
    """Time of the first block at or after ``t`` (blocks every 12 s from 12 s)."""
    return math.ceil(t / BLOCK) * BLOCK


def osm_scenario(**changes) -> dict:
    data = small_scenario(**changes)
    data["agents"] = {}
    data["venues"]["cex_eth_usd"]["path"]["points"] = POINTS
    data["oracles"]["eth_osm"] = {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "eth_usd",
                                  "hop": HOP}
    data["protocols"]["lend"]["oracles"]["ETH"] = "eth_osm"
    return data


def simulate(data, until=2400.0, spam_at=None, spam=0):
    sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
    if spam:
        chain = sim.chains["ethereum"]
        sim.ledger.add_account("spammer", "test")
        sim.ledger.mint("spammer", "ETH", 1_000.0)

        def flood():
            yield sim.env.timeout(spam_at)
            for _ in range(spam):  # each fills a whole block and outbids the poker
                chain.submit(sender="spammer", agent_type="background", kind="spam",
                             gas_used=chain.gas_limit, gas_price=500.0, action=lambda b: None)

        sim.env.process(flood())
    return sim, sim.run(until)


def test_a_step_in_the_source_reaches_the_protocol_one_hop_after_it_entered_next():
    sim, res = simulate(osm_scenario())
    updates = res.oracle_updates
    # the push feed sees the step at its first round after it, and its report lands in the next block
    observed = math.ceil(STEP_AT / ROUND) * ROUND                       # 705
    src = updates[(updates["oracle"] == "eth_usd") & (updates["price"] == 1500.0)].iloc[0]
    assert src["observed_at"] == observed and src["published_at"] == next_block(observed)   # 708
    # pokes at every boundary k * hop, each included in the first block after it
    osm = updates[updates["oracle"] == "eth_osm"].reset_index(drop=True)
    pokes = osm[osm["reason"] == "poke"]
    assert pokes["published_at"].tolist() == [next_block(k * HOP) for k in range(1, 5)]   # 600 1188 1776 2364
    assert pokes["tx_id"].ge(0).all()
    # the step entered `nxt` at the first poke after the source published it, and became current one
    # hop later: at the first block after (ceil(708 / hop) + 1) * hop = 1770
    entered = next_block(math.ceil(src["published_at"] / HOP) * HOP)     # 1188
    effective = next_block((math.ceil(src["published_at"] / HOP) + 1) * HOP)  # 1776
    assert effective == 1776.0 and entered == 1188.0
    first = pokes[pokes["price"] == 1500.0].iloc[0]
    assert first["published_at"] == effective
    assert pokes[pokes["published_at"] < effective]["price"].eq(2000.0).all()
    # provenance: the value carries the source's observation time and exogenous price from when it
    # entered `nxt` (no agents: the exogenous price is the venue's)
    assert first["observed_at"] == src["observed_at"] and first["exogenous_price"] == 1500.0
    assert first["lag"] == effective - observed
    # the protocol's price changed in that block, not before
    book = res.protocols.set_index("time")["price"]
    assert book[effective - BLOCK] == 2000.0 and book[effective] == 1500.0
    assert sim.oracles["eth_osm"].zzz == pytest.approx(math.floor(2400 / HOP) * HOP)


def test_peep_shows_the_next_value_one_hop_ahead():
    sim = contagion.Simulation(contagion.Network.from_dict(osm_scenario()), seed=0)
    osm = sim.oracles["eth_osm"]
    sim.advance(1200.0)        # after the poke at 1188 read 1500 into `nxt`
    assert osm.peek() == (2000.0, True) and osm.peep() == (1500.0, True)
    assert osm.zzz == 1180.0 and osm.age(1200.0) == 20.0 and not osm.pass_(1200.0) and osm.pass_(1770.0)
    assert sim.protocols["lend"].ratio == 2000.0


def test_a_poke_before_zzz_plus_hop_reverts():
    sim = contagion.Simulation(contagion.Network.from_dict(osm_scenario()), seed=0)
    osm = sim.oracles["eth_osm"]
    sim.advance(650.0)          # zzz = 590 after the first poke
    chain = sim.chains["ethereum"]
    tx = chain.submit(sender=osm.account, agent_type="test", kind="poke", gas_used=100_000,
                      gas_price=60.0, action=lambda block: osm.poke())
    sim.advance(660.0)
    assert tx.status == "reverted" and tx.revert_reason.startswith("OSM/not-passed")
    assert osm.zzz == 590.0
    with pytest.raises(Revert, match="OSM/not-passed"):
        sim.journal.begin()
        try:
            osm.poke()
        finally:
            sim.journal.rollback()


def test_a_late_poke_keeps_the_hop_grid():
    # ten full-block transactions submitted at 1170 fill the blocks 1176 ... 1284 and outbid the poke
    # submitted at the boundary 1180: it lands in the first block after them
    sim, res = simulate(osm_scenario(), spam_at=1170.0, spam=10)
    pokes = res.oracle_updates[(res.oracle_updates["oracle"] == "eth_osm")
                               & (res.oracle_updates["reason"] == "poke")]["published_at"].tolist()
    late = next_block(1170.0) + 10 * BLOCK                          # 1296
    assert pokes[:3] == [next_block(HOP), late, next_block(3 * HOP)]
    # zzz was rounded down to the boundary 1180, so the next poke is still due at 1770 (not 1296 + hop)
    rows = res.oracle_lag[(res.oracle_lag["oracle"] == "eth_osm") & (res.oracle_lag["time"] == 1500.0)]
    assert rows["age"].iloc[0] == 1500.0 - 2 * HOP


def test_osm_over_a_median_of_feeds():
    data = osm_scenario()
    data["oracles"]["eth_usd_b"] = dict(data["oracles"]["eth_usd"], deviation_threshold=0.01)
    data["oracles"]["eth_med"] = {"kind": "median", "chain": "ethereum", "asset": "ETH",
                                  "sources": ["eth_usd", "eth_usd_b"]}
    data["oracles"]["eth_osm"]["source"] = "eth_med"
    sim, res = simulate(data)
    med = res.oracle_updates[res.oracle_updates["oracle"] == "eth_med"]
    src = res.oracle_updates[res.oracle_updates["oracle"].isin(["eth_usd", "eth_usd_b"])
                             & (res.oracle_updates["reason"] != "genesis")]
    # one median publication per source publication, in the same transaction
    assert len(med) - 1 == len(src) and set(med["tx_id"].iloc[1:]) == set(src["tx_id"])
    # upper median of two equals the larger one; it is 1500 once both sources report the step
    assert np.all(med["price"].iloc[1:].to_numpy() >= 1500.0)
    assert sim.oracles["eth_osm"].answer == 1500.0
