"""AMM math, usable without a simulation: constant product (Uniswap v2).

Functions take scalars or arrays; see :mod:`contagion.amm.constant_product` for the float64 math
the simulator runs and :mod:`contagion.amm.uniswap_v2` for the integer-exact contract port.
"""

from contagion.amm import constant_product, uniswap_v2
from contagion.amm.constant_product import ConstantProductPool

__all__ = ["ConstantProductPool", "constant_product", "uniswap_v2"]
