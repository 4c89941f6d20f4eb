"""Cross-reference checks of a validated scenario: every name used must exist and fit.

Returns problems as ``(key.path, rule, value)`` triples; the loader formats them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contagion.scenario.models import (
    AdversaryAgents,
    ArbitrageurAgents,
    FixedOracle,
    GeneratedPositions,
    KeeperAgents,
    LendingProtocol,
    LiquidityProviderAgents,
    BorrowerAgents,
    MedianOracle,
    OsmOracle,
    PullOracle,
    PushOracle,
    ReplayPath,
    SECTIONS,
    Scenario,
    SnapshotPositions,
    SpotOracle,
    TwapOracle,
)

__all__ = ["check_references", "market_assets", "source_quote", "oracle_quote", "oracle_chain",
           "oracle_pool"]

Problem = tuple[str, str, Any]  # (key path, rule, offending value; ... when there is none)


def _names(section: dict) -> str:
    return ", ".join(section) if section else "none defined"


def market_assets(scn: Scenario, name: str) -> tuple[str, ...] | None:
    """Assets traded by a venue (``(base, quote)``) or pool (all its coins); None if neither."""
    if name in scn.venues:
        venue = scn.venues[name]
        return venue.asset, venue.quote
    if name in scn.pools:
        return tuple(scn.pools[name].assets)
    return None


def source_quote(scn: Scenario, name: str, asset: str) -> str:
    """The unit in which market ``name`` prices ``asset``: the other asset of a pair; for pools of
    more than two coins, ``assets[1]`` (or ``assets[0]`` when pricing ``assets[1]``)."""
    assets = market_assets(scn, name)
    return assets[1] if asset == assets[0] else assets[0]


def _oracle_inputs(spec) -> list[str]:
    if isinstance(spec, OsmOracle):
        return [spec.source]
    if isinstance(spec, MedianOracle):
        return list(spec.sources)
    return []


def oracle_quote(scn: Scenario, name: str, _seen: frozenset = frozenset()) -> str | None:
    """The unit an oracle's answer is in (an asset); None for a ``fixed`` oracle or when unknown."""
    spec = scn.oracles.get(name)
    if spec is None or name in _seen:
        return None
    if isinstance(spec, (PushOracle, PullOracle)):
        src = spec.sources[0]
        traded = market_assets(scn, src)
        return source_quote(scn, src, spec.asset) if traded and spec.asset in traded else None
    if isinstance(spec, (TwapOracle, SpotOracle)):
        traded = market_assets(scn, spec.pool) if spec.pool in scn.pools else None
        return source_quote(scn, spec.pool, spec.asset) if traded and spec.asset in traded else None
    for src in _oracle_inputs(spec):
        quote = oracle_quote(scn, src, _seen | {name})
        if quote is not None:
            return quote
    return None


def oracle_chain(scn: Scenario, name: str) -> str | None:
    """The chain an oracle publishes on (a pool oracle's: its pool's); None if it has none."""
    spec = scn.oracles[name]
    if isinstance(spec, (TwapOracle, SpotOracle)):
        pool = scn.pools.get(spec.pool)
        return pool.chain if pool is not None else None
    return spec.chain


def oracle_pool(scn: Scenario, name: str) -> str | None:
    """The pool a ``twap`` or ``spot`` oracle reads (None for other kinds)."""
    spec = scn.oracles.get(name)
    return spec.pool if isinstance(spec, (TwapOracle, SpotOracle)) else None



