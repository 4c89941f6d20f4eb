"""Scenario models of the CDP family: Maker vaults with Liquidations 1.2 (cat + flip English
auctions) or 2.0 (dog + clip Dutch auctions), the vow and debt auctions (flop), and the keepers
that kick and bid in those auctions (see :mod:`contagion.protocols.maker`,
:mod:`contagion.agents.auction_keeper` and networks/README.md).

Parameters follow dss, written as in the rest of the format: fractions for ``chop`` (0.13 is
dss's 1.13), ``beg``, ``pad`` and ``chip``; multipliers for ``buf``, ``cusp`` and ``cut``; DAI
token units for ``dust``, ``dunk``, ``box``, ``hole``, ``Hole``, ``tip`` and ``sump``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from contagion.scenario.common import Bidder, FlashLoan, GasPrice, GeneratedPositions, PositionSource, SnapshotPositions
from contagion.scenario.types import (
    Duration,
    Fraction,
    Model,
    NonNegative,
    Positive,
    PositiveDuration,
    PositiveInt,
    UnitInterval,
    number_in,
)

__all__ = ["PROTOCOLS", "AGENTS", "LinearCurve", "StairstepCurve", "ExponentialCurve", "FlipAuctions",
           "ClipAuctions", "DebtAuctions", "MakerGas", "MakerProtocol", "AuctionKeeperAgents"]


# ------------------------------------------------------------------------------ price curves
class LinearCurve(Model):
    """abaci ``LinearDecrease``: the price falls linearly from ``top`` to 0 in ``tau``."""

    kind: Literal["linear"]
    tau: PositiveDuration = Field(description="Seconds from the start until the price reaches 0.")


class StairstepCurve(Model):
    """abaci ``StairstepExponentialDecrease``: ``top * cut ** floor(elapsed / step)``."""

    kind: Literal["stairstep"]
    cut: UnitInterval = Field(description="Price multiplier per step (ETH-A 2021: 0.99).")
    step: PositiveDuration = Field(description="Seconds between steps (ETH-A 2021: 90).")


class ExponentialCurve(Model):
    """abaci ``ExponentialDecrease``: ``top * cut ** elapsed`` (``cut`` per second)."""

    kind: Literal["exponential"]
    cut: UnitInterval = Field(description="Price multiplier per second.")


PriceCurve = Annotated[Union[LinearCurve, StairstepCurve, ExponentialCurve], Field(discriminator="kind")]


# ------------------------------------------------------------------------------ auction houses
class FlipAuctions(Model):
    """Liquidations 1.2: ``cat.bite`` and ``flip`` English auctions.

    The Cat is either the one deployed at Maker's launch (``lump``: at most that much collateral
    per bite, no limit on auctions in flight — the Black Thursday Cat) or Cat 1.2 (``dunk``: DAI
    target of one auction, ``box``: DAI target of all auctions in flight)."""

    beg: Fraction = Field(0.05, description="Minimum relative bid increase (dss 1.05e18 = 0.05).")
    ttl: PositiveDuration = Field(10_800.0, description="Lifetime of a bid: the auction ends this long after "
                                                       "the last bid.")
    tau: PositiveDuration = Field(172_800.0, description="Maximum auction length from its kick (or tick).")
    lump: Positive | None = Field(None, description="Cat at launch: collateral per bite, collateral units.")
    dunk: Positive | None = Field(None, description="Cat 1.2: DAI target (with penalty) of one auction.")
    box: Positive | None = Field(None, description="Cat 1.2: DAI target of all auctions in flight.")

    @model_validator(mode="after")
    def _one_cat(self):
        if self.lump is not None and (self.dunk is not None or self.box is not None):
            raise ValueError("give lump (the Cat at Maker's launch) or dunk and box (Cat 1.2), not both")
        if self.lump is None and (self.dunk is None or self.box is None):
            raise ValueError("needs lump (the Cat at Maker's launch) or dunk and box (Cat 1.2)")
        return self


class ClipAuctions(Model):
    """Liquidations 2.0: ``dog.bark`` and ``clip`` Dutch auctions."""

    calc: PriceCurve
    buf: number_in(1, None) = Field(1.2, description="Starting price: the oracle price times this.")
    tail: PositiveDuration = Field(description="An auction older than this must be reset (redo).")
    cusp: UnitInterval = Field(description="An auction whose price fell below this fraction of its start "
                                           "must be reset.")
    chip: Fraction = Field(0.0, description="Keeper reward on kick and redo: this fraction of the tab.")
    tip: NonNegative = Field(0.0, description="Keeper reward on kick and redo: flat, DAI.")
    hole: Positive = Field(description="DAI target (with penalty) of this collateral's auctions in flight.")
    Hole: Positive | None = Field(None, description="DAI target of all auctions in flight (the Dog's global "
                                                    "limit; default: only `hole` applies).")


class DebtAuctions(Model):
    """The vow's debt auctions (``flop``): when the system debt not covered by surplus reaches
    ``sump``, an auction sells newly minted governance tokens for ``sump`` DAI, bidders lowering
    the amount of tokens they accept."""

    sump: Positive = Field(50_000.0, description="DAI raised by one debt auction.")
    dump: Positive = Field(250.0, description="Governance tokens offered at the start of one debt auction.")
    beg: Fraction = Field(0.05, description="Minimum relative decrease of the lot between bids.")
    pad: NonNegative = Field(0.5, description="Relative lot increase when an auction without bids is restarted.")
    ttl: PositiveDuration = Field(10_800.0, description="Lifetime of a bid.")
    tau: PositiveDuration = Field(172_800.0, description="Maximum auction length.")
    wait: Duration = Field(0.0, description="Delay before liquidated debt leaves the vow's queue (flog) and can "
                                            "be settled or auctioned.")


class MakerGas(Model):
    """Gas used by each call (gas units)."""

    bite: PositiveInt = Field(400_000, description="`cat.bite` or `dog.bark` with the auction's kick.")
    tend: PositiveInt = Field(120_000, description="`flip.tend`.")
    dent: PositiveInt = Field(120_000, description="`flip.dent` and `flop.dent`.")
    deal: PositiveInt = Field(100_000, description="`deal` of any auction.")
    tick: PositiveInt = Field(60_000, description="`tick` (restart of an auction without bids).")
    take: PositiveInt = Field(250_000, description="`clip.take` (plus a pool swap when flash-funded).")
    redo: PositiveInt = Field(150_000, description="`clip.redo`.")
    flop: PositiveInt = Field(250_000, description="`vow.flop` (flog, heal and kick).")


# ----------------------------------------------------------------------------------- protocol
class MakerProtocol(Model):
    """One Maker collateral type (an *ilk*): vaults of ``collateral`` owing ``debt`` (DAI), its
    liquidation module and auctions, and the vow that settles their proceeds.

    A vault with ``ink`` collateral and ``art`` normalized debt owes ``art * rate`` DAI and is
    unsafe when ``ink * price / mat < art * rate`` at the ``oracle``'s price (the Spotter's
    ``spot`` with ``par = 1``)."""

    type: Literal["maker"]
    chain: str
    collateral: str = Field(description="Collateral asset (the ilk's gem).")
    debt: str = Field(description="The stablecoin vaults owe (DAI).")
    governance: str = Field(description="Governance token minted by debt auctions (MKR).")
    oracle: str = Field(description="Oracle of the collateral's price in `debt` units (usually an `osm`).")
    mat: number_in(1, None) = Field(1.5, description="Liquidation ratio (ETH-A: 1.5).")
    chop: NonNegative = Field(0.13, description="Liquidation penalty, a fraction of the debt (dss 1.13e18 = 0.13).")
    rate: Positive = Field(1.0, description="The ilk's accumulated stability fee: DAI owed per unit of `art` "
                                            "(constant during a run).")
    dust: NonNegative = Field(0.0, description="Minimum debt of a vault, DAI.")
    surplus: NonNegative = Field(0.0, description="DAI held by the vow at the start (accumulated fees).")
    liquidation: Literal["flip", "clip"] = Field(description="`flip`: Liquidations 1.2 (English auctions); "
                                                             "`clip`: Liquidations 2.0 (Dutch auctions).")
    flip: FlipAuctions | None = Field(None, description="Parameters of `liquidation: flip`.")
    clip: ClipAuctions | None = Field(None, description="Parameters of `liquidation: clip`.")
    debt_auctions: DebtAuctions | None = Field(
        default_factory=DebtAuctions, description="The vow's debt auctions (`null`: none; bad debt stays).")
    liquidates_into: list[str] = Field(
        default_factory=list, description="Pools and venues where auctioned collateral is usually sold.")
    gas: MakerGas = Field(default_factory=MakerGas, description="Gas of each call.")
    positions: PositionSource

    @model_validator(mode="after")
    def _auction_parameters(self):
        chosen, other = (self.flip, self.clip) if self.liquidation == "flip" else (self.clip, self.flip)
        if chosen is None:
            raise ValueError(f"liquidation: {self.liquidation} needs a `{self.liquidation}` section")
        if other is not None:
            unused = "clip" if self.liquidation == "flip" else "flip"
            raise ValueError(f"`{unused}` is set but liquidation is {self.liquidation}")
        return self

    # --------------------------------------------------------------------- scenario hooks
    def check_references(self, checker, base: str) -> None:
        checker.ref(f"{base}.chain", self.chain, "chains")
        assets_ok = True
        for key in ("collateral", "debt", "governance"):
            assets_ok &= checker.ref(f"{base}.{key}", getattr(self, key), "assets")
        if assets_ok:
            if self.debt == self.collateral:
                checker.add(f"{base}.debt", "must differ from the collateral asset", self.debt)
            if self.governance in (self.collateral, self.debt):
                checker.add(f"{base}.governance", "must differ from the collateral and debt assets", self.governance)
        if checker.ref(f"{base}.oracle", self.oracle, "oracles"):
            priced = checker.scn.oracles[self.oracle].asset
            if priced != self.collateral:
                checker.add(f"{base}.oracle", f"oracle prices {priced}, not the collateral {self.collateral}",
                            self.oracle)
        for i, market in enumerate(self.liquidates_into):
            if market not in checker.scn.venues and market not in checker.scn.pools:
                names = ", ".join([*checker.scn.venues, *checker.scn.pools]) or "none defined"
                checker.add(f"{base}.liquidates_into[{i}]", f"must name a pool or a venue ({names})", market)
        if isinstance(self.positions, SnapshotPositions):
            checker.file(f"{base}.positions.path", self.positions.path, (".csv", ".parquet", ".pq"))
        else:
            assert isinstance(self.positions, GeneratedPositions)

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        edges = [(name, self.chain, "hosted_on", {}),
                 (name, self.oracle, "uses_oracle", {"asset": self.collateral}),
                 (name, self.collateral, "collateral", {"mat": self.mat, "chop": self.chop,
                                                         "liquidation": self.liquidation}),
                 (name, self.debt, "debt", {}),
                 (self.debt, name, "backed_by", {}),
                 (self.governance, name, "backed_by", {"role": "debt auctions"})]
        edges += [(name, market, "liquidates_into", {}) for market in self.liquidates_into]
        return edges


# -------------------------------------------------------------------------------------- agents
class AuctionKeeperAgents(Bidder):
    """Keepers of Maker's auctions. After each block (plus their reaction latency) each keeper
    kicks liquidations of unsafe vaults and debt auctions (``kick``), then bids: in English
    auctions (``flip`` tend/dent, ``flop`` dent) up to its valuation — the market price of what it
    buys, from ``price_sources``, less ``discount`` — limited by its DAI; in Dutch auctions
    (``clip``) it takes once the price is at or below that valuation. ``strategy: minimum`` bids
    the smallest step the auction accepts (a first bid of ``min_bid`` DAI) instead of its
    valuation: the zero-bid keeper of Black Thursday."""

    kind: Literal["auction_keeper"]
    count: PositiveInt = Field(1, description="Number of keepers, each with its own account.")
    watches: list[str] = Field(min_length=1, description="Maker protocols watched.")
    inventory: dict[str, NonNegative] = Field(default_factory=dict, description="Balances of each keeper at start.")
    gas_price: GasPrice = Field(50.0, description="Gas price bid (legacy), gwei.")
    reaction_latency: Duration = Field(1.0, description="Delay after a block before acting.")
    latency_jitter: Duration = Field(0.0, description="Extra uniform random delay per block.")
    kick: bool = Field(True, description="Liquidate unsafe vaults (bite / bark), restart auctions (tick, redo) "
                                         "and start debt auctions.")
    houses: list[Literal["flip", "clip", "flop"]] = Field(
        default_factory=lambda: ["flip", "clip", "flop"], description="Auction kinds it bids in.")
    strategy: Literal["value", "minimum"] = Field(
        "value", description="`value`: bid up to the valuation; `minimum`: the smallest accepted step.")
    min_bid: Positive = Field(1e-18, description="First bid of a `minimum` keeper in an English auction, DAI.")
    discount: Fraction = Field(0.05, description="Margin below market value the keeper requires.")
    price_sources: list[str] = Field(
        default_factory=list, description="Venues and pools that value collateral and governance tokens in DAI "
                                          "(default: the protocol's `liquidates_into`; then the USD prices).")
    max_actions_per_block: PositiveInt = Field(20, description="Transactions sent per block at most.")
    flash_loan: FlashLoan | None = Field(None, description="Flash lender of DAI for `clip` takes, repaid by "
                                                           "selling the collateral into `sell_into`.")
    sell_into: list[str] = Field(default_factory=list, description="Pools where flash-funded takes sell the "
                                                                   "collateral (default: the protocol's pools).")
    slippage_tolerance: Fraction = Field(0.02, description="A flash-funded take reverts if its sale returns less "
                                                           "than quoted by more than this.")

    def check_references(self, checker, base: str) -> None:
        for i, target in enumerate(self.watches):
            if checker.ref(f"{base}.watches[{i}]", target, "protocols"):
                kind = checker.scn.protocols[target].type
                if kind != "maker":
                    checker.add(f"{base}.watches[{i}]", f"must name a protocol of type maker (it is {kind})", target)
        markets = {**checker.scn.venues, **checker.scn.pools}
        for key in ("price_sources", "sell_into"):
            for i, market in enumerate(getattr(self, key)):
                if market not in markets:
                    allowed = "a pool" if key == "sell_into" else "a pool or a venue"
                    checker.add(f"{base}.{key}[{i}]", f"must name {allowed} ({', '.join(markets) or 'none defined'})",
                                market)
                elif key == "sell_into" and market not in checker.scn.pools:
                    checker.add(f"{base}.sell_into[{i}]", "must name a pool (a flash loan is repaid within the "
                                                          "transaction; a venue trade is off chain)", market)
        if self.flash_loan is not None:
            for key in self.flash_loan.liquidity:
                checker.ref(f"{base}.flash_loan.liquidity.{key}", key, "assets")

    def graph_edges(self, name: str) -> list[tuple[str, str, str, dict]]:
        targets = [*self.watches, *self.price_sources, *self.sell_into]
        return [(name, target, "watches", {}) for target in dict.fromkeys(targets)]


PROTOCOLS: list = [MakerProtocol]
AGENTS: list = [AuctionKeeperAgents]
