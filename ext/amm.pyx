# cython: language_level=3
"""Compiled AMM kernels in float64 token units: constant product (Uniswap v2 semantics), concentrated
liquidity (Uniswap v3) and StableSwap (Curve).

The executable specification of every function here is ``contagion._reference.amm``; the
public, validated entry points are in ``contagion.amm``. Functions in this module trust their
inputs: shapes, signs and zero reserves are checked by the Python wrappers before the call.

Conventions
-----------
``fee`` is a fraction of the input amount kept by the pool (Uniswap v2: 0.003).
The input side pays the fee: ``amount_out = a(1-fee) R_out / (R_in + a(1-fee))``.
"""

import numpy as np

from kernel_common cimport CONTAGION_DEBUG

BUILD_DEBUG = bool(CONTAGION_DEBUG)


cdef inline double _amount_out(double amount_in, double reserve_in, double reserve_out,
                               double fee) noexcept nogil:
    cdef double effective = amount_in * (1.0 - fee)
    return effective * reserve_out / (reserve_in + effective)


cdef inline double _amount_in(double amount_out, double reserve_in, double reserve_out,
                              double fee) noexcept nogil:
    return reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))


cdef inline double _price_impact(double amount_in, double reserve_in, double fee) noexcept nogil:
    cdef double effective = amount_in * (1.0 - fee)
    return effective / (reserve_in + effective)


def cp_amount_out(double amount_in, double reserve_in, double reserve_out, double fee):
    """Output of one constant-product swap (token units of the output asset)."""
    return _amount_out(amount_in, reserve_in, reserve_out, fee)


def cp_amount_in(double amount_out, double reserve_in, double reserve_out, double fee):
    """Input needed for an exact output (``amount_out < reserve_out``)."""
    return _amount_in(amount_out, reserve_in, reserve_out, fee)


def cp_price_impact(double amount_in, double reserve_in, double fee):
    """Execution-price shortfall against the spot price, fee excluded (fraction)."""
    return _price_impact(amount_in, reserve_in, fee)


def cp_amount_out_batch(const double[::1] amount_in, const double[::1] reserve_in,
                        const double[::1] reserve_out, double fee, double[::1] out):
    """Element-wise ``cp_amount_out`` over equal-length arrays, written into ``out``."""
    cdef Py_ssize_t i, n = amount_in.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _amount_out(amount_in[i], reserve_in[i], reserve_out[i], fee)


def cp_amount_in_batch(const double[::1] amount_out, const double[::1] reserve_in,
                       const double[::1] reserve_out, double fee, double[::1] out):
    """Element-wise ``cp_amount_in`` over equal-length arrays, written into ``out``."""
    cdef Py_ssize_t i, n = amount_out.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _amount_in(amount_out[i], reserve_in[i], reserve_out[i], fee)


def cp_price_impact_batch(const double[::1] amount_in, const double[::1] reserve_in,
                          double fee, double[::1] out):
    """Element-wise ``cp_price_impact`` over equal-length arrays, written into ``out``."""
    cdef Py_ssize_t i, n = amount_in.shape[0]
    with nogil:
        for i in range(n):
            out[i] = _price_impact(amount_in[i], reserve_in[i], fee)


def cp_sequential_out(const double[::1] amounts_in, double reserve_in, double reserve_out,
                      double fee, double[::1] out):
    """Outputs of consecutive swaps in one direction through the same pool.

    The fee stays in the pool, so after a swap ``reserve_in += amount_in`` and
    ``reserve_out -= amount_out``. Returns the final ``(reserve_in, reserve_out)``.
    """
    cdef Py_ssize_t i, n = amounts_in.shape[0]
    cdef double got
    with nogil:
        for i in range(n):
            got = _amount_out(amounts_in[i], reserve_in, reserve_out, fee)
            out[i] = got
            reserve_in += amounts_in[i]
            reserve_out -= got
    return reserve_in, reserve_out


