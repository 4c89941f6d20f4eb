"""Scenario models of protocols whose liquidations go to the protocol or a pool rather than to
keepers' market sales — Compound v3 (absorb, buyCollateral) and Liquity (stability pool)
(see :mod:`contagion.scenario.families`, :mod:`contagion.protocols.comet`,
:mod:`contagion.protocols.liquity` and networks/README.md).

Parameters are written as in the rest of the format: fractions for Comet's factors (0.95 is
Comet's ``0.95e18``), token units for amounts (5,000,000 USDC of ``targetReserves`` is
``5000000``), plain ratios for Liquity's ``MCR`` and ``CCR`` (1.1 is 110 %).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from contagion.scenario.common import (
    Bidder,
    GasPrice,
    GeneratedPositions,
    PositionSource,
    SnapshotPositions,
)
from contagion.scenario.types import (
    Duration,
    Fraction,
    Model,
    NonNegative,
    NonNegativeInt,
    Number,
    OpenFraction,
    Positive,
    PositiveDuration,
    PositiveInt,
    UnitInterval,
    number_in,
)

__all__ = ["PROTOCOLS", "AGENTS", "CometCollateral", "CometGeneratedPositions", "CometProtocol",
           "LiquityProtocol", "AbsorberAgents", "TroveLiquidatorAgents", "CollateralBuyerAgents",
           "StabilityDepositorAgents"]


def _names(section: dict) -> str:
    return ", ".join(section) if section else "none defined"


def _chain_homes(checker, base: str, chain: str, assets: dict[str, str]) -> None:
    """Each ``{key path: asset}`` that exists must live on ``chain``."""
    for path, asset in assets.items():
        spec = checker.scn.assets.get(asset)
        if spec is not None and chain in checker.scn.chains and spec.chain != chain:
            checker.add(path, f"asset lives on chain {spec.chain}, not on the protocol's chain {chain}", asset)


def _watched(checker, base: str, watches: list[str], kind: str) -> list[str]:
    """Watched protocols that exist and are of type ``kind``."""
    out = []
    for i, target in enumerate(watches):
        if not checker.ref(f"{base}.watches[{i}]", target, "protocols"):
            continue
        found = checker.scn.protocols[target].type
        if found != kind:
            checker.add(f"{base}.watches[{i}]", f"must name a protocol of type {kind} (it is {found})", target)
        else:
            out.append(target)
    return out


# ================================================================================ Compound v3
class CometCollateral(Model):
    """One collateral asset of a Comet market (``AssetConfig``)."""

    borrow_collateral_factor: OpenFraction = Field(
        description="`borrowCollateralFactor`: share of the collateral's value that may be borrowed against.")
    liquidate_collateral_factor: OpenFraction = Field(
        description="`liquidateCollateralFactor`: an account is liquidatable once its debt exceeds this share "
                    "of its collateral's value.")
    liquidation_factor: OpenFraction = Field(
        description="`liquidationFactor`: share of the collateral's value credited to an absorbed account.")
    supply_cap: NonNegative | None = Field(
        None, description="`supplyCap`: most collateral the market accepts, token units (none: no cap).")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.borrow_collateral_factor < self.liquidate_collateral_factor:
            raise ValueError("borrow_collateral_factor must be < liquidate_collateral_factor (Comet reverts "
                             f"BorrowCFTooLarge), got {self.borrow_collateral_factor:g} >= "
                             f"{self.liquidate_collateral_factor:g}")
        return self


class CometGeneratedPositions(GeneratedPositions):
    """Generated Comet accounts: ``count`` borrowers of ``total_debt`` base (lognormal sizes), each
    with health factor ``sum c_i P_i lcf_i / (debt P_base)`` drawn from ``health_factor``, their
    collateral split across the market's assets by ``collateral_mix`` (a Dirichlet draw around it
    when ``mix_concentration`` is set)."""

    collateral_mix: dict[str, Positive] | None = Field(
        None, description="Weight of each collateral asset in the accounts' liquidation-weighted collateral "
                          "(default: equal weights).")
    mix_concentration: Positive | None = Field(
        None, description="Concentration of each account's Dirichlet split around the mix (small: accounts hold "
                          "mostly one asset; none: every account holds exactly the mix).")


CometPositions = Annotated[Union[CometGeneratedPositions, SnapshotPositions], Field(discriminator="kind")]


class CometProtocol(Model):
    """A Compound v3 (Comet) market: one base asset borrowed against several collateral assets.

    An account with debt is liquidatable when ``sum c_i P_i liquidate_cf_i < debt P_base``.
    Anyone may ``absorb`` it: all its collateral goes to the protocol, its debt is forgiven and it
    is credited ``sum c_i P_i liquidation_factor_i / P_base`` base (the excess over the debt
    becomes its supply); the reserves pay for it and can go negative (bad debt). While reserves
    are below ``target_reserves`` the protocol sells its collateral (``buyCollateral``) at
    ``P_i (1 - store_front_price_factor (1 - liquidation_factor_i))``. Interest indices stay at 1
    (no interest accrues during a run).
    """

    type: Literal["comet"]
    chain: str = Field(description="Chain it lives on.")
    base: str = Field(description="The base asset, lent and borrowed (e.g. USDC).")
    collaterals: dict[str, CometCollateral] = Field(min_length=1, description="Collateral assets and their factors.")
    oracles: dict[str, str] = Field(description="Oracle of the base asset and of each collateral asset, in one unit "
                                                "(USD).")
    store_front_price_factor: UnitInterval = Field(
        0.5, description="`storeFrontPriceFactor`: share of the liquidation discount passed on to collateral buyers.")
    target_reserves: NonNegative = Field(
        description="`targetReserves`, base units: collateral is for sale only while reserves are below it.")
    reserves: Number = Field(0.0, description="Reserves at the start, base units (may be negative).")
    liquidity: NonNegative = Field(0.0, description="Base supplied by lenders and not borrowed at the start, base "
                                                    "units.")
    liquidates_into: list[str] = Field(
        default_factory=list, description="Pools and venues (trading a collateral asset against the base) where "
                                          "bought collateral is usually sold: the collateral buyers' default.")
    absorb_gas: PositiveInt = Field(120_000, description="Gas of an absorb per account absorbed.")
    absorb_base_gas: NonNegativeInt = Field(50_000, description="Gas of an absorb transaction besides its accounts.")
    absorb_rebate: NonNegative = Field(
        0.0, description="Base paid to the absorber per account absorbed, out of reserves (0: Comet as deployed, "
                         "which only records `liquidatorPoints`).")
    buy_collateral_gas: PositiveInt = Field(100_000, description="Gas of a buyCollateral call.")
    positions: CometPositions = Field(description="The accounts (generated, or a snapshot file with a `debt` column "
                                                  "and one column per collateral asset).")

    @model_validator(mode="after")
    def _funded(self):
        if self.reserves + self.liquidity < 0:
            raise ValueError(f"reserves + liquidity (the base the protocol holds) must be >= 0, got "
                             f"{self.reserves:g} + {self.liquidity:g}")
        return self

    # --------------------------------------------------------------------- scenario hooks
    def check_references(self, checker, base: str) -> None:
        scn = checker.scn
        chain_ok = checker.ref(f"{base}.chain", self.chain, "chains")
        base_ok = checker.ref(f"{base}.base", self.base, "assets")
        homes = {f"{base}.base": self.base} if base_ok else {}
        for asset in self.collaterals:
            path = f"{base}.collaterals.{asset}"
            if checker.ref(path, asset, "assets"):
                if asset == self.base:
                    checker.add(path, "must differ from the base asset", asset)
                homes[path] = asset
        if chain_ok:
            _chain_homes(checker, base, self.chain, homes)
        priced = [self.base, *self.collaterals]
        for asset in priced:
            if asset not in self.oracles:
                checker.add(f"{base}.oracles.{asset}", "required: an oracle for the base and for each collateral "
                                                       "asset", ...)
        for asset, oracle in self.oracles.items():
            path = f"{base}.oracles.{asset}"
            if asset not in priced:
                checker.add(path, f"key must be the base or a collateral asset ({', '.join(priced)})", asset)
            elif checker.ref(path, oracle, "oracles") and scn.oracles[oracle].asset != asset:
                checker.add(path, f"oracle prices {scn.oracles[oracle].asset}, not {asset}", oracle)
        for i, market in enumerate(self.liquidates_into):
            path = f"{base}.liquidates_into[{i}]"
            if market in scn.pools:
                pool = scn.pools[market]
                if self.base not in pool.assets or not set(pool.assets) & set(self.collaterals):
                    checker.add(path, f"pool must trade the base {self.base} against a collateral asset "
                                      f"(it trades {'/'.join(pool.assets)})", market)
                elif chain_ok and pool.chain != self.chain:
                    checker.add(path, f"pool is on chain {pool.chain}, not on {self.chain}", market)
            elif market in scn.venues:
                venue = scn.venues[market]
                if {venue.asset, venue.quote} - set(self.collaterals) != {self.base}:
                    checker.add(path, f"venue must trade a collateral asset against the base {self.base} "
                                      f"(it trades {venue.asset}/{venue.quote})", market)
            else:
                checker.add(path, f"must name a pool or a venue ({_names({**scn.venues, **scn.pools})})", market)
        src = self.positions
        if isinstance(src, SnapshotPositions):
            checker.file(f"{base}.positions.path", src.path, (".csv", ".parquet", ".pq"))
        elif src.collateral_mix is not None:
            for asset in src.collateral_mix:
                if asset not in self.collaterals:
                    checker.add(f"{base}.positions.collateral_mix.{asset}",
                                f"must be a collateral asset ({', '.join(self.collaterals)})", asset)

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        edges = [(name, self.chain, "hosted_on", {})]
        edges += [(name, oracle, "uses_oracle", {"asset": asset}) for asset, oracle in self.oracles.items()]
        edges += [(name, asset, "collateral", {"borrow_collateral_factor": c.borrow_collateral_factor,
                                                "liquidate_collateral_factor": c.liquidate_collateral_factor,
                                                "liquidation_factor": c.liquidation_factor,
                                                "supply_cap": c.supply_cap})
                  for asset, c in self.collaterals.items()]
        edges.append((name, self.base, "debt", {}))
        edges += [(name, market, "liquidates_into", {}) for market in self.liquidates_into]
        return edges


# ===================================================================================== Liquity
class LiquityProtocol(Model):
    """Liquity v1: troves of ``collateral`` (ETH) owing ``debt`` (LUSD), a stability pool and
    redistribution.

    A trove is liquidatable when its ICR ``coll P / debt`` is below ``mcr``, or, in Recovery Mode
    (``TCR < ccr``), below the TCR. A liquidation pays the liquidator ``gas_compensation`` LUSD and
    ``collateral_gas_compensation`` of the collateral; the stability pool burns deposits against
    the debt and its depositors receive the collateral; what the pool cannot cover is redistributed
    to the other troves pro rata to their collateral. Nothing is sold on a market. The debt token
    is valued at 1 (USD), as Liquity's price feed does.
    """

    type: Literal["liquity"]
    chain: str = Field(description="Chain it lives on.")
    collateral: str = Field(description="The collateral asset (ETH).")
    debt: str = Field(description="The debt token the troves mint (LUSD).")
    oracles: dict[str, str] = Field(description="`{collateral asset: oracle}`: the collateral's price in USD.")
    mcr: number_in(1, None, low_open=True) = Field(1.1, description="Minimum collateral ratio (110 %).")
    ccr: Positive = Field(1.5, description="Critical collateral ratio: Recovery Mode while the TCR is below it.")
    gas_compensation: NonNegative = Field(200.0, description="LUSD liquidation reserve of each trove, paid to its "
                                                             "liquidator.")
    collateral_gas_compensation: Fraction = Field(0.005, description="Share of a liquidated trove's collateral paid "
                                                                     "to its liquidator (1 / `PERCENT_DIVISOR`).")
    min_net_debt: NonNegative = Field(1_800.0, description="Smallest debt of a trove besides the liquidation reserve, "
                                                           "LUSD.")
    stability_pool: NonNegative = Field(0.0, description="LUSD deposited in the stability pool at the start.")
    liquidation_gas: PositiveInt = Field(100_000, description="Gas of a liquidation per trove liquidated.")
    liquidation_base_gas: NonNegativeInt = Field(100_000, description="Gas of a liquidation transaction besides its "
                                                                      "troves.")
    positions: PositionSource = Field(description="The troves: generated (health factor = ICR / `mcr`; debts are "
                                                  "entire debts, liquidation reserve included) or a snapshot.")

    @model_validator(mode="after")
    def _ratios(self):
        if not self.ccr > self.mcr:
            raise ValueError(f"ccr must be > mcr, got ccr={self.ccr:g}, mcr={self.mcr:g}")
        return self

    def check_references(self, checker, base: str) -> None:
        scn = checker.scn
        name = base.split(".", 1)[1]
        chain_ok = checker.ref(f"{base}.chain", self.chain, "chains")
        coll_ok = checker.ref(f"{base}.collateral", self.collateral, "assets")
        debt_ok = checker.ref(f"{base}.debt", self.debt, "assets")
        if coll_ok and debt_ok and self.collateral == self.debt:
            checker.add(f"{base}.debt", "must differ from the collateral asset", self.debt)
        if chain_ok:
            _chain_homes(checker, base, self.chain, {f"{base}.collateral": self.collateral, f"{base}.debt": self.debt})
        if self.collateral not in self.oracles:
            checker.add(f"{base}.oracles.{self.collateral}", "required: an oracle for the collateral asset", ...)
        for asset, oracle in self.oracles.items():
            path = f"{base}.oracles.{asset}"
            if asset != self.collateral:
                checker.add(path, f"key must be the collateral asset {self.collateral} (Liquity values "
                                  f"{self.debt} at 1)", asset)
            elif checker.ref(path, oracle, "oracles") and scn.oracles[oracle].asset != asset:
                checker.add(path, f"oracle prices {scn.oracles[oracle].asset}, not {asset}", oracle)
        src = self.positions
        if isinstance(src, SnapshotPositions):
            checker.file(f"{base}.positions.path", src.path, (".csv", ".parquet", ".pq"))
        else:
            least = src.count * (self.min_net_debt + self.gas_compensation)
            if src.total_debt < least:
                checker.add(f"{base}.positions.total_debt", f"must be >= count x (min_net_debt + gas_compensation) "
                                                            f"= {least:g}", src.total_debt)
            free = src.total_debt - src.count * self.gas_compensation
            if self.stability_pool > free:
                checker.add(f"{base}.stability_pool", "must be <= the debt token the troves minted outside the gas "
                                                      f"pool (total_debt - count x gas_compensation = {free:g})",
                            self.stability_pool)
        total, last = 0.0, None
        for agent_name, agents in scn.agents.items():
            if getattr(agents, "kind", None) == "stability_depositor" and name in agents.watches:
                total += agents.share
                last = agent_name
        if total > 1.0 + 1e-12:
            checker.add(f"agents.{last}.share", f"stability depositor populations of {name} own more than its whole "
                                                f"pool (shares sum to {total:g})", scn.agents[last].share)

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        edges = [(name, self.chain, "hosted_on", {})]
        edges += [(name, oracle, "uses_oracle", {"asset": asset}) for asset, oracle in self.oracles.items()]
        edges += [(name, self.collateral, "collateral", {"mcr": self.mcr, "ccr": self.ccr}),
                  (name, self.debt, "debt", {}),
                  (self.debt, name, "backed_by", {})]
        return edges


# ====================================================================================== agents
class _ProtocolKeeperAgents(Bidder):
    """Fields shared by keepers that call a protocol's own liquidation entry point."""

    count: PositiveInt = Field(1, description="Number of keepers, each with its own account.")
    watches: list[str] = Field(min_length=1, description="Protocols watched.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict, description="Balances of each keeper at start "
                                                                                "(native asset for gas).")
    gas_price: GasPrice = Field(50.0, description="Gas price bid (legacy), gwei.")
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    latency_jitter: Duration = Field(1.0, description="Extra uniform random delay per block (the keeper's own "
                                                      "stream).")
    batch_size: PositiveInt = Field(10, description="Accounts or troves liquidated by one transaction at most.")
    batches_per_block: PositiveInt = Field(1, description="Transactions sent per block and protocol at most.")
    skip_pending: bool = Field(True, description="Skip accounts other keepers already target in the public mempool.")


