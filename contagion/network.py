"""The network: a scenario as a ``networkx.MultiDiGraph`` of chains, assets, markets and protocols.

Node ids are the scenario's names (unique across sections). Every node has ``kind`` (``chain``,
``asset``, ``venue``, ``pool``, ``oracle``, ``protocol``, ``agents``) and the entry's parameters as
plain values; an entry's own ``kind`` (an asset's ``kind: native``, a pool's ``kind: constant_product``, an oracle's
``kind: push``, an agent population's ``kind: keeper``) is stored as ``type`` so that ``kind``
always means the node kind. Edge keys are relations:

=================  ==============================================================
``hosted_on``      pool / oracle / protocol -> chain
``trades``         pool or venue -> asset (``role``: base or quote)
``reads``          oracle -> venue or pool it observes (push, pull, twap, spot), or oracle it
                   reads (osm, median)
``prices``         oracle -> asset it publishes
``uses_oracle``    protocol -> oracle (``asset``: which price)
``collateral``     protocol -> asset (market parameters on the edge)
``debt``           protocol -> asset
``liquidates_into`` protocol -> pool where seized collateral is sold
``watches``        agents -> protocol / pool / venue (an adversary: the protocols it attacks and
                   the pools it manipulates)
=================  ==============================================================

The graph and the scenario describe the same thing: :meth:`Network.from_graph` rebuilds (and
re-validates) a network from an edited graph's node attributes.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx

from contagion.errors import ScenarioError
from contagion.scenario import LoadedScenario, Scenario, load_scenario, parse_scenario
from contagion.scenario.models import (
    AdversaryAgents,
    ArbitrageurAgents,
    FixedOracle,
    KeeperAgents,
    LendingProtocol,
    MedianOracle,
    OsmOracle,
    PullOracle,
    PushOracle,
    SpotOracle,
    TwapOracle,
)
from contagion.scenario.references import oracle_pool

__all__ = ["Network", "load_network", "NODE_KINDS", "EDGE_KEYS"]

NODE_KINDS = ("chain", "asset", "venue", "pool", "oracle", "protocol", "agents")
EDGE_KEYS = ("hosted_on", "trades", "reads", "prices", "uses_oracle", "collateral", "debt",
             "liquidates_into", "backed_by", "bridges", "watches")
_SECTION_OF = {"chain": "chains", "asset": "assets", "venue": "venues", "pool": "pools",
               "oracle": "oracles", "protocol": "protocols", "agents": "agents"}
_KIND_RENAMED = {"asset", "pool", "oracle", "agents"}  # entries whose own `kind` is stored as `type`

# Direction in which a shock travels along each relation, for exposure paths: an edge u -key-> v
# carries contagion v -> u for these keys (an asset's price reaches the pool that trades it ...).
_EXPOSURE_REVERSED = {"trades", "reads", "prices", "uses_oracle", "collateral", "debt", "liquidates_into",
                      "backed_by"}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Network:
    """A validated scenario and its graph.

    Build one with :func:`load_network`, :meth:`from_dict` or :meth:`from_graph`; derive variants
    with :meth:`with_overrides`.

    Attributes
    ----------
    graph : networkx.MultiDiGraph
        Nodes and relations (see the module docstring).
    scenario : contagion.scenario.Scenario
        The validated, frozen scenario.
    source : str
        Where the scenario came from (a file name, ``"<dict>"`` or ``"<graph>"``).
    overrides : dict
        Overrides applied, by key path.
    """

    def __init__(self, loaded: LoadedScenario):
        self._loaded = loaded
        self.graph = self._build_graph(loaded.model)

    # -------------------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<dict>", overrides=None,
                  base_dir: str | os.PathLike | None = None) -> "Network":
        """Network from scenario data built in Python (same format as the YAML files)."""
        return cls(parse_scenario(data, source=source, overrides=overrides, base_dir=base_dir))

    @classmethod
    def from_graph(cls, graph: nx.MultiDiGraph, *, source: str = "<graph>",
                   base_dir: str | os.PathLike | None = None) -> "Network":
        """Rebuild and re-validate a network from a graph's node attributes.

        Edges are derived from the attributes, so edit attributes (for example
        ``g.nodes["eth_usd"]["heartbeat"] = 600``) and call this to get a consistent network.
        """
        raw: dict[str, Any] = dict(graph.graph.get("scenario", {}))
        for section in _SECTION_OF.values():
            raw.setdefault(section, {})
        for node, attrs in graph.nodes(data=True):
            kind = attrs.get("kind")
            if kind not in _SECTION_OF:
                raise ScenarioError(f"{source}: nodes.{node}.kind: must be one of "
                                    f"{', '.join(NODE_KINDS)}, got {kind!r}")
            entry = {k: v for k, v in attrs.items() if k != "kind"}
            if kind in _KIND_RENAMED and "type" in entry:
                entry["kind"] = entry.pop("type")
            raw[_SECTION_OF[kind]][node] = entry
        base = base_dir if base_dir is not None else graph.graph.get("base_dir")
        return cls.from_dict(raw, source=source, base_dir=base)

    def with_overrides(self, overrides) -> "Network":
        """A new network with ``overrides`` (``{"key.path": value}`` or ``["key.path=value"]``)."""
        if not overrides:
            return self
        loaded = parse_scenario(self._loaded.raw, source=self._loaded.source, overrides=overrides,
                                base_dir=self._loaded.base_dir)
        merged = {**self._loaded.overrides, **loaded.overrides}
        return Network(LoadedScenario(loaded.model, loaded.raw, loaded.source, loaded.base_dir, merged))

    @staticmethod
    def _build_graph(scn: Scenario) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        g.graph["scenario"] = {"name": scn.name, "description": scn.description, "seed": scn.seed,
                               "until": scn.until}
        for kind, section in _SECTION_OF.items():
            for name, entry in getattr(scn, section).items():
                attrs = _plain(entry.model_dump(mode="python"))
                if kind in _KIND_RENAMED:
                    attrs["type"] = attrs.pop("kind")
                g.add_node(name, kind=kind, **attrs)
        for name, venue in scn.venues.items():
            g.add_edge(name, venue.asset, key="trades", role="base")
            g.add_edge(name, venue.quote, key="trades", role="quote")
        for name, pool in scn.pools.items():
            g.add_edge(name, pool.chain, key="hosted_on")
            for k, asset in enumerate(pool.assets):
                g.add_edge(name, asset, key="trades", role="base" if k == 0 else "quote" if k == 1 else "coin")
        for name, oracle in scn.oracles.items():
            if isinstance(oracle, (PushOracle, PullOracle, MedianOracle)):
                g.add_edge(name, oracle.chain, key="hosted_on")
                for src in oracle.sources:
                    g.add_edge(name, src, key="reads")
            elif isinstance(oracle, OsmOracle):
                g.add_edge(name, oracle.chain, key="hosted_on")
                g.add_edge(name, oracle.source, key="reads")
            elif isinstance(oracle, (TwapOracle, SpotOracle)):
                g.add_edge(name, scn.pools[oracle.pool].chain, key="hosted_on")
                g.add_edge(name, oracle.pool, key="reads")
            elif isinstance(oracle, FixedOracle) and oracle.chain is not None:
                g.add_edge(name, oracle.chain, key="hosted_on")
            g.add_edge(name, oracle.asset, key="prices")
        for name, proto in scn.protocols.items():
            if not isinstance(proto, LendingProtocol):   # a protocol family lists its own relations
                for u, v, key, attrs in proto.graph_edges(name):
                    g.add_edge(u, v, key=key, **attrs)
                continue
            g.add_edge(name, proto.chain, key="hosted_on")
            for asset, oracle in proto.oracles.items():
                g.add_edge(name, oracle, key="uses_oracle", asset=asset)
            g.add_edge(name, proto.collateral, key="collateral",
                       liquidation_threshold=proto.liquidation_threshold,
                       close_factor=proto.close_factor, liquidation_bonus=proto.liquidation_bonus)
            g.add_edge(name, proto.debt, key="debt")
            for pool in proto.liquidates_into:
                g.add_edge(name, pool, key="liquidates_into")
        for name, agents in scn.agents.items():
            if hasattr(agents, "graph_edges"):
                for u, v, key, attrs in agents.graph_edges(name):
                    g.add_edge(u, v, key=key, **attrs)
                continue
            for target in agents.watches:
                g.add_edge(name, target, key="watches")
            if isinstance(agents, ArbitrageurAgents):
                g.add_edge(name, agents.venue, key="watches")
            if isinstance(agents, KeeperAgents):
                for market in agents.sell_into or []:
                    g.add_edge(name, market, key="watches")
            if isinstance(agents, AdversaryAgents):
                pools = [agents.pool] if agents.pool is not None else [
                    oracle_pool(scn, scn.protocols[p].oracles[scn.protocols[p].collateral]) for p in agents.watches]
                for pool in dict.fromkeys(pools):
                    g.add_edge(name, pool, key="watches")
        return g

    # ------------------------------------------------------------------------------ accessors
    @property
    def scenario(self) -> Scenario:
        return self._loaded.model

    @property
    def source(self) -> str:
        return self._loaded.source

    @property
    def base_dir(self) -> Path:
        return self._loaded.base_dir

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self._loaded.overrides)

    @property
    def name(self) -> str:
        return self.scenario.name

    def to_dict(self) -> dict:
        """The scenario as plain data (overrides applied), e.g. for a manifest."""
        return self.scenario.model_dump(mode="json")

    def nodes_of(self, kind: str) -> list[str]:
        """Node ids of one kind, in scenario order."""
        return [n for n, k in self.graph.nodes(data="kind") if k == kind]

    def node_counts(self) -> dict[str, int]:
        counts = Counter(k for _, k in self.graph.nodes(data="kind"))
        return {kind: counts.get(kind, 0) for kind in NODE_KINDS}

    def edge_counts(self) -> dict[str, int]:
        counts = Counter(key for _, _, key in self.graph.edges(keys=True))
        return {key: counts[key] for key in EDGE_KEYS if counts.get(key)}

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.node_counts().items() if v)
        return f"<Network {self.name!r} from {self.source}: {counts}>"

    # ------------------------------------------------------------------------------ analysis
    def exposure_graph(self) -> nx.MultiDiGraph:
        """Edges turned in the direction a price shock travels (asset -> ... -> protocol)."""
        g = nx.MultiDiGraph()
        g.add_nodes_from(self.graph.nodes(data=True))
        for u, v, key in self.graph.edges(keys=True):
            if key in _EXPOSURE_REVERSED:
                g.add_edge(v, u, key=key)
        return g

    def exposure_paths(self, asset: str, protocol: str, cutoff: int = 6) -> list[list[tuple[str, str]]]:
        """Every simple path by which a shock to ``asset`` reaches ``protocol``.

        Each path is a list of ``(node, relation)`` hops starting with ``(asset, "")``; e.g.
        ``[("ETH", ""), ("cex", "trades"), ("eth_usd", "reads"), ("lend", "uses_oracle")]``.
        Paths are sorted by length, then lexicographically.
        """
        for name, kind in ((asset, "asset"), (protocol, "protocol")):
            if self.graph.nodes.get(name, {}).get("kind") != kind:
                raise ScenarioError(f"{self.source}: {name!r} is not a node of kind {kind}")
        g = self.exposure_graph()
        paths = []
        for edge_path in nx.all_simple_edge_paths(g, asset, protocol, cutoff=cutoff):
            hops = [(asset, "")] + [(v, key) for _, v, key in edge_path]
            paths.append(hops)
        paths.sort(key=lambda p: (len(p), [h[0] for h in p]))
        return paths

    def describe(self) -> str:
        """Text summary: nodes per kind, edges per relation, exposure paths asset -> protocol."""
        lines = [f"network {self.name!r} ({self.source})", "", "nodes"]
        for kind in NODE_KINDS:
            names = self.nodes_of(kind)
            if names:
                lines.append(f"  {kind:<9} {len(names):>3}  {', '.join(names)}")
        lines += ["", "edges"]
        for key, count in self.edge_counts().items():
            lines.append(f"  {key:<16} {count:>3}")
        lines += ["", "exposure paths (asset -> protocol)"]
        for asset in self.nodes_of("asset"):
            for proto in self.nodes_of("protocol"):
                for path in self.exposure_paths(asset, proto):
                    text = path[0][0] + "".join(f" -[{key}]-> {node}" for node, key in path[1:])
                    lines.append(f"  {text}")
        return "\n".join(lines)

    def draw(self, path: str | os.PathLike, *, dpi: int = 120) -> Path:
        """Write a PNG drawing of the graph (nodes in columns by kind, edges coloured by relation)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        layer = {"asset": 0, "venue": 1, "pool": 1, "oracle": 2, "protocol": 3, "agents": 4, "chain": 5}
        g = nx.DiGraph()
        for node, kind in self.graph.nodes(data="kind"):
            g.add_node(node, layer=layer[kind], kind=kind)
        pos = nx.multipartite_layout(g, subset_key="layer")
        colours = {"chain": "#7f7f7f", "asset": "#1f77b4", "venue": "#17becf", "pool": "#2ca02c",
                   "oracle": "#ff7f0e", "protocol": "#d62728", "agents": "#9467bd"}
        edge_colours = {"hosted_on": "#cccccc", "trades": "#1f77b4", "reads": "#ff7f0e",
                        "prices": "#ffbb78", "uses_oracle": "#d62728", "collateral": "#8c564b",
                        "debt": "#e377c2", "liquidates_into": "#2ca02c", "watches": "#9467bd"}
        fig = Figure(figsize=(12, 7))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_axis_off()
        for u, v, key in self.graph.edges(keys=True):
            (x0, y0), (x1, y1) = pos[u], pos[v]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="-|>", color=edge_colours.get(key, "#444444"),
                                        lw=1.2, alpha=0.7, shrinkA=12, shrinkB=12,
                                        connectionstyle="arc3,rad=0.08"))
        for node, kind in self.graph.nodes(data="kind"):
            x, y = pos[node]
            ax.scatter([x], [y], s=600, color=colours[kind], zorder=3, edgecolors="black")
            ax.text(x, y - 0.06, node, ha="center", va="top", fontsize=8, zorder=4)
        handles = [Line2D([], [], marker="o", ls="", color=c, label=k) for k, c in colours.items()
                   if self.nodes_of(k)]
        handles += [Line2D([], [], color=c, label=k) for k, c in edge_colours.items()
                    if k in self.edge_counts()]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.set_title(f"{self.name}: network")
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=dpi)
        return out


def load_network(path: str | os.PathLike, overrides=None) -> Network:
    """Read and validate a scenario file into a :class:`Network`.

    Parameters
    ----------
    path : path-like
        Scenario YAML file.
    overrides : mapping or iterable of ``"key.path=value"``, optional
        Values to set before validation.

    Raises
    ------
    contagion.errors.ScenarioError
        One line per problem: ``FILE: key.path: rule, got VALUE``.
    """
    return Network(load_scenario(path, overrides=overrides))