class _Checker:
    def __init__(self, scn: Scenario, base_dir: Path):
        self.scn = scn
        self.base_dir = base_dir
        self.problems: list[Problem] = []

    def add(self, path: str, rule: str, value: Any) -> None:
        self.problems.append((path, rule, value))

    def ref(self, path: str, value: str, section: str) -> bool:
        entries = getattr(self.scn, section)
        if value in entries:
            return True
        self.add(path, f"must name an entry of {section} ({_names(entries)})", value)
        return False

    # ------------------------------------------------------------------------------- checks
    def unique_names(self) -> None:
        owner: dict[str, str] = {}
        for section in SECTIONS:
            for name in getattr(self.scn, section):
                if name in owner:
                    self.add(f"{section}.{name}",
                             f"name already used by {owner[name]}.{name}; names must be unique "
                             "across sections", name)
                else:
                    owner[name] = section

    def chains_and_assets(self) -> None:
        for name, asset in self.scn.assets.items():
            self.ref(f"assets.{name}.chain", asset.chain, "chains")
        for name, chain in self.scn.chains.items():
            path = f"chains.{name}.native_asset"
            if self.ref(path, chain.native_asset, "assets"):
                home = self.scn.assets[chain.native_asset].chain
                if home != name:
                    self.add(path, f"native asset must live on this chain (it lives on {home})",
                             chain.native_asset)
            demand = chain.background
            if demand is not None and demand.volatility_source is not None:
                self.ref(f"chains.{name}.background.volatility_source", demand.volatility_source, "venues")

    def venues(self) -> None:
        for name, venue in self.scn.venues.items():
            ok = self.ref(f"venues.{name}.asset", venue.asset, "assets")
            ok &= self.ref(f"venues.{name}.quote", venue.quote, "assets")
            if ok and venue.asset == venue.quote:
                self.add(f"venues.{name}.quote", "must differ from asset", venue.quote)
            for key in (venue.inventory or {}):
                if key not in (venue.asset, venue.quote):
                    self.add(f"venues.{name}.inventory.{key}",
                             f"must be the venue's asset or quote ({venue.asset}, {venue.quote})", key)
            if isinstance(venue.path, ReplayPath):
                self.file(f"venues.{name}.path.path", venue.path.path, (".csv",))

    def file(self, path: str, value: str, suffixes: tuple[str, ...]) -> None:
        target = self.base_dir / value
        if not target.is_file():
            self.add(path, f"file not found (looked in {target.parent})", value)
        elif target.suffix.lower() not in suffixes:
            self.add(path, f"must be a {' or '.join(suffixes)} file", value)

    def pools(self) -> None:
        for name, pool in self.scn.pools.items():
            chain_ok = self.ref(f"pools.{name}.chain", pool.chain, "chains")
            for i, asset in enumerate(pool.assets):
                path = f"pools.{name}.assets[{i}]"
                if self.ref(path, asset, "assets") and chain_ok:
                    home = self.scn.assets[asset].chain
                    if home != pool.chain:
                        self.add(path, f"asset lives on chain {home}, not on the pool's chain {pool.chain}",
                                 asset)
            if len(set(pool.assets)) != len(pool.assets):
                self.add(f"pools.{name}.assets", "must name different assets", list(pool.assets))

    def oracles(self) -> None:
        for name, oracle in self.scn.oracles.items():
            base = f"oracles.{name}"
            asset_ok = self.ref(f"{base}.asset", oracle.asset, "assets")
            if isinstance(oracle, FixedOracle):
                if oracle.chain is not None:
                    self.ref(f"{base}.chain", oracle.chain, "chains")
                continue
            if isinstance(oracle, (TwapOracle, SpotOracle)):
                self.pool_oracle(base, oracle, asset_ok)
                continue
            chain_ok = self.ref(f"{base}.chain", oracle.chain, "chains")
            if isinstance(oracle, (PushOracle, PullOracle)):
                self.market_sources(base, oracle, asset_ok)
            elif isinstance(oracle, OsmOracle):
                self.oracle_source(f"{base}.source", name, oracle, oracle.source, chain_ok)
            else:
                assert isinstance(oracle, MedianOracle)
                quotes = set()
                for i, src in enumerate(oracle.sources):
                    if self.oracle_source(f"{base}.sources[{i}]", name, oracle, src, chain_ok):
                        quote = oracle_quote(self.scn, src)
                        if quote is not None:
                            quotes.add(quote)
                if len(quotes) > 1:
                    self.add(f"{base}.sources", "sources must all quote the asset in the same unit, "
                                                f"got {', '.join(sorted(quotes))}", list(oracle.sources))
        self.oracle_cycles()

    def market_sources(self, base: str, oracle, asset_ok: bool) -> None:
        """Sources of a push or pull feed: venues or pools trading the asset, in one quote unit."""
        quotes = set()
        for i, src in enumerate(oracle.sources):
            path = f"{base}.sources[{i}]"
            traded = market_assets(self.scn, src)
            if traded is None:
                what = " (an oracle cannot be a source of this kind; use kind: median)" \
                    if src in self.scn.oracles else ""
                self.add(path, "must name a venue or a pool "
                               f"({_names({**self.scn.venues, **self.scn.pools})}){what}", src)
                continue
            if asset_ok and oracle.asset not in traded:
                self.add(path, f"source does not trade {oracle.asset} (it trades {'/'.join(traded)})", src)
                continue
            quotes.add(source_quote(self.scn, src, oracle.asset))
        if len(quotes) > 1:
            self.add(f"{base}.sources", "sources must all quote the asset in the same unit, "
                                        f"got {', '.join(sorted(quotes))}", list(oracle.sources))

    def oracle_source(self, path: str, name: str, oracle, src: str, chain_ok: bool) -> bool:
        """An oracle read by an ``osm`` or ``median`` oracle: another oracle, same asset and chain."""
        if src == name:
            self.add(path, "must name another oracle (an oracle cannot read itself)", src)
            return False
        if not self.ref(path, src, "oracles"):
            return False
        source = self.scn.oracles[src]
        if source.asset != oracle.asset:
            self.add(path, f"source prices {source.asset}, not {oracle.asset}", src)
            return False
        home = oracle_chain(self.scn, src)
        if chain_ok and home is not None and home != oracle.chain:
            self.add(path, f"source publishes on chain {home}, not on this oracle's chain {oracle.chain}", src)
            return False
        return True

    def pool_oracle(self, base: str, oracle, asset_ok: bool) -> None:
        """``twap`` / ``spot``: a pool (not a venue) trading the asset."""
        what = "a TWAP reads a pool's price accumulator" if isinstance(oracle, TwapOracle) else \
            "a spot oracle reads a pool's price on chain"
        if oracle.pool in self.scn.venues:
            self.add(f"{base}.pool", f"must name a pool ({what}; {oracle.pool} is an off-chain venue)",
                     oracle.pool)
            return
        if not self.ref(f"{base}.pool", oracle.pool, "pools"):
            return
        assets = list(self.scn.pools[oracle.pool].assets)
        if asset_ok and oracle.asset not in assets:
            self.add(f"{base}.asset", f"pool {oracle.pool} does not trade it (it trades {'/'.join(assets)})",
                     oracle.asset)
        elif isinstance(oracle, TwapOracle) and oracle.asset not in assets[:2]:
            self.add(f"{base}.asset", f"must be one of the pool's first two assets ({assets[0]}, {assets[1]}): "
                                      "the accumulator tracks their price", oracle.asset)

    def oracle_cycles(self) -> None:
        """Oracles reading oracles must not form a cycle."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        oracles = self.scn.oracles

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            for dep in _oracle_inputs(oracles[name]):
                if dep not in oracles:
                    continue
                if state.get(dep) == 1:
                    cycle = path[path.index(dep):] + [name, dep] if dep in path else [name, dep]
                    key = "source" if isinstance(oracles[name], OsmOracle) else "sources"
                    self.add(f"oracles.{name}.{key}", "oracles must not read each other in a cycle "
                                                      f"({' -> '.join(cycle)})", dep)
                elif state.get(dep) is None:
                    visit(dep, path + [name])
            state[name] = 2

        for name in oracles:
            if state.get(name) is None:
                visit(name, [])

    def adversary(self, base: str, agents: AdversaryAgents) -> None:
        """Watched protocols, and a pool trading each one's collateral and debt on its chain."""
        if agents.flash_loan is not None:
            for key in agents.flash_loan.liquidity:
                self.ref(f"{base}.flash_loan.liquidity.{key}", key, "assets")
        pool_ok = agents.pool is None or self.ref(f"{base}.pool", agents.pool, "pools")
        for i, target in enumerate(agents.watches):
            if not self.ref(f"{base}.watches[{i}]", target, "protocols"):
                continue
            proto = self.scn.protocols[target]
            pool = agents.pool
            if pool is None:
                oracle = proto.oracles.get(proto.collateral)
                pool = oracle_pool(self.scn, oracle) if oracle in self.scn.oracles else None
                if pool is None:
                    kind = self.scn.oracles[oracle].kind if oracle in self.scn.oracles else "unknown"
                    self.add(f"{base}.pool", f"required: protocol {target}'s collateral oracle {oracle} "
                                             f"(kind {kind}) reads no pool to manipulate", ...)
                    continue
                if pool not in self.scn.pools:
                    continue
            elif not pool_ok:
                continue
            spec = self.scn.pools[pool]
            where = f"{base}.pool" if agents.pool is not None else f"{base}.watches[{i}]"
            if not {proto.collateral, proto.debt} <= set(spec.assets):
                self.add(where, f"pool {pool} must trade {target}'s collateral and debt "
                                f"{proto.collateral}/{proto.debt} (it trades {'/'.join(spec.assets)})",
                         agents.pool or target)
            elif spec.chain != proto.chain:
                self.add(where, f"pool {pool} is on chain {spec.chain}, not on {target}'s chain {proto.chain}",
                         agents.pool or target)

    def protocols(self) -> None:
        for name, proto in self.scn.protocols.items():
            base = f"protocols.{name}"
            if not isinstance(proto, LendingProtocol):   # a protocol family checks its own references
                proto.check_references(self, base)
                continue
            chain_ok = self.ref(f"{base}.chain", proto.chain, "chains")
            coll_ok = self.ref(f"{base}.collateral", proto.collateral, "assets")
            debt_ok = self.ref(f"{base}.debt", proto.debt, "assets")
            if coll_ok and debt_ok and proto.collateral == proto.debt:
                self.add(f"{base}.debt", "must differ from the collateral asset", proto.debt)
            for asset in (proto.collateral, proto.debt):
                if asset not in proto.oracles:
                    self.add(f"{base}.oracles.{asset}", "required: an oracle for each market asset", ...)
            for asset, oracle in proto.oracles.items():
                path = f"{base}.oracles.{asset}"
                if asset not in (proto.collateral, proto.debt):
                    self.add(path, f"key must be the collateral or debt asset ({proto.collateral}, "
                                   f"{proto.debt})", asset)
                elif self.ref(path, oracle, "oracles") and self.scn.oracles[oracle].asset != asset:
                    self.add(path, f"oracle prices {self.scn.oracles[oracle].asset}, not {asset}", oracle)
            for i, target in enumerate(proto.liquidates_into):
                path = f"{base}.liquidates_into[{i}]"
                if not self.ref(path, target, "pools"):
                    continue
                pool = self.scn.pools[target]
                if not {proto.collateral, proto.debt} <= set(pool.assets):
                    self.add(path, f"pool must trade {proto.collateral}/{proto.debt} "
                                   f"(it trades {'/'.join(pool.assets)})", target)
                elif chain_ok and pool.chain != proto.chain:
                    self.add(path, f"pool is on chain {pool.chain}, not on {proto.chain}", target)
            src = proto.positions
            if isinstance(src, SnapshotPositions):
                self.file(f"{base}.positions.path", src.path, (".csv", ".parquet", ".pq"))
            else:
                assert isinstance(src, GeneratedPositions)

    def agents(self) -> None:
        for name, agents in self.scn.agents.items():
            base = f"agents.{name}"
            for key in agents.inventory:
                self.ref(f"{base}.inventory.{key}", key, "assets")
            if isinstance(agents, (KeeperAgents, BorrowerAgents)):
                # keepers liquidate fixed-spread books; borrowers defend single-pair positions
                types = KEEPER_PROTOCOLS if isinstance(agents, KeeperAgents) else ("lending",)
                for i, target in enumerate(agents.watches):
                    if self.ref(f"{base}.watches[{i}]", target, "protocols") and \
                            self.scn.protocols[target].type not in types:
                        self.add(f"{base}.watches[{i}]", f"must be a protocol of type {', '.join(types)} "
                                 f"(it is {self.scn.protocols[target].type})", target)
                for i, market in enumerate(getattr(agents, "sell_into", None) or []):
                    if market_assets(self.scn, market) is None:
                        self.add(f"{base}.sell_into[{i}]", "must name a pool or a venue "
                                 f"({_names({**self.scn.venues, **self.scn.pools})})", market)
            elif isinstance(agents, LiquidityProviderAgents):
                for i, target in enumerate(agents.watches):
                    self.ref(f"{base}.watches[{i}]", target, "pools")
            elif isinstance(agents, AdversaryAgents):
                self.adversary(base, agents)
            elif not isinstance(agents, ArbitrageurAgents):   # an agent of a protocol family
                agents.check_references(self, base)
            else:
                venue_ok = self.ref(f"{base}.venue", agents.venue, "venues")
                for i, target in enumerate(agents.watches):
                    if not self.ref(f"{base}.watches[{i}]", target, "pools") or not venue_ok:
                        continue
                    pool, venue = self.scn.pools[target], self.scn.venues[agents.venue]
                    if {venue.asset, venue.quote} != set(pool.assets[:2]):
                        self.add(f"{base}.watches[{i}]",
                                 f"the pool's pair {pool.assets[0]}/{pool.assets[1]} is not the venue "
                                 f"{agents.venue}'s pair {venue.asset}/{venue.quote}", target)


# protocol types a `kind: keeper` population can liquidate (fixed-spread liquidations)
KEEPER_PROTOCOLS = ("lending", "aave_v2", "aave_v3", "compound_v2")


def check_references(scn: Scenario, base_dir: Path) -> list[Problem]:
    """All cross-reference problems of ``scn``, in file order."""
    checker = _Checker(scn, base_dir)
    checker.unique_names()
    checker.chains_and_assets()
    checker.venues()
    checker.pools()
    checker.oracles()
    checker.protocols()
    checker.agents()
    return checker.problems
