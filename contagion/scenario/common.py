"""Scenario models shared by several sections and protocol families: bids, flash loans, and the
sources of a protocol's positions. (Separate from :mod:`contagion.scenario.models` so that the
protocol-family modules can use them without importing the whole format.)"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from contagion.scenario.types import (
    Fraction,
    Model,
    NonNegative,
    Positive,
    PositiveInt,
    number_in,
)

__all__ = ["GasPrice", "Bidder", "FlashLoan", "HealthFactorDistribution", "GeneratedPositions",
           "SnapshotPositions", "PositionSource"]

GasPrice = NonNegative  # gwei


class Bidder(Model):
    """Something that sends transactions: a legacy ``gas_price`` bid, or on an EIP-1559 chain a
    ``max_fee`` and ``priority_fee`` (both or neither; the legacy bid is used when they are unset)."""

    max_fee: GasPrice | None = Field(None, description="EIP-1559 max fee, gwei (with `priority_fee`).")
    priority_fee: GasPrice | None = Field(None, description="EIP-1559 priority fee, gwei.")

    @model_validator(mode="after")
    def _eip1559_bid(self):
        if (self.max_fee is None) != (self.priority_fee is None):
            raise ValueError("max_fee and priority_fee go together")
        if self.max_fee is not None and self.priority_fee > self.max_fee:
            raise ValueError(f"priority_fee must be <= max_fee, got {self.priority_fee:g} > {self.max_fee:g}")
        return self


class FlashLoan(Model):
    """A flash lender: lends any amount up to its liquidity inside one transaction, repaid with
    ``fee`` before the transaction ends (else it reverts); the fee stays with the lender."""

    fee: Fraction = Field(0.0009, description="Fee, a fraction of the amount borrowed (Aave v2: 0.0009).")
    liquidity: dict[str, NonNegative] = Field(description="Tokens the lender holds, token units per asset.")
    gas: PositiveInt = Field(100_000, description="Extra gas of a transaction that takes flash loans.")


class HealthFactorDistribution(Model):
    """Initial health factors: a lognormal (``median``, ``sigma``) or a uniform, truncated to
    ``[low, high]`` by redrawing (no point mass at the bounds)."""

    distribution: Literal["lognormal", "uniform"] = "lognormal"
    median: number_in(0, None, low_open=True) | None = Field(
        None, description="Median of the lognormal (required for `lognormal`).")
    sigma: NonNegative = Field(0.3, description="Standard deviation of log(HF) for `lognormal`.")
    low: Positive = Field(1.0, description="Smallest health factor drawn.")
    high: Positive = Field(10.0, description="Largest health factor drawn.")

    @model_validator(mode="after")
    def _consistent(self):
        if not self.high > self.low:
            raise ValueError(f"high must be > low, got low={self.low:g}, high={self.high:g}")
        if self.distribution == "lognormal":
            if self.median is None:
                raise ValueError("median is required for a lognormal distribution")
            if not self.low <= self.median <= self.high:
                raise ValueError(f"median must lie in [low, high], got {self.median:g}")
        return self


class GeneratedPositions(Model):
    """``count`` positions drawn with the run's seed.

    Debt sizes are lognormal with log-standard-deviation ``debt_sigma``, scaled so they sum to
    ``total_debt``; each position's collateral is set from its drawn health factor at the
    initial oracle prices: ``collateral = hf * debt * price_debt / (price_collateral * lt)``.
    """

    kind: Literal["generated"]
    count: PositiveInt
    total_debt: Positive = Field(description="Sum of debts, debt-asset units.")
    debt_sigma: NonNegative = Field(1.0, description="Dispersion of log debt size.")
    health_factor: HealthFactorDistribution


class SnapshotPositions(Model):
    """Positions read from a CSV or Parquet file with columns ``collateral`` and ``debt``
    (token units); the path is relative to the scenario file."""

    kind: Literal["snapshot"]
    path: str


PositionSource = Annotated[Union[GeneratedPositions, SnapshotPositions], Field(discriminator="kind")]

