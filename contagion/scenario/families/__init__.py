"""Scenario models of the protocol families, one module each.

Each module defines the pydantic models of its ``protocols`` entries (discriminated by ``type``)
and of the agents that act on them (discriminated by ``kind``), and lists them in its
``PROTOCOLS`` and ``AGENTS``; :mod:`contagion.scenario.models` adds them to the scenario format.
Models may define ``check_references(self, checker, base)`` (cross-references, see
:mod:`contagion.scenario.references`) and ``graph_edges(self, name)`` (edges of the network graph,
``(u, v, key, attributes)`` tuples, see :mod:`contagion.network`). They may import
:mod:`contagion.scenario.common` and :mod:`contagion.scenario.types`, not ``models``.
"""

from contagion.scenario.families import cdp, money_markets, options, perps, pooled

PROTOCOLS = [*money_markets.PROTOCOLS, *pooled.PROTOCOLS, *cdp.PROTOCOLS, *perps.PROTOCOLS, *options.PROTOCOLS]
AGENTS = [*money_markets.AGENTS, *pooled.AGENTS, *cdp.AGENTS, *perps.AGENTS, *options.AGENTS]

__all__ = ["PROTOCOLS", "AGENTS"]
