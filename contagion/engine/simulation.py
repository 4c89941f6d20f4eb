"""The simulation: one simpy environment, one seed, the components built from a network.

Build order (also the order of simultaneous events, which simpy breaks by creation order):
chains, venues, pools, oracles, protocols, agents, in scenario order within each section (oracles
that read other oracles come after them). At time 0 every oracle publishes its genesis answer,
then every protocol creates its book at those prices. After that, time advances only through
simpy events. After each block every oracle on its chain is compared with its reference venue
(table ``oracle_lag``).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from contagion._version import __version__
from contagion.agents.registry import AGENT_CLASSES
from contagion.engine.cascade import CascadeTracker
from contagion.engine.chain import Block, Chain
from contagion.engine.journal import Journal
from contagion.engine.ledger import Ledger
from contagion.engine.recorder import Recorder, frame
from contagion.engine.rng import RandomStreams
from contagion.errors import InvariantError, SimulationError
from contagion.markets.oracles import Feed, FixedOracle, OracleUpdate, build_order, make_oracle
from contagion.markets.pool import RuntimePool, make_pool
from contagion.markets.venue import Venue
from contagion.protocols.base import Protocol
from contagion.protocols.registry import PROTOCOL_CLASSES
from contagion.units import parse_duration

if TYPE_CHECKING:  # pragma: no cover
    from contagion.network import Network
    from contagion.results import Result

__all__ = ["Simulation"]

log = logging.getLogger(__name__)


class Simulation:
    """A runnable simulation of a network.

    Parameters
    ----------
    net : Network
        The network to simulate (see :func:`contagion.load_network`).
    seed : int, optional
        Seed of every random stream (default: the scenario's ``seed``).
    overrides : mapping or iterable of ``"key.path=value"``, optional
        Applied to ``net`` before building.
    check_invariants : bool
        Check token conservation and protocol bookkeeping after every block (slower); they are
        always checked once when a result is built.

    Attributes
    ----------
    env : simpy.Environment
        The event loop (time in seconds).
    chains, venues, pools, oracles, protocols : dict
        Components by name.
    agents : dict
        Agent populations by name, each a list of agents.
    ledger : contagion.engine.ledger.Ledger
        Every token balance.

    Examples
    --------
    >>> import contagion
    >>> sim = contagion.Simulation(contagion.load_network("networks/minimal.yaml"), seed=1)
    >>> sim.run("10min").liquidations.empty        # doctest: +SKIP
    True
    """

    def __init__(self, net: "Network", seed: int | None = None, *, overrides=None,
                 check_invariants: bool = False):
        if overrides:
            net = net.with_overrides(overrides)
        self.net = net
        self.scenario = net.scenario
        self.base_dir = net.base_dir
        self.seed = self.scenario.seed if seed is None else seed
        self.check_invariants = check_invariants
        self.env = simpy.Environment()
        self.rng = RandomStreams(self.seed)
        self.journal = Journal()
        self.ledger = Ledger(self.journal)
        self.recorder = Recorder(self.journal)
        self.cascade = CascadeTracker(self.journal)
        self.oracle_updates: dict[int, OracleUpdate] = {}
        self.current_block: Block | None = None
        self.current_tx_id = -1
        self._ids: dict[str, int] = defaultdict(int)
        self._usd_routes: dict[str, Any] = {}
        self._references: dict[str, tuple[Venue | None, bool]] = {}
        self.chains: dict[str, Chain] = {}
        self.venues: dict[str, Venue] = {}
        self.pools: dict[str, RuntimePool] = {}
        self.oracles: dict[str, Feed] = {}
        self.protocols: dict[str, Protocol] = {}
        self.agents: dict[str, list] = {}
        self._build()
        self._initial_positions = {name: cols for name, p in self.protocols.items()
                                   if (cols := p.positions_columns("initial")) is not None}
        self._initial_pools = {name: self._pool_facts(pool) for name, pool in self.pools.items()}

    # --------------------------------------------------------------------------------- build
    def _build(self) -> None:
        scn = self.scenario
        for asset in scn.assets:
            self.ledger.add_asset(asset)
        for name, spec in scn.chains.items():
            self.chains[name] = Chain(self, name, spec)
        for name, spec in scn.venues.items():
            self.venues[name] = Venue(self, name, spec)
        for name, spec in scn.pools.items():
            self.pools[name] = make_pool(self, name, spec)
        for name in build_order(scn):  # every oracle after the oracles it reads
            self.oracles[name] = make_oracle(self, name, scn.oracles[name])
        for name, spec in scn.protocols.items():
            self.protocols[name] = PROTOCOL_CLASSES[spec.type](self, name, spec)
        for name, spec in scn.agents.items():
            cls = AGENT_CLASSES[spec.kind]
            self.agents[name] = [cls(self, name, i, spec) for i in range(spec.count)]
        for oracle in self.oracles.values():
            oracle.genesis()
        for protocol in self.protocols.values():
            protocol.genesis()
        for chain in self.chains.values():
            chain.on_block(self._after_block)
        self._record_prices(None)
        if self.check_invariants:
            self.check()

    def _pool_facts(self, pool: RuntimePool) -> dict:
        """What the metrics need about a pool at time 0: its USD value and its depth per asset
        (how much of the asset moves its price down by ``metrics.NEAR``)."""
        from contagion.metrics import NEAR

        holdings = [pool.balance(a) for a in pool.assets]
        return {"value_usd": pool.value_of(holdings) * self.usd_price(pool.quote_asset), "near": NEAR,
                "depth": {a: pool.depth(a, NEAR) for a in pool.assets}}

    # ------------------------------------------------------------------------------ services
    def next_id(self, kind: str) -> int:
        """Next id of a kind (``tx``, ``swap``, ``liquidation``, ``update``), from 0."""
        value = self._ids[kind]
        self._ids[kind] = value + 1
        return value

    @property
    def now(self) -> float:
        return self.env.now

    def market(self, name: str) -> Venue | RuntimePool:
        """A venue or pool by name."""
        if name in self.venues:
            return self.venues[name]
        return self.pools[name]

    def exogenous_price(self, base: str, quote: str) -> float:
        """Exogenous price of ``base`` in ``quote`` from a venue trading the pair, NaN if none."""
        for venue in self.venues.values():
            if (venue.base, venue.quote_asset) == (base, quote):
                return venue.exogenous()
            if (venue.base, venue.quote_asset) == (quote, base):
                return 1.0 / venue.exogenous()
        return math.nan

    def usd_price(self, asset: str) -> float:
        """What agents take one unit of ``asset`` to be worth in USD right now.

        A fixed oracle's price if one prices the asset; otherwise a venue's (or, failing that, a
        pool's) mid price times the USD price of its quote; 1 for an unpriced stablecoin; NaN if
        nothing prices it.
        """
        route = self._usd_routes.get(asset)
        if route is None:
            route = self._usd_routes[asset] = self._find_route(asset, set())
        kind, obj, other, inverse = route
        if kind == "fixed":
            return obj
        if kind == "none":
            return math.nan
        price = obj.price()
        return (1.0 / price if inverse else price) * self.usd_price(other)

    def _find_route(self, asset: str, seen: set) -> tuple:
        for oracle in self.oracles.values():
            if isinstance(oracle, FixedOracle) and oracle.asset == asset:
                return ("fixed", oracle.spec.price, None, False)
        seen = seen | {asset}
        for market in [*self.venues.values(), *self.pools.values()]:
            if market.base == asset and market.quote_asset not in seen:
                if self._find_route(market.quote_asset, seen)[0] != "none":
                    return ("market", market, market.quote_asset, False)
            if market.quote_asset == asset and market.base not in seen:
                if self._find_route(market.base, seen)[0] != "none":
                    return ("market", market, market.base, True)
        if self.scenario.assets[asset].kind == "stable":
            return ("fixed", 1.0, None, False)
        return ("none", None, None, False)

    # ------------------------------------------------------------------------------ per block
    def _after_block(self, block: Block) -> None:
        self._record_prices(block)
        self._record_oracle_lag(block)
        for protocol in self.protocols.values():
            if protocol.chain.name == block.chain:
                self.recorder.add("protocols", protocol.snapshot_row(block))
        if self.check_invariants:
            self.check()

    def _record_prices(self, block: Block | None) -> None:
        now = self.env.now
        number = block.number if block is not None else 0
        chain = block.chain if block is not None else None
        first_chain = next(iter(self.chains))
        rec = self.recorder
        if chain is None or chain == first_chain:
            for venue in self.venues.values():
                rec.add("prices", (now, number, venue.name, "venue", venue.base, venue.quote_asset,
                                   venue.mid(), venue.exogenous()))
        for pool in self.pools.values():
            if chain is None or pool.chain.name == chain:
                rec.add("prices", (now, number, pool.name, "pool", pool.base, pool.quote_asset,
                                   pool.price(), pool.exogenous_price()))
        for oracle in self.oracles.values():
            if oracle.quote is not None and (chain is None or oracle.chain.name == chain):
                rec.add("prices", (now, number, oracle.name, "oracle", oracle.asset, oracle.quote,
                                   oracle.answer, oracle.answer_exogenous))

    def reference_venue(self, asset: str, quote: str | None) -> tuple[Venue | None, bool]:
        """The venue an oracle of ``asset`` in ``quote`` is compared with: the first venue (in
        scenario order) trading the pair, and whether its price must be inverted; ``(None, False)``
        if there is none."""
        for venue in self.venues.values():
            if (venue.base, venue.quote_asset) == (asset, quote):
                return venue, False
            if (venue.base, venue.quote_asset) == (quote, asset):
                return venue, True
        return None, False

    def _record_oracle_lag(self, block: Block) -> None:
        """One ``oracle_lag`` row per oracle on ``block``'s chain with a reference venue."""
        now = self.env.now
        rec = self.recorder
        refs = self._references
        for oracle in self.oracles.values():
            if oracle.chain is None or oracle.chain.name != block.chain:
                continue
            if oracle.name not in refs:
                refs[oracle.name] = self.reference_venue(oracle.asset, oracle.quote)
            venue, inverse = refs[oracle.name]
            if venue is None:
                continue
            reference = venue.mid()
            if inverse:
                reference = 1.0 / reference
            answer = oracle.answer
            rec.add("oracle_lag", (now, block.number, oracle.name, oracle.oracle_kind, answer, reference,
                                   answer / reference - 1.0, oracle.age(now)))

    @contextmanager
    def dry_run(self, chain: Chain):
        """Execute actions against the current state as if in ``chain``'s next block, then undo
        everything (an ``eth_call``): for agents that simulate a transaction before sending it.

        Yields the provisional block. Ids drawn inside are given back, so a dry run leaves no
        trace in the results.
        """
        if self.journal.active:
            raise SimulationError("dry_run: a transaction is already executing")
        ids = dict(self._ids)
        cached = set(self.cascade._parents)  # provenance cached for ids the dry run will give back
        last = chain.last_block
        block = (replace(last, number=chain.height + 1, time=self.env.now) if last is not None
                 else Block(chain.name, chain.height + 1, self.env.now))
        self.journal.begin()
        self.current_block, self.current_tx_id = block, -1
        try:
            yield block
        finally:
            self.journal.rollback()
            self.current_block, self.current_tx_id = None, -1
            self._ids.clear()
            self._ids.update(ids)
            for key in set(self.cascade._parents) - cached:
                del self.cascade._parents[key]

    def check(self) -> None:
        """Check conservation of every asset, each pool's and protocol's bookkeeping; raise on failure."""
        self.ledger.check_conservation()
        for pool in self.pools.values():
            math_pool = getattr(pool, "math", None)
            if math_pool is None:
                continue
            held = np.asarray(math_pool.balances, dtype=np.float64) + getattr(math_pool, "admin_balances", 0.0)
            for asset, amount in zip(pool.assets, np.atleast_1d(held)):
                ledger_amount = self.ledger.balance(pool.account, asset)
                if not math.isclose(ledger_amount, amount, rel_tol=1e-9, abs_tol=1e-9):
                    raise InvariantError(f"pool {pool.name}: holds {ledger_amount!r} {asset} but its state "
                                         f"accounts for {amount!r}")
        for protocol in self.protocols.values():
            protocol.check()

    # --------------------------------------------------------------------------------- drive
    def step(self) -> None:
        """Process the next event."""
        self.env.step()

    def advance(self, until: float) -> None:
        """Process every event up to and including absolute time ``until`` (seconds)."""
        if until < self.env.now:
            raise SimulationError(f"advance({until!r}): already at t={self.env.now:g}s")
        if until > self.env.now:
            self.env.run(until=until)
        while self.env.peek() <= until:
            self.env.step()

    def run(self, until: float | str | None = None) -> "Result":
        """Advance to absolute time ``until`` (seconds or a duration string; default the
        scenario's ``until``), including the events at exactly that time, and return the result."""
        target = self.scenario.until if until is None else parse_duration(until)
        if target <= self.env.now:
            raise SimulationError(f"run(until={until!r}): already at t={self.env.now:g}s")
        self.advance(target)
        return self.result()

    def result(self) -> "Result":
        """The run so far as a :class:`~contagion.results.Result` (tables built now)."""
        from contagion.results import Result

        self.check()
        frames = self.recorder.frames()
        pending = [row for chain in self.chains.values() for row in chain.pending_rows()]
        if pending:
            import pandas as pd

            frames["transactions"] = pd.concat([frames["transactions"], frame("transactions", pending)],
                                               ignore_index=True)
        snapshots = [frames["positions"]] if len(frames["positions"]) else []
        for name, protocol in self.protocols.items():
            if name in self._initial_positions:
                snapshots.append(frame("positions", self._initial_positions[name]))
                snapshots.append(frame("positions", protocol.positions_columns("final")))
        if snapshots:
            import pandas as pd

            frames["positions"] = pd.concat(snapshots, ignore_index=True)
        manifest = {
            "scenario": self.net.to_dict(),
            "source": self.net.source,
            "overrides": {k: _jsonable(v) for k, v in self.net.overrides.items()},
            "seed": self.seed,
            "until": self.env.now,
            "version": __version__,
            "conservation": [
                {"asset": r.asset, "expected": r.expected, "actual": r.actual, "error": r.error,
                 "bound": r.bound} for r in self.ledger.conservation()],
            "exogenous_low": {name: v.path.low(self.env.now) for name, v in self.venues.items()},
            "initial_price_ratio": {name: p.initial_ratio for name, p in self.protocols.items()},
            "initial_pools": self._initial_pools,
        }
        return Result(frames, manifest)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