# ============================================================================================
# Concentrated liquidity (Uniswap v3), float64.
#
# Units: sqrt prices are sqrt(price of token0 in token1) (the contracts' sqrtPriceX96 / 2**96 when
# both tokens have the same decimals); liquidity L is in sqrt(token0 * token1) units; amounts are
# token units; ``fee`` is a fraction of the input (the contracts' feePips / 1e6).
# Directions: ``zero_for_one`` sells token0 (the price falls).
# ``amount_specified`` > 0 is an exact input, < 0 an exact output (the contracts' convention).
# ============================================================================================

from libc.math cimport exp, log, log1p, floor, fabs, sqrt, INFINITY, NAN, isnan
from libc.stdint cimport int64_t

# log1p: the double nearest 1.0001 is 1e-16 off, which log(1.0001) would turn into a 1e-12
# relative error of the log, and 5e-12 of the price at the ends of the tick range
cdef double LOG_SQRT_1_0001 = 0.5 * log1p(1e-4)
cdef int64_t V3_MIN_TICK = -887272
cdef int64_t V3_MAX_TICK = 887272

MIN_TICK = V3_MIN_TICK
MAX_TICK = V3_MAX_TICK


cdef inline double _sqrt_at_tick(int64_t tick) noexcept nogil:
    return exp(<double>tick * LOG_SQRT_1_0001)


cdef inline int64_t _tick_at_sqrt(double s) noexcept nogil:
    # greatest tick whose sqrt price is <= s, consistent with _sqrt_at_tick
    cdef int64_t t = <int64_t>floor(log(s) / LOG_SQRT_1_0001)
    while t < V3_MAX_TICK and _sqrt_at_tick(t + 1) <= s:
        t += 1
    while t > V3_MIN_TICK and _sqrt_at_tick(t) > s:
        t -= 1
    return t


cdef inline double _amount0_delta(double a, double b, double liquidity) noexcept nogil:
    if a > b:
        a, b = b, a
    return liquidity * (b - a) / (a * b)


cdef inline double _amount1_delta(double a, double b, double liquidity) noexcept nogil:
    return liquidity * fabs(b - a)


cdef inline double _next_from_input(double s, double liquidity, double amount, bint zero_for_one) noexcept nogil:
    if amount == 0.0:
        return s
    if zero_for_one:
        return liquidity * s / (liquidity + amount * s)
    return s + amount / liquidity


cdef inline double _next_from_output(double s, double liquidity, double amount, bint zero_for_one) noexcept nogil:
    # NaN when the output exceeds what the liquidity can provide
    cdef double q
    if amount == 0.0:
        return s
    if zero_for_one:
        q = s - amount / liquidity
        return q if q > 0.0 else NAN
    q = liquidity - amount * s
    return liquidity * s / q if q > 0.0 else NAN


cdef struct StepResult:
    double sqrt_next
    double amount_in
    double amount_out
    double fee_amount
    bint spent  # the whole remaining amount is used up by this step


cdef inline bint _past(double s, double s_target, bint zero_for_one) noexcept nogil:
    return s < s_target if zero_for_one else s > s_target


