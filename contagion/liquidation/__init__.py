"""Liquidation math, usable without a simulation: fixed-spread lending and the sorted index."""

from contagion.liquidation.fixed_spread import health_factor, liquidation_price, seize_amounts
from contagion.liquidation.index import LiquidationIndex

__all__ = ["health_factor", "liquidation_price", "seize_amounts", "LiquidationIndex"]
