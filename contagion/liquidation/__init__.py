"""Liquidation math, usable without a simulation.

* :mod:`~contagion.liquidation.fixed_spread`: generic one-collateral / one-debt fixed-spread math
  (``health_factor``, ``liquidation_price``, ``seize_amounts``) and the sorted
  :class:`LiquidationIndex`;
* :mod:`~contagion.liquidation.aave`: Aave v2 / v3.0 / v3.3 / v3.6 / v3.7, an integer-exact port
  and a float API (exported here with an ``aave_`` prefix);
* :mod:`~contagion.liquidation.compound`: Compound v2, an integer-exact port and a float API
  (exported here with a ``compound_`` prefix).
"""

from contagion.liquidation import aave, compound
from contagion.liquidation.aave import AaveRevert
from contagion.liquidation.aave import close_factor as aave_close_factor
from contagion.liquidation.aave import health_factor as aave_health_factor
from contagion.liquidation.aave import liquidation_amounts as aave_liquidation_amounts
from contagion.liquidation.compound import CompoundRevert
from contagion.liquidation.compound import account_liquidity_usd as compound_account_liquidity_usd
from contagion.liquidation.compound import seize_amounts as compound_seize_amounts
from contagion.liquidation.fixed_spread import health_factor, liquidation_price, seize_amounts
from contagion.liquidation.index import LiquidationIndex

__all__ = [
    "health_factor",
    "liquidation_price",
    "seize_amounts",
    "LiquidationIndex",
    "aave",
    "compound",
    "AaveRevert",
    "CompoundRevert",
    "aave_health_factor",
    "aave_close_factor",
    "aave_liquidation_amounts",
    "compound_seize_amounts",
    "compound_account_liquidity_usd",
]