cdef inline StepResult _swap_step(double s_cur, double s_target, double liquidity, double remaining,
                                  double fee) noexcept nogil:
    cdef StepResult r
    cdef bint zero_for_one = s_cur >= s_target
    cdef bint exact_in = remaining >= 0.0
    cdef double less_fee, amount_in = 0.0, amount_out = 0.0
    cdef bint reached, short = False
    if exact_in:
        less_fee = remaining * (1.0 - fee)
        amount_in = _amount0_delta(s_target, s_cur, liquidity) if zero_for_one else _amount1_delta(s_cur, s_target, liquidity)
        if less_fee >= amount_in:
            r.sqrt_next = s_target
        else:
            short = True
            r.sqrt_next = _next_from_input(s_cur, liquidity, less_fee, zero_for_one)
    else:
        amount_out = _amount1_delta(s_target, s_cur, liquidity) if zero_for_one else _amount0_delta(s_cur, s_target, liquidity)
        if -remaining >= amount_out:
            r.sqrt_next = s_target
        else:
            r.sqrt_next = _next_from_output(s_cur, liquidity, -remaining, zero_for_one)
    # keep the price between the current one and the target, as the contracts' rounding does:
    # float rounding could carry it past the target although the amount falls short of it (it
    # stops at the target, and crosses it, as they would), or move it the wrong way by an ulp
    if _past(r.sqrt_next, s_target, zero_for_one):
        r.sqrt_next = s_target
    elif _past(s_cur, r.sqrt_next, zero_for_one):
        r.sqrt_next = s_cur
    reached = r.sqrt_next == s_target
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = _amount0_delta(r.sqrt_next, s_cur, liquidity)
        if not (reached and not exact_in):
            amount_out = _amount1_delta(r.sqrt_next, s_cur, liquidity)
    else:
        if not (reached and exact_in):
            amount_in = _amount1_delta(s_cur, r.sqrt_next, liquidity)
        if not (reached and not exact_in):
            amount_out = _amount0_delta(s_cur, r.sqrt_next, liquidity)
    if exact_in:
        r.fee_amount = amount_in * fee / (1.0 - fee)
        r.spent = short or amount_in + r.fee_amount >= remaining
        if r.spent:
            if amount_in > remaining:
                amount_in = remaining
            r.fee_amount = remaining - amount_in  # the whole remainder is used
    else:
        if amount_out > -remaining:
            amount_out = -remaining
        r.fee_amount = amount_in * fee / (1.0 - fee)
        r.spent = not reached or amount_out == -remaining
    r.amount_in = amount_in
    r.amount_out = amount_out
    return r


cdef struct SwapResult:
    double amount0
    double amount1
    double sqrt_price
    double liquidity
    int64_t tick
    int64_t crossed
    double fee_growth0
    double fee_growth1
    int error


cdef inline Py_ssize_t _next_index(const int64_t* ticks, Py_ssize_t n, int64_t tick, bint lte) noexcept nogil:
    # lte: index of the greatest initialized tick <= tick (-1 if none);
    # else: index of the smallest initialized tick > tick (n if none)
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if ticks[mid] <= tick:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1 if lte else lo


