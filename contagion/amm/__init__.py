"""AMM math, usable without a simulation.

* :mod:`contagion.amm.constant_product` — Uniswap v2 style (``x y = k``), float64;
* :mod:`contagion.amm.concentrated` — Uniswap v3 concentrated liquidity, float64;
* :mod:`contagion.amm.stableswap` — Curve StableSwap, 2 to 4 coins, float64;
* :mod:`contagion.amm.uniswap_v2`, :mod:`contagion.amm.uniswap_v3`, :mod:`contagion.amm.curve` —
  integer-exact ports of the contracts, to check a trade to the wei.

Functions take scalars (and, where noted, arrays); the float math runs in the compiled kernels.
"""

from contagion.amm import concentrated, constant_product, stableswap, uniswap_v2
from contagion.amm.concentrated import ConcentratedLiquidityPool
from contagion.amm.constant_product import ConstantProductPool
from contagion.amm.stableswap import StableSwapPool

__all__ = [
    "ConstantProductPool",
    "ConcentratedLiquidityPool",
    "StableSwapPool",
    "constant_product",
    "concentrated",
    "stableswap",
    "uniswap_v2",
]
