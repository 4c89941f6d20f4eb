"""Scenario models of the options protocol family (see :mod:`contagion.scenario.families`).

``type: options`` is a market of European calls and puts on one underlying, quoted and
cash-settled in a quote asset, priced by Black-Scholes at a protocol-wide implied-volatility
level that rises with the underlying's drawdown. Writers post collateral (the quote asset or the
underlying) against the options they sold; a maintenance margin (SPAN-style scenarios or
greeks) decides when they are liquidated. ``kind: market_maker`` agents hold written books in
such a market and delta-hedge them on a venue or pool. The runtime semantics are documented in
:mod:`contagion.protocols.options` and :mod:`contagion.agents.market_maker`; every field in
``networks/README.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from contagion.scenario.common import Bidder, GasPrice, HealthFactorDistribution
from contagion.scenario.types import (
    Duration,
    Fraction,
    Model,
    NonNegative,
    Number,
    OpenFraction,
    Positive,
    PositiveDuration,
    PositiveInt,
    UnitInterval,
)

__all__ = ["PROTOCOLS", "AGENTS", "OptionsProtocol", "SeriesGrid", "GeneratedWriters", "SnapshotWriters",
           "ImpliedVolatility", "OptionsMargin", "OptionsKeeper", "OptionLeg", "MarketMakerAgents"]

OptionType = Literal["call", "put"]


class SeriesGrid(Model):
    """The series listed at genesis: every combination of ``types``, ``expiries`` and
    ``moneyness``, with strike ``moneyness x initial price`` rounded to a multiple of
    ``strike_step`` (not rounded when 0)."""

    expiries: list[PositiveDuration] = Field(min_length=1, description="Times to expiry from the start.")
    moneyness: list[Positive] = Field(min_length=1, description="Strikes as multiples of the initial price.")
    types: list[OptionType] = Field(default_factory=lambda: ["call", "put"], min_length=1,
                                    description="`call`, `put` or both.")
    strike_step: NonNegative = Field(0.0, description="Strikes are rounded to a multiple of this (quote units).")

    def count(self) -> int:
        """Number of distinct (type, expiry, moneyness) combinations."""
        return len(set(self.types)) * len(set(self.expiries)) * len(set(self.moneyness))


class GeneratedWriters(Model):
    """``count`` writers drawn with the run's seed (stream ``protocol:<name>:writers``).

    Sizes are lognormal (log-sd ``size_sigma``) scaled so that all writers together write
    ``total_contracts``; each writer writes ``legs`` distinct series drawn uniformly from the grid,
    its size split equally among them; its collateral is the quote asset with probability
    ``cash_share`` (else the underlying); the collateral amount gives it the drawn health factor
    at the initial price and volatility.
    """

    kind: Literal["generated"] = Field(description="`generated`.")
    count: PositiveInt = Field(description="Number of writers.")
    total_contracts: Positive = Field(description="Options written by all writers, underlying units.")
    size_sigma: NonNegative = Field(1.0, description="Dispersion of log writer size.")
    legs: PositiveInt = Field(1, description="Distinct series each writer writes.")
    cash_share: UnitInterval = Field(1.0, description="Share of writers collateralized in the quote asset.")
    health_factor: HealthFactorDistribution = Field(description="Initial health factors of the writers.")


class SnapshotWriters(Model):
    """Writers read from a CSV or Parquet file (relative to the scenario file), one row per
    written series: ``writer`` (an id), ``type`` (call or put), ``strike`` (quote units),
    ``expiry`` (seconds from the start, or a duration such as ``7d``), ``contracts`` (underlying
    units), ``collateral_asset`` (``quote`` or ``underlying``) and ``collateral`` (its amount,
    repeated on every row of the writer)."""

    kind: Literal["snapshot"] = Field(description="`snapshot`.")
    path: str = Field(description="CSV or Parquet file.")


WriterSource = Annotated[Union[GeneratedWriters, SnapshotWriters], Field(discriminator="kind")]


class ImpliedVolatility(Model):
    """The volatility level the protocol and market makers price every series with.

    After each block, with ``D`` the drawdown of the underlying's oracle price from its highest
    value over the last ``window``, the level moves towards ``target = base +
    drawdown_sensitivity x D`` with half-life ``half_life`` (an Ornstein-Uhlenbeck step, plus
    seeded noise of stationary standard deviation ``noise``), and never below ``floor``.
    """

    base: Positive = Field(description="Level without drawdown, annualized (0.7 = 70 %).")
    drawdown_sensitivity: NonNegative = Field(
        0.0, description="Volatility points added per unit of drawdown (2.0: +20 points at a 10 % drawdown).")
    window: PositiveDuration = Field(3600.0, description="Look-back window of the drawdown.")
    half_life: Duration = Field(0.0, description="Half-life of the level's reversion to its target (0: at once).")
    noise: NonNegative = Field(0.0, description="Stationary standard deviation of the level around its target.")
    floor: Positive = Field(0.05, description="Lowest level.")


class OptionsMargin(Model):
    """Maintenance margin: ``scenario`` (SPAN-style worst loss over price and volatility shocks)
    or ``greeks`` (its delta-gamma-vega approximation); see :mod:`contagion.options`."""

    method: Literal["scenario", "greeks"] = Field("scenario", description="`scenario` or `greeks`.")
    price_range: OpenFraction = Field(0.15, description="Price scan range, a fraction of spot.")
    vol_range: NonNegative = Field(0.1, description="Volatility scan range, absolute (0.1 = 10 points).")
    price_steps: PositiveInt = Field(3, description="`scenario`: price steps on each side of the scan.")
    vol_steps: list[Number] = Field(default_factory=lambda: [1.0, -1.0], min_length=1,
                                    description="`scenario`: volatility moves at each price step, in scan ranges.")
    extreme_multiple: NonNegative = Field(
        2.0, description="`scenario`: extreme moves of this many price ranges (0: none).")
    extreme_weight: UnitInterval = Field(0.35, description="`scenario`: share of the extreme moves' loss that counts.")
    horizon: Duration = Field(0.0, description="`scenario`: time the shocked valuation looks ahead.")
    vol_floor: Positive = Field(0.01, description="Lowest volatility a downward shock reaches.")

    @model_validator(mode="after")
    def _prices_stay_positive(self):
        largest = self.price_range * max(1.0, self.extreme_multiple)
        if not largest < 1.0:
            raise ValueError(f"price_range x max(1, extreme_multiple) must be < 1 (a shocked price must stay "
                             f"positive), got {largest:g}")
        return self


class OptionsKeeper(Bidder):
    """The protocol's keeper: after each block (plus ``reaction_latency``) it liquidates the
    accounts below maintenance margin, at most ``max_per_block`` per block, each one a
    transaction, and settles every expiry that has passed."""

    inventory: dict[str, NonNegative] = Field(
        description="Balances at start: the quote asset it pays buy-backs with, the native asset for gas.")
    gas_price: GasPrice = Field(50.0, description="Gas price bid (legacy), gwei.")
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    max_per_block: PositiveInt = Field(20, description="Liquidations sent per block at most.")
    liquidation_gas: PositiveInt = Field(400_000, description="Gas of one liquidation.")
    settlement_gas: PositiveInt = Field(500_000, description="Gas of the settlement of one expiry.")


class OptionsProtocol(Model):
    """A market of European options on ``underlying``, quoted and cash-settled in ``quote``
    (see :mod:`contagion.protocols.options`)."""

    type: Literal["options"] = Field(description="`options`.")
    chain: str = Field(description="Chain it lives on.")
    underlying: str = Field(description="Asset the options are on.")
    quote: str = Field(description="Asset strikes, premiums and payoffs are in.")
    oracles: dict[str, str] = Field(description="Oracle for each of the two assets.")
    rate: Number = Field(0.0, description="Risk-free rate of the pricing, annual, continuously compounded.")
    implied_volatility: ImpliedVolatility = Field(description="The volatility level the series are priced at.")
    series: SeriesGrid | None = Field(None, description="Series generator (required for generated writers).")
    writers: WriterSource = Field(description="The writers: generated or from a snapshot.")
    margin: OptionsMargin = Field(default_factory=OptionsMargin, description="Maintenance margin rule.")
    liquidation_bonus: Fraction = Field(
        0.05, description="Collateral paid to the liquidator on top of the buy-back cost.")
    keeper: OptionsKeeper = Field(description="The protocol's keeper (liquidations, settlements).")

    @model_validator(mode="after")
    def _series_for_generated_writers(self):
        if isinstance(self.writers, GeneratedWriters):
            if self.series is None:
                raise ValueError("generated writers need `series` (the grid they write from)")
            if self.writers.legs > self.series.count():
                raise ValueError(f"writers.legs must be <= the number of series ({self.series.count()}), "
                                 f"got {self.writers.legs}")
        return self

    def check_references(self, checker, base: str) -> None:
        """Chain, assets, oracles (one per asset, pricing it), snapshot file, keeper funds."""
        chain_ok = checker.ref(f"{base}.chain", self.chain, "chains")
        under_ok = checker.ref(f"{base}.underlying", self.underlying, "assets")
        quote_ok = checker.ref(f"{base}.quote", self.quote, "assets")
        if under_ok and quote_ok and self.underlying == self.quote:
            checker.add(f"{base}.quote", "must differ from the underlying", self.quote)
        for asset in (self.underlying, self.quote):
            if asset not in self.oracles:
                checker.add(f"{base}.oracles.{asset}",
                            "required: an oracle for the underlying and the quote asset", ...)
        for asset, oracle in self.oracles.items():
            path = f"{base}.oracles.{asset}"
            if asset not in (self.underlying, self.quote):
                checker.add(path, f"key must be the underlying or the quote asset ({self.underlying}, {self.quote})",
                            asset)
            elif checker.ref(path, oracle, "oracles") and checker.scn.oracles[oracle].asset != asset:
                checker.add(path, f"oracle prices {checker.scn.oracles[oracle].asset}, not {asset}", oracle)
        if isinstance(self.writers, SnapshotWriters):
            checker.file(f"{base}.writers.path", self.writers.path, (".csv", ".parquet", ".pq"))
        for key in self.keeper.inventory:
            checker.ref(f"{base}.keeper.inventory.{key}", key, "assets")
        if chain_ok:
            native = checker.scn.chains[self.chain].native_asset
            if not self.keeper.inventory.get(native, 0.0) > 0:
                checker.add(f"{base}.keeper.inventory",
                            f"must hold the chain's native asset {native} to pay gas", dict(self.keeper.inventory))

    def graph_edges(self, name: str) -> list[tuple]:
        """``hosted_on`` the chain, ``uses_oracle`` per asset, ``collateral`` per collateral asset
        writers can post, ``debt`` to the quote asset (the written options' value is owed in it)."""
        edges = [(name, self.chain, "hosted_on", {})]
        for asset, oracle in self.oracles.items():
            edges.append((name, oracle, "uses_oracle", {"asset": asset}))
        margin = {"margin": self.margin.method, "price_range": self.margin.price_range,
                  "vol_range": self.margin.vol_range, "liquidation_bonus": self.liquidation_bonus}
        if isinstance(self.writers, GeneratedWriters):
            cash, coin = self.writers.cash_share > 0, self.writers.cash_share < 1
        else:
            cash = coin = True
        if cash:
            edges.append((name, self.quote, "collateral", dict(margin)))
        if coin and self.underlying != self.quote:
            edges.append((name, self.underlying, "collateral", dict(margin)))
        edges.append((name, self.quote, "debt", {"instrument": "options", "underlying": self.underlying}))
        return edges


class OptionLeg(Model):
    """Options a market maker has written: ``contracts`` of one series, its strike given as
    ``moneyness`` (a multiple of the initial price) or ``strike`` (quote units)."""

    type: OptionType = Field(description="`call` or `put`.")
    moneyness: Positive | None = Field(None, description="Strike as a multiple of the initial price.")
    strike: Positive | None = Field(None, description="Strike, quote units.")
    expiry: PositiveDuration = Field(description="Time to expiry from the start.")
    contracts: Positive = Field(description="Options written, underlying units.")

    @model_validator(mode="after")
    def _one_strike(self):
        if (self.moneyness is None) == (self.strike is None):
            raise ValueError("give exactly one of moneyness and strike")
        return self


class MarketMakerAgents(Bidder):
    """Options market makers (each of ``count`` one process with its own account).

    Each has written ``book`` in ``protocol`` (premiums paid at genesis by the options' buyers),
    with ``collateral`` posted from its ``inventory``. Every ``rebalance_interval`` it computes its
    book's Black-Scholes delta at the protocol's volatility level and the price of ``hedge_on``,
    and trades the underlying there to hold ``-hedge_ratio x delta`` (it starts hedged). A short
    gamma book sells as the price falls. ``hedge: false`` leaves the book unhedged.
    """

    kind: Literal["market_maker"] = Field(description="`market_maker`.")
    count: PositiveInt = Field(1, description="Number of market makers (each with the whole book).")
    protocol: str = Field(description="Options protocol (an entry of `protocols` of type options).")
    book: list[OptionLeg] = Field(min_length=1, description="Options written, per market maker.")
    collateral: dict[str, Positive] = Field(description="Margin posted: `{asset: amount}`, one asset.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict,
                                              description="Balances of each market maker at start.")
    hedge: bool = Field(True, description="Delta-hedge the book (false: leave it unhedged).")
    hedge_on: str = Field(description="Venue or pool trading the underlying against the quote asset.")
    hedge_ratio: NonNegative = Field(1.0, description="Share of the book's delta hedged.")
    rebalance_interval: PositiveDuration = Field(300.0, description="Time between rebalances.")
    min_trade: NonNegative = Field(0.0, description="Hedge trades smaller than this (underlying units) are skipped.")
    slippage_tolerance: Fraction = Field(
        0.01, description="A pool hedge reverts if it returns less than quoted minus this.")
    gas_price: GasPrice = Field(50.0, description="Gas price of pool hedges (legacy), gwei.")

    @model_validator(mode="after")
    def _one_collateral(self):
        if len(self.collateral) != 1:
            raise ValueError(f"collateral must name exactly one asset, got {sorted(self.collateral)}")
        return self

    def check_references(self, checker, base: str) -> None:
        """An options protocol; a hedge market trading its pair; collateral in one of its assets,
        covered by the inventory."""
        if not checker.ref(f"{base}.protocol", self.protocol, "protocols"):
            return
        proto = checker.scn.protocols[self.protocol]
        if not isinstance(proto, OptionsProtocol):
            checker.add(f"{base}.protocol", f"must name a protocol of type options (it is of type {proto.type})",
                        self.protocol)
            return
        pair = {proto.underlying, proto.quote}
        if self.hedge_on in checker.scn.venues:
            venue = checker.scn.venues[self.hedge_on]
            traded = {venue.asset, venue.quote}
        elif self.hedge_on in checker.scn.pools:
            traded = set(checker.scn.pools[self.hedge_on].assets[:2])
        else:
            names = ", ".join([*checker.scn.venues, *checker.scn.pools]) or "none defined"
            checker.add(f"{base}.hedge_on", f"must name a venue or a pool ({names})", self.hedge_on)
            traded = None
        if traded is not None and traded != pair:
            checker.add(f"{base}.hedge_on", f"must trade {proto.underlying}/{proto.quote} "
                                            f"(it trades {'/'.join(sorted(traded))})", self.hedge_on)
        for asset, amount in self.collateral.items():
            path = f"{base}.collateral.{asset}"
            if asset not in pair:
                checker.add(path, f"must be the protocol's underlying or quote asset ({proto.underlying}, "
                                  f"{proto.quote})", asset)
            elif self.inventory.get(asset, 0.0) < amount:
                checker.add(path, f"must be covered by the inventory (it holds {self.inventory.get(asset, 0.0):g} "
                                  f"{asset})", amount)

    def graph_edges(self, name: str) -> list[tuple]:
        """``watches`` the protocol and the hedge market."""
        return [(name, self.protocol, "watches", {}), (name, self.hedge_on, "watches", {"role": "hedge"})]


PROTOCOLS: list = [OptionsProtocol]
AGENTS: list = [MarketMakerAgents]
