"""Validated, frozen models of the scenario format.

A scenario is a YAML mapping with the sections ``chains``, ``assets``, ``venues``, ``pools``,
``oracles``, ``protocols`` and ``agents``; each section maps a *name* (unique across all
sections; it becomes the node id in the network graph) to an entry. Units:

* amounts are token units (not wei); prices are units of the quote asset per unit of base;
* durations are seconds or strings with units (``"12s"``, ``"10min"``, ``"1h"``, ``"2d"``);
* gas prices are gwei; gas amounts are gas units;
* fractions are plain numbers (0.005 = 0.5 %); annualized rates use a 365-day year.

``networks/README.md`` documents every field; ``contagion schema`` prints the JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from contagion.scenario import families
from contagion.scenario.common import (
    Bidder,
    FlashLoan,
    GasPrice,
    GeneratedPositions,
    HealthFactorDistribution,
    PositionSource,
    SnapshotPositions,
)
from contagion.scenario.types import (
    Duration,
    Fraction,
    Model,
    Name,
    NonNegative,
    NonNegativeInt,
    Number,
    OpenFraction,
    Positive,
    PositiveDuration,
    PositiveInt,
    UnitInterval,
    integer_in,
)

__all__ = [
    "Scenario",
    "Bidder",
    "Chain",
    "Halt",
    "BackgroundDemand",
    "Asset",
    "Venue",
    "PiecewisePath",
    "GbmPath",
    "JumpDiffusionPath",
    "ReplayPath",
    "ConstantProductPool",
    "ConcentratedPool",
    "LiquidityRange",
    "GaussianLiquidity",
    "StableSwapPoolSpec",
    "PushOracle",
    "OsmOracle",
    "MedianOracle",
    "TwapOracle",
    "SpotOracle",
    "PullOracle",
    "FixedOracle",
    "LendingProtocol",
    "GeneratedPositions",
    "SnapshotPositions",
    "HealthFactorDistribution",
    "KeeperAgents",
    "ArbitrageurAgents",
    "LiquidityProviderAgents",
    "BorrowerAgents",
    "FlashLoan",
    "AdversaryAgents",
    "SECTIONS",
]



# --------------------------------------------------------------------------- chains and assets
class Halt(Model):
    """A window without blocks (a chain halt or a rollup sequencer's downtime): no block is
    produced in ``[start, end)``; the first block after it comes at ``end``."""

    start: Duration = Field(description="Start of the halt.")
    end: PositiveDuration = Field(description="End of the halt.")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.end > self.start:
            raise ValueError(f"end must be after start, got start={self.start:g}, end={self.end:g}")
        return self


class BackgroundDemand(Model):
    """Other users' transactions competing for block space: Poisson arrivals whose rate and fee
    levels rise with a venue's realized volatility.

    With ``sigma`` the annualized realized volatility of ``volatility_source`` over
    ``volatility_window`` (0 without a source), arrivals come at
    ``rate * (1 + rate_per_volatility * sigma)`` per second, each using ``gas_per_tx`` gas. Each
    user draws a priority fee (lognormal, median ``priority_fee * (1 + fee_per_volatility *
    sigma)``, log-sd ``priority_fee_sigma``) and, under EIP-1559, a willingness to pay per gas
    (lognormal, median ``max_fee * (1 + fee_per_volatility * sigma)``, log-sd ``max_fee_sigma``):
    a user whose willingness is below the base fee does not transact; the others bid
    ``max_fee = willingness`` and ``priority_fee = min(tip, willingness)``. Under ``first_price`` the
    drawn priority fee is the gas price bid. A transaction not included within ``expiry`` leaves
    the mempool (its sender gives up)."""

    rate: NonNegative = Field(description="Arrivals per second at zero volatility.")
    gas_per_tx: PositiveInt = Field(100_000, description="Gas used by each transaction.")
    priority_fee: Positive = Field(2.0, description="Median priority fee (gas price under `first_price`), gwei.")
    priority_fee_sigma: NonNegative = Field(0.5, description="Log-standard deviation of the priority fees.")
    max_fee: Positive = Field(50.0, description="EIP-1559: median willingness to pay per gas, gwei.")
    max_fee_sigma: NonNegative = Field(0.5, description="Log-standard deviation of the willingness to pay.")
    volatility_source: str | None = Field(None, description="Venue whose realized volatility drives demand.")
    volatility_window: PositiveDuration = Field(600.0, description="Window of the realized volatility.")
    rate_per_volatility: NonNegative = Field(0.0, description="Rate increase per unit of annualized volatility.")
    fee_per_volatility: NonNegative = Field(0.0, description="Fee increase per unit of annualized volatility.")
    expiry: PositiveDuration = Field(600.0, description="Time after which an unincluded transaction is dropped.")


class Chain(Model):
    """A blockchain: blocks every ``block_time`` (with jitter, missed slots and halts), each
    holding at most ``gas_limit`` gas, sold by a first-price or an EIP-1559 fee market."""

    block_time: PositiveDuration = Field(description="Time between blocks (a slot).")
    block_time_jitter: Duration = Field(
        0.0, description="A block comes a uniform draw in [0, jitter] after its slot (propagation).")
    missed_slot_probability: Fraction = Field(
        0.0, description="Probability that a slot has no block (the next chance is one slot later).")
    halts: list[Halt] = Field(default_factory=list, description="Windows without blocks.")
    gas_limit: PositiveInt = Field(30_000_000, description="Gas per block.")
    native_asset: str = Field(description="Asset that pays for gas (an entry of `assets`).")
    fee_market: Literal["first_price", "eip1559"] = Field(
        "first_price",
        description="`first_price`: pending transactions ordered by gas price, highest first, ties by "
                    "arrival, each paying its bid. `eip1559`: a base fee (burned) that moves towards the "
                    "gas target, plus a priority fee; ordered by effective tip.")
    initial_base_fee: NonNegative = Field(1.0, description="EIP-1559 base fee of the first block, gwei.")
    elasticity: PositiveInt = Field(2, description="EIP-1559 elasticity multiplier: gas target = gas_limit / elasticity.")
    base_fee_change_denominator: PositiveInt = Field(
        8, description="EIP-1559: the base fee moves by at most 1/this per block.")
    mempool: Literal["public", "sealed"] = Field(
        "public", description="`public`: everyone sees pending transactions; reverted ones pay gas. "
                              "`sealed`: transactions go privately to the block builder as bundles; "
                              "one that would revert is left out and pays nothing.")
    replacement_bump: Fraction = Field(
        0.1, description="A pending transaction is replaced only by one whose fees are this much higher.")
    tx_expiry: Duration | None = Field(
        None, description="Agents' transactions not included within this are dropped (default: never).")
    background: BackgroundDemand | None = Field(None, description="Other users' demand for block space.")

    @model_validator(mode="after")
    def _jitter(self):
        if not self.block_time_jitter < self.block_time:
            raise ValueError(f"block_time_jitter must be < block_time ({self.block_time:g}), "
                             f"got {self.block_time_jitter:g}")
        return self


class Asset(Model):
    """A token on its home chain."""

    chain: str = Field(description="Home chain (an entry of `chains`).")
    kind: Literal["native", "stable", "lst", "wrapped", "governance", "synthetic", "token"] = "token"
    decimals: integer_in(0, 36) = Field(18, description="Token decimals (informative).")


# ------------------------------------------------------------------------------------ venues
class PiecewisePath(Model):
    """Exogenous price through ``(time, price)`` points, linear in between, flat outside."""

    kind: Literal["piecewise"]
    points: list[tuple[Duration, Positive]] = Field(
        min_length=1, description="`[time, price]` pairs with strictly increasing times.")

    @field_validator("points")
    @classmethod
    def _increasing(cls, points):
        for (t0, _), (t1, _) in zip(points, points[1:]):
            if not t1 > t0:
                raise ValueError(f"times must increase strictly ({t0:g}s is followed by {t1:g}s)")
        return points


class GbmPath(Model):
    """Exogenous price following geometric Brownian motion (seeded)."""

    kind: Literal["gbm"]
    start: Positive = Field(description="Price at time 0.")
    drift: Number = Field(0.0, description="Annualized drift of the log price (the mu of GBM).")
    volatility: NonNegative = Field(0.0, description="Annualized volatility of the log price.")


class JumpDiffusionPath(Model):
    """Exogenous price following Merton's jump diffusion: GBM plus Poisson jumps with normal log
    sizes (seeded)."""

    kind: Literal["jump_diffusion"]
    start: Positive = Field(description="Price at time 0.")
    drift: Number = Field(0.0, description="Annualized drift of the log price (the mu of GBM).")
    volatility: NonNegative = Field(0.0, description="Annualized volatility of the log price.")
    jump_intensity: NonNegative = Field(description="Expected number of jumps per year.")
    jump_mean: Number = Field(description="Mean of the log jump size.")
    jump_std: NonNegative = Field(0.0, description="Standard deviation of the log jump size.")


class ReplayPath(Model):
    """Exogenous price replayed from a CSV file of ``(time, price)`` rows (relative to the scenario
    file). ``time`` is seconds from the start, or timestamps (then measured from the first row)."""

    kind: Literal["replay"]
    path: str = Field(description="CSV file with columns `time` and `price`.")
    interpolation: Literal["linear", "step"] = Field(
        "linear", description="Between rows: linear, or hold the last price.")
    scale: Positive = Field(1.0, description="Multiply every price by this (e.g. to rebase).")


PricePath = Annotated[Union[PiecewisePath, GbmPath, JumpDiffusionPath, ReplayPath], Field(discriminator="kind")]


class Venue(Model):
    """An off-chain market (a CEX order book) for ``asset`` against ``quote``.

    Its mid price is ``exogenous(t) * F * (1 + T(t))``: ``F`` accumulates the permanent impact of
    trades and ``T`` is the temporary displacement, which decays with half-life
    ``resilience_half_life``. A trade of signed size ``q`` (base units; + buys) at mid ``m`` walks
    the book: it fills at the average price ``m (1 + (permanent_impact + temporary_impact) q / 2)``
    and leaves the mid at ``m (1 + (permanent_impact + temporary_impact) q)``, of which the
    ``permanent_impact`` part stays.
    """

    asset: str = Field(description="Base asset traded.")
    quote: str = Field(description="Quote asset prices are expressed in.")
    path: PricePath
    tick: PositiveDuration = Field(1.0, description="Resolution of the exogenous path.")
    permanent_impact: NonNegative = Field(
        0.0, description="Fractional mid-price move per unit of base asset traded that stays.")
    temporary_impact: NonNegative = Field(
        0.0, description="Fractional mid-price move per unit of base asset traded that decays.")
    resilience_half_life: Duration = Field(
        0.0, description="Half-life of the temporary displacement (0: it vanishes after the trade).")
    inventory: dict[str, NonNegative] | None = Field(
        None, description="Balances of the venue's other side, token units (default: 1e7 base and "
                          "1e7 x start price quote).")


# ------------------------------------------------------------------------------------- pools
class ConstantProductPool(Model):
    """A constant-product AMM (Uniswap v2) on a chain; its price is quote per base."""

    kind: Literal["constant_product"]
    chain: str
    assets: tuple[str, str] = Field(description="`[base, quote]`.")
    reserves: tuple[Positive, Positive] = Field(description="`[base, quote]` reserves, token units.")
    fee: Fraction = Field(0.003, description="Fraction of the input kept by the pool.")
    swap_gas: PositiveInt = Field(120_000, description="Gas used by one swap.")


class LiquidityRange(Model):
    """One concentrated-liquidity position between two prices, worth ``value`` quote units at the
    pool's initial price."""

    lower: Positive = Field(description="Lower price (quote per base), rounded down to a tick.")
    upper: Positive = Field(description="Upper price, rounded up to a tick.")
    value: Positive = Field(description="Value deposited, quote units at the initial price.")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.upper > self.lower:
            raise ValueError(f"upper must be > lower, got lower={self.lower:g}, upper={self.upper:g}")
        return self


class GaussianLiquidity(Model):
    """Liquidity generated around the initial price: ``positions`` ranges whose centers are evenly
    spaced in log price over ``[-3 sigma, 3 sigma]``, each ``[P e^(c - width), P e^(c + width)]``,
    with values proportional to ``exp(-c^2 / (2 sigma^2))`` and summing to ``total_value``."""

    total_value: Positive = Field(description="Value of all positions, quote units at the initial price.")
    sigma: Positive = Field(0.1, description="Spread of the position centers (log price).")
    width: Positive = Field(0.05, description="Half-width of each position (log price).")
    positions: PositiveInt = Field(21, description="Number of positions.")


class ConcentratedPool(Model):
    """A concentrated-liquidity AMM (Uniswap v3): token0 = ``assets[0]`` (base), token1 =
    ``assets[1]`` (quote); liquidity from explicit ``ranges`` and/or a generated ``distribution``."""

    kind: Literal["concentrated"]
    chain: str
    assets: tuple[str, str] = Field(description="`[base, quote]` (token0, token1).")
    price: Positive = Field(description="Initial price, quote per base.")
    fee: Fraction = Field(0.003, description="Fee tier (0.0001, 0.0005, 0.003, 0.01 or other).")
    tick_spacing: PositiveInt | None = Field(None, description="Default: the fee tier's spacing.")
    ranges: list[LiquidityRange] = Field(default_factory=list, description="Explicit positions.")
    distribution: GaussianLiquidity | None = Field(None, description="Generated positions.")
    swap_gas: PositiveInt = Field(150_000, description="Gas used by one swap.")

    @model_validator(mode="after")
    def _has_liquidity(self):
        if not self.ranges and self.distribution is None:
            raise ValueError("needs liquidity: `ranges`, `distribution` or both")
        return self


class StableSwapPoolSpec(Model):
    """A StableSwap AMM (Curve) with 2 to 4 coins; its price is ``assets[0]`` in ``assets[1]``."""

    kind: Literal["stableswap"]
    chain: str
    assets: list[str] = Field(min_length=2, max_length=4, description="Coins, in pool order.")
    balances: list[Positive] = Field(min_length=2, max_length=4, description="Token units per coin.")
    amplification: Positive = Field(description="A, as the pool's A() returns it.")
    fee: Fraction = Field(0.0004, description="Fraction of each output kept by the pool.")
    admin_fee: UnitInterval = Field(0.5, description="Share of the fee taken out for the admin.")
    rates: list[Positive] | None = Field(None, description="Value of one token in the common unit (default 1).")
    swap_gas: PositiveInt = Field(200_000, description="Gas used by one swap.")

    @model_validator(mode="after")
    def _lengths(self):
        n = len(self.assets)
        if len(self.balances) != n:
            raise ValueError(f"balances must have one entry per asset ({n}), got {len(self.balances)}")
        if self.rates is not None and len(self.rates) != n:
            raise ValueError(f"rates must have one entry per asset ({n}), got {len(self.rates)}")
        return self


PoolSpec = Annotated[Union[ConstantProductPool, ConcentratedPool, StableSwapPoolSpec], Field(discriminator="kind")]


# ----------------------------------------------------------------------------------- oracles
class PushOracle(Bidder):
    """A push feed with the Chainlink OCR rule: report when the observed price deviates from the
    on-chain answer by at least ``deviation_threshold`` or when the answer is older than
    ``heartbeat``; the report is a transaction that must get into a block."""

    kind: Literal["push"]
    chain: str
    asset: str = Field(description="Asset priced.")
    sources: list[str] = Field(min_length=1, description="Venues and pools observed (median).")
    deviation_threshold: Fraction = Field(description="Relative deviation that triggers a report.")
    heartbeat: PositiveDuration = Field(description="Maximum age of the on-chain answer.")
    round_interval: PositiveDuration = Field(5.0, description="Time between observation rounds.")
    observation_latency: Duration = Field(
        0.0, description="Age of the source prices the nodes report: a round at t reports the sources' "
                         "prices sampled at the latest round at or before t - observation_latency.")
    latency: Duration = Field(0.0, description="Observation to submission delay (aggregation).")
    gas_used: PositiveInt = Field(200_000, description="Gas of one report transaction.")
    gas_price: GasPrice = Field(50.0, description="Gas price bid by the transmitter, gwei.")


class OsmOracle(Bidder):
    """Maker's Oracle Security Module in front of another oracle: every ``hop`` a poke
    transaction makes the value read at the previous poke current and reads the source again, so
    protocols see the source's value one hop late."""

    kind: Literal["osm"]
    chain: str
    asset: str = Field(description="Asset priced (the source's asset).")
    source: str = Field(description="Oracle read at each poke (an entry of `oracles`).")
    hop: PositiveDuration = Field(3600.0, description="Minimum time between pokes; pokes are aligned to "
                                                      "multiples of it.")
    gas_used: PositiveInt = Field(100_000, description="Gas of one poke transaction.")
    gas_price: GasPrice = Field(50.0, description="Gas price bid by the poker, gwei.")


class MedianOracle(Model):
    """The median of other oracles' latest answers, recomputed on chain whenever one publishes."""

    kind: Literal["median"]
    chain: str
    asset: str = Field(description="Asset priced (every source's asset).")
    sources: list[str] = Field(min_length=1, description="Oracles aggregated (upper median).")


class TwapOracle(Model):
    """Time-weighted average price of a pool over ``window`` (arithmetic for constant product
    and StableSwap pools, geometric for concentrated pools), computed when read."""

    kind: Literal["twap"]
    asset: str = Field(description="Asset priced; one of the pool's first two assets.")
    pool: str = Field(description="Pool whose price accumulator is read (an entry of `pools`).")
    window: PositiveDuration = Field(description="Averaging window.")


class SpotOracle(Model):
    """A pool's current marginal price, read at the moment of use."""

    kind: Literal["spot"]
    asset: str = Field(description="Asset priced; one of the pool's assets.")
    pool: str = Field(description="Pool read (an entry of `pools`).")


class PullOracle(Model):
    """A pull feed (Pyth-like): prices signed off chain every ``interval``; the on-chain price
    changes only when a transaction brings a signed price, and consumers reject one older than
    ``max_age``."""

    kind: Literal["pull"]
    chain: str
    asset: str = Field(description="Asset priced.")
    sources: list[str] = Field(min_length=1, description="Venues and pools observed (median).")
    interval: PositiveDuration = Field(1.0, description="Time between signed prices.")
    observation_latency: Duration = Field(0.0, description="Age of the source prices in a signed price.")
    max_age: PositiveDuration = Field(60.0, description="Consumers revert on a stored price older than this.")
    update_gas: PositiveInt = Field(150_000, description="Gas added to a transaction that brings a price.")


class FixedOracle(Model):
    """A constant on-chain price (e.g. a stablecoin hard-coded at $1)."""

    kind: Literal["fixed"]
    asset: str
    price: Positive
    chain: str | None = None


OracleSpec = Annotated[Union[PushOracle, OsmOracle, MedianOracle, TwapOracle, SpotOracle, PullOracle, FixedOracle],
                       Field(discriminator="kind")]


# --------------------------------------------------------------------------------- protocols

class LendingProtocol(Model):
    """A fixed-spread lending market with one collateral and one debt asset (Aave/Compound v2).

    A position is liquidatable when its health factor ``collateral * P_c * lt / (debt * P_d)``
    is below 1 at the protocol's oracle prices. A liquidator repays at most
    ``close_factor`` of the debt (all of it at or below ``full_close_hf``) and receives
    ``repay * (1 + liquidation_bonus) * P_d / P_c`` collateral, capped at the collateral.
    """

    type: Literal["lending"]
    chain: str
    collateral: str
    debt: str
    oracles: dict[str, str] = Field(description="Oracle for each of the two assets.")
    liquidation_threshold: OpenFraction
    close_factor: OpenFraction = 0.5
    full_close_hf: UnitInterval | None = Field(
        None, description="At or below this health factor a call may repay all the debt.")
    liquidation_bonus: Fraction = 0.05
    liquidates_into: list[str] = Field(
        min_length=1, description="Pools where seized collateral is sold, in order of preference.")
    liquidity: NonNegative = Field(
        0.0, description="Debt asset deposited by lenders and not borrowed, token units.")
    liquidation_gas: PositiveInt = Field(300_000, description="Gas of one liquidation call.")
    max_oracle_age: PositiveDuration | None = Field(
        None, description="Liquidations revert while an oracle the protocol reads is older than this "
                          "(default: no staleness check).")
    positions: PositionSource


PROTOCOL_MODELS = (LendingProtocol, *families.PROTOCOLS)
ProtocolSpec = Annotated[Union[PROTOCOL_MODELS], Field(discriminator="type")]


# ------------------------------------------------------------------------------------ agents
class KeeperAgents(Bidder):
    """Liquidation bots. After each block (plus their reaction latency) each keeper finds the
    liquidatable positions of the protocols it watches, estimates each liquidation's profit
    (sale of the seized collateral into the protocol's pool, minus the repayment, minus gas),
    and submits the best ones, each as one transaction that liquidates and sells atomically and
    reverts if the sale returns less than its quote minus ``slippage_tolerance``."""

    kind: Literal["keeper"]
    count: PositiveInt = 1
    watches: list[str] = Field(min_length=1, description="Protocols watched.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict,
                                              description="Balances of each keeper at start.")
    gas_price: GasPrice = 50.0
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    latency_jitter: Duration = Field(1.0, description="Extra uniform random delay per block.")
    min_profit: NonNegative = Field(0.0, description="Minimum expected profit, USD.")
    max_liquidations_per_block: PositiveInt = 10
    slippage_tolerance: Fraction = 0.01
    skip_pending: bool = Field(True, description="Skip positions already targeted in the mempool.")
    sell_into: list[str] | None = Field(
        None, description="Pools and venues to sell seized collateral into (default: the protocol's "
                          "`liquidates_into`); those not trading the market's pair are ignored.")
    routing: Literal["first", "greedy"] = Field(
        "first", description="`first`: sell everything into the first market; `greedy`: split the sale "
                             "into `route_slices` slices, each sent where it earns most.")
    route_slices: PositiveInt = Field(10, description="Slices of a greedy route.")
    venue_delay: Duration = Field(60.0, description="Time for seized collateral to reach a venue.")
    gas_strategy: Literal["fixed", "fraction_of_profit", "pga", "sealed_bid"] = Field(
        "fixed", description="How the keeper bids for block space (see contagion.agents.gas).")
    profit_fraction: OpenFraction = Field(
        0.5, description="`fraction_of_profit` and `sealed_bid`: share of the expected profit bid as gas.")
    pga_increment: NonNegative = Field(
        0.125, description="`pga`: how much a re-bid exceeds the best competing bid.")
    max_gas_price: GasPrice | None = Field(None, description="No bid above this, gwei.")
    flash_loan: FlashLoan | None = Field(
        None, description="Flash lender for the debt asset when the keeper's own balance is short.")


class ArbitrageurAgents(Bidder):
    """CEX-DEX arbitrageurs. After each block they compare each watched pool with the venue,
    submit the profit-maximizing swap (net of the pool fee, venue impact and gas) and hedge on
    the venue once the swap is included."""

    kind: Literal["arbitrageur"]
    count: PositiveInt = 1
    watches: list[str] = Field(min_length=1, description="Pools watched.")
    venue: str = Field(description="Venue used to hedge.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict)
    gas_price: GasPrice = 50.0
    reaction_latency: Duration = 1.0
    hedge_latency: Duration = Field(0.5, description="Delay from inclusion to the venue hedge.")
    min_profit: NonNegative = Field(0.0, description="Minimum expected profit, USD.")
    slippage_tolerance: Fraction = 0.005


class BorrowerAgents(Bidder):
    """The owners of a protocol's positions, acting to avoid liquidation.

    After each block (plus ``reaction_latency``) the population looks at the positions whose
    health factor at the on-chain prices is below ``trigger_health_factor``. The owner of each is
    attentive with probability ``probability`` (drawn once per position, stream
    ``agents:<name>:decisions``); an attentive owner tops up collateral (with probability
    ``top_up_share``) or repays debt (otherwise) to bring the health factor back to
    ``target_health_factor``, paying from the population's ``inventory``. The top-up or repayment
    is a transaction bid at ``gas_price`` (or ``max_fee`` / ``priority_fee`` on an EIP-1559
    chain): if congestion keeps it out of the blocks, the position may be liquidated first (the
    transaction then does what is still needed, or nothing)."""

    kind: Literal["borrowers"]
    count: Literal[1] = Field(1, description="Always 1: one process acts for all the owners.")
    watches: list[str] = Field(min_length=1, description="Protocols whose positions' owners act.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict,
                                              description="Outside funds of all the owners, token units.")
    trigger_health_factor: Positive = Field(1.1, description="Owners act below this health factor.")
    target_health_factor: Positive = Field(1.5, description="Health factor they restore.")
    probability: UnitInterval = Field(0.5, description="Share of owners who pay attention.")
    top_up_share: UnitInterval = Field(0.5, description="Share of attentive owners who add collateral (the rest repay).")
    gas_price: GasPrice = Field(30.0, description="Gas price bid (legacy), gwei.")
    reaction_latency: Duration = Field(30.0, description="Delay after a block before owners act.")
    max_per_block: PositiveInt = Field(100, description="Transactions sent per block at most.")
    gas_used: PositiveInt = Field(150_000, description="Gas of a top-up or repayment.")

    @model_validator(mode="after")
    def _levels(self):
        if not self.target_health_factor > self.trigger_health_factor:
            raise ValueError(f"target_health_factor must be > trigger_health_factor, got "
                             f"{self.target_health_factor:g} <= {self.trigger_health_factor:g}")
        return self


class LiquidityProviderAgents(Bidder):
    """Liquidity providers who flee volatility. Together they own ``share`` of each watched pool's
    initial liquidity (split evenly; the rest belongs to passive LPs who never move). After each
    block an LP measures the pool price over the last ``window``: realized volatility (annualized)
    and drawdown from the window's high. When either crosses its threshold — the population's
    value times the LP's own factor drawn from ``U(1 - threshold_dispersion, 1 + threshold_dispersion)``
    — it withdraws ``withdraw_fraction`` of what it has in the pool, as a transaction; for
    concentrated pools, the positions nearest the price go first. After ``return_after`` of calm it
    deposits back what it took out (never, if ``return_after`` is not set)."""

    kind: Literal["liquidity_provider"]
    count: PositiveInt = 10
    watches: list[str] = Field(min_length=1, description="Pools watched.")
    share: OpenFraction = Field(0.5, description="Share of each pool's initial liquidity they own.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict, description="Balances of each LP (gas).")
    window: PositiveDuration = Field(1800.0, description="Look-back window for volatility and drawdown.")
    volatility_threshold: Positive | None = Field(1.0, description="Annualized realized volatility that triggers a withdrawal.")
    drawdown_threshold: OpenFraction | None = Field(0.05, description="Fall from the window's high that triggers a withdrawal.")
    threshold_dispersion: Fraction = Field(0.25, description="Spread of the LPs' individual thresholds.")
    withdraw_fraction: OpenFraction = Field(1.0, description="Share of its liquidity an LP withdraws when triggered.")
    return_after: Duration | None = Field(None, description="Calm time before an LP deposits back.")
    gas_price: GasPrice = 30.0
    reaction_latency: Duration = 1.0
    withdraw_gas: PositiveInt = Field(150_000, description="Gas of one withdrawal or deposit.")


class AdversaryAgents(Bidder):
    """Oracle manipulators. After each block an adversary estimates, by executing it against the
    current state without committing it, the profit of one atomic attack on each watched
    protocol: borrow (flash loan and/or own capital), sell the collateral into the thin pool its
    oracle reads, liquidate the positions that made liquidatable, buy back what the loan needs,
    repay. It sends the most profitable size if that profit, net of gas, exceeds ``min_profit``;
    the transaction reverts if, when included, it would not."""

    kind: Literal["adversary"]
    count: PositiveInt = 1
    watches: list[str] = Field(min_length=1, description="Protocols attacked.")
    pool: str | None = Field(None, description="Pool to manipulate (default: the pool read by each watched "
                                               "protocol's collateral oracle).")
    inventory: dict[str, NonNegative] = Field(default_factory=dict, description="Balances of each adversary at start.")
    flash_loan: FlashLoan | None = Field(None, description="Flash lender available (none: own capital only).")
    gas_price: GasPrice = 100.0
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    min_profit: NonNegative = Field(0.0, description="Minimum estimated profit net of gas, USD.")
    max_liquidations: PositiveInt = Field(20, description="Liquidation calls in one attack at most.")
    max_price_move: OpenFraction = Field(
        0.95, description="Largest fall of the pool's price an attack's sale may cause (bounds the search).")


AGENT_MODELS = (KeeperAgents, ArbitrageurAgents, LiquidityProviderAgents, AdversaryAgents, BorrowerAgents,
                *families.AGENTS)
AgentSpec = Annotated[Union[AGENT_MODELS], Field(discriminator="kind")]


# ---------------------------------------------------------------------------------- scenario
class Scenario(Model):
    """A whole scenario file."""

    name: str
    description: str = ""
    seed: NonNegativeInt = Field(0, description="Default seed of a run.")
    until: PositiveDuration = Field(description="Default simulated duration of a run.")
    chains: dict[Name, Chain] = Field(min_length=1)
    assets: dict[Name, Asset] = Field(min_length=1)
    venues: dict[Name, Venue] = Field(default_factory=dict)
    pools: dict[Name, PoolSpec] = Field(default_factory=dict)
    oracles: dict[Name, OracleSpec] = Field(default_factory=dict)
    protocols: dict[Name, ProtocolSpec] = Field(default_factory=dict)
    agents: dict[Name, AgentSpec] = Field(default_factory=dict)


SECTIONS = ("chains", "assets", "venues", "pools", "oracles", "protocols", "agents")
