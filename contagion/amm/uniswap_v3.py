"""Integer-exact port of Uniswap v3 core math and of the pool's swap loop (wei in, wei out).

Use this module to check a concentrated-liquidity trade to the wei against the contracts
(``Uniswap/v3-core`` 0.7.6, commit ``d8b1c635``); the simulator itself runs the float64 math of
:mod:`contagion.amm.concentrated`.

Units
-----
* token amounts are integers in the token's smallest unit (wei);
* ``sqrt_price_x96`` is ``sqrt(token1 / token0) * 2**96`` (Q64.96, a ``uint160``);
* ``liquidity`` is ``sqrt(x * y)`` in wei (a ``uint128``);
* fees are in pips (1e-6): 500 = 0.05 %, 3000 = 0.3 %;
* fee growth is fee per unit of liquidity in Q128.128 and wraps modulo ``2**256`` like the contract.

Every function keeps the contracts' Solidity 0.7 integer semantics: floor division, the exact
rounding direction of each step, wrap-around where the contract does not check, and a revert
where it does. Reverts raise :class:`contagion.errors.AmmError` whose message starts with
``"UniswapV3: "`` followed by the contract's reason string (``"T"``, ``"R"``, ``"AS"``, ``"LOK"``,
``"SPL"``, ``"TLU"``, ``"TLM"``, ``"TUM"``, ``"LO"``, ``"LS"``, ``"LA"``, ``"NP"``, ``"AI"``, ``"TF"``)
and a parenthesised detail; ``require`` statements without a reason string give a short
description of the failed check instead (e.g. ``"UniswapV3: FullMath.mulDiv overflow ..."``).

The :class:`Pool` models ``UniswapV3Pool`` without the oracle (observations, seconds per
liquidity) and without callbacks: whoever trades or mints is assumed to pay what is owed. Each
operation is atomic: when it reverts, the pool is left unchanged.

Examples
--------
>>> pool = Pool(fee=3000, tick_spacing=60, sqrt_price_x96=Q96)
>>> pool.mint(-600, 600, 10**18)
(29553010879137170, 29553010879137170)
>>> amount0, amount1 = pool.swap(True, 10**16, MIN_SQRT_RATIO + 1)
>>> amount0, pool.last_swap.steps
(10000000000000000, 2)
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace
from typing import Hashable, Mapping

from contagion.errors import AmmError

__all__ = [
    "MIN_TICK",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MAX_SQRT_RATIO",
    "Q96",
    "Q128",
    "mul_div",
    "mul_div_rounding_up",
    "get_sqrt_ratio_at_tick",
    "get_tick_at_sqrt_ratio",
    "get_amount0_delta",
    "get_amount1_delta",
    "get_amount0_delta_signed",
    "get_amount1_delta_signed",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
    "compute_swap_step",
    "next_initialized_tick_within_one_word",
    "max_liquidity_per_tick",
    "TickInfo",
    "Position",
    "SwapReport",
    "Pool",
]

MIN_TICK = -887272
"""Lowest tick, ``log_1.0001(2**-128)``."""
MAX_TICK = 887272
"""Highest tick, ``-MIN_TICK``."""
MIN_SQRT_RATIO = 4295128739
"""``get_sqrt_ratio_at_tick(MIN_TICK)`` (Q64.96)."""
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
"""``get_sqrt_ratio_at_tick(MAX_TICK)`` (Q64.96); prices are always strictly below it."""
Q96 = 1 << 96
"""``2**96``, the unit of a Q64.96 square-root price."""
Q128 = 1 << 128
"""``2**128``, the unit of a Q128.128 fee-growth value."""

_MAX_UINT128 = (1 << 128) - 1
_MAX_UINT160 = (1 << 160) - 1
_MAX_UINT256 = (1 << 256) - 1
_MIN_INT128 = -(1 << 127)
_MAX_INT128 = (1 << 127) - 1
_MIN_INT256 = -(1 << 255)
_MAX_INT256 = (1 << 255) - 1
_PIPS = 1_000_000

# TickMath: sqrt(1.0001)**(-1) in Q128 for bit 0, then sqrt(1.0001)**(-2**k) in Q128 for bits k=1..19.
_RATIO_BIT0 = 0xFFFCB933BD6FAD37AA2D162D1A594001
_RATIO_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)
# getTickAtSqrtRatio: log_2 -> log_sqrt(1.0001) in Q128.128, and the error bounds of the estimate.
_LOG_SQRT10001_FACTOR = 255738958999603826347141
_TICK_LOW_OFFSET = 3402992956809132418596140100660247210
_TICK_HI_OFFSET = 291339464771989622907027621153398088495


# ---------------------------------------------------------------------------------------------
# helpers: reverts and Solidity integer types
# ---------------------------------------------------------------------------------------------

def _revert(reason: str, detail: str | None = None) -> None:
    message = f"UniswapV3: {reason}" if detail is None else f"UniswapV3: {reason} ({detail})"
    raise AmmError(message)


def _uint(value: int, bits: int, name: str) -> int:
    """ABI check of an argument: ``value`` must fit ``uint<bits>``."""
    value = operator.index(value)
    if value < 0 or value >> bits:
        raise AmmError(f"UniswapV3: {name} must be a uint{bits} in [0, 2**{bits}), got {value}")
    return value


def _int(value: int, bits: int, name: str) -> int:
    """ABI check of an argument: ``value`` must fit ``int<bits>``."""
    value = operator.index(value)
    bound = 1 << (bits - 1)
    if not -bound <= value < bound:
        raise AmmError(f"UniswapV3: {name} must be an int{bits} in [-2**{bits - 1}, 2**{bits - 1}), got {value}")
    return value


def _to_uint160(value: int) -> int:
    """``SafeCast.toUint160``."""
    if value > _MAX_UINT160:
        _revert("SafeCast.toUint160 overflow", f"got {value}")
    return value


def _to_int256(value: int) -> int:
    """``SafeCast.toInt256`` of a uint256."""
    if value > _MAX_INT256:
        _revert("SafeCast.toInt256 overflow", f"got {value}")
    return value


def _checked_int256(value: int, what: str) -> int:
    """``LowGasSafeMath`` add/sub on int256."""
    if not _MIN_INT256 <= value <= _MAX_INT256:
        _revert(f"LowGasSafeMath int256 overflow in {what}", f"got {value}")
    return value


def _div_rounding_up(x: int, y: int) -> int:
    """``UnsafeMath.divRoundingUp``: ``ceil(x / y)``, and 0 for ``y == 0`` like the EVM ``div``."""
    if y == 0:
        return 0
    return -(-x // y)


def _add_delta(x: int, y: int, what: str) -> int:
    """``LiquidityMath.addDelta``: uint128 plus int128 with the ``LS`` / ``LA`` checks."""
    if y < 0:
        z = (x - (-y)) & _MAX_UINT128
        if not z < x:
            _revert("LS", f"{what}: liquidity {x} minus {-y} underflows")
    else:
        z = (x + y) & _MAX_UINT128
        if not z >= x:
            _revert("LA", f"{what}: liquidity {x} plus {y} overflows uint128")
    return z


def _truncating_div(a: int, b: int) -> int:
    """Solidity ``/`` on signed integers (rounds toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# ---------------------------------------------------------------------------------------------
# FullMath
# ---------------------------------------------------------------------------------------------

def mul_div(a: int, b: int, denominator: int) -> int:
    """``FullMath.mulDiv``: ``floor(a * b / denominator)`` with a 512-bit intermediate product.

    Parameters
    ----------
    a, b : int
        uint256 factors.
    denominator : int
        uint256 divisor.

    Returns
    -------
    int
        The uint256 quotient.

    Raises
    ------
    AmmError
        If ``denominator`` is 0 or the quotient does not fit 256 bits (the contract reverts).
    """
    a = _uint(a, 256, "a")
    b = _uint(b, 256, "b")
    denominator = _uint(denominator, 256, "denominator")
    if denominator == 0:
        _revert("FullMath.mulDiv denominator is 0")
    result = a * b // denominator
    if result > _MAX_UINT256:
        _revert("FullMath.mulDiv overflow", f"{a} * {b} / {denominator} does not fit uint256")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """``FullMath.mulDivRoundingUp``: ``ceil(a * b / denominator)``, reverting like :func:`mul_div`.

    Also reverts when the floor is ``2**256 - 1`` and a remainder forces it past uint256.
    """
    result = mul_div(a, b, denominator)
    if a * b % denominator:
        if result >= _MAX_UINT256:
            _revert("FullMath.mulDivRoundingUp overflow", f"{a} * {b} / {denominator} rounded up")
        result += 1
    return result


# ---------------------------------------------------------------------------------------------
# TickMath
# ---------------------------------------------------------------------------------------------

def get_sqrt_ratio_at_tick(tick: int) -> int:
    """``TickMath.getSqrtRatioAtTick``: ``sqrt(1.0001**tick) * 2**96``, rounded up.

    Parameters
    ----------
    tick : int
        Tick index (int24).

    Returns
    -------
    int
        Square-root price (Q64.96, uint160).

    Raises
    ------
    AmmError
        ``"UniswapV3: T"`` if ``|tick| > MAX_TICK``.
    """
    tick = operator.index(tick)
    abs_tick = abs(tick)
    if abs_tick > MAX_TICK:
        _revert("T", f"|tick| must be <= {MAX_TICK}, got {tick}")
    ratio = _RATIO_BIT0 if abs_tick & 0x1 else 1 << 128
    for bit, factor in _RATIO_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = _MAX_UINT256 // ratio
    # Q128.128 -> Q64.96, rounding up so that get_tick_at_sqrt_ratio of the result is consistent
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """``TickMath.getTickAtSqrtRatio``: the greatest tick whose ratio is ``<= sqrt_price_x96``.

    Parameters
    ----------
    sqrt_price_x96 : int
        Square-root price (Q64.96, uint160).

    Returns
    -------
    int
        Tick index (int24).

    Raises
    ------
    AmmError
        ``"UniswapV3: R"`` unless ``MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO``.
    """
    price = _uint(sqrt_price_x96, 160, "sqrt_price_x96")
    if not MIN_SQRT_RATIO <= price < MAX_SQRT_RATIO:
        _revert("R", f"sqrt_price_x96 must be in [{MIN_SQRT_RATIO}, {MAX_SQRT_RATIO}), got {price}")
    ratio = price << 32
    msb = ratio.bit_length() - 1
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    # 14 fractional bits of log2 by repeated squaring of the normalised mantissa
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * _LOG_SQRT10001_FACTOR
    tick_low = (log_sqrt10001 - _TICK_LOW_OFFSET) >> 128
    tick_high = (log_sqrt10001 + _TICK_HI_OFFSET) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if get_sqrt_ratio_at_tick(tick_high) <= price else tick_low


# ---------------------------------------------------------------------------------------------
# SqrtPriceMath
# ---------------------------------------------------------------------------------------------

def get_amount0_delta(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool) -> int:
    """``SqrtPriceMath.getAmount0Delta``: token0 between two prices, ``L * (b - a) / (a * b)``.

    Parameters
    ----------
    sqrt_ratio_a_x96, sqrt_ratio_b_x96 : int
        The two square-root prices (Q64.96, uint160), in either order.
    liquidity : int
        Liquidity (uint128).
    round_up : bool
        ``ceil(ceil(L*2**96*(b-a) / b) / a)`` if true, else the same with floors.

    Returns
    -------
    int
        Amount of token0 in wei (uint256).

    Raises
    ------
    AmmError
        If the lower price is 0, or on a FullMath overflow.
    """
    a = _uint(sqrt_ratio_a_x96, 160, "sqrt_ratio_a_x96")
    b = _uint(sqrt_ratio_b_x96, 160, "sqrt_ratio_b_x96")
    liquidity = _uint(liquidity, 128, "liquidity")
    if a > b:
        a, b = b, a
    numerator1 = liquidity << 96
    numerator2 = b - a
    if a == 0:
        _revert("SqrtPriceMath.getAmount0Delta: lower sqrt price is 0")
    if round_up:
        return _div_rounding_up(mul_div_rounding_up(numerator1, numerator2, b), a)
    return mul_div(numerator1, numerator2, b) // a


def get_amount1_delta(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool) -> int:
    """``SqrtPriceMath.getAmount1Delta``: token1 between two prices, ``L * (b - a) / 2**96``.

    Parameters
    ----------
    sqrt_ratio_a_x96, sqrt_ratio_b_x96 : int
        The two square-root prices (Q64.96, uint160), in either order.
    liquidity : int
        Liquidity (uint128).
    round_up : bool
        Round the quotient up (true) or down.

    Returns
    -------
    int
        Amount of token1 in wei (uint256).
    """
    a = _uint(sqrt_ratio_a_x96, 160, "sqrt_ratio_a_x96")
    b = _uint(sqrt_ratio_b_x96, 160, "sqrt_ratio_b_x96")
    liquidity = _uint(liquidity, 128, "liquidity")
    if a > b:
        a, b = b, a
    if round_up:
        return mul_div_rounding_up(liquidity, b - a, Q96)
    return mul_div(liquidity, b - a, Q96)


def get_amount0_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity_delta: int) -> int:
    """Signed ``getAmount0Delta`` used by mint/burn: owed to the pool (> 0) or paid out (< 0).

    Rounds up for ``liquidity_delta >= 0`` (the pool is paid) and down, negated, for a
    negative delta (the pool pays). ``liquidity_delta`` is an int128; the result an int256 (wei).
    """
    liquidity_delta = _int(liquidity_delta, 128, "liquidity_delta")
    if liquidity_delta < 0:
        return -_to_int256(get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity_delta, False))
    return _to_int256(get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity_delta, True))