cdef SwapResult _v3_swap(double sqrt_price, double liquidity, int64_t tick,
                         const int64_t* ticks, const double* liquidity_net, double* outside0,
                         double* outside1, Py_ssize_t n, double amount_specified, bint zero_for_one,
                         double sqrt_price_limit, double fee, double growth0, double growth1) noexcept nogil:
    cdef SwapResult res
    cdef bint exact_in = amount_specified > 0.0
    cdef double remaining = amount_specified, calculated = 0.0, used = 0.0
    cdef double s_next_tick, s_target, s_start, net
    cdef Py_ssize_t k
    cdef int64_t tick_next
    cdef bint initialized
    cdef StepResult step
    cdef int64_t guard = 0
    # every liquidity a crossing can produce is a partial sum of these: rounding residue is a few
    # ulps of this scale, whatever the nets of the ticks crossed last
    cdef double scale = fabs(liquidity)
    for k in range(n):
        scale += fabs(liquidity_net[k])
    res.error = 0
    res.crossed = 0
    while remaining != 0.0 and sqrt_price != sqrt_price_limit:
        guard += 1
        if guard > 10000000:
            res.error = 2
            break
        k = _next_index(ticks, n, tick, zero_for_one)
        initialized = 0 <= k < n
        if initialized:
            tick_next = ticks[k]
        else:
            tick_next = V3_MIN_TICK if zero_for_one else V3_MAX_TICK
        s_next_tick = _sqrt_at_tick(tick_next)
        if zero_for_one:
            s_target = sqrt_price_limit if s_next_tick < sqrt_price_limit else s_next_tick
        else:
            s_target = sqrt_price_limit if s_next_tick > sqrt_price_limit else s_next_tick
        if liquidity > 0.0:
            step = _swap_step(sqrt_price, s_target, liquidity, remaining, fee)
            if isnan(step.sqrt_next):
                res.error = 1
                break
        elif fabs(remaining) <= 1e-12 * fabs(amount_specified):
            # float dust left after the last liquidity: the contracts would have ended with
            # remaining == 0 here; do not let it drag the price through an empty range
            used += remaining
            remaining = 0.0
            break
        else:  # no liquidity in this range: the price jumps to the target for free
            step.sqrt_next = s_target
            step.amount_in = 0.0
            step.amount_out = 0.0
            step.fee_amount = 0.0
            step.spent = False
        # `used` accumulates the specified side directly: amount_specified - remaining would lose
        # it to cancellation when a "swap to price" passes a huge amount_specified
        if step.spent:
            used += remaining  # the whole remainder (input plus fee, or output)
            remaining = 0.0
        elif exact_in:
            used += step.amount_in + step.fee_amount
            remaining -= step.amount_in + step.fee_amount
        else:
            used -= step.amount_out
            remaining += step.amount_out
        if exact_in:
            calculated -= step.amount_out
        else:
            calculated += step.amount_in + step.fee_amount
        if liquidity > 0.0:
            if zero_for_one:
                growth0 += step.fee_amount / liquidity
            else:
                growth1 += step.fee_amount / liquidity
        s_start = sqrt_price
        sqrt_price = step.sqrt_next
        if sqrt_price == s_next_tick:
            if initialized:
                net = liquidity_net[k]
                outside0[k] = growth0 - outside0[k]
                outside1[k] = growth1 - outside1[k]
                liquidity += -net if zero_for_one else net
                if fabs(liquidity) <= 1e-9 * fabs(net) or fabs(liquidity) <= 1e-12 * scale:
                    liquidity = 0.0  # rounding residue (either sign) when the last position leaves
                res.crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
            if (zero_for_one and tick_next <= V3_MIN_TICK) or (not zero_for_one and tick_next >= V3_MAX_TICK):
                break
        elif sqrt_price != s_start:
            # as the contracts: only a step that moved the price recomputes the tick (one that did
            # not must keep the tick a crossing has just set, a price exactly on that tick)
            tick = _tick_at_sqrt(sqrt_price)
    if zero_for_one == exact_in:
        res.amount0 = used
        res.amount1 = calculated
    else:
        res.amount0 = calculated
        res.amount1 = used
    res.sqrt_price = sqrt_price
    res.liquidity = liquidity
    res.tick = tick
    res.fee_growth0 = growth0
    res.fee_growth1 = growth1
    return res


def v3_sqrt_price_at_tick(int64_t tick):
    """sqrt(1.0001 ** tick)."""
    return _sqrt_at_tick(tick)


def v3_tick_at_sqrt_price(double sqrt_price):
    """Greatest tick whose sqrt price is <= ``sqrt_price``."""
    return _tick_at_sqrt(sqrt_price)


def v3_amount0_delta(double sqrt_a, double sqrt_b, double liquidity):
    """Token0 between two sqrt prices for liquidity ``liquidity``: ``L (b - a) / (a b)``."""
    return _amount0_delta(sqrt_a, sqrt_b, liquidity)


def v3_amount1_delta(double sqrt_a, double sqrt_b, double liquidity):
    """Token1 between two sqrt prices: ``L |b - a|``."""
    return _amount1_delta(sqrt_a, sqrt_b, liquidity)


def v3_next_sqrt_price_from_input(double sqrt_price, double liquidity, double amount, bint zero_for_one):
    return _next_from_input(sqrt_price, liquidity, amount, zero_for_one)


def v3_next_sqrt_price_from_output(double sqrt_price, double liquidity, double amount, bint zero_for_one):
    """NaN if the liquidity cannot provide ``amount``."""
    return _next_from_output(sqrt_price, liquidity, amount, zero_for_one)