class AbsorberAgents(_ProtocolKeeperAgents):
    """Comet absorbers. After each block (plus their reaction latency) each absorber takes the
    liquidatable accounts of the Comet markets it watches (largest shortfall first) and calls
    ``absorb`` on up to ``batch_size`` of them per transaction. Comet pays no reward: an absorber
    earns only the market's ``absorb_rebate``, and by default acts whatever that leaves after gas."""

    kind: Literal["absorber"]
    min_profit: Number | None = Field(
        None, description="Minimum rebate minus gas per transaction, USD (none: absorb regardless of profit).")

    def check_references(self, checker, base: str) -> None:
        _watched(checker, base, self.watches, "comet")

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        return [(name, target, "watches", {}) for target in self.watches]


class TroveLiquidatorAgents(_ProtocolKeeperAgents):
    """Liquity liquidators. After each block (plus their reaction latency) each liquidator takes the
    liquidatable troves of the Liquity systems it watches (lowest ICR first), keeps those the
    liquidation sequence would liquidate, and calls ``batchLiquidateTroves`` on up to
    ``batch_size`` of them per transaction, if the gas compensation (LUSD reserve and collateral)
    exceeds the gas by ``min_profit``."""

    kind: Literal["trove_liquidator"]
    min_profit: Number | None = Field(
        0.0, description="Minimum gas compensation minus gas per transaction, USD (none: act regardless).")

    def check_references(self, checker, base: str) -> None:
        _watched(checker, base, self.watches, "liquity")

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        return [(name, target, "watches", {}) for target in self.watches]


