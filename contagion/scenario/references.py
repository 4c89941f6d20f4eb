"""Cross-reference checks of a validated scenario: every name used must exist and fit.

Returns problems as ``(key.path, rule, value)`` triples; the loader formats them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contagion.scenario.models import (
    ArbitrageurAgents,
    FixedOracle,
    GeneratedPositions,
    KeeperAgents,
    LendingProtocol,
    LiquidityProviderAgents,
    PushOracle,
    ReplayPath,
    SECTIONS,
    Scenario,
    SnapshotPositions,
)

__all__ = ["check_references", "market_assets", "source_quote"]

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
            assert isinstance(oracle, PushOracle)
            self.ref(f"{base}.chain", oracle.chain, "chains")
            quotes = set()
            for i, src in enumerate(oracle.sources):
                path = f"{base}.sources[{i}]"
                traded = market_assets(self.scn, src)
                if traded is None:
                    self.add(path, "must name a venue or a pool "
                                   f"({_names({**self.scn.venues, **self.scn.pools})})", src)
                    continue
                if asset_ok and oracle.asset not in traded:
                    self.add(path, f"source does not trade {oracle.asset} (it trades {'/'.join(traded)})", src)
                    continue
                quotes.add(source_quote(self.scn, src, oracle.asset))
            if len(quotes) > 1:
                self.add(f"{base}.sources", "sources must all quote the asset in the same unit, "
                                            f"got {', '.join(sorted(quotes))}", list(oracle.sources))

    def protocols(self) -> None:
        for name, proto in self.scn.protocols.items():
            assert isinstance(proto, LendingProtocol)
            base = f"protocols.{name}"
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
            if isinstance(agents, KeeperAgents):
                for i, target in enumerate(agents.watches):
                    self.ref(f"{base}.watches[{i}]", target, "protocols")
                for i, market in enumerate(agents.sell_into or []):
                    if market_assets(self.scn, market) is None:
                        self.add(f"{base}.sell_into[{i}]", "must name a pool or a venue "
                                 f"({_names({**self.scn.venues, **self.scn.pools})})", market)
            elif isinstance(agents, LiquidityProviderAgents):
                for i, target in enumerate(agents.watches):
                    self.ref(f"{base}.watches[{i}]", target, "pools")
            else:
                assert isinstance(agents, ArbitrageurAgents)
                venue_ok = self.ref(f"{base}.venue", agents.venue, "venues")
                for i, target in enumerate(agents.watches):
                    if not self.ref(f"{base}.watches[{i}]", target, "pools") or not venue_ok:
                        continue
                    pool, venue = self.scn.pools[target], self.scn.venues[agents.venue]
                    if {venue.asset, venue.quote} != set(pool.assets[:2]):
                        self.add(f"{base}.watches[{i}]",
                                 f"the pool's pair {pool.assets[0]}/{pool.assets[1]} is not the venue "
                                 f"{agents.venue}'s pair {venue.asset}/{venue.quote}", target)


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
