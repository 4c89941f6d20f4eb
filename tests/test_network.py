"""The network graph: nodes, relations, exposure paths, editing, drawing."""

from __future__ import annotations

import pytest

import contagion
from contagion.errors import ScenarioError
from contagion.network import Network
from _support import MINIMAL


def test_nodes_have_kinds_and_plain_attributes(minimal_net):
    g = minimal_net.graph
    assert dict(g.nodes(data="kind")) == {
        "ethereum": "chain", "ETH": "asset", "USDC": "asset", "cex_eth_usd": "venue", "uni_eth_usdc": "pool",
        "eth_usd": "oracle", "usdc_usd": "oracle", "lend": "protocol", "keepers": "agents",
        "arbitrageur": "agents"}
    pool = g.nodes["uni_eth_usdc"]
    assert pool["type"] == "constant_product" and pool["reserves"] == [20000.0, 40_000_000.0]
    assert g.nodes["ETH"]["type"] == "native"
    assert g.nodes["eth_usd"]["heartbeat"] == 3600.0


def test_edges_are_the_relations_of_the_scenario(minimal_net):
    edges = set(minimal_net.graph.edges(keys=True))
    assert edges == {
        ("cex_eth_usd", "ETH", "trades"), ("cex_eth_usd", "USDC", "trades"),
        ("uni_eth_usdc", "ethereum", "hosted_on"), ("uni_eth_usdc", "ETH", "trades"),
        ("uni_eth_usdc", "USDC", "trades"),
        ("eth_usd", "ethereum", "hosted_on"), ("eth_usd", "cex_eth_usd", "reads"), ("eth_usd", "ETH", "prices"),
        ("usdc_usd", "USDC", "prices"),
        ("lend", "ethereum", "hosted_on"), ("lend", "eth_usd", "uses_oracle"), ("lend", "usdc_usd", "uses_oracle"),
        ("lend", "ETH", "collateral"), ("lend", "USDC", "debt"), ("lend", "uni_eth_usdc", "liquidates_into"),
        ("keepers", "lend", "watches"), ("arbitrageur", "uni_eth_usdc", "watches"),
        ("arbitrageur", "cex_eth_usd", "watches"),
    }
    assert minimal_net.graph.edges["lend", "ETH", "collateral"]["liquidation_threshold"] == 0.825


def test_exposure_paths(minimal_net):
    paths = minimal_net.exposure_paths("ETH", "lend")
    as_text = [" ".join(f"{key}>{node}" if key else node for node, key in p) for p in paths]
    assert as_text == [
        "ETH collateral>lend",
        "ETH prices>eth_usd uses_oracle>lend",
        "ETH trades>uni_eth_usdc liquidates_into>lend",
        "ETH trades>cex_eth_usd reads>eth_usd uses_oracle>lend",
    ]
    with pytest.raises(ScenarioError, match="not a node of kind protocol"):
        minimal_net.exposure_paths("ETH", "eth_usd")


def test_counts_and_describe(minimal_net):
    assert minimal_net.node_counts()["oracle"] == 2
    assert minimal_net.edge_counts()["trades"] == 4
    text = minimal_net.describe()
    assert "exposure paths (asset -> protocol)" in text and "USDC -[debt]-> lend" in text


def test_from_graph_rebuilds_and_validates(minimal_net):
    g = minimal_net.graph.copy()
    g.nodes["eth_usd"]["heartbeat"] = 120
    rebuilt = Network.from_graph(g, base_dir=minimal_net.base_dir)
    assert rebuilt.scenario.oracles["eth_usd"].heartbeat == 120.0
    assert set(rebuilt.graph.edges(keys=True)) == set(minimal_net.graph.edges(keys=True))
    g.nodes["uni_eth_usdc"]["fee"] = 2.0
    with pytest.raises(ScenarioError, match=r"^<graph>: pools.uni_eth_usdc.fee: must be in \[0, 1\), got 2"):
        Network.from_graph(g)


def test_with_overrides_returns_a_new_network(minimal_net):
    other = minimal_net.with_overrides({"pools.uni_eth_usdc.fee": 0.01})
    assert other.scenario.pools["uni_eth_usdc"].fee == 0.01
    assert other.graph.nodes["uni_eth_usdc"]["fee"] == 0.01
    assert minimal_net.scenario.pools["uni_eth_usdc"].fee == 0.003
    assert minimal_net.with_overrides(None) is minimal_net


def test_draw_writes_a_png(minimal_net, tmp_path):
    path = minimal_net.draw(tmp_path / "sub" / "net.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_public_api_names():
    assert {"load_network", "run", "Result", "Simulation", "Network", "load_result"} <= set(contagion.__all__)
    assert repr(contagion.load_network(MINIMAL)).startswith("<Network 'minimal' from ")
