"""Reference constant-product AMM math (specification of ``contagion._ext.amm``).

Token units, float64. ``fee`` is the fraction of the input kept by the pool (Uniswap v2: 0.003);
the pool's invariant after a swap is checked on the fee-adjusted input, as in
``UniswapV2Pair.swap``, so the largest output it accepts is::

    amount_out = a (1 - fee) R_out / (R_in + a (1 - fee))
"""

from __future__ import annotations

import bisect
import math
import sys

import numpy as np

BUILD_DEBUG = False


def cp_amount_out(amount_in: float, reserve_in: float, reserve_out: float, fee: float) -> float:
    effective = amount_in * (1.0 - fee)
    return effective * reserve_out / (reserve_in + effective)


def cp_amount_in(amount_out: float, reserve_in: float, reserve_out: float, fee: float) -> float:
    return reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))


def cp_price_impact(amount_in: float, reserve_in: float, fee: float) -> float:
    effective = amount_in * (1.0 - fee)
    return effective / (reserve_in + effective)


def cp_amount_out_batch(amount_in, reserve_in, reserve_out, fee, out) -> None:
    effective = np.asarray(amount_in) * (1.0 - fee)
    out[:] = effective * reserve_out / (reserve_in + effective)


def cp_amount_in_batch(amount_out, reserve_in, reserve_out, fee, out) -> None:
    amount_out = np.asarray(amount_out)
    out[:] = reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))


def cp_price_impact_batch(amount_in, reserve_in, fee, out) -> None:
    effective = np.asarray(amount_in) * (1.0 - fee)
    out[:] = effective / (reserve_in + effective)


def cp_sequential_out(amounts_in, reserve_in: float, reserve_out: float, fee: float, out):
    for i, amount in enumerate(amounts_in):
        got = cp_amount_out(float(amount), reserve_in, reserve_out, fee)
        out[i] = got
        reserve_in += float(amount)
        reserve_out -= got
    return reserve_in, reserve_out


# ============================================================================================
# Concentrated liquidity (Uniswap v3) in float64 — specification of the v3_* kernels.
# sqrt prices are sqrt(price of token0 in token1); liquidity in sqrt(token0*token1) units;
# amount_specified > 0 is an exact input, < 0 an exact output; zero_for_one sells token0.
# ============================================================================================

MIN_TICK = -887272
MAX_TICK = 887272
_LOG_SQRT_1_0001 = 0.5 * math.log1p(1e-4)   # log(1.0001) would carry 1.0001's rounding (1e-12)


def v3_sqrt_price_at_tick(tick: int) -> float:
    return math.exp(tick * _LOG_SQRT_1_0001)


def v3_tick_at_sqrt_price(sqrt_price: float) -> int:
    tick = math.floor(math.log(sqrt_price) / _LOG_SQRT_1_0001)
    while tick < MAX_TICK and v3_sqrt_price_at_tick(tick + 1) <= sqrt_price:
        tick += 1
    while tick > MIN_TICK and v3_sqrt_price_at_tick(tick) > sqrt_price:
        tick -= 1
    return tick


def v3_amount0_delta(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    lo, hi = min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)
    return liquidity * (hi - lo) / (lo * hi)


