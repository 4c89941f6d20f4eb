"""Scenario validation of the oracle kinds and of adversaries; their graph edges; the CLI on them."""

from __future__ import annotations

import copy

import pytest
import yaml

import contagion
from contagion.cli import main
from contagion.errors import ScenarioError
from contagion.scenario import parse_scenario
from _support import MINIMAL, NETWORKS

SRC = "networks/x.yaml"


@pytest.fixture(scope="module")
def manipulation_data() -> dict:
    return yaml.safe_load((NETWORKS / "oracle_manipulation.yaml").read_text())


@pytest.fixture
def data(manipulation_data) -> dict:
    return copy.deepcopy(manipulation_data)


def problems(data, overrides=None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source=SRC, overrides=overrides, base_dir=NETWORKS)
    return info.value.problems


def test_shipped_scenario_is_valid(data):
    scn = parse_scenario(data, source=SRC, base_dir=NETWORKS).model
    assert scn.oracles["eth_twap"].window == 1800.0
    assert scn.agents["adversary"].flash_loan.fee == 0.0009


def test_osm_source_must_be_an_oracle(data):
    data["oracles"]["eth_osm"] = {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "cex_eth_usd"}
    assert (f"{SRC}: oracles.eth_osm.source: must name an entry of oracles (eth_spot, eth_twap, eth_usd, "
            "usdc_usd, eth_osm), got 'cex_eth_usd'") in problems(data)


def test_osm_source_must_price_the_same_asset(data):
    data["oracles"]["eth_osm"] = {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "usdc_usd"}
    assert f"{SRC}: oracles.eth_osm.source: source prices USDC, not ETH, got 'usdc_usd'" in problems(data)


def test_osm_hop_must_be_positive(data):
    data["oracles"]["eth_osm"] = {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "eth_usd", "hop": 0}
    assert f"{SRC}: oracles.eth_osm.hop: must be > 0, got 0" in problems(data)


def test_oracles_must_not_read_each_other_in_a_cycle(data):
    data["oracles"]["a"] = {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "b"}
    data["oracles"]["b"] = {"kind": "median", "chain": "ethereum", "asset": "ETH", "sources": ["eth_usd", "a"]}
    found = problems(data)
    assert any(p.startswith(f"{SRC}: oracles.a.source: oracles must not read each other in a cycle (a -> b -> a)")
               or p.startswith(f"{SRC}: oracles.b.sources: oracles must not read each other in a cycle")
               for p in found), found


def test_an_oracle_cannot_read_itself(data):
    data["oracles"]["m"] = {"kind": "median", "chain": "ethereum", "asset": "ETH", "sources": ["m", "eth_usd"]}
    assert (f"{SRC}: oracles.m.sources[0]: must name another oracle (an oracle cannot read itself), got 'm'"
            in problems(data))


def test_median_sources_must_share_a_quote_unit(data):
    data["assets"]["DAI"] = {"chain": "ethereum", "kind": "stable"}
    data["pools"]["eth_dai"] = {"kind": "constant_product", "chain": "ethereum", "assets": ["ETH", "DAI"],
                                "reserves": [100, 200000]}
    data["oracles"]["eth_dai_spot"] = {"kind": "spot", "asset": "ETH", "pool": "eth_dai"}
    data["oracles"]["m"] = {"kind": "median", "chain": "ethereum", "asset": "ETH",
                            "sources": ["eth_spot", "eth_dai_spot"]}
    assert (f"{SRC}: oracles.m.sources: sources must all quote the asset in the same unit, got DAI, USDC, "
            "got ['eth_spot', 'eth_dai_spot']") in problems(data)


def test_twap_over_a_venue_is_refused(data):
    data["oracles"]["eth_twap"]["pool"] = "cex_eth_usd"
    assert (f"{SRC}: oracles.eth_twap.pool: must name a pool (a TWAP reads a pool's price accumulator; "
            "cex_eth_usd is an off-chain venue), got 'cex_eth_usd'") in problems(data)


def test_twap_needs_a_window_and_a_known_pool(data):
    del data["oracles"]["eth_twap"]["window"]
    data["oracles"]["eth_spot"]["pool"] = "nowhere"
    found = problems(data)
    assert f"{SRC}: oracles.eth_twap.window: required key is missing" in found


