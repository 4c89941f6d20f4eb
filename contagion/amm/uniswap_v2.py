"""Integer-exact port of ``UniswapV2Library`` and the pair's invariant check (wei in, wei out).

Use this module to check a trade to the wei against the contracts; the simulator itself runs the
float64 math of :mod:`contagion.amm.constant_product`, which differs from these functions only
by their integer rounding (``getAmountOut`` floors, ``getAmountIn`` floors and adds 1).

Reverts of the contracts raise :class:`contagion.errors.AmmError` with the contract's reason.
The fee is the hard-coded 0.3 % (997/1000); forks with another fee pass their own fraction.
"""

from __future__ import annotations

from contagion.errors import AmmError

__all__ = ["get_amount_out", "get_amount_in", "quote", "k_check"]


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise AmmError(f"UniswapV2: {reason}")


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int,
                   fee_numerator: int = 997, fee_denominator: int = 1000) -> int:
    """``floor(a*997*R_out / (R_in*1000 + a*997))`` with the library's require checks."""
    _require(amount_in > 0, "INSUFFICIENT_INPUT_AMOUNT")
    _require(reserve_in > 0 and reserve_out > 0, "INSUFFICIENT_LIQUIDITY")
    with_fee = amount_in * fee_numerator
    return (with_fee * reserve_out) // (reserve_in * fee_denominator + with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int,
                  fee_numerator: int = 997, fee_denominator: int = 1000) -> int:
    """``floor(R_in*x*1000 / ((R_out - x)*997)) + 1``; reverts if ``x >= R_out`` (SafeMath)."""
    _require(amount_out > 0, "INSUFFICIENT_OUTPUT_AMOUNT")
    _require(reserve_in > 0 and reserve_out > 0, "INSUFFICIENT_LIQUIDITY")
    _require(amount_out < reserve_out, "ds-math-sub-underflow (amountOut >= reserveOut)")
    numerator = reserve_in * amount_out * fee_denominator
    denominator = (reserve_out - amount_out) * fee_numerator
    return numerator // denominator + 1


def quote(amount_a: int, reserve_a: int, reserve_b: int) -> int:
    """``floor(amount_a * R_b / R_a)`` (no fee): the amount of B worth ``amount_a`` of A."""
    _require(amount_a > 0, "INSUFFICIENT_AMOUNT")
    _require(reserve_a > 0 and reserve_b > 0, "INSUFFICIENT_LIQUIDITY")
    return amount_a * reserve_b // reserve_a


def k_check(balance0: int, balance1: int, amount0_in: int, amount1_in: int,
            reserve0: int, reserve1: int) -> bool:
    """The pair's invariant check after a (flash) swap, fee charged on the input side."""
    adjusted0 = balance0 * 1000 - amount0_in * 3
    adjusted1 = balance1 * 1000 - amount1_in * 3
    return adjusted0 * adjusted1 >= reserve0 * reserve1 * 1000**2
