"""Scenario models of multi-collateral money markets: Aave (v2, v3) and Compound v2.

An account holds several collateral assets and owes several debt assets; each reserve has its
own oracle, liquidation threshold (Compound v2: collateral factor) and bonus. The health factor
is ``sum(collateral_i * P_i * lt_i) / sum(debt_j * P_j)`` in USD at the oracle prices; below 1 a
liquidator repays part of one debt asset and seizes one collateral asset of its choice with the
bonus. The rules of each ``type`` (and Aave ``version``) follow the contracts — see
:mod:`contagion.protocols.money_market` and networks/README.md.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from contagion.scenario.common import HealthFactorDistribution
from contagion.scenario.types import (
    Fraction,
    Model,
    NonNegative,
    OpenFraction,
    Positive,
    PositiveDuration,
    PositiveInt,
    UnitInterval,
)

__all__ = ["PROTOCOLS", "AGENTS", "Reserve", "EModeCategory", "GeneratedAccounts", "SnapshotAccounts",
           "MoneyMarketProtocol"]


class Reserve(Model):
    """One asset of a money market: its oracle and risk parameters."""

    oracle: str = Field(description="Oracle pricing the asset (in USD).")
    ltv: Fraction = Field(0.0, description="Loan-to-value: borrowing power of the asset as collateral.")
    liquidation_threshold: Fraction = Field(
        0.0, description="Liquidation threshold (Aave) or collateral factor (Compound v2); 0: not collateral.")
    liquidation_bonus: Fraction = Field(
        0.05, description="Extra collateral paid to liquidators (Aave 10500 = 0.05); Compound v2 uses the "
                          "protocol's `liquidation_incentive`.")
    protocol_fee: Fraction = Field(0.0, description="Aave v3: share of the bonus paid to the treasury.")
    borrowable: bool = Field(True, description="Whether the asset can be borrowed.")
    liquidity: NonNegative = Field(0.0, description="Lenders' idle liquidity of the asset, token units.")
    emode_category: str | None = Field(None, description="Aave v3 e-mode category the asset belongs to.")
    isolated: bool = Field(False, description="Aave v3 isolation mode: an account using it as collateral can "
                                              "hold no other collateral and borrow only assets borrowable in "
                                              "isolation.")
    debt_ceiling: NonNegative | None = Field(
        None, description="Aave v3, isolated assets: most debt (debt-token units, the contract's 2-decimal "
                          "ceiling) that accounts isolated on this asset may owe together; none: no ceiling.")
    borrowable_in_isolation: bool = Field(
        False, description="Aave v3: accounts in isolation mode may borrow this asset.")

    @model_validator(mode="after")
    def _ltv_below_threshold(self):
        if self.ltv > self.liquidation_threshold:
            raise ValueError(f"ltv must be <= liquidation_threshold, got {self.ltv:g} > {self.liquidation_threshold:g}")
        return self


class EModeCategory(Model):
    """Aave v3 efficiency mode: accounts in the category use its parameters for its assets."""

    ltv: Fraction = Field(description="Loan-to-value of the category's assets for accounts in e-mode.")
    liquidation_threshold: OpenFraction = Field(description="Liquidation threshold in e-mode.")
    liquidation_bonus: Fraction = Field(description="Liquidation bonus in e-mode.")


class GeneratedAccounts(Model):
    """A book of accounts drawn from the run's seed (stream ``protocol:<name>:accounts``).

    Each account draws its debt in USD (lognormal, ``debt_sigma``, scaled to ``total_debt_usd``)
    and one debt asset from the ``debt`` weights; its collateral assets (``collaterals_per_account``
    at most, distinct, drawn from the ``collateral`` weights, the first always, each further one
    with probability 1/2) share the collateral value by a flat Dirichlet draw; its health factor is
    drawn from ``health_factor`` and sets the collateral value. A share ``emode_share`` of accounts
    whose assets all belong to one e-mode category use it.
    """

    kind: Literal["generated"]
    count: PositiveInt = Field(description="Number of accounts.")
    total_debt_usd: Positive = Field(description="Debt of all accounts, USD at time-0 prices.")
    debt_sigma: NonNegative = Field(1.0, description="Log-standard deviation of account debt sizes.")
    collateral: dict[str, Positive] = Field(min_length=1, description="Weights of collateral assets.")
    debt: dict[str, Positive] = Field(min_length=1, description="Weights of debt assets.")
    collaterals_per_account: PositiveInt = Field(1, description="Most collateral assets an account holds.")
    health_factor: HealthFactorDistribution
    emode_share: UnitInterval = Field(0.0, description="Share of eligible accounts using their e-mode category.")


class SnapshotAccounts(Model):
    """Accounts from a CSV or Parquet file (relative to the scenario file) with columns
    ``account`` (integer id), ``asset``, ``side`` (``collateral`` or ``debt``) and ``amount``
    (token units); an optional ``emode`` column names the account's e-mode category."""

    kind: Literal["snapshot"]
    path: str = Field(description="CSV or Parquet file of account balances.")


AccountSource = Annotated[Union[GeneratedAccounts, SnapshotAccounts], Field(discriminator="kind")]