def test_spot_pool_must_exist_and_trade_the_asset(data):
    data["oracles"]["eth_spot"]["pool"] = "nowhere"
    assert (f"{SRC}: oracles.eth_spot.pool: must name an entry of pools (thin_pool, deep_pool), got 'nowhere'"
            in problems(data))
    data["oracles"]["eth_spot"]["pool"] = "thin_pool"
    data["assets"]["WBTC"] = {"chain": "ethereum"}
    data["oracles"]["btc_spot"] = {"kind": "spot", "asset": "WBTC", "pool": "thin_pool"}
    assert (f"{SRC}: oracles.btc_spot.asset: pool thin_pool does not trade it (it trades ETH/USDC), got 'WBTC'"
            in problems(data))


def test_twap_asset_must_be_one_of_the_first_two_coins(data):
    data["assets"]["DAI"] = {"chain": "ethereum", "kind": "stable"}
    data["assets"]["USDT"] = {"chain": "ethereum", "kind": "stable"}
    data["pools"]["three"] = {"kind": "stableswap", "chain": "ethereum", "assets": ["DAI", "USDC", "USDT"],
                              "balances": [1e6, 1e6, 1e6], "amplification": 100}
    data["oracles"]["usdt_twap"] = {"kind": "twap", "asset": "USDT", "pool": "three", "window": "10min"}
    assert (f"{SRC}: oracles.usdt_twap.asset: must be one of the pool's first two assets (DAI, USDC): the "
            "accumulator tracks their price, got 'USDT'") in problems(data)


def test_pull_sources_and_max_age(data):
    data["oracles"]["eth_pull"] = {"kind": "pull", "chain": "ethereum", "asset": "ETH",
                                   "sources": ["eth_usd"], "max_age": "0s"}
    found = problems(data)
    assert f"{SRC}: oracles.eth_pull.max_age: must be > 0, got '0s'" in found
    data["oracles"]["eth_pull"]["max_age"] = "1min"
    found = problems(data)
    assert any(p.startswith(f"{SRC}: oracles.eth_pull.sources[0]: must name a venue or a pool (") and
               "an oracle cannot be a source of this kind; use kind: median" in p for p in found), found


def test_max_oracle_age_must_be_a_positive_duration(data):
    data["protocols"]["lend"]["max_oracle_age"] = "-5s"
    assert any(p.startswith(f"{SRC}: protocols.lend.max_oracle_age: must be a duration") or
               p.startswith(f"{SRC}: protocols.lend.max_oracle_age: must be >") for p in problems(data))


def test_adversary_needs_a_pool_when_the_oracle_reads_none(data):
    data["protocols"]["lend"]["oracles"]["ETH"] = "eth_usd"
    assert (f"{SRC}: agents.adversary.pool: required: protocol lend's collateral oracle eth_usd (kind push) "
            "reads no pool to manipulate") in problems(data)
    data["agents"]["adversary"]["pool"] = "thin_pool"
    parse_scenario(data, source=SRC, base_dir=NETWORKS)    # an explicit pool is enough


def test_adversary_pool_must_trade_the_protocols_pair(data):
    data["assets"]["WBTC"] = {"chain": "ethereum"}
    data["pools"]["btc_pool"] = {"kind": "constant_product", "chain": "ethereum", "assets": ["WBTC", "USDC"],
                                 "reserves": [10, 600000]}
    data["agents"]["adversary"]["pool"] = "btc_pool"
    assert (f"{SRC}: agents.adversary.pool: pool btc_pool must trade lend's collateral and debt ETH/USDC (it "
            "trades WBTC/USDC), got 'btc_pool'") in problems(data)


def test_adversary_flash_loan_fields(data):
    bad_fee = copy.deepcopy(data)
    bad_fee["agents"]["adversary"]["flash_loan"]["fee"] = 1.5
    assert f"{SRC}: agents.adversary.flash_loan.fee: must be in [0, 1), got 1.5" in problems(bad_fee)
    data["agents"]["adversary"]["flash_loan"]["liquidity"]["DOGE"] = 5
    found = problems(data)
    assert any(p.startswith(f"{SRC}: agents.adversary.flash_loan.liquidity.DOGE: must name an entry of assets")
               for p in found)