class CollateralBuyerAgents(Bidder):
    """Buyers of Comet's collateral. After each block (plus their reaction latency), while a
    watched market's reserves are below its target, each buyer prices every collateral asset the
    protocol holds: buying at the store-front price and selling into the best of its markets, it
    picks the purchase that maximizes profit and sends it if profit after gas exceeds
    ``min_profit``. A pool sale is in the same transaction (it reverts if the sale returns less
    than quoted minus ``slippage_tolerance``); a venue sale follows ``venue_delay`` later."""

    kind: Literal["collateral_buyer"]
    count: PositiveInt = Field(1, description="Number of buyers, each with its own account.")
    watches: list[str] = Field(min_length=1, description="Comet markets watched.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict, description="Balances of each buyer at start "
                                                                                "(base asset to pay, native asset "
                                                                                "for gas).")
    gas_price: GasPrice = Field(50.0, description="Gas price bid (legacy), gwei.")
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    latency_jitter: Duration = Field(1.0, description="Extra uniform random delay per block.")
    sell_into: list[str] | None = Field(
        None, description="Pools and venues where bought collateral is sold (default: the market's "
                          "`liquidates_into`); those not trading a collateral against the base are ignored.")
    min_profit: NonNegative = Field(0.0, description="Minimum expected profit per purchase after gas, USD.")
    slippage_tolerance: Fraction = Field(0.01, description="The purchase reverts if the collateral or the sale "
                                                           "returns less than quoted minus this.")
    venue_delay: Duration = Field(60.0, description="Time from the purchase to the sale on a venue.")
    skip_pending: bool = Field(True, description="Skip assets other buyers already target in the public mempool.")

    def check_references(self, checker, base: str) -> None:
        _watched(checker, base, self.watches, "comet")
        markets = {**checker.scn.venues, **checker.scn.pools}
        for i, market in enumerate(self.sell_into or []):
            if market not in markets:
                checker.add(f"{base}.sell_into[{i}]", f"must name a pool or a venue ({_names(markets)})", market)

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        targets = [*self.watches, *(self.sell_into or [])]
        return [(name, target, "watches", {}) for target in dict.fromkeys(targets)]