def v3_amount1_delta(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    return liquidity * abs(sqrt_b - sqrt_a)


def v3_next_sqrt_price_from_input(sqrt_price, liquidity, amount, zero_for_one) -> float:
    if amount == 0.0:
        return sqrt_price
    if zero_for_one:
        return liquidity * sqrt_price / (liquidity + amount * sqrt_price)
    return sqrt_price + amount / liquidity


def v3_next_sqrt_price_from_output(sqrt_price, liquidity, amount, zero_for_one) -> float:
    if amount == 0.0:
        return sqrt_price
    if zero_for_one:
        q = sqrt_price - amount / liquidity
        return q if q > 0.0 else math.nan
    q = liquidity - amount * sqrt_price
    return liquidity * sqrt_price / q if q > 0.0 else math.nan


def _v3_step(sqrt_current, sqrt_target, liquidity, amount_remaining, fee):
    """``v3_swap_step`` plus whether the step uses up the whole remaining amount."""
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0.0
    amount_in = amount_out = 0.0
    short = False
    if exact_in:
        less_fee = amount_remaining * (1.0 - fee)
        amount_in = (v3_amount0_delta(sqrt_target, sqrt_current, liquidity) if zero_for_one
                     else v3_amount1_delta(sqrt_current, sqrt_target, liquidity))
        if less_fee >= amount_in:
            nxt = sqrt_target
        else:
            short = True
            nxt = v3_next_sqrt_price_from_input(sqrt_current, liquidity, less_fee, zero_for_one)
    else:
        amount_out = (v3_amount1_delta(sqrt_target, sqrt_current, liquidity) if zero_for_one
                      else v3_amount0_delta(sqrt_current, sqrt_target, liquidity))
        nxt = sqrt_target if -amount_remaining >= amount_out else v3_next_sqrt_price_from_output(
            sqrt_current, liquidity, -amount_remaining, zero_for_one)
    # keep the price between the current one and the target (float rounding could pass either)
    if (nxt < sqrt_target) if zero_for_one else (nxt > sqrt_target):
        nxt = sqrt_target
    elif (nxt > sqrt_current) if zero_for_one else (nxt < sqrt_current):
        nxt = sqrt_current
    reached = nxt == sqrt_target
    if not (reached and exact_in):
        amount_in = (v3_amount0_delta(nxt, sqrt_current, liquidity) if zero_for_one
                     else v3_amount1_delta(sqrt_current, nxt, liquidity))
    if not (reached and not exact_in):
        amount_out = (v3_amount1_delta(nxt, sqrt_current, liquidity) if zero_for_one
                      else v3_amount0_delta(sqrt_current, nxt, liquidity))
    if exact_in:
        fee_amount = amount_in * fee / (1.0 - fee)
        spent = short or amount_in + fee_amount >= amount_remaining
        if spent:
            amount_in = min(amount_in, amount_remaining)
            fee_amount = amount_remaining - amount_in   # the whole remainder is used
    else:
        amount_out = min(amount_out, -amount_remaining)
        fee_amount = amount_in * fee / (1.0 - fee)
        spent = not reached or amount_out == -amount_remaining
    return nxt, amount_in, amount_out, fee_amount, spent


def v3_swap_step(sqrt_current, sqrt_target, liquidity, amount_remaining, fee):
    return _v3_step(sqrt_current, sqrt_target, liquidity, amount_remaining, fee)[:4]


def v3_swap(sqrt_price, liquidity, tick, ticks, liquidity_net, outside0, outside1, amount_specified,
            zero_for_one, sqrt_price_limit, fee, growth0=0.0, growth1=0.0):
    ticks = [int(t) for t in ticks]
    exact_in = amount_specified > 0.0
    remaining, calculated, used, crossed = amount_specified, 0.0, 0.0, 0
    tick = int(tick)
    error = 0
    steps = 0
    scale = abs(liquidity)   # bounds every partial sum of the nets: residue is ulps of it
    for x in liquidity_net:
        scale += abs(float(x))
    while remaining != 0.0 and sqrt_price != sqrt_price_limit:
        steps += 1
        if steps > 10_000_000:
            error = 2
            break
        if zero_for_one:
            k = bisect.bisect_right(ticks, tick) - 1       # greatest initialized tick <= tick
        else:
            k = bisect.bisect_right(ticks, tick)           # smallest initialized tick > tick
        initialized = 0 <= k < len(ticks)
        tick_next = ticks[k] if initialized else (MIN_TICK if zero_for_one else MAX_TICK)
        s_tick = v3_sqrt_price_at_tick(tick_next)
        s_target = max(s_tick, sqrt_price_limit) if zero_for_one else min(s_tick, sqrt_price_limit)
        if liquidity > 0.0:
            nxt, a_in, a_out, fee_amount, spent = _v3_step(sqrt_price, s_target, liquidity, remaining, fee)
            if math.isnan(nxt):
                error = 1
                break
        elif abs(remaining) <= 1e-12 * abs(amount_specified):
            used, remaining = used + remaining, 0.0   # float dust: stop before an empty range
            break
        else:
            nxt, a_in, a_out, fee_amount, spent = s_target, 0.0, 0.0, 0.0, False
        # `used` is accumulated directly (amount_specified - remaining would cancel catastrophically)
        if spent:
            used, remaining = used + remaining, 0.0
        elif exact_in:
            used, remaining = used + (a_in + fee_amount), remaining - (a_in + fee_amount)
        else:
            used, remaining = used - a_out, remaining + a_out
        calculated += -a_out if exact_in else a_in + fee_amount
        if liquidity > 0.0:
            if zero_for_one:
                growth0 += fee_amount / liquidity
            else:
                growth1 += fee_amount / liquidity
        s_start, sqrt_price = sqrt_price, nxt
        if sqrt_price == s_tick:
            if initialized:
                net = float(liquidity_net[k])
                outside0[k] = growth0 - outside0[k]
                outside1[k] = growth1 - outside1[k]
                liquidity += -net if zero_for_one else net
                if abs(liquidity) <= 1e-9 * abs(net) or abs(liquidity) <= 1e-12 * scale:
                    liquidity = 0.0   # rounding residue (either sign) when the last position leaves
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
            if (zero_for_one and tick_next <= MIN_TICK) or (not zero_for_one and tick_next >= MAX_TICK):
                break
        elif sqrt_price != s_start:
            tick = v3_tick_at_sqrt_price(sqrt_price)   # only a step that moved the price (as the contracts)
    if zero_for_one == exact_in:
        amount0, amount1 = used, calculated
    else:
        amount0, amount1 = calculated, used
    return amount0, amount1, sqrt_price, liquidity, tick, crossed, growth0, growth1, error


def v3_quote_batch(sqrt_price, liquidity, tick, ticks, liquidity_net, amounts, zero_for_one,
                   sqrt_price_limit, fee, out) -> None:
    scratch0, scratch1 = [0.0] * len(ticks), [0.0] * len(ticks)
    for i, amount in enumerate(amounts):
        a0, a1, *_, error = v3_swap(sqrt_price, liquidity, tick, ticks, liquidity_net, scratch0, scratch1,
                                    float(amount), zero_for_one, sqrt_price_limit, fee)
        partial = (a0 if zero_for_one else a1) < float(amount) * (1.0 - 1e-12)
        out[i] = math.nan if error or partial else -(a1 if zero_for_one else a0)


# ============================================================================================
# StableSwap (Curve) in float64 — specification of the ss_* kernels.
# xp: balances in a common unit; amp: A as A() returns it (Ann = amp * n); invariant
#     Ann * S + D = Ann * D + D^(n+1) / (n^n prod x).
# D by Newton's method; balance changes from the quadratic y-equation written for the change
# itself (see ext/amm.pyx), small root 2C / (B + sqrt(B^2 - 4C)).
# ============================================================================================

_SS_MAX_ITER = 255
_SS_TOL = 1e-15
_EPS = sys.float_info.epsilon


# libm semantics (NaN / inf instead of Python's exceptions), so that failures match the kernels
def _log1p(x: float) -> float:
    if math.isnan(x) or x < -1.0:
        return math.nan
    return -math.inf if x == -1.0 else math.log1p(x)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def _div(a: float, b: float) -> float:
    if b == 0.0:
        return math.nan if a == 0.0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def ss_get_D(xp, amp) -> float:
    xp = [float(x) for x in xp]
    n = len(xp)
    S = sum(xp)
    if S == 0.0:
        return 0.0
    D, Ann = S, amp * n
    for _ in range(_SS_MAX_ITER):
        D_P = D
        for x in xp:
            D_P = D_P * D / (x * n)
        prev = D
        D = (Ann * S + D_P * n) * D / ((Ann - 1.0) * D + (n + 1) * D_P)
        if abs(D - prev) <= _SS_TOL * D:
            return D
    return math.nan


def _ss_bc(j, xp, amp, D):
    n = len(xp)
    Ann = amp * n
    c, S_ = D, 0.0
    for k in range(n):
        if k != j:
            S_ += float(xp[k])
            c = c * D / (float(xp[k]) * n)
    return S_ + D / Ann, c * D / (Ann * n)


def _small_root(B, C):
    # the smaller root of delta^2 - B delta + C = 0; for B > 0 as 2C / (B + sqrt(B^2 - 4C)) with
    # r = C / B (no cancellation, no overflow of B^2); B <= 0 only with C < 0: no cancellation
    if B > 0.0:
        r = C / B
        disc = 1.0 - 4.0 * (r / B)
        if disc < 0.0:
            return math.nan
        return 2.0 * r / (1.0 + math.sqrt(disc))
    disc = B * B - 4.0 * C
    if disc < 0.0:
        return math.nan
    return 0.5 * (B - math.sqrt(disc))


def _ss_delta_x(i, j, dx, xp, amp, D):
    b, c = _ss_bc(j, xp, amp, D)
    x_i, x_j = float(xp[i]), float(xp[j])
    delta = _small_root(2.0 * x_j + b - D + dx, dx * (x_j + c / (x_i + dx)))
    return x_j if delta > x_j else delta   # never more than the balance (rounding, huge dx)


def _ss_delta_D(i, xp, amp, D, d):
    n = len(xp)
    b, c = _ss_bc(i, xp, amp, D)
    k = d * (1.0 / (amp * n) - 1.0)
    x_i = float(xp[i])
    return _small_root(2.0 * x_i + b - D + k, k * x_i - c * _expm1((n + 1) * _log1p(d / D)))


def ss_delta_x(i, j, dx, xp, amp, D) -> float:
    return _ss_delta_x(i, j, dx, [float(x) for x in xp], amp, D)


def ss_D_change(xp, change, amp, D) -> float:
    # Newton's method on  Ann sum(e) + (1 - Ann) Delta = K expm1((n+1) log1p(Delta/D) - sum log1p(e/x)),
    # from a start where the (concave) difference of the sides falls (see ext/amm.pyx)
    xp = [float(x) for x in xp]
    n = len(xp)
    Ann, K, logs, total, S, delta = amp * n, D, 0.0, 0.0, 0.0, 0.0
    for x, e in zip(xp, change):
        K = K * D / (x * n)
        logs += _log1p(float(e) / x)
        total += float(e)
        S += x
    if (1.0 - Ann) - K * _exp(-logs) * (n + 1) / D >= 0.0:
        delta = S + total - D
    for _ in range(_SS_MAX_ITER):
        u = (n + 1) * _log1p(delta / D) - logs
        e = K * _expm1(u)
        g = Ann * total + (1.0 - Ann) * delta - e
        slope = (1.0 - Ann) - K * _exp(u) * (n + 1) / (D + delta)
        step = _div(g, slope)
        if math.isnan(step):
            return math.nan
        delta -= step
        # done when the step is below the tolerance, or g is down to the rounding of its terms
        if (abs(step) <= _SS_TOL * abs(delta) or step == 0.0
                or abs(g) <= 8.0 * _EPS * (abs(Ann * total) + abs((1.0 - Ann) * delta) + abs(e))):
            return delta
    return math.nan


def ss_get_y(i, j, x, xp, amp, D) -> float:
    return float(xp[j]) - _ss_delta_x(i, j, x - float(xp[i]), xp, amp, D)


def ss_delta_D(j, xp, amp, D, d) -> float:
    return _ss_delta_D(j, xp, amp, D, d)


def ss_get_dy(i, j, dx, xp, amp, fee) -> float:
    return _ss_delta_x(i, j, dx, xp, amp, ss_get_D(xp, amp)) * (1.0 - fee)


def ss_get_dy_batch(i, j, dx, xp, amp, fee, out) -> None:
    D = ss_get_D(xp, amp)
    for k, amount in enumerate(dx):
        out[k] = _ss_delta_x(i, j, float(amount), xp, amp, D) * (1.0 - fee)


def _ss_rate(i, j, xp, amp, D) -> float:
    n = len(xp)
    K = D
    for x in xp:
        K = K * D / (float(x) * n)
    Ann = amp * n
    return (Ann + K / float(xp[i])) / (Ann + K / float(xp[j]))


def ss_price(i, j, xp, amp) -> float:
    xp = [float(x) for x in xp]
    return _ss_rate(i, j, xp, amp, ss_get_D(xp, amp))


def ss_arbitrage_dx(i, j, xp, amp, fee, target) -> float:
    buf = [float(x) for x in xp]
    D = ss_get_D(buf, amp)

    def marginal(dx):
        delta = _ss_delta_x(i, j, dx, buf, amp, D)
        if math.isnan(delta):
            return math.nan
        trial = list(buf)
        trial[i], trial[j] = buf[i] + dx, buf[j] - delta
        return (1.0 - fee) * _ss_rate(i, j, trial, amp, D)

    if math.isnan(D) or not marginal(0.0) > target:
        return 0.0
    lo, hi = 0.0, buf[i]
    for _ in range(200):
        m = marginal(hi)
        if math.isnan(m) or m <= target:
            break
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        m = marginal(mid)
        if not math.isnan(m) and m > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)