def v3_swap_step(double sqrt_current, double sqrt_target, double liquidity, double amount_remaining,
                 double fee):
    """``(sqrt_next, amount_in, amount_out, fee_amount)`` of one step within a range."""
    cdef StepResult r = _swap_step(sqrt_current, sqrt_target, liquidity, amount_remaining, fee)
    return r.sqrt_next, r.amount_in, r.amount_out, r.fee_amount


def v3_swap(double sqrt_price, double liquidity, int64_t tick, const int64_t[::1] ticks,
            const double[::1] liquidity_net, double[::1] outside0, double[::1] outside1,
            double amount_specified, bint zero_for_one, double sqrt_price_limit, double fee,
            double growth0=0.0, double growth1=0.0):
    """A swap across initialized ticks.

    Returns ``(amount0, amount1, sqrt_price, liquidity, tick, crossed, growth0, growth1, error)``:
    pool-side amounts (+ paid in), the state after, the number of initialized ticks crossed, the
    global fee growth per unit of liquidity, and an error code (0 ok, 1 output beyond the
    liquidity, 2 no progress). ``outside0``/``outside1`` (fee growth outside each tick) are
    updated in place at each crossing.
    """
    cdef SwapResult r
    cdef Py_ssize_t n = ticks.shape[0]
    cdef const int64_t* tp = &ticks[0] if n > 0 else NULL
    cdef const double* np_ = &liquidity_net[0] if n > 0 else NULL
    cdef double* o0 = &outside0[0] if n > 0 else NULL
    cdef double* o1 = &outside1[0] if n > 0 else NULL
    with nogil:
        r = _v3_swap(sqrt_price, liquidity, tick, tp, np_, o0, o1, n, amount_specified, zero_for_one,
                     sqrt_price_limit, fee, growth0, growth1)
    return (r.amount0, r.amount1, r.sqrt_price, r.liquidity, r.tick, r.crossed, r.fee_growth0,
            r.fee_growth1, r.error)


def v3_quote_batch(double sqrt_price, double liquidity, int64_t tick, const int64_t[::1] ticks,
                   const double[::1] liquidity_net, const double[::1] amounts, bint zero_for_one,
                   double sqrt_price_limit, double fee, double[::1] out):
    """Outputs of independent exact-input swaps of each of ``amounts`` from the same state
    (the state is not changed). ``out[i]`` is the output amount (positive); NaN on error or when
    the liquidity runs out before the whole input is used."""
    cdef Py_ssize_t i, n = ticks.shape[0], m = amounts.shape[0]
    cdef SwapResult r
    cdef const int64_t* tp = &ticks[0] if n > 0 else NULL
    cdef const double* np_ = &liquidity_net[0] if n > 0 else NULL
    cdef double[::1] scratch0 = np.zeros(max(n, 1))
    cdef double[::1] scratch1 = np.zeros(max(n, 1))
    cdef double* o0 = &scratch0[0] if n > 0 else NULL
    cdef double* o1 = &scratch1[0] if n > 0 else NULL
    with nogil:
        for i in range(m):
            r = _v3_swap(sqrt_price, liquidity, tick, tp, np_, o0, o1, n, amounts[i], zero_for_one,
                         sqrt_price_limit, fee, 0.0, 0.0)
            if r.error or (r.amount0 if zero_for_one else r.amount1) < amounts[i] * (1.0 - 1e-12):
                out[i] = NAN
            else:
                out[i] = -(r.amount1 if zero_for_one else r.amount0)