class StabilityDepositorAgents(Bidder):
    """Liquity stability-pool depositors who may leave. Together they own ``share`` of each watched
    pool's initial deposits (split evenly; the rest belongs to passive depositors who never move).
    After each block a depositor looks at the system's collateral price over ``window`` and at its
    TCR; when the price's drawdown from the window's high exceeds its threshold, or the TCR is
    below its threshold, it withdraws ``withdraw_fraction`` of its deposit with its collateral
    gains, in a transaction (which reverts while a trove is liquidatable, as Liquity's does)."""

    kind: Literal["stability_depositor"]
    count: PositiveInt = Field(10, description="Number of depositors, each with its own account.")
    watches: list[str] = Field(min_length=1, description="Liquity systems whose stability pools they deposit in.")
    share: OpenFraction = Field(0.5, description="Share of each pool's initial deposits they own together.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict, description="Balances of each depositor at start "
                                                                                "(native asset for gas).")
    window: PositiveDuration = Field(1_800.0, description="Look-back window of the drawdown.")
    drawdown_threshold: OpenFraction | None = Field(
        0.1, description="Fall of the collateral price from the window's high that triggers a withdrawal "
                         "(none: never).")
    tcr_threshold: Positive | None = Field(None, description="TCR below which a depositor withdraws (none: never).")
    threshold_dispersion: Fraction = Field(
        0.25, description="Each depositor's thresholds are the population's times factors drawn from U(1 - d, 1 + d).")
    withdraw_fraction: OpenFraction = Field(1.0, description="Share of its deposit a depositor withdraws when "
                                                             "triggered.")
    gas_price: GasPrice = Field(30.0, description="Gas price of withdrawals, gwei.")
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    withdraw_gas: PositiveInt = Field(150_000, description="Gas of one withdrawal.")

    def check_references(self, checker, base: str) -> None:
        _watched(checker, base, self.watches, "liquity")

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        return [(name, target, "watches", {}) for target in self.watches]


PROTOCOLS: list = [CometProtocol, LiquityProtocol]
AGENTS: list = [AbsorberAgents, TroveLiquidatorAgents, CollateralBuyerAgents, StabilityDepositorAgents]
