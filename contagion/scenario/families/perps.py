"""Scenario models of the perpetual-futures family: ``type: perps`` (see
:mod:`contagion.scenario.families`).

A perps protocol lists markets (a base asset quoted in the protocol's ``quote`` asset, priced by
an oracle), a book of accounts with cross or isolated margin generated from documented
distributions, an insurance fund, the liquidation engine's limits and gas bid, the ADL ranking,
and the market maker whose hedges carry the engine's liquidation fills to a pool or a venue. The
mechanics are those of :mod:`contagion.protocols.perps`; the math is :mod:`contagion.perps`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from contagion.scenario.common import Bidder, GasPrice, HealthFactorDistribution
from contagion.scenario.types import (
    Fraction,
    Model,
    Name,
    NonNegative,
    Number,
    OpenFraction,
    Positive,
    PositiveDuration,
    PositiveInt,
    UnitInterval,
    number_in,
)

__all__ = ["PROTOCOLS", "AGENTS", "MarginBracket", "BracketMargin", "LiquidityTierMargin", "Funding",
           "PerpMarket", "LeverageDistribution", "GeneratedAccounts", "LiquidationEngine", "MarketMaker",
           "PerpsProtocol"]


# ------------------------------------------------------------------------------------ margin
class MarginBracket(Model):
    """One Binance bracket: positions with notional up to ``notional_cap`` (above the previous
    bracket's cap) need ``initial_margin_rate`` to open and ``maintenance_margin_rate`` (less the
    bracket's maintenance amount, derived so the requirement is continuous) to stay open."""

    notional_cap: Positive | None = Field(
        None, description="Upper notional of the bracket, quote units (none: no upper bound; last bracket only).")
    initial_margin_rate: OpenFraction = Field(description="Initial margin rate (1 / maximum leverage).")
    maintenance_margin_rate: OpenFraction = Field(description="Maintenance margin rate.")

    @model_validator(mode="after")
    def _rates(self):
        if self.maintenance_margin_rate > self.initial_margin_rate:
            raise ValueError(f"maintenance_margin_rate must be <= initial_margin_rate, got "
                             f"{self.maintenance_margin_rate:g} > {self.initial_margin_rate:g}")
        return self


class BracketMargin(Model):
    """Binance USDⓈ-M "leverage and margin" brackets: ``MM = notional * rate - amount`` with the
    rate and amount of the position's bracket."""

    kind: Literal["brackets"]
    brackets: list[MarginBracket] = Field(min_length=1, description="Brackets by increasing notional cap.")

    @model_validator(mode="after")
    def _ordered(self):
        caps = [b.notional_cap for b in self.brackets]
        if any(cap is None for cap in caps[:-1]):
            raise ValueError("only the last bracket may omit notional_cap")
        finite = [c for c in caps if c is not None]
        for a, b in zip(finite, finite[1:]):
            if not b > a:
                raise ValueError(f"notional_cap must increase from bracket to bracket, got {a:g} then {b:g}")
        rates = [b.maintenance_margin_rate for b in self.brackets]
        for a, b in zip(rates, rates[1:]):
            if b < a:
                raise ValueError(f"maintenance_margin_rate must not decrease from bracket to bracket, "
                                 f"got {a:g} then {b:g}")
        return self


class LiquidityTierMargin(Model):
    """A dYdX v4 liquidity tier: ``IMR = notional * initial_margin``,
    ``MMR = IMR * maintenance_fraction`` (no open-interest scaling)."""

    kind: Literal["liquidity_tier"]
    initial_margin: OpenFraction = Field(description="Initial margin fraction (`InitialMarginPpm` / 1e6).")
    maintenance_fraction: OpenFraction = Field(
        description="Maintenance margin as a fraction of initial margin (`MaintenanceFractionPpm` / 1e6).")


MarginSpec = Annotated[Union[BracketMargin, LiquidityTierMargin], Field(discriminator="kind")]


class Funding(Model):
    """Funding every ``interval``: rate ``clamp(mark / oracle - 1 + interest, -max_rate,
    max_rate)`` with ``mark`` the price of ``premium_source``; each position pays
    ``size * oracle price * rate`` (longs pay shorts when positive)."""

    interval: PositiveDuration = Field(3600.0, description="Time between funding payments (dYdX: 1h; Binance: 8h).")
    premium_source: str | None = Field(
        None, description="Pool or venue whose price is the perp's traded price (default: the market's "
                          "`liquidates_into`).")
    interest: Number = Field(0.0, description="Interest term added to the premium, per interval.")
    max_rate: Positive = Field(0.0075, description="Largest absolute funding rate per interval.")


class PerpMarket(Model):
    """A perpetual on ``base`` quoted in the protocol's quote asset."""

    base: str = Field(description="Base asset (an entry of `assets`).")
    oracle: str = Field(description="Oracle of the base in the quote asset: the mark price for margin, PnL and "
                                    "liquidation.")
    margin: MarginSpec = Field(description="Initial and maintenance margin: `brackets` or `liquidity_tier`.")
    liquidates_into: str = Field(description="Pool or venue trading base/quote where the market maker hedges the "
                                             "engine's liquidation fills.")
    open_interest: Positive = Field(
        description="Notional of the generated positions at the initial oracle price, both sides together, quote "
                    "units (half long, half short).")
    funding: Funding | None = Field(None, description="Funding payments (none: no funding).")


# ----------------------------------------------------------------------------------- accounts
class LeverageDistribution(HealthFactorDistribution):
    """Leverage ``notional / equity`` of each account at the initial prices: lognormal (``median``,
    ``sigma`` of log leverage) or uniform, truncated to ``[low, high]`` by redrawing (the rules of
    a health-factor distribution, with leverage defaults)."""

    distribution: Literal["lognormal", "uniform"] = Field("lognormal", description="`lognormal` or `uniform`.")
    median: number_in(0, None, low_open=True) | None = Field(
        None, description="Median leverage (required for `lognormal`).")
    sigma: NonNegative = Field(0.5, description="Standard deviation of log leverage (`lognormal`).")
    low: Positive = Field(1.0, description="Smallest leverage drawn.")
    high: Positive = Field(20.0, description="Largest leverage drawn.")


class GeneratedAccounts(Model):
    """``count`` accounts drawn with the run's seed (stream ``protocol:<name>:accounts``).

    An account is isolated with probability ``isolated_share`` (one position, in a market drawn
    with probability proportional to its open interest) and otherwise cross (one position in every
    market, all backed by one quote balance). Each position is long with probability
    ``long_share``; notionals are lognormal (``size_sigma``), scaled so that each market's longs
    and shorts each sum to half its ``open_interest``. An account's equity is its notional over
    its drawn ``leverage``, raised to its initial margin if that is more; entry prices are the
    initial price times ``exp(entry_sigma * Z)`` (they split the equity into wallet balance and
    unrealized PnL, which the ADL rankings read)."""

    kind: Literal["generated"]
    count: PositiveInt = Field(description="Number of accounts.")
    isolated_share: UnitInterval = Field(0.3, description="Share of accounts with isolated margin.")
    long_share: number_in(0, 1, low_open=True, high_open=True) = Field(
        0.5, description="Probability that a position is long.")
    size_sigma: NonNegative = Field(1.0, description="Dispersion of log notional.")
    leverage: LeverageDistribution = Field(description="Leverage distribution.")
    entry_sigma: NonNegative = Field(0.05, description="Dispersion of log entry price around the initial price.")


# ------------------------------------------------------------------------------ engine, market maker
class LiquidationEngine(Bidder):
    """The protocol's liquidator: after each block in which positions are liquidatable it sends one
    transaction that liquidates (and, when the insurance fund is exhausted, deleverages) them."""

    gas_price: GasPrice = Field(50.0, description="Gas price bid, gwei.")
    base_gas: PositiveInt = Field(100_000, description="Gas of a liquidation or funding transaction before its work.")
    liquidation_gas: PositiveInt = Field(150_000, description="Gas per account liquidated.")
    gas_funds: NonNegative = Field(1000.0, description="Native asset the engine holds at start to pay gas.")
    max_liquidations_per_block: PositiveInt = Field(
        50, description="Accounts liquidated per transaction at most (dYdX `MaxLiquidationAttemptsPerBlock`).")
    max_notional_per_account: Positive | None = Field(
        None, description="Notional liquidated per account per block at most, quote units (dYdX "
                          "`SubaccountBlockLimits.MaxNotionalLiquidated`; none: no limit).")
    max_notional_per_block: Positive | None = Field(
        None, description="Notional liquidated per block in the whole protocol at most, quote units (none: no limit).")
    max_position_portion: OpenFraction = Field(
        1.0, description="Share of a position closed per block at most (dYdX `MaxPositionPortionLiquidatedPpm`).")
    min_position_notional: NonNegative = Field(
        1000.0, description="Notional a block may always close, overriding `max_position_portion` (dYdX "
                            "`MinPositionNotionalLiquidated`).")
    bankruptcy_adjustment: Positive = Field(1.0, description="dYdX `BankruptcyAdjustmentPpm` / 1e6.")
    spread_to_maintenance_margin_ratio: NonNegative = Field(
        0.1, description="dYdX `SpreadToMaintenanceMarginRatioPpm` / 1e6.")
    max_liquidation_fee: Fraction = Field(0.005, description="dYdX `MaxLiquidationFeePpm` / 1e6.")


class MarketMaker(Model):
    """The liquidity behind the engine's liquidation orders: it takes each fill and hedges it at
    once on the market's ``liquidates_into`` (sells base for a closed long, buys for a closed
    short), at the price it gets there."""

    inventory: dict[str, NonNegative] = Field(description="Tokens it can hedge with, token units per asset.")


# ----------------------------------------------------------------------------------- protocol
class PerpsProtocol(Model):
    """A perpetual-futures exchange (dYdX v4 engine, Binance brackets, BitMEX/Binance/dYdX ADL)."""

    type: Literal["perps"]
    chain: str = Field(description="Chain it lives on.")
    quote: str = Field(description="Quote and collateral asset (an entry of `assets`).")
    markets: dict[Name, PerpMarket] = Field(min_length=1, description="Perpetual markets by name.")
    accounts: GeneratedAccounts = Field(description="The book of accounts.")
    insurance_fund: NonNegative = Field(description="Insurance fund at start, quote units.")
    adl_ranking: Literal["bitmex", "binance", "dydx"] = Field(
        "bitmex", description="Order of ADL counterparties: `bitmex` (PNL% x effective leverage), `binance` "
                              "(LeveragePnL) or `dydx` (from a seeded pseudo-random start).")
    engine: LiquidationEngine = Field(default_factory=LiquidationEngine, description="The liquidation engine.")
    market_maker: MarketMaker = Field(description="Who hedges the liquidation fills.")

    def check_references(self, checker, base: str) -> None:
        """Chain, assets, oracles, and pools or venues trading each market's pair."""
        scn = checker.scn
        chain_ok = checker.ref(f"{base}.chain", self.chain, "chains")
        quote_ok = checker.ref(f"{base}.quote", self.quote, "assets")
        for name, market in self.markets.items():
            path = f"{base}.markets.{name}"
            base_ok = checker.ref(f"{path}.base", market.base, "assets")
            if base_ok and quote_ok and market.base == self.quote:
                checker.add(f"{path}.base", "must differ from the protocol's quote asset", market.base)
                base_ok = False
            if checker.ref(f"{path}.oracle", market.oracle, "oracles") and base_ok:
                priced = scn.oracles[market.oracle].asset
                if priced != market.base:
                    checker.add(f"{path}.oracle", f"oracle prices {priced}, not {market.base}", market.oracle)
            pair_ok = base_ok and quote_ok
            self._market_ref(checker, f"{path}.liquidates_into", market.liquidates_into, market.base, pair_ok,
                             chain_ok)
            if market.funding is not None and market.funding.premium_source is not None:
                self._market_ref(checker, f"{path}.funding.premium_source", market.funding.premium_source,
                                 market.base, pair_ok, False)
        for key in self.market_maker.inventory:
            checker.ref(f"{base}.market_maker.inventory.{key}", key, "assets")

    def _market_ref(self, checker, path: str, value: str, base_asset: str, pair_ok: bool, chain_ok: bool) -> None:
        scn = checker.scn
        if value in scn.venues:
            traded = {scn.venues[value].asset, scn.venues[value].quote}
        elif value in scn.pools:
            traded = set(scn.pools[value].assets)
        else:
            names = ", ".join([*scn.venues, *scn.pools]) or "none defined"
            checker.add(path, f"must name a pool or a venue ({names})", value)
            return
        if pair_ok and not {base_asset, self.quote} <= traded:
            checker.add(path, f"must trade {base_asset}/{self.quote} (it trades {'/'.join(sorted(traded))})", value)
        elif chain_ok and value in scn.pools and scn.pools[value].chain != self.chain:
            checker.add(path, f"pool is on chain {scn.pools[value].chain}, not on {self.chain}", value)

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        """``hosted_on`` the chain; ``collateral`` the quote asset (the margin); per market
        ``uses_oracle`` (with the base ``asset`` and the ``market`` name) and ``liquidates_into``."""
        edges = [(name, self.chain, "hosted_on", {}), (name, self.quote, "collateral", {"role": "margin"})]
        for market_name, market in self.markets.items():
            edges.append((name, market.oracle, "uses_oracle", {"asset": market.base, "market": market_name}))
            edges.append((name, market.liquidates_into, "liquidates_into", {"market": market_name}))
        return edges


PROTOCOLS: list = [PerpsProtocol]
AGENTS: list = []
