"""The same pools set up in other Python AMM libraries, for like-for-like comparisons in
``bench_pools.py`` (not part of the package; the libraries come with the ``bench`` extra).

* ``uniswappy`` — Uniswap v2 (``UniswapExchange``) and v3 (``UniswapV3Exchange``, a port of the
  contracts' swap loop) in integer wei, 18 decimals for both tokens;
* ``curvesim`` — Curve StableSwap (``curvesim.pool.CurvePool``) in integers with 18 decimals.

Both libraries work in integers as the contracts do; ``contagion.amm`` works in float64 token units.
With both tokens at 18 decimals, one token unit here is ``10**18`` wei there, so the inputs are
the same numbers and the outputs are compared after dividing by ``10**18``.

:func:`load` imports a library or says why it cannot; the adapters build the pools from the
parameters ``bench_pools.py`` gives its own pools.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from fractions import Fraction

WEI = 10**18
Q96 = 2**96


def load(name: str):
    """``(module, version, None)``, or ``(None, None, reason)`` when ``name`` cannot be imported."""
    try:
        module = importlib.import_module(name)
    except Exception as err:  # an optional library may fail on import with any error (e.g. its deps)
        return None, None, (f"not importable: {type(err).__name__}: {err} "
                            f"(install the bench extra: pip install -e '.[bench]')")
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = getattr(module, "__version__", None)
    return module, version, None


class StateRestorer:
    """Puts back every attribute of ``objects`` as it was when created (shallow: containers are
    kept, their contents are the objects' own business). Used to run a library's state-changing
    swap many times from one state."""

    def __init__(self, objects):
        self._saved = [(vars(o), dict(vars(o))) for o in objects]

    def __call__(self) -> None:
        for attributes, saved in self._saved:
            attributes.clear()
            attributes.update(saved)


# ------------------------------------------------------------------------------- uniswappy
class UniswappyV2:
    """A uniswappy v2 pair holding ``reserve0``/``reserve1`` (token units); fee 0.3 % (fixed there)."""

    FEE = 0.003

    def __init__(self, reserve0: float, reserve1: float):
        from uniswappy import ERC20, UniswapExchangeData, UniswapFactory

        self.token0, self.token1 = ERC20("TKN0", "0x01"), ERC20("TKN1", "0x02")
        factory = UniswapFactory("bench factory", "0x03")
        self.exchange = factory.deploy(UniswapExchangeData(tkn0=self.token0, tkn1=self.token1, symbol="LP",
                                                           address="0x04"))
        self.exchange.add_liquidity("lp", reserve0, reserve1, reserve0, reserve1)
        if (self.exchange.reserve0, self.exchange.reserve1) != (to_wei(reserve0), to_wei(reserve1)):
            raise ValueError(f"uniswappy v2 reserves are not the requested ones: "
                             f"{self.exchange.reserve0}, {self.exchange.reserve1}")

    def amount_out(self, amount_in: float) -> float:
        """``get_amount_out`` of ``amount_in`` token0 (a view: the pair is not changed)."""
        return self.exchange.get_amount_out(amount_in, self.token0)


class UniswappyV3:
    """A uniswappy v3 pool at ``sqrt_price`` with ``positions`` ``(lower, upper, liquidity)``.

    ``fee`` is a fraction (converted to pips); liquidities are token units (converted to wei).
    The library's swap changes the pool (price, fee growth, tick data, token totals):
    :meth:`restore` puts it back, so many swaps can be timed from one state.

    uniswappy starts every swap from the pool's total minted liquidity (``total_supply``) rather
    than the liquidity in range; the two are equal only while every position contains the
    current price, so :func:`check_all_in_range` refuses any other layout.
    """

    def __init__(self, sqrt_price: float, fee: float, tick_spacing: int, positions):
        from uniswappy import ERC20, UniswapExchangeData, UniswapFactory

        self.token0, self.token1 = ERC20("TKN0", "0x01"), ERC20("TKN1", "0x02")
        factory = UniswapFactory("bench factory", "0x03")
        self.exchange = factory.deploy(UniswapExchangeData(
            tkn0=self.token0, tkn1=self.token1, symbol="LP", address="0x04", version="V3",
            tick_spacing=tick_spacing, fee=round(fee * 1e6)))
        self.exchange.initialize(int(sqrt_price * Q96))   # exact: a float times a power of two
        for lower, upper, liquidity in positions:
            self.exchange.mint("lp", lower, upper, liquidity)
        check_all_in_range(self.exchange.slot0.tick, positions)
        ex = self.exchange
        self.restore = StateRestorer([ex, ex.slot0, ex.protocolFees, *ex.ticks.values(), self.token0,
                                      self.token1])

    def swap_exact0_for1(self, amount_in: float) -> tuple[float, int]:
        """Swap ``amount_in`` token0 in (changes the pool); returns ``(token1 out, final tick)``."""
        result = self.exchange.swapExact0For1("trader", amount_in, None)
        return -result[2], int(result[5])

    @property
    def tick(self) -> int:
        return int(self.exchange.slot0.tick)


def check_all_in_range(tick: int, positions) -> None:
    for lower, upper, _ in positions:
        if not lower <= tick < upper:
            raise ValueError(f"position [{lower}, {upper}) does not contain the current tick {tick}: "
                             "uniswappy would start the swap with the wrong liquidity")


# -------------------------------------------------------------------------------- curvesim
class CurvesimStableSwap:
    """A curvesim ``CurvePool`` with ``balances`` (token units, 18 decimals, rate 1 each),
    ``amplification`` as ``A()`` returns it, ``fee`` a fraction (Curve's ``fee / 1e10``), no
    admin fee."""

    def __init__(self, balances, amplification: float, fee: float):
        from curvesim.pool import CurvePool

        wei = [to_wei(b) for b in balances]
        if amplification != int(amplification):
            raise ValueError(f"curvesim takes an integer amplification, got {amplification!r}")
        self.pool = CurvePool(A=int(amplification), D=wei, n=len(wei), fee=round(fee * 1e10), admin_fee=0)

    def D(self) -> float:
        """The invariant (token units)."""
        return self.pool.D() / WEI

    def get_dy_wei(self, i: int, j: int, dx_wei: int) -> int:
        """The contracts' ``get_dy`` from curvesim's own pieces: ``CurvePool.exchange``'s arithmetic
        (``_xp``, ``get_y``, the one-wei margin, the fee) without changing the balances."""
        pool = self.pool
        xp = pool._xp()
        x = xp[i] + dx_wei * pool.rates[i] // WEI
        dy = xp[j] - pool.get_y(i, j, x, xp) - 1
        fee = dy * pool.fee // 10**10
        return (dy - fee) * WEI // pool.rates[j]

    def get_dy(self, i: int, j: int, dx: float) -> float:
        return self.get_dy_wei(i, j, to_wei(dx)) / WEI

    def exchange(self, i: int, j: int, dx: float) -> float:
        """``CurvePool.exchange`` (changes the balances); returns the output (token units)."""
        return self.pool.exchange(i, j, to_wei(dx))[0] / WEI


def to_wei(amount: float) -> int:
    """``amount`` token units in wei, exactly (the float's binary value times ``10**18``)."""
    wei = Fraction(amount) * WEI
    if wei.denominator != 1:
        raise ValueError(f"amount must be a whole number of wei, got {amount!r}")
    return int(wei)