def test_adversary_watches_protocols(data):
    data["agents"]["adversary"]["watches"] = ["thin_pool"]
    assert any(p.startswith(f"{SRC}: agents.adversary.watches[0]: must name an entry of protocols")
               for p in problems(data))


def test_push_observation_latency_is_a_duration(scenario_data):
    scenario_data["oracles"]["eth_usd"]["observation_latency"] = "10m"
    assert any("oracles.eth_usd.observation_latency: must be a duration" in p for p in problems(scenario_data))


# ------------------------------------------------------------------------------------------ graph
def test_graph_has_reads_and_prices_edges_for_every_kind(data):
    data["oracles"]["eth_osm"] = {"kind": "osm", "chain": "ethereum", "asset": "ETH", "source": "eth_usd"}
    data["oracles"]["eth_med"] = {"kind": "median", "chain": "ethereum", "asset": "ETH",
                                  "sources": ["eth_spot", "eth_twap", "eth_osm"]}
    data["oracles"]["eth_pull"] = {"kind": "pull", "chain": "ethereum", "asset": "ETH", "sources": ["cex_eth_usd"]}
    net = contagion.Network.from_dict(data, base_dir=NETWORKS)
    g = net.graph
    reads = {(u, v) for u, v, k in g.edges(keys=True) if k == "reads"}
    assert {("eth_spot", "thin_pool"), ("eth_twap", "thin_pool"), ("eth_osm", "eth_usd"),
            ("eth_med", "eth_spot"), ("eth_med", "eth_twap"), ("eth_med", "eth_osm"),
            ("eth_pull", "cex_eth_usd"), ("eth_usd", "cex_eth_usd")} <= reads
    for name in ("eth_spot", "eth_twap", "eth_osm", "eth_med", "eth_pull"):
        assert g.has_edge(name, "ETH", key="prices") and g.has_edge(name, "ethereum", key="hosted_on")
    assert g.nodes["eth_twap"]["type"] == "twap" and g.nodes["eth_twap"]["window"] == 1800.0
    assert g.has_edge("adversary", "lend", key="watches") and g.has_edge("adversary", "thin_pool", key="watches")
    # a shock to the venue reaches the protocol through the OSM's chain of reads
    data["protocols"]["lend"]["oracles"]["ETH"] = "eth_med"
    data["agents"]["adversary"]["pool"] = "thin_pool"      # the median reads no pool directly
    net = contagion.Network.from_dict(data, base_dir=NETWORKS)
    paths = [[node for node, _ in p] for p in net.exposure_paths("ETH", "lend")]
    assert ["ETH", "cex_eth_usd", "eth_usd", "eth_osm", "eth_med", "lend"] in paths
    # the graph round-trips
    rebuilt = contagion.Network.from_graph(net.graph, base_dir=NETWORKS)
    assert rebuilt.scenario.oracles["eth_osm"].hop == 3600.0


def test_inspect_and_run_from_the_command_line(tmp_path, capsys):
    path = NETWORKS / "oracle_manipulation.yaml"
    assert main(["inspect", str(path), "--png", str(tmp_path / "g.png")]) == 0
    text = capsys.readouterr().out
    assert "ETH -[trades]-> thin_pool -[reads]-> eth_spot -[uses_oracle]-> lend" in text
    assert (tmp_path / "g.png").stat().st_size > 0
    code = main(["run", str(path), "--until", "2min", "--no-progress", "--no-plots",
                 "--set", "protocols.lend.oracles.ETH=eth_twap", "--out", str(tmp_path / "run")])
    assert code == 0
    out = capsys.readouterr().out
    assert "attacks" in out and "oracle_venue_error.eth_twap" in out
    saved = contagion.load_result(tmp_path / "run")
    assert len(saved.oracle_lag) > 0 and saved.summary()["attacks"] == 0


def test_bad_kind_from_the_command_line(capsys):
    code = main(["run", str(MINIMAL), "--set", "oracles.eth_usd.kind=twap", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{MINIMAL}: oracles.eth_usd.pool: required key is missing" in err
    assert f"{MINIMAL}: oracles.eth_usd.window: required key is missing" in err