# ============================================================================================
# StableSwap (Curve), float64.
#
# ``xp`` are balances in a common unit (token units times each coin's rate; rate 1 for plain
# coins). ``amp`` is A as the contracts' A() returns it (A * n^(n-1) of the whitepaper), so
# Ann = amp * n, and the invariant is  Ann * S + D = Ann * D + D^(n+1) / (n^n prod x).
#
# D is found by Newton's method (stopping when a step is below 1e-15 of D; NaN after 255
# iterations). For y the contracts iterate Newton on the quadratic  y^2 + (b - D) y = c; in
# floating point, y itself is useless for small trades (dy = x_j - y cancels), so the kernels
# solve for the *change* of a balance instead. Taking the current balances to lie exactly on
# their invariant, the change delta of x_j when x_i grows by dx solves
#     delta^2 - (2 x_j + b - D + dx) delta + dx (x_j + c / (x_i + dx)) = 0
# and the change of x_i when the invariant moves from D to D + d (one-coin withdrawals) solves
#     delta^2 - (2 x_i + b - D + d (1/Ann - 1)) delta + d (1/Ann - 1) x_i - c E = 0,
#     E = (1 + d/D)^(n+1) - 1,
# each taken as the smaller root (the one that leaves the balance positive), computed as
# 2C / (B + sqrt(B^2 - 4C)) when B > 0, which has no cancellation.
# The change Delta of D itself when the balances change by e_k (deposits) solves
#     Ann sum(e) + (1 - Ann) Delta = K (exp((n+1) log1p(Delta/D) - sum(log1p(e_k/x_k))) - 1),
#     K = D^(n+1) / (n^n prod x),
# by Newton's method. The difference g of the two sides is concave in Delta, and the root sought
# is where g falls through 0; from a start where g falls, Newton's iterates never pass below that
# root: Delta = 0 when g falls there (always for Ann >= 1), else S + sum(e) - D (D <= S).
# ============================================================================================

from libc.math cimport expm1
from libc.float cimport DBL_EPSILON

cdef int SS_MAX_ITER = 255
cdef double SS_TOL = 1e-15


cdef inline double _ss_D(const double* xp, int n, double amp) noexcept nogil:
    cdef double S = 0.0, D, D_P, prev, Ann = amp * n
    cdef int k, it
    for k in range(n):
        S += xp[k]
    if S == 0.0:
        return 0.0
    D = S
    for it in range(SS_MAX_ITER):
        D_P = D
        for k in range(n):
            D_P = D_P * D / (xp[k] * n)
        prev = D
        D = (Ann * S + D_P * n) * D / ((Ann - 1.0) * D + (n + 1) * D_P)
        if fabs(D - prev) <= SS_TOL * D:
            return D
    return NAN


cdef inline double _ss_bc(int j, const double* xp, int n, double amp, double D, double* b) noexcept nogil:
    # b and c of the y-equation for coin j (every other balance as in xp); returns c
    cdef double Ann = amp * n, c = D, S_ = 0.0
    cdef int k
    for k in range(n):
        if k == j:
            continue
        S_ += xp[k]
        c = c * D / (xp[k] * n)
    b[0] = S_ + D / Ann
    return c * D / (Ann * n)


cdef inline double _small_root(double B, double C) noexcept nogil:
    # the smaller root of delta^2 - B delta + C = 0, (B - sqrt(B^2 - 4C)) / 2: for B > 0 as
    # 2C / (B + sqrt(B^2 - 4C)) (no cancellation), with r = C / B so that B^2 cannot overflow;
    # B <= 0 happens only with C < 0 (a balance growing), where the difference has no cancellation
    cdef double r, disc
    if B > 0.0:
        r = C / B
        disc = 1.0 - 4.0 * (r / B)
        if disc < 0.0:
            return NAN
        return 2.0 * r / (1.0 + sqrt(disc))
    disc = B * B - 4.0 * C
    if disc < 0.0:
        return NAN
    return 0.5 * (B - sqrt(disc))


