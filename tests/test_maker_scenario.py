"""The cdp family's scenario models: validation errors name file, key path, rule and value; the
network graph has the Maker relations; runs are deterministic."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import contagion
from contagion.errors import ScenarioError
from test_maker import clip_scenario, maker_scenario


def _load(data):
    return contagion.Network.from_dict(copy.deepcopy(data), source="x.yaml")


@pytest.mark.parametrize("changes, message", [
    ({"protocols.vaults.flip": None}, r"x\.yaml: protocols\.vaults: liquidation: flip needs a `flip` section"),
    ({"protocols.vaults.flip.dunk": 5},
     r"x\.yaml: protocols\.vaults\.flip: give lump .* or dunk and box .*, not both, got \{"),
    ({"protocols.vaults.flip.lump": None}, r"x\.yaml: protocols\.vaults\.flip: needs lump .* or dunk and box"),
    ({"protocols.vaults.oracle": "nope"},
     r"x\.yaml: protocols\.vaults\.oracle: must name an entry of oracles \(median, osm\), got 'nope'"),
    ({"protocols.vaults.oracle": "median", "oracles.median.asset": "MKR", "oracles.median.sources": ["cex_mkr"],
      "oracles.osm.asset": "MKR"},
     r"x\.yaml: protocols\.vaults\.oracle: oracle prices MKR, not the collateral ETH, got 'median'"),
    ({"protocols.vaults.mat": 0.9}, r"x\.yaml: protocols\.vaults\.mat: must be >= 1, got 0\.9"),
    ({"protocols.vaults.chop": -0.1}, r"x\.yaml: protocols\.vaults\.chop: must be >= 0, got -0\.1"),
    ({"protocols.vaults.debt": "ETH"}, r"x\.yaml: protocols\.vaults\.debt: must differ from the collateral asset"),
    ({"protocols.vaults.governance": "DAI"},
     r"x\.yaml: protocols\.vaults\.governance: must differ from the collateral and debt assets, got 'DAI'"),
    ({"protocols.vaults.governance": "UNI"}, r"x\.yaml: protocols\.vaults\.governance: must name an entry of assets"),
    ({"protocols.vaults.liquidates_into": ["zzz"]},
     r"x\.yaml: protocols\.vaults\.liquidates_into\[0\]: must name a pool or a venue \(cex_eth, cex_mkr\), got 'zzz'"),
    ({"protocols.vaults.flip.beg": 1.5}, r"x\.yaml: protocols\.vaults\.flip\.beg: must be in \[0, 1\), got 1\.5"),
    ({"protocols.vaults.positions": {"kind": "snapshot", "path": "missing.csv"}},
     r"x\.yaml: protocols\.vaults\.positions\.path: file not found"),
    ({"agents.bidders.sell_into": ["cex_eth"]}, r"x\.yaml: agents\.bidders\.sell_into\[0\]: must name a pool"),
    ({"agents.bidders.price_sources": ["nowhere"]},
     r"x\.yaml: agents\.bidders\.price_sources\[0\]: must name a pool or a venue"),
    ({"agents.bidders.watches": ["osm"]}, r"x\.yaml: agents\.bidders\.watches\[0\]: must name an entry of protocols"),
    ({"agents.bidders.houses": ["flap"]}, r"x\.yaml: agents\.bidders\.houses\[0\]: must be one of 'flip', 'clip' or"),
    ({"agents.bidders.strategy": "greedy"}, r"x\.yaml: agents\.bidders\.strategy: "),
    ({"agents.bidders.discount": 1.0}, r"x\.yaml: agents\.bidders\.discount: must be in \[0, 1\), got 1"),
    ({"agents.bidders.flash_loan": {"liquidity": {"USD": 5}}},
     r"x\.yaml: agents\.bidders\.flash_loan\.liquidity\.USD: must name an entry of assets"),
])
def test_flip_scenario_errors(changes, message):
    with pytest.raises(ScenarioError, match=message):
        _load(maker_scenario(**changes))


@pytest.mark.parametrize("changes, message", [
    ({"protocols.vaults.clip.calc": {"kind": "stairstep", "cut": 1.5, "step": 90}},
     r"x\.yaml: protocols\.vaults\.clip\.calc\.cut: must be in \[0, 1\], got 1\.5"),
    ({"protocols.vaults.clip.calc": {"kind": "linear"}}, r"x\.yaml: protocols\.vaults\.clip\.calc\.linear\.tau|"
                                                         r"x\.yaml: protocols\.vaults\.clip\.calc\.tau"),
    ({"protocols.vaults.clip.buf": 0.9}, r"x\.yaml: protocols\.vaults\.clip\.buf: must be >= 1, got 0\.9"),
    ({"protocols.vaults.clip.hole": 0}, r"x\.yaml: protocols\.vaults\.clip\.hole: must be > 0, got 0"),
    ({"protocols.vaults.flip": {"beg": 0.03, "lump": 1}},
     r"x\.yaml: protocols\.vaults: `flip` is set but liquidation is clip"),
])
def test_clip_scenario_errors(changes, message):
    with pytest.raises(ScenarioError, match=message):
        _load(clip_scenario(**changes))


def test_watching_a_protocol_of_another_type_is_an_error():
    data = maker_scenario()
    data["assets"]["USDC"] = {"chain": "ethereum", "kind": "stable"}
    data["oracles"]["usdc"] = {"kind": "fixed", "asset": "USDC", "price": 1.0}
    data["oracles"]["dai"] = {"kind": "fixed", "asset": "DAI", "price": 1.0}
    data["pools"] = {"uni": {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "DAI"],
                             "reserves": [100, 20_000]}}
    data["protocols"]["lend"] = {
        "type": "lending", "chain": "ethereum", "collateral": "ETH", "debt": "DAI",
        "oracles": {"ETH": "median", "DAI": "dai"}, "liquidation_threshold": 0.8, "liquidates_into": ["uni"],
        "positions": {"kind": "generated", "count": 5, "total_debt": 100.0,
                      "health_factor": {"distribution": "uniform", "low": 1.1, "high": 2}}}
    data["agents"]["bidders"]["watches"] = ["lend"]
    with pytest.raises(ScenarioError, match=r"agents\.bidders\.watches\[0\]: must name a protocol of type maker "
                                            r"\(it is lending\), got 'lend'"):
        _load(data)


def test_graph_has_the_maker_relations():
    g = _load(maker_scenario()).graph
    edges = set(g.edges(keys=True))
    for edge in [("vaults", "ethereum", "hosted_on"), ("vaults", "osm", "uses_oracle"), ("vaults", "ETH", "collateral"),
                 ("vaults", "DAI", "debt"), ("DAI", "vaults", "backed_by"), ("MKR", "vaults", "backed_by"),
                 ("vaults", "cex_eth", "liquidates_into"), ("bidders", "vaults", "watches"),
                 ("bidders", "cex_mkr", "watches")]:
        assert edge in edges, edge
    assert g.edges["vaults", "ETH", "collateral"]["mat"] == 1.5
    assert g.nodes["vaults"]["type"] == "maker" and g.nodes["vaults"]["liquidation"] == "flip"


def test_same_seed_same_tables():
    net = _load(clip_scenario())
    a = contagion.run(net, seed=5, until="1h")
    b = contagion.run(net, seed=5, until="1h")
    for table in ("auctions", "vow", "liquidations", "transactions", "positions"):
        pd.testing.assert_frame_equal(a.frames[table], b.frames[table])
    assert len(a.auctions) > 0