def get_amount1_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity_delta: int) -> int:
    """Signed ``getAmount1Delta`` used by mint/burn (see :func:`get_amount0_delta_signed`)."""
    liquidity_delta = _int(liquidity_delta, 128, "liquidity_delta")
    if liquidity_delta < 0:
        return -_to_int256(get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity_delta, False))
    return _to_int256(get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity_delta, True))


def _next_sqrt_price_from_amount0_rounding_up(price: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return price
    numerator1 = liquidity << 96
    product = (amount * price) & _MAX_UINT256  # unchecked multiplication
    product_exact = product // amount == price
    if add:
        if product_exact:
            denominator = (numerator1 + product) & _MAX_UINT256
            if denominator >= numerator1:
                return mul_div_rounding_up(numerator1, price, denominator) & _MAX_UINT160
        # the precise formula overflowed: L / (L / P + amount), with a checked '+ amount'
        denominator1 = numerator1 // price + amount
        if denominator1 > _MAX_UINT256:
            _revert("LowGasSafeMath.add overflow", f"L/P + amount = {denominator1} in getNextSqrtPriceFromAmount0")
        return _div_rounding_up(numerator1, denominator1) & _MAX_UINT160
    if not (product_exact and numerator1 > product):
        _revert("SqrtPriceMath: amount0 out exceeds the virtual reserve",
                f"amount * sqrtP = {amount * price} must be < L * 2**96 = {numerator1}")
    return _to_uint160(mul_div_rounding_up(numerator1, price, numerator1 - product))


def _next_sqrt_price_from_amount1_rounding_down(price: int, liquidity: int, amount: int, add: bool) -> int:
    if add:
        if amount <= _MAX_UINT160:
            quotient = (amount << 96) // liquidity
        else:
            quotient = mul_div(amount, Q96, liquidity)
        total = price + quotient
        if total > _MAX_UINT256:
            _revert("LowGasSafeMath.add overflow", f"sqrtP + quotient = {total}")
        return _to_uint160(total)
    if amount <= _MAX_UINT160:
        quotient = _div_rounding_up(amount << 96, liquidity)
    else:
        quotient = mul_div_rounding_up(amount, Q96, liquidity)
    if not price > quotient:
        _revert("SqrtPriceMath: amount1 out exceeds the virtual reserve",
                f"amount * 2**96 / L = {quotient} must be < sqrtP = {price}")
    return price - quotient


def get_next_sqrt_price_from_input(sqrt_price_x96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromInput``: the price after ``amount_in`` is added.

    Parameters
    ----------
    sqrt_price_x96 : int
        Starting square-root price (Q64.96, uint160), must be > 0.
    liquidity : int
        Usable liquidity (uint128), must be > 0.
    amount_in : int
        Input amount in wei (uint256), token0 if ``zero_for_one`` else token1.
    zero_for_one : bool
        Token0 in (price goes down, rounded up) or token1 in (price goes up, rounded down).

    Returns
    -------
    int
        The next square-root price (Q64.96).

    Raises
    ------
    AmmError
        If the price or liquidity is 0, or the result overflows (uint160 / checked add).
    """
    price = _uint(sqrt_price_x96, 160, "sqrt_price_x96")
    liquidity = _uint(liquidity, 128, "liquidity")
    amount_in = _uint(amount_in, 256, "amount_in")
    if price == 0:
        _revert("SqrtPriceMath.getNextSqrtPriceFromInput: sqrtPX96 is 0")
    if liquidity == 0:
        _revert("SqrtPriceMath.getNextSqrtPriceFromInput: liquidity is 0")
    if zero_for_one:
        return _next_sqrt_price_from_amount0_rounding_up(price, liquidity, amount_in, True)
    return _next_sqrt_price_from_amount1_rounding_down(price, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_price_x96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromOutput``: the price after ``amount_out`` is removed.

    Parameters
    ----------
    sqrt_price_x96 : int
        Starting square-root price (Q64.96, uint160), must be > 0.
    liquidity : int
        Usable liquidity (uint128), must be > 0.
    amount_out : int
        Output amount in wei (uint256), token1 if ``zero_for_one`` else token0.
    zero_for_one : bool
        Token1 out (price goes down, rounded down) or token0 out (price goes up, rounded up).

    Returns
    -------
    int
        The next square-root price (Q64.96).

    Raises
    ------
    AmmError
        If the price or liquidity is 0, or the output is not below the virtual reserve.
    """
    price = _uint(sqrt_price_x96, 160, "sqrt_price_x96")
    liquidity = _uint(liquidity, 128, "liquidity")
    amount_out = _uint(amount_out, 256, "amount_out")
    if price == 0:
        _revert("SqrtPriceMath.getNextSqrtPriceFromOutput: sqrtPX96 is 0")
    if liquidity == 0:
        _revert("SqrtPriceMath.getNextSqrtPriceFromOutput: liquidity is 0")
    if zero_for_one:
        return _next_sqrt_price_from_amount1_rounding_down(price, liquidity, amount_out, False)
    return _next_sqrt_price_from_amount0_rounding_up(price, liquidity, amount_out, False)


# ---------------------------------------------------------------------------------------------
# SwapMath
# ---------------------------------------------------------------------------------------------

def compute_swap_step(sqrt_ratio_current_x96: int, sqrt_ratio_target_x96: int, liquidity: int,
                      amount_remaining: int, fee_pips: int) -> tuple[int, int, int, int]:
    """``SwapMath.computeSwapStep``: one step of a swap towards ``sqrt_ratio_target_x96``.

    The direction is ``zero_for_one = current >= target``; ``amount_remaining >= 0`` means exact
    input (the fee is taken from it), a negative value means exact output.

    Parameters
    ----------
    sqrt_ratio_current_x96, sqrt_ratio_target_x96 : int
        Current and target square-root prices (Q64.96, uint160).
    liquidity : int
        Usable liquidity (uint128).
    amount_remaining : int
        Input (> = 0) or minus the output (< 0) still to swap, in wei (int256).
    fee_pips : int
        Fee in pips (1e-6), in ``[0, 1e6)``.

    Returns
    -------
    tuple of int
        ``(sqrt_ratio_next_x96, amount_in, amount_out, fee_amount)``, amounts in wei; the fee is
        in the input token and not included in ``amount_in``.
    """
    current = _uint(sqrt_ratio_current_x96, 160, "sqrt_ratio_current_x96")
    target = _uint(sqrt_ratio_target_x96, 160, "sqrt_ratio_target_x96")
    liquidity = _uint(liquidity, 128, "liquidity")
    amount_remaining = _int(amount_remaining, 256, "amount_remaining")
    fee_pips = operator.index(fee_pips)
    if not 0 <= fee_pips < _PIPS:
        raise AmmError(f"UniswapV3: fee_pips must be in [0, 1000000), got {fee_pips}")

    zero_for_one = current >= target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0

    if exact_in:
        remaining_less_fee = mul_div(amount_remaining, _PIPS - fee_pips, _PIPS)
        amount_in = (get_amount0_delta(target, current, liquidity, True) if zero_for_one
                     else get_amount1_delta(current, target, liquidity, True))
        if remaining_less_fee >= amount_in:
            next_price = target
        else:
            next_price = get_next_sqrt_price_from_input(current, liquidity, remaining_less_fee, zero_for_one)
    else:
        amount_out = (get_amount1_delta(target, current, liquidity, False) if zero_for_one
                      else get_amount0_delta(current, target, liquidity, False))
        if -amount_remaining >= amount_out:
            next_price = target
        else:
            next_price = get_next_sqrt_price_from_output(current, liquidity, -amount_remaining, zero_for_one)

    reached_target = next_price == target
    if zero_for_one:
        if not (reached_target and exact_in):
            amount_in = get_amount0_delta(next_price, current, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = get_amount1_delta(next_price, current, liquidity, False)
    else:
        if not (reached_target and exact_in):
            amount_in = get_amount1_delta(current, next_price, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = get_amount0_delta(current, next_price, liquidity, False)

    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining

    if exact_in and next_price != target:
        # the target was not reached: the whole remainder of the input is the fee
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, _PIPS - fee_pips)
    return next_price, amount_in, amount_out, fee_amount


# ---------------------------------------------------------------------------------------------
# TickBitmap and Tick
# ---------------------------------------------------------------------------------------------

def next_initialized_tick_within_one_word(bitmap: Mapping[int, int], tick: int, tick_spacing: int,
                                          lte: bool) -> tuple[int, bool]:
    """``TickBitmap.nextInitializedTickWithinOneWord``: search one 256-bit word of the bitmap.

    Parameters
    ----------
    bitmap : mapping of int to int
        Word position (``compressed >> 8``) to the 256-bit word; bit ``compressed % 256`` is set
        when tick ``compressed * tick_spacing`` is initialized.
    tick : int
        Starting tick.
    tick_spacing : int
        Spacing between usable ticks.
    lte : bool
        Search to the left, including ``tick`` itself (a ``zero_for_one`` swap), else strictly
        to the right.

    Returns
    -------
    tuple of (int, bool)
        The next initialized tick in the word and ``True``, or the word's boundary tick and
        ``False`` when the word has none, which makes a swap stop at each word boundary.
    """
    compressed = tick // tick_spacing  # rounds towards negative infinity, as the contract does
    if lte:
        word, bit = compressed >> 8, compressed & 0xFF
        masked = bitmap.get(word, 0) & ((1 << (bit + 1)) - 1)
        if masked:
            return (compressed - (bit - (masked.bit_length() - 1))) * tick_spacing, True
        return (compressed - bit) * tick_spacing, False
    compressed += 1
    word, bit = compressed >> 8, compressed & 0xFF
    masked = bitmap.get(word, 0) & ~((1 << bit) - 1) & _MAX_UINT256
    if masked:
        lowest = (masked & -masked).bit_length() - 1
        return (compressed + (lowest - bit)) * tick_spacing, True
    return (compressed + (255 - bit)) * tick_spacing, False


def max_liquidity_per_tick(tick_spacing: int) -> int:
    """``Tick.tickSpacingToMaxLiquidityPerTick``: ``(2**128 - 1) // number of usable ticks``."""
    min_tick = _truncating_div(MIN_TICK, tick_spacing) * tick_spacing
    max_tick = _truncating_div(MAX_TICK, tick_spacing) * tick_spacing
    num_ticks = (max_tick - min_tick) // tick_spacing + 1
    return _MAX_UINT128 // num_ticks


@dataclass(frozen=True)
class TickInfo:
    """State of one initialized tick (``Tick.Info`` without the oracle fields).

    Attributes
    ----------
    liquidity_gross : int
        Total liquidity of the positions that use this tick as a bound (uint128).
    liquidity_net : int
        Liquidity added when the tick is crossed left to right (int128).
    fee_growth_outside0_x128, fee_growth_outside1_x128 : int
        Fee growth per unit of liquidity on the other side of the tick (Q128.128).
    """

    liquidity_gross: int = 0
    liquidity_net: int = 0
    fee_growth_outside0_x128: int = 0
    fee_growth_outside1_x128: int = 0


@dataclass(frozen=True)
class Position:
    """An LP position (``Position.Info``).

    Attributes
    ----------
    liquidity : int
        Liquidity of the position (uint128).
    fee_growth_inside0_last_x128, fee_growth_inside1_last_x128 : int
        Fee growth inside the range at the last poke (Q128.128).
    tokens_owed0, tokens_owed1 : int
        Fees and burnt principal not yet collected, in wei (uint128).
    """

    liquidity: int = 0
    fee_growth_inside0_last_x128: int = 0
    fee_growth_inside1_last_x128: int = 0
    tokens_owed0: int = 0
    tokens_owed1: int = 0


@dataclass(frozen=True)
class SwapReport:
    """What one :meth:`Pool.swap` did, beyond the two deltas it returns.

    Attributes
    ----------
    amount0, amount1 : int
        Pool-side deltas in wei (+ paid into the pool, - paid out).
    steps : int
        Iterations of the swap loop (one per ``computeSwapStep``, word boundaries included).
    ticks_crossed : tuple of (int, int)
        Initialized ticks crossed, in order, each with the in-range liquidity just before it.
    protocol_fee : int
        Protocol fee taken from this swap, in wei of the input token.
    """

    amount0: int
    amount1: int
    steps: int
    ticks_crossed: tuple[tuple[int, int], ...]
    protocol_fee: int


# ---------------------------------------------------------------------------------------------
# Pool
# ---------------------------------------------------------------------------------------------

class Pool:
    """A ``UniswapV3Pool`` reduced to its accounting: slot0, liquidity, ticks, positions, fees.

    Parameters
    ----------
    fee : int
        Swap fee in pips (1e-6), e.g. 500, 3000, 10000.
    tick_spacing : int
        Spacing of usable ticks (10, 60, 200 for the standard fee tiers), in ``[1, 16384)``.
    sqrt_price_x96 : int, optional
        Initial square-root price (Q64.96). If omitted, call :meth:`initialize` before use;
        until then every operation reverts with ``"LOK"`` like the contract.

    Attributes
    ----------
    sqrt_price_x96 : int
        Current square-root price (Q64.96).
    tick : int
        Current tick (``get_tick_at_sqrt_ratio`` of the price, or ``tickNext - 1`` right after
        crossing an initialized tick downwards).
    liquidity : int
        In-range liquidity.
    fee_growth_global0_x128, fee_growth_global1_x128 : int
        Fee growth per unit of liquidity since creation (Q128.128, wraps modulo ``2**256``).
    fee_protocol : int
        Packed protocol fee denominators: ``token0 + (token1 << 4)`` (``slot0.feeProtocol``).
    protocol_fees0, protocol_fees1 : int
        Protocol fees accrued and not yet collected (wei).
    balance0, balance1 : int
        Tokens held by the pool (wei): what was paid in minus what was paid out.
    last_swap : SwapReport or None
        Report of the most recent successful swap.

    Examples
    --------
    >>> pool = Pool(500, 10, Q96)
    >>> pool.mint(-887270, 887270, 1000 * 10**18)
    (999999999999999999946, 999999999999999999946)
    """

    def __init__(self, fee: int, tick_spacing: int, sqrt_price_x96: int | None = None):
        fee = operator.index(fee)
        tick_spacing = operator.index(tick_spacing)
        if not 0 <= fee < _PIPS:
            raise AmmError(f"UniswapV3: fee must be in [0, 1000000) pips, got {fee}")
        if not 0 < tick_spacing < 16384:
            raise AmmError(f"UniswapV3: tick_spacing must be in [1, 16384), got {tick_spacing}")
        self.fee = fee
        self.tick_spacing = tick_spacing
        self.max_liquidity_per_tick = max_liquidity_per_tick(tick_spacing)
        self.sqrt_price_x96 = 0
        self.tick = 0
        self.liquidity = 0
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.fee_protocol = 0
        self.protocol_fees0 = 0
        self.protocol_fees1 = 0
        self.balance0 = 0
        self.balance1 = 0
        self.last_swap: SwapReport | None = None
        self._unlocked = False
        self._ticks: dict[int, TickInfo] = {}
        self._bitmap: dict[int, int] = {}
        self._positions: dict[tuple[Hashable, int, int], Position] = {}
        if sqrt_price_x96 is not None:
            self.initialize(sqrt_price_x96)

    # -- read-only views -----------------------------------------------------------------------

    def tick_info(self, tick: int) -> TickInfo:
        """State of ``tick`` (all zeros when it is not initialized)."""
        return self._ticks.get(tick, TickInfo())

    def initialized_ticks(self) -> list[int]:
        """Initialized ticks in increasing order."""
        return sorted(self._ticks)

    def position(self, tick_lower: int, tick_upper: int, owner: Hashable = "lp") -> Position:
        """State of the position of ``owner`` on ``[tick_lower, tick_upper)``."""
        return self._positions.get((owner, tick_lower, tick_upper), Position())

    # -- owner actions -------------------------------------------------------------------------

    def initialize(self, sqrt_price_x96: int) -> None:
        """``initialize``: set the starting price; reverts ``"AI"`` if already initialized, ``"R"``."""
        if self.sqrt_price_x96 != 0:
            _revert("AI", "the pool is already initialized")
        price = _uint(sqrt_price_x96, 160, "sqrt_price_x96")
        tick = get_tick_at_sqrt_ratio(price)
        self.sqrt_price_x96, self.tick, self.fee_protocol, self._unlocked = price, tick, 0, True

    def set_fee_protocol(self, fee_protocol0: int, fee_protocol1: int) -> None:
        """``setFeeProtocol``: the protocol takes ``1/fee_protocol`` of the swap fee per token.

        Each value must be 0 (off) or in ``[4, 10]``; packed as ``fp0 + (fp1 << 4)``.
        """
        self._check_unlocked()
        for value in (fee_protocol0, fee_protocol1):
            if not (value == 0 or 4 <= value <= 10):
                _revert("setFeeProtocol: each fee protocol must be 0 or in [4, 10]",
                        f"got ({fee_protocol0}, {fee_protocol1})")
        self.fee_protocol = fee_protocol0 + (fee_protocol1 << 4)

    def collect_protocol(self, amount0_requested: int, amount1_requested: int) -> tuple[int, int]:
        """``collectProtocol``: pay out protocol fees (wei), leaving 1 wei when all is requested."""
        self._check_unlocked()
        amount0 = min(_uint(amount0_requested, 128, "amount0_requested"), self.protocol_fees0)
        amount1 = min(_uint(amount1_requested, 128, "amount1_requested"), self.protocol_fees1)
        if amount0 > 0 and amount0 == self.protocol_fees0:
            amount0 -= 1  # the contract keeps the storage slot non-zero
        if amount1 > 0 and amount1 == self.protocol_fees1:
            amount1 -= 1
        self._check_transfer(amount0, amount1)
        self.protocol_fees0 -= amount0
        self.protocol_fees1 -= amount1
        self.balance0 -= amount0
        self.balance1 -= amount1
        return amount0, amount1

    # -- LP actions ----------------------------------------------------------------------------

    def mint(self, tick_lower: int, tick_upper: int, liquidity: int, owner: Hashable = "lp") -> tuple[int, int]:
        """``mint``: add ``liquidity`` to a position; returns the owed ``(amount0, amount1)`` (wei).

        The amounts round up: below the range only token0, in range both (and the pool's
        in-range liquidity grows), above the range only token1. They are added to the balances.
        """
        self._check_unlocked()
        liquidity = _uint(liquidity, 128, "liquidity")
        if liquidity == 0:
            _revert("mint: amount must be > 0")
        if liquidity > _MAX_INT128:
            _revert("SafeCast.toInt128 overflow", f"got {liquidity}")
        amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, liquidity)
        self.balance0 += amount0
        self.balance1 += amount1
        return amount0, amount1

    def burn(self, tick_lower: int, tick_upper: int, liquidity: int, owner: Hashable = "lp") -> tuple[int, int]:
        """``burn``: remove liquidity (0 pokes the position's fees); returns the freed amounts.

        The freed amounts round down and are added to the position's ``tokens_owed``; nothing
        is transferred until :meth:`collect`.
        """
        self._check_unlocked()
        liquidity = _uint(liquidity, 128, "liquidity")
        if liquidity > _MAX_INT128:
            _revert("SafeCast.toInt128 overflow", f"got {liquidity}")
        amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, -liquidity)
        amount0, amount1 = -amount0, -amount1
        if amount0 > 0 or amount1 > 0:
            key = (owner, tick_lower, tick_upper)
            position = self._positions[key]
            self._positions[key] = replace(
                position,
                tokens_owed0=(position.tokens_owed0 + amount0) & _MAX_UINT128,
                tokens_owed1=(position.tokens_owed1 + amount1) & _MAX_UINT128,
            )
        return amount0, amount1

    def collect(self, tick_lower: int, tick_upper: int, amount0_requested: int, amount1_requested: int,
                owner: Hashable = "lp") -> tuple[int, int]:
        """``collect``: pay out up to the requested owed tokens (wei) of a position."""
        self._check_unlocked()
        key = (owner, tick_lower, tick_upper)
        position = self._positions.get(key, Position())
        amount0 = min(_uint(amount0_requested, 128, "amount0_requested"), position.tokens_owed0)
        amount1 = min(_uint(amount1_requested, 128, "amount1_requested"), position.tokens_owed1)
        self._check_transfer(amount0, amount1)
        if amount0 or amount1:
            self._positions[key] = replace(position, tokens_owed0=position.tokens_owed0 - amount0,
                                           tokens_owed1=position.tokens_owed1 - amount1)
        self.balance0 -= amount0
        self.balance1 -= amount1
        return amount0, amount1

    # -- swap ----------------------------------------------------------------------------------

    def swap(self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int) -> tuple[int, int]:
        """``swap``: trade against the pool until the amount is used or the price limit is hit.

        Parameters
        ----------
        zero_for_one : bool
            Token0 in, token1 out (price goes down) if true.
        amount_specified : int
            Exact input if > 0, exact output if < 0 (wei of the input / output token, int256).
        sqrt_price_limit_x96 : int
            Price the swap may not pass (Q64.96): strictly between ``MIN_SQRT_RATIO`` and the
            current price for ``zero_for_one``, between the current price and
            ``MAX_SQRT_RATIO`` otherwise.

        Returns
        -------
        tuple of int
            ``(amount0, amount1)``, pool-side deltas in wei (+ paid in, - paid out). Details are
            in :attr:`last_swap`.

        Raises
        ------
        AmmError
            ``"AS"`` for a zero amount, ``"LOK"`` before initialisation, ``"SPL"`` for a bad
            price limit, ``"TF"`` if the pool cannot pay the output, or an arithmetic revert.
        """
        amount_specified = _int(amount_specified, 256, "amount_specified")
        limit = _uint(sqrt_price_limit_x96, 160, "sqrt_price_limit_x96")
        if amount_specified == 0:
            _revert("AS", "amount_specified must be non-zero")
        self._check_unlocked()
        if zero_for_one:
            if not (limit < self.sqrt_price_x96 and limit > MIN_SQRT_RATIO):
                _revert("SPL", f"a zero_for_one price limit must be in ({MIN_SQRT_RATIO}, "
                               f"{self.sqrt_price_x96}), got {limit}")
        elif not (limit > self.sqrt_price_x96 and limit < MAX_SQRT_RATIO):
            _revert("SPL", f"a one_for_zero price limit must be in ({self.sqrt_price_x96}, "
                           f"{MAX_SQRT_RATIO}), got {limit}")

        fee_protocol = self.fee_protocol % 16 if zero_for_one else self.fee_protocol >> 4
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        price = self.sqrt_price_x96
        tick = self.tick
        liquidity = self.liquidity
        fee_growth = self.fee_growth_global0_x128 if zero_for_one else self.fee_growth_global1_x128
        protocol_fee = 0
        steps = 0
        crossed: list[tuple[int, int]] = []
        crossed_infos: dict[int, TickInfo] = {}

        while remaining != 0 and price != limit:
            steps += 1
            price_start = price
            tick_next, initialized = next_initialized_tick_within_one_word(
                self._bitmap, tick, self.tick_spacing, zero_for_one)
            tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
            price_next = get_sqrt_ratio_at_tick(tick_next)
            beyond_limit = price_next < limit if zero_for_one else price_next > limit
            price, amount_in, amount_out, fee_amount = compute_swap_step(
                price, limit if beyond_limit else price_next, liquidity, remaining, self.fee)

            if exact_input:
                remaining -= _to_int256(amount_in + fee_amount)
                calculated = _checked_int256(calculated - _to_int256(amount_out), "amountCalculated")
            else:
                remaining += _to_int256(amount_out)
                calculated = _checked_int256(calculated + _to_int256(amount_in + fee_amount), "amountCalculated")

            if fee_protocol > 0:
                delta = fee_amount // fee_protocol
                fee_amount -= delta
                protocol_fee = (protocol_fee + delta) & _MAX_UINT128

            if liquidity > 0:
                fee_growth = (fee_growth + mul_div(fee_amount, Q128, liquidity)) & _MAX_UINT256

            if price == price_next:
                if initialized:
                    info = self._ticks[tick_next]
                    global0 = fee_growth if zero_for_one else self.fee_growth_global0_x128
                    global1 = self.fee_growth_global1_x128 if zero_for_one else fee_growth
                    crossed_infos[tick_next] = replace(
                        info,
                        fee_growth_outside0_x128=(global0 - info.fee_growth_outside0_x128) & _MAX_UINT256,
                        fee_growth_outside1_x128=(global1 - info.fee_growth_outside1_x128) & _MAX_UINT256,
                    )
                    liquidity_net = -info.liquidity_net if zero_for_one else info.liquidity_net
                    crossed.append((tick_next, liquidity))
                    liquidity = _add_delta(liquidity, liquidity_net, f"crossing tick {tick_next}")
                tick = tick_next - 1 if zero_for_one else tick_next
            elif price != price_start:
                tick = get_tick_at_sqrt_ratio(price)

        if zero_for_one == exact_input:
            amount0, amount1 = amount_specified - remaining, calculated
        else:
            amount0, amount1 = calculated, amount_specified - remaining
        self._check_transfer(max(-amount0, 0), max(-amount1, 0))

        # commit: nothing above has touched the pool's state
        self.sqrt_price_x96, self.tick, self.liquidity = price, tick, liquidity
        self._ticks.update(crossed_infos)
        if zero_for_one:
            self.fee_growth_global0_x128 = fee_growth
            self.protocol_fees0 = (self.protocol_fees0 + protocol_fee) & _MAX_UINT128
        else:
            self.fee_growth_global1_x128 = fee_growth
            self.protocol_fees1 = (self.protocol_fees1 + protocol_fee) & _MAX_UINT128
        self.balance0 += amount0
        self.balance1 += amount1
        self.last_swap = SwapReport(amount0, amount1, steps, tuple(crossed), protocol_fee)
        return amount0, amount1

    # -- internals -----------------------------------------------------------------------------

    def _check_unlocked(self) -> None:
        if not self._unlocked:
            _revert("LOK", "the pool is not initialized")

    def _check_transfer(self, out0: int, out1: int) -> None:
        """``TransferHelper.safeTransfer`` fails (``TF``) if the pool does not hold the tokens."""
        if out0 > self.balance0 or out1 > self.balance1:
            _revert("TF", f"pool holds ({self.balance0}, {self.balance1}) wei, asked to pay ({out0}, {out1})")

    def _updated_tick(self, tick: int, liquidity_delta: int, upper: bool) -> tuple[TickInfo, bool]:
        """``Tick.update`` on a copy: the new info and whether the tick flipped."""
        info = self._ticks.get(tick, TickInfo())
        gross_before = info.liquidity_gross
        gross_after = _add_delta(gross_before, liquidity_delta, f"tick {tick} liquidityGross")
        if gross_after > self.max_liquidity_per_tick:
            _revert("LO", f"tick {tick} liquidityGross {gross_after} exceeds {self.max_liquidity_per_tick}")
        flipped = (gross_after == 0) != (gross_before == 0)
        outside0, outside1 = info.fee_growth_outside0_x128, info.fee_growth_outside1_x128
        if gross_before == 0 and tick <= self.tick:
            # by convention all growth before initialisation happened below the tick
            outside0, outside1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        net = info.liquidity_net - liquidity_delta if upper else info.liquidity_net + liquidity_delta
        if not _MIN_INT128 <= net <= _MAX_INT128:
            _revert("SafeCast.toInt128 overflow", f"tick {tick} liquidityNet {net}")
        return TickInfo(gross_after, net, outside0, outside1), flipped

    def _flip_tick(self, bitmap: dict[int, int], tick: int) -> None:
        if tick % self.tick_spacing != 0:
            _revert("TickBitmap.flipTick: tick is not a multiple of tick_spacing",
                    f"tick {tick}, tick_spacing {self.tick_spacing}")
        compressed = tick // self.tick_spacing
        word = compressed >> 8
        bitmap[word] = bitmap.get(word, 0) ^ (1 << (compressed & 0xFF))

    def _fee_growth_inside(self, lower: TickInfo, upper: TickInfo, tick_lower: int,
                           tick_upper: int) -> tuple[int, int]:
        """``Tick.getFeeGrowthInside`` for the current tick (Q128.128, wrapping)."""
        inside = []
        for global_growth, lower_out, upper_out in (
            (self.fee_growth_global0_x128, lower.fee_growth_outside0_x128, upper.fee_growth_outside0_x128),
            (self.fee_growth_global1_x128, lower.fee_growth_outside1_x128, upper.fee_growth_outside1_x128),
        ):
            below = lower_out if self.tick >= tick_lower else global_growth - lower_out
            above = upper_out if self.tick < tick_upper else global_growth - upper_out
            inside.append((global_growth - below - above) & _MAX_UINT256)
        return inside[0], inside[1]

    def _modify_position(self, owner: Hashable, tick_lower: int, tick_upper: int,
                         liquidity_delta: int) -> tuple[int, int]:
        """``_modifyPosition``: update ticks, bitmap, position and in-range liquidity atomically.

        Returns the signed amounts owed to the pool (negative when the pool owes them).
        """
        tick_lower = operator.index(tick_lower)
        tick_upper = operator.index(tick_upper)
        if not tick_lower < tick_upper:
            _revert("TLU", f"tick_lower {tick_lower} must be < tick_upper {tick_upper}")
        if tick_lower < MIN_TICK:
            _revert("TLM", f"tick_lower must be >= {MIN_TICK}, got {tick_lower}")
        if tick_upper > MAX_TICK:
            _revert("TUM", f"tick_upper must be <= {MAX_TICK}, got {tick_upper}")

        key = (owner, tick_lower, tick_upper)
        position = self._positions.get(key, Position())
        ticks = dict(self._ticks)
        bitmap = dict(self._bitmap)
        lower_info = ticks.get(tick_lower, TickInfo())
        upper_info = ticks.get(tick_upper, TickInfo())
        flipped_lower = flipped_upper = False
        if liquidity_delta != 0:
            lower_info, flipped_lower = self._updated_tick(tick_lower, liquidity_delta, upper=False)
            upper_info, flipped_upper = self._updated_tick(tick_upper, liquidity_delta, upper=True)
            if flipped_lower:
                self._flip_tick(bitmap, tick_lower)
            if flipped_upper:
                self._flip_tick(bitmap, tick_upper)
        inside0, inside1 = self._fee_growth_inside(lower_info, upper_info, tick_lower, tick_upper)

        # Position.update
        if liquidity_delta == 0:
            if position.liquidity == 0:
                _revert("NP", f"no position of {owner!r} on [{tick_lower}, {tick_upper}) to poke")
            liquidity_next = position.liquidity
        else:
            liquidity_next = _add_delta(position.liquidity, liquidity_delta, "position")
        owed0 = mul_div((inside0 - position.fee_growth_inside0_last_x128) & _MAX_UINT256,
                        position.liquidity, Q128) & _MAX_UINT128
        owed1 = mul_div((inside1 - position.fee_growth_inside1_last_x128) & _MAX_UINT256,
                        position.liquidity, Q128) & _MAX_UINT128
        position = Position(
            liquidity=liquidity_next,
            fee_growth_inside0_last_x128=inside0,
            fee_growth_inside1_last_x128=inside1,
            tokens_owed0=(position.tokens_owed0 + owed0) & _MAX_UINT128,
            tokens_owed1=(position.tokens_owed1 + owed1) & _MAX_UINT128,
        )

        if liquidity_delta != 0:
            ticks[tick_lower], ticks[tick_upper] = lower_info, upper_info
        if liquidity_delta < 0:
            if flipped_lower:
                del ticks[tick_lower]
            if flipped_upper:
                del ticks[tick_upper]

        amount0 = amount1 = 0
        liquidity = self.liquidity
        if liquidity_delta != 0:
            sqrt_lower = get_sqrt_ratio_at_tick(tick_lower)
            sqrt_upper = get_sqrt_ratio_at_tick(tick_upper)
            if self.tick < tick_lower:
                amount0 = get_amount0_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
            elif self.tick < tick_upper:
                amount0 = get_amount0_delta_signed(self.sqrt_price_x96, sqrt_upper, liquidity_delta)
                amount1 = get_amount1_delta_signed(sqrt_lower, self.sqrt_price_x96, liquidity_delta)
                liquidity = _add_delta(liquidity, liquidity_delta, "pool")
            else:
                amount1 = get_amount1_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)

        # commit
        self._ticks = ticks
        self._bitmap = {word: bits for word, bits in bitmap.items() if bits}
        self._positions[key] = position
        self.liquidity = liquidity
        return amount0, amount1