cdef inline double _ss_delta_x(int i, int j, double dx, const double* xp, int n, double amp,
                               double D) noexcept nogil:
    # decrease of x_j when x_i grows by dx (dx may be negative), the invariant held at D; never
    # more than x_j (rounding could otherwise pay out an ulp beyond the reserve for a huge dx)
    cdef double b, c = _ss_bc(j, xp, n, amp, D, &b)
    cdef double delta = _small_root(2.0 * xp[j] + b - D + dx, dx * (xp[j] + c / (xp[i] + dx)))
    return xp[j] if delta > xp[j] else delta


cdef inline double _ss_delta_D(int i, const double* xp, int n, double amp, double D,
                               double d) noexcept nogil:
    # decrease of x_i, the other balances fixed, when the invariant moves from D to D + d
    cdef double Ann = amp * n, b, c = _ss_bc(i, xp, n, amp, D, &b)
    cdef double k = d * (1.0 / Ann - 1.0)
    return _small_root(2.0 * xp[i] + b - D + k, k * xp[i] - c * expm1((n + 1) * log1p(d / D)))


cdef inline double _ss_D_change(const double* xp, const double* change, int n, double amp,
                               double D) noexcept nogil:
    # change of the invariant D of xp when each balance changes by change[k] (> -xp[k])
    cdef double Ann = amp * n, K = D, logs = 0.0, total = 0.0, S = 0.0, delta = 0.0, u, g, slope, step, e
    cdef int k, it
    for k in range(n):
        K = K * D / (xp[k] * n)
        logs += log1p(change[k] / xp[k])
        total += change[k]
        S += xp[k]
    if (1.0 - Ann) - K * exp(-logs) * (n + 1) / D >= 0.0:
        delta = S + total - D
    for it in range(SS_MAX_ITER):
        u = (n + 1) * log1p(delta / D) - logs
        e = K * expm1(u)
        g = Ann * total + (1.0 - Ann) * delta - e
        slope = (1.0 - Ann) - K * exp(u) * (n + 1) / (D + delta)
        step = g / slope
        if isnan(step):
            return NAN
        delta -= step
        # done when the step is below the tolerance, or g is down to the rounding of its terms
        if (fabs(step) <= SS_TOL * fabs(delta) or step == 0.0
                or fabs(g) <= 8.0 * DBL_EPSILON * (fabs(Ann * total) + fabs((1.0 - Ann) * delta) + fabs(e))):
            return delta
    return NAN


cdef inline double _ss_dy(int i, int j, double dx, const double* xp, int n, double amp, double D,
                          double fee) noexcept nogil:
    return _ss_delta_x(i, j, dx, xp, n, amp, D) * (1.0 - fee)


cdef inline double _ss_rate(int i, int j, const double* xp, int n, double amp, double D) noexcept nogil:
    # marginal units of j per unit of i along the invariant (no fee): (Ann + K/x_i) / (Ann + K/x_j)
    cdef double Ann = amp * n, K = D
    cdef int k
    for k in range(n):
        K = K * D / (xp[k] * n)
    return (Ann + K / xp[i]) / (Ann + K / xp[j])


cdef inline int _copy_xp(const double[::1] xp, double* buf) noexcept nogil:
    cdef int k, n = <int>xp.shape[0]
    for k in range(n):
        buf[k] = xp[k]
    return n


def ss_get_D(const double[::1] xp, double amp):
    """The invariant D of balances ``xp`` (NaN if Newton does not converge)."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    return _ss_D(buf, n, amp)


def ss_get_y(int i, int j, double x, const double[::1] xp, double amp, double D):
    """Balance of coin ``j`` keeping the invariant ``D`` of ``xp`` when coin ``i``'s balance
    becomes ``x`` (NaN on failure)."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    return buf[j] - _ss_delta_x(i, j, x - buf[i], buf, n, amp, D)