class MoneyMarketProtocol(Model):
    """A multi-collateral money market with Aave v2, Aave v3 or Compound v2 liquidation rules.

    Liquidation of an account with health factor below 1: a liquidator picks a debt asset and a
    collateral asset, repays up to the close factor of that debt and receives
    ``repaid * P_debt / P_coll * (1 + bonus)`` of the collateral (less the protocol's fee or seize
    share), capped at what the account holds.

    * ``aave_v2``: close factor 50 %.
    * ``aave_v3``, ``version: "3.0"``: close factor 50 %, 100 % at or below health factor 0.95;
      ``protocol_fee`` takes a share of the bonus. ``version: "3.3"``: 100 % unless the account's
      collateral and debt in the pair are each at least $2,000 and its health factor is above 0.95;
      and a liquidation may not leave less than $1,000 of debt or collateral (dust rule).
    * ``compound_v2``: ``close_factor`` of one borrow, ``liquidation_incentive`` for every asset,
      ``protocol_seize_share`` of the seized collateral to the reserves.
    """

    type: Literal["aave_v2", "aave_v3", "compound_v2"]
    chain: str
    version: Literal["3.0", "3.3"] = Field("3.0", description="Aave v3 rules: 3.0-3.2 or 3.3+ (close factor, dust).")
    reserves: dict[str, Reserve] = Field(min_length=2, description="Assets of the market, by asset name.")
    emode: dict[str, EModeCategory] = Field(default_factory=dict, description="Aave v3 e-mode categories.")
    close_factor: OpenFraction = Field(0.5, description="Compound v2: share of one borrow a liquidation repays.")
    liquidation_incentive: Fraction = Field(0.08, description="Compound v2: the seize bonus (1.08e18 = 0.08).")
    protocol_seize_share: Fraction = Field(0.028, description="Compound v2: share of seized collateral kept.")
    liquidates_into: list[str] = Field(
        default_factory=list, description="Pools and venues where keepers sell seized collateral by default.")
    liquidation_gas: PositiveInt = Field(350_000, description="Gas of one liquidation call.")
    max_oracle_age: PositiveDuration | None = Field(
        None, description="Liquidations revert while an oracle the market reads is older than this.")
    accounts: AccountSource

    @model_validator(mode="after")
    def _consistent(self):
        isolated = [name for name, r in self.reserves.items() if r.isolated]
        for name, reserve in self.reserves.items():
            if reserve.debt_ceiling is not None and not reserve.isolated:
                raise ValueError(f"reserves.{name}.debt_ceiling applies to isolated assets only (set isolated: true)")
            if self.type != "aave_v3" and (reserve.isolated or reserve.borrowable_in_isolation):
                raise ValueError(f"reserves.{name}: isolation mode is an Aave v3 feature, not one of {self.type}")
        if isolated and isinstance(self.accounts, GeneratedAccounts):
            if any(a in self.accounts.collateral for a in isolated) and not any(
                    a in self.reserves and self.reserves[a].borrowable_in_isolation for a in self.accounts.debt):
                raise ValueError(f"accounts.debt: accounts isolated on {', '.join(isolated)} need a debt asset "
                                 "with borrowable_in_isolation: true")
        for name, reserve in self.reserves.items():
            if reserve.emode_category is not None and reserve.emode_category not in self.emode:
                raise ValueError(f"reserves.{name}.emode_category {reserve.emode_category!r} is not one of "
                                 f"the e-mode categories ({', '.join(self.emode) or 'none defined'})")
        return self

    # --------------------------------------------------------------------- scenario hooks
    def check_references(self, checker, base: str) -> None:
        chain_ok = checker.ref(f"{base}.chain", self.chain, "chains")
        for asset, reserve in self.reserves.items():
            path = f"{base}.reserves.{asset}"
            checker.ref(path, asset, "assets")
            if checker.ref(f"{path}.oracle", reserve.oracle, "oracles"):
                priced = checker.scn.oracles[reserve.oracle].asset
                if priced != asset:
                    checker.add(f"{path}.oracle", f"oracle prices {priced}, not {asset}", reserve.oracle)
        src = self.accounts
        if isinstance(src, GeneratedAccounts):
            for side, weights in (("collateral", src.collateral), ("debt", src.debt)):
                for asset in weights:
                    path = f"{base}.accounts.{side}.{asset}"
                    if asset not in self.reserves:
                        checker.add(path, f"must be a reserve of the market ({', '.join(self.reserves)})", asset)
                    elif side == "collateral" and not self.reserves[asset].liquidation_threshold > 0:
                        checker.add(path, "asset has no liquidation threshold: it cannot be collateral", asset)
                    elif side == "debt" and not self.reserves[asset].borrowable:
                        checker.add(path, "asset is not borrowable", asset)
        else:
            checker.file(f"{base}.accounts.path", src.path, (".csv", ".parquet", ".pq"))
        for i, target in enumerate(self.liquidates_into):
            path = f"{base}.liquidates_into[{i}]"
            scn = checker.scn
            if target in scn.pools:
                if chain_ok and scn.pools[target].chain != self.chain:
                    checker.add(path, f"pool is on chain {scn.pools[target].chain}, not on {self.chain}", target)
            elif target not in scn.venues:
                checker.add(path, "must name a pool or a venue", target)

    def graph_edges(self, name: str) -> list[tuple]:
        edges = [(name, self.chain, "hosted_on", {})]
        debt_assets = set(self.accounts.debt) if isinstance(self.accounts, GeneratedAccounts) else \
            {a for a, r in self.reserves.items() if r.borrowable}
        for asset, reserve in self.reserves.items():
            edges.append((name, reserve.oracle, "uses_oracle", {"asset": asset}))
            if reserve.liquidation_threshold > 0:
                edges.append((name, asset, "collateral", {"liquidation_threshold": reserve.liquidation_threshold,
                                                          "liquidation_bonus": reserve.liquidation_bonus}))
            if asset in debt_assets:
                edges.append((name, asset, "debt", {}))
        for target in self.liquidates_into:
            edges.append((name, target, "liquidates_into", {}))
        return edges


PROTOCOLS: list = [MoneyMarketProtocol]
AGENTS: list = []
