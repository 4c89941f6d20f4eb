"""Price oracles as simulation components.

=========  ===========================================================================  ===========
kind       what it is                                                                   module
=========  ===========================================================================  ===========
``push``   Chainlink OCR feed: deviation + heartbeat rounds, reports are transactions   ``push``
``osm``    Maker OSM: a one-hop delay in front of another oracle, poked every ``hop``   ``osm``
``median`` median of other oracles, recomputed when any of them publishes              ``median``
``twap``   time-weighted average of a pool's price over a window, computed when read    ``pool_oracles``
``spot``   a pool's marginal price, published after every swap                          ``pool_oracles``
``pull``   Pyth-like signed prices, brought on chain by transactions that need them     ``pull``
``fixed``  a constant                                                                   ``base``
=========  ===========================================================================  ===========

Every published answer is an :class:`OracleUpdate` with a run-wide id; the answer at time 0 is
the ``genesis`` update (published without a transaction). :func:`build_order` sorts a scenario's
oracles so that every oracle comes after the oracles it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contagion.markets.oracles.base import (
    TRANSMITTER_FUNDING,
    Feed,
    FixedOracle,
    OracleUpdate,
    SourceSampler,
)
from contagion.markets.oracles.median import MedianOracle
from contagion.markets.oracles.osm import OsmOracle, OsmValue
from contagion.markets.oracles.pool_oracles import SpotOracle, TwapOracle
from contagion.markets.oracles.pull import PullOracle, SignedPrice
from contagion.markets.oracles.push import PushOracle

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.scenario.models import Scenario

__all__ = [
    "OracleUpdate",
    "Feed",
    "PushOracle",
    "FixedOracle",
    "OsmOracle",
    "OsmValue",
    "MedianOracle",
    "TwapOracle",
    "SpotOracle",
    "PullOracle",
    "SignedPrice",
    "SourceSampler",
    "TRANSMITTER_FUNDING",
    "ORACLE_CLASSES",
    "make_oracle",
    "oracle_inputs",
    "build_order",
]

ORACLE_CLASSES = {"push": PushOracle, "fixed": FixedOracle, "osm": OsmOracle, "median": MedianOracle,
                  "twap": TwapOracle, "spot": SpotOracle, "pull": PullOracle}


def oracle_inputs(spec) -> list[str]:
    """Names of the oracles an oracle entry reads (``osm``'s source, ``median``'s sources)."""
    if spec.kind == "osm":
        return [spec.source]
    if spec.kind == "median":
        return list(spec.sources)
    return []


def build_order(scn: "Scenario") -> list[str]:
    """Oracle names, each after the oracles it reads, otherwise in scenario order.

    The scenario is validated (no cycles), so the depth-first walk terminates.
    """
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for dep in oracle_inputs(scn.oracles[name]):
            visit(dep)
        order.append(name)

    for name in scn.oracles:
        visit(name)
    return order


def make_oracle(sim: "Simulation", name: str, spec) -> Feed:
    """The runtime oracle of a scenario entry (its inputs must already be built)."""
    return ORACLE_CLASSES[spec.kind](sim, name, spec)