def ss_delta_x(int i, int j, double dx, const double[::1] xp, double amp, double D):
    """Decrease of coin ``j``'s balance keeping the invariant ``D`` of ``xp`` when coin ``i``'s
    grows by ``dx`` (``dx`` may be negative; NaN on failure)."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    return _ss_delta_x(i, j, dx, buf, n, amp, D)


def ss_D_change(const double[::1] xp, const double[::1] change, double amp, double D):
    """Change of the invariant ``D`` of ``xp`` when the balances change by ``change`` (each
    ``> -xp``; NaN if Newton's method does not converge)."""
    cdef double buf[8]
    cdef double moved[8]
    cdef int k, n = _copy_xp(xp, buf)
    for k in range(n):
        moved[k] = change[k]
    return _ss_D_change(buf, moved, n, amp, D)


def ss_delta_D(int j, const double[::1] xp, double amp, double D, double d):
    """Decrease of coin ``j``'s balance, the others fixed, when the invariant ``D`` of ``xp``
    moves by ``d`` (NaN on failure)."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    return _ss_delta_D(j, buf, n, amp, D, d)


def ss_get_dy(int i, int j, double dx, const double[::1] xp, double amp, double fee):
    """Output of coin ``j`` (in xp units, after the fee) for ``dx`` of coin ``i`` (NaN on failure)."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    cdef double D = _ss_D(buf, n, amp)
    return _ss_dy(i, j, dx, buf, n, amp, D, fee)


def ss_get_dy_batch(int i, int j, const double[::1] dx, const double[::1] xp, double amp, double fee,
                    double[::1] out):
    """``ss_get_dy`` for many inputs against one pool state (D computed once)."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    cdef Py_ssize_t k, m = dx.shape[0]
    cdef double D
    with nogil:
        D = _ss_D(buf, n, amp)
        for k in range(m):
            out[k] = _ss_dy(i, j, dx[k], buf, n, amp, D, fee)


def ss_price(int i, int j, const double[::1] xp, double amp):
    """Marginal price of coin ``i`` in coin ``j`` (xp units), fee excluded."""
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    return _ss_rate(i, j, buf, n, amp, _ss_D(buf, n, amp))


cdef double _ss_arbitrage(int i, int j, double* buf, int n, double amp, double fee,
                          double target) noexcept nogil:
    cdef double D = _ss_D(buf, n, amp), lo = 0.0, hi, mid, y, delta
    cdef double save_i = buf[i], save_j = buf[j]
    cdef int it
    if isnan(D) or (1.0 - fee) * _ss_rate(i, j, buf, n, amp, D) <= target:
        return 0.0
    hi = save_i
    for it in range(200):  # grow the bracket until the marginal output falls to the target
        buf[i] = save_i
        buf[j] = save_j
        delta = _ss_delta_x(i, j, hi, buf, n, amp, D)
        buf[i] = save_i + hi
        buf[j] = save_j - delta
        if isnan(delta) or (1.0 - fee) * _ss_rate(i, j, buf, n, amp, D) <= target:
            break
        hi *= 2.0
    for it in range(200):
        mid = 0.5 * (lo + hi)
        buf[i] = save_i
        buf[j] = save_j
        delta = _ss_delta_x(i, j, mid, buf, n, amp, D)
        buf[i] = save_i + mid
        buf[j] = save_j - delta
        if not isnan(delta) and (1.0 - fee) * _ss_rate(i, j, buf, n, amp, D) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    buf[i] = save_i
    buf[j] = save_j
    return 0.5 * (lo + hi)


def ss_arbitrage_dx(int i, int j, const double[::1] xp, double amp, double fee, double target):
    """Input of coin ``i`` that maximizes profit against an outside price ``target`` (units of
    coin ``j`` per unit of coin ``i``): sell ``i`` while the marginal output net of fee,
    ``(1 - fee) * rate(i -> j)``, exceeds ``target``. 0 if it does not at ``dx = 0``.

    The marginal output falls as ``dx`` grows, so the optimum is found by bisection (to a
    relative 1e-12 of ``dx``).
    """
    cdef double buf[8]
    cdef int n = _copy_xp(xp, buf)
    cdef double r
    with nogil:
        r = _ss_arbitrage(i, j, buf, n, amp, fee, target)
    return r
