"""Integer-exact port of Curve StableSwap pools (wei in, wei out), three contract variants.

Use this module to check a Curve trade, deposit or withdrawal to the wei against the contracts;
the simulator itself runs the float64 math of :mod:`contagion.amm.stableswap`, which differs
from these functions only by the integer rounding.

Variants
--------
``variant`` selects the contract whose order of operations is reproduced (curvefi/curve-contract):

* ``"3pool"`` — ``contracts/pools/3pool/StableSwap3Pool.vy`` (DAI/USDC/USDT, Vyper 0.2.4). Stores
  the raw A. ``get_D``, ``get_y`` and ``get_y_D`` *fall through* after 255 Newton iterations and
  return the last iterate (no revert); ``get_dy`` charges the fee after converting to coin units,
  ``exchange`` before, so the two can differ by one unit.
* ``"base"`` — ``contracts/pool-templates/base/SwapTemplateBase.vy`` (the post-2020 plain-pool
  template). Stores ``A * A_PRECISION`` (``A_PRECISION = 100``); Newton non-convergence reverts.
* ``"steth"`` — ``contracts/pools/steth/StableSwapSTETH.vy`` (ETH/stETH). As ``"base"`` but
  ``get_D`` divides by ``x * N + 1`` ("+1 to prevent /0"), both coins have 18 decimals (no rates),
  admin fees are booked in ``admin_balances`` and ``remove_liquidity_one_coin`` leaves the whole
  fee to the LPs; ``remove_liquidity_imbalance`` burns no extra unit.

Units
-----
* Balances and amounts are integer coin units (wei of each coin: 1 USDC = 10**6).
* ``rates[i] = 10**(36 - decimals_i)``; the normalised balances are
  ``xp[i] = balance[i] * rates[i] // 10**18`` (18-decimal units, "xp units"), and
  ``PRECISION_MUL[i] = rates[i] // 10**18``.
* ``amp`` is the amplification *as the contract stores it*: the raw A for ``"3pool"``, and
  ``A * 100`` (what ``A_precise()`` returns) for ``"base"`` and ``"steth"``. A is Curve's A,
  i.e. ``A n^(n-1)`` of the whitepaper, and ``Ann = amp * n``.
* ``fee`` and ``admin_fee`` are integers over ``FEE_DENOMINATOR = 10**10`` (``4_000_000`` is
  0.04 %; ``5_000_000_000`` is 50 % of the fee to the admin).
* ``D`` and the virtual price are in 18-decimal units (``get_virtual_price() == 10**18`` for a
  freshly funded pool).

Every division is a floor on non-negative integers, and every ``uint256`` operation is checked as
Vyper checks it: an underflow, an overflow past ``2**256 - 1``, a division by zero, a failed
``assert`` and a non-converging Newton iteration (``"base"``, ``"steth"``) all raise
:class:`contagion.errors.AmmError` with the reason, and leave a :class:`CurvePool` unchanged.

The pure functions take ``check_overflow=False`` to compute with Python's unbounded integers
instead, as a plain Python port does (the reference vectors' ``pure_functions`` were computed so);
the two differ only where the contract would revert. :class:`CurvePool` always checks.

Not modelled: A ramping inside the pool (see :func:`ramped_amp`, set :attr:`CurvePool.amp`),
transfer fees (3pool's ``FEE_INDEX`` USDT handling assumes no fee is charged), stETH rebasing and
its 1-2 wei transfer shortfall, ``is_killed``, and who holds the LP tokens (only the supply is
tracked).

Examples
--------
>>> from contagion.amm.curve import CurvePool
>>> pool = CurvePool("3pool", A=2000, fee=1_000_000, admin_fee=5_000_000_000)
>>> pool.add_liquidity([10**8 * 10**18, 10**8 * 10**6, 10**8 * 10**6])   # first deposit mints D
300000000000000000000000000
>>> pool.get_dy(0, 1, 10**18)      # 1 DAI -> USDC (6 decimals): 0.9999 after the 0.01 % fee
999900
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from contagion._validate import check_uint
from contagion.errors import AmmError

__all__ = [
    "VARIANTS",
    "A_PRECISION",
    "FEE_DENOMINATOR",
    "PRECISION",
    "MAX_ITERATIONS",
    "MAX_FEE",
    "MAX_ADMIN_FEE",
    "THREEPOOL_RATES",
    "a_precision",
    "get_D",
    "get_y",
    "get_y_D",
    "ramped_amp",
    "ExchangeResult",
    "DepositResult",
    "WithdrawOneResult",
    "CurvePool",
]

VARIANTS: tuple[str, ...] = ("3pool", "base", "steth")
#: ``A_PRECISION`` of each variant (the 3pool stores the raw A: 1).
A_PRECISION: Mapping[str, int] = MappingProxyType({"3pool": 1, "base": 100, "steth": 100})
FEE_DENOMINATOR = 10**10
PRECISION = 10**18
MAX_ITERATIONS = 255
#: The contracts' limits in ``commit_new_fee`` (also enforced here at construction).
MAX_FEE = 5 * 10**9
MAX_ADMIN_FEE = 10 * 10**9
#: ``RATES`` of the 3pool (DAI 18, USDC 6, USDT 6 decimals).
THREEPOOL_RATES: tuple[int, ...] = (10**18, 10**30, 10**30)

_UINT256_MAX = 2**256 - 1


# --- checked uint256 arithmetic (Vyper reverts on each of these) -------------------------------

class _Arith:
    """uint256 operations that raise :class:`AmmError` where the EVM reverts.

    ``check_overflow=False`` lets products and sums exceed ``2**256 - 1`` (Python's unbounded
    integers); underflow and division by zero still raise.
    """

    __slots__ = ("where", "limit")

    def __init__(self, where: str, check_overflow: bool = True):
        self.where = where
        self.limit = _UINT256_MAX if check_overflow else None

    def mul(self, a: int, b: int) -> int:
        r = a * b
        if self.limit is not None and r > self.limit:
            raise AmmError(f"{self.where}: uint256 overflow in {a} * {b}")
        return r

    def add(self, a: int, b: int) -> int:
        r = a + b
        if self.limit is not None and r > self.limit:
            raise AmmError(f"{self.where}: uint256 overflow in {a} + {b}")
        return r

    def sub(self, a: int, b: int, note: str = "") -> int:
        if b > a:
            raise AmmError(f"{self.where}: uint256 underflow in {a} - {b}{note}")
        return a - b

    def div(self, a: int, b: int) -> int:
        if b == 0:
            raise AmmError(f"{self.where}: division by zero ({a} / 0)")
        return a // b


# --- input checks -----------------------------------------------------------------------------

def _variant(variant: str) -> str:
    if variant not in A_PRECISION:
        raise AmmError(f"Curve: variant must be one of {list(VARIANTS)}, got {variant!r}")
    return variant


def _uint(value: object, where: str, name: str) -> int:
    return check_uint(AmmError, where, name, value, unit="token units")


def _uints(values: Sequence[object], where: str, name: str, n: int | None = None) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise AmmError(f"{where}: {name} must be a sequence of integers, got {values!r}")
    out = [_uint(v, where, f"{name}[{k}]") for k, v in enumerate(values)]
    if n is None:
        if len(out) < 2:
            raise AmmError(f"{where}: {name} must have at least 2 coins, got {len(out)}")
    elif len(out) != n:
        raise AmmError(f"{where}: {name} must have one entry per coin ({n}), got {len(out)}")
    return out


def _index(value: object, n: int, where: str, name: str) -> int:
    if isinstance(value, bool):
        raise AmmError(f"{where}: {name} must be a coin index, got {value!r}")
    try:
        k = operator.index(value)
    except TypeError:
        raise AmmError(f"{where}: {name} must be a coin index, got {value!r}") from None
    if not 0 <= k < n:
        raise AmmError(f"{where}: {name} must be in [0, {n}), got {k}")
    return k


def a_precision(variant: str) -> int:
    """``A_PRECISION`` of a variant: 1 for ``"3pool"`` (raw A), 100 for ``"base"`` and ``"steth"``."""
    return A_PRECISION[_variant(variant)]


# --- the invariant and its solutions ----------------------------------------------------------

def _get_D(xp: Sequence[int], amp: int, variant: str, check_overflow: bool = True) -> int:
    ar = _Arith(f"Curve {variant} get_D", check_overflow)
    n = len(xp)
    a_prec = A_PRECISION[variant]
    plus_one = 1 if variant == "steth" else 0  # stETH: "+1 is to prevent /0"
    s = 0
    for x in xp:
        s = ar.add(s, x)
    if s == 0:
        return 0
    d = s
    ann = ar.mul(amp, n)
    for _ in range(MAX_ITERATIONS):
        d_p = d
        for x in xp:
            d_p = ar.div(ar.mul(d_p, d), ar.add(ar.mul(x, n), plus_one))
        d_prev = d
        # 3pool: (Ann*S + D_P*N) * D / ((Ann - 1)*D + (N+1)*D_P): the same with A_PRECISION = 1
        numerator = ar.mul(ar.add(ar.mul(ann, s) // a_prec, ar.mul(d_p, n)), d)
        denominator = ar.add(ar.mul(ar.sub(ann, a_prec), d) // a_prec, ar.mul(n + 1, d_p))
        d = ar.div(numerator, denominator)
        if abs(d - d_prev) <= 1:
            return d
    if variant == "3pool":
        return d  # StableSwap3Pool.vy falls through and returns the last iterate
    raise AmmError(f"{ar.where}: Newton iteration did not converge in {MAX_ITERATIONS} rounds "
                   f"(xp={list(xp)}, amp={amp}); the contract reverts")


def _solve_y(ar: _Arith, c: int, b: int, d: int, variant: str) -> int:
    """``y = (y*y + c) / (2*y + b - D)`` from ``y = D`` until two iterates are within 1."""
    y = d
    for _ in range(MAX_ITERATIONS):
        y_prev = y
        y = ar.div(ar.add(ar.mul(y, y), c), ar.sub(ar.add(ar.mul(2, y), b), d))
        if abs(y - y_prev) <= 1:
            return y
    if variant == "3pool":
        return y  # falls through like get_D
    raise AmmError(f"{ar.where}: Newton iteration did not converge in {MAX_ITERATIONS} rounds "
                   f"(c={c}, b={b}, D={d}); the contract reverts")


def _c_and_b(ar: _Arith, d: int, amp: int, others: list[int], n: int, variant: str) -> tuple[int, int]:
    """The constants of ``y^2 + (b - D) y = c`` given the balances of the other coins."""
    a_prec = A_PRECISION[variant]
    ann = ar.mul(amp, n)
    c = d
    s_ = 0
    for x in others:
        s_ = ar.add(s_, x)
        c = ar.div(ar.mul(c, d), ar.mul(x, n))
    # 3pool: c = c * D / (Ann * N); b = S_ + D / Ann: the same with A_PRECISION = 1
    c = ar.div(ar.mul(ar.mul(c, d), a_prec), ar.mul(ann, n))
    b = ar.add(s_, ar.div(ar.mul(d, a_prec), ann))
    return c, b


def _get_y(i: int, j: int, x: int, xp: Sequence[int], amp: int, variant: str,
           check_overflow: bool = True) -> int:
    ar = _Arith(f"Curve {variant} get_y", check_overflow)
    n = len(xp)
    if i == j:
        raise AmmError(f"{ar.where}: i and j must differ (same coin), got i = j = {i}")
    d = _get_D(xp, amp, variant, check_overflow)
    others = [x if k == i else xp[k] for k in range(n) if k != j]
    c, b = _c_and_b(ar, d, amp, others, n, variant)
    return _solve_y(ar, c, b, d, variant)


def _get_y_D(amp: int, i: int, xp: Sequence[int], d: int, variant: str,  # noqa: N802
             check_overflow: bool = True) -> int:
    ar = _Arith(f"Curve {variant} get_y_D", check_overflow)
    n = len(xp)
    others = [xp[k] for k in range(n) if k != i]
    c, b = _c_and_b(ar, d, amp, others, n, variant)
    return _solve_y(ar, c, b, d, variant)


def get_D(xp: Sequence[int], amp: int, variant: str, *, check_overflow: bool = True) -> int:  # noqa: N802
    """The StableSwap invariant D of normalised balances, by the contract's Newton iteration.

    Parameters
    ----------
    xp : sequence of int
        Normalised balances (18-decimal units, ``balance * rate // 10**18``), at least 2 coins.
    amp : int
        Amplification as stored: raw A for ``"3pool"``, ``A * 100`` for ``"base"``/``"steth"``.
    variant : {"3pool", "base", "steth"}
        Contract whose arithmetic is reproduced (see the module docstring).
    check_overflow : bool, keyword-only
        True (default): an intermediate result above ``2**256 - 1`` raises, as the EVM reverts.
        False: Python's unbounded integers, as a plain Python port computes (the reference
        vectors' ``pure_functions`` were computed so; they differ from the contract only where
        it would revert).

    Returns
    -------
    int
        D in 18-decimal units; 0 if every balance is 0.

    Raises
    ------
    AmmError
        On a division by zero (a zero balance, except in ``"steth"``), a uint256 over/underflow, or
        no convergence in 255 rounds for ``"base"``/``"steth"``. The ``"3pool"`` variant returns the
        255th iterate instead, as the contract does.

    Examples
    --------
    >>> get_D([10**24, 10**24, 10**24], 2000, "3pool")     # balanced: D is the sum
    3000000000000000000000000
    """
    variant = _variant(variant)
    where = f"Curve {variant} get_D"
    return _get_D(_uints(xp, where, "xp"), _uint(amp, where, "amp"), variant, bool(check_overflow))


def get_y(i: int, j: int, x: int, xp: Sequence[int], amp: int, variant: str, *,
          check_overflow: bool = True) -> int:
    """The new ``xp[j]`` that keeps D of ``xp`` when ``xp[i]`` is set to ``x`` (contract ``get_y``).

    D is computed from ``xp`` (before the trade) with :func:`get_D`, as in the contract.

    Parameters
    ----------
    i, j : int
        Index of the coin put in and of the coin solved for; ``i != j``.
    x : int
        New normalised balance of coin ``i`` (18-decimal units).
    xp : sequence of int
        Normalised balances before the trade (18-decimal units).
    amp : int
        Amplification as stored (see :func:`get_D`).
    variant : {"3pool", "base", "steth"}
    check_overflow : bool, keyword-only
        True (default): an intermediate result above ``2**256 - 1`` raises, as the EVM reverts.
        False: Python's unbounded integers, as a plain Python port computes (the reference
        vectors' ``pure_functions`` were computed so; they differ from the contract only where
        it would revert).

    Returns
    -------
    int
        The normalised balance of coin ``j`` (18-decimal units), before the contract's ``- 1``.

    Raises
    ------
    AmmError
        For ``i == j``, an index out of range, a zero balance, an over/underflow, or (``"base"``,
        ``"steth"``) no convergence; ``"3pool"`` falls through after 255 rounds.
    """
    variant = _variant(variant)
    where = f"Curve {variant} get_y"
    xp = _uints(xp, where, "xp")
    n = len(xp)
    j = _index(j, n, where, "j")
    i = _index(i, n, where, "i")
    return _get_y(i, j, _uint(x, where, "x"), xp, _uint(amp, where, "amp"), variant, bool(check_overflow))


def get_y_D(amp: int, i: int, xp: Sequence[int], D: int, variant: str, *,  # noqa: N802, N803
            check_overflow: bool = True) -> int:
    """The ``xp[i]`` that gives invariant ``D`` with the other balances of ``xp`` (contract ``get_y_D``).

    Used by ``calc_withdraw_one_coin``: how much of coin ``i`` remains when D drops to ``D``.

    Parameters
    ----------
    amp : int
        Amplification as stored (see :func:`get_D`); first, as in the contract's signature.
    i : int
        Index of the coin solved for.
    xp : sequence of int
        Normalised balances (18-decimal units); ``xp[i]`` is ignored.
    D : int
        Target invariant (18-decimal units).
    variant : {"3pool", "base", "steth"}
    check_overflow : bool, keyword-only
        True (default): an intermediate result above ``2**256 - 1`` raises, as the EVM reverts.
        False: Python's unbounded integers, as a plain Python port computes (the reference
        vectors' ``pure_functions`` were computed so; they differ from the contract only where
        it would revert).

    Returns
    -------
    int
        Normalised balance of coin ``i`` (18-decimal units).

    Raises
    ------
    AmmError
        As :func:`get_y`.
    """
    variant = _variant(variant)
    where = f"Curve {variant} get_y_D"
    xp = _uints(xp, where, "xp")
    i = _index(i, len(xp), where, "i")
    return _get_y_D(_uint(amp, where, "amp"), i, xp, _uint(D, where, "D"), variant, bool(check_overflow))


def ramped_amp(initial_amp: int, future_amp: int, initial_time: int, future_time: int,
               timestamp: int) -> int:
    """The contracts' ``_A()`` during a ramp: linear in time, floored, constant from ``future_time``.

    Parameters
    ----------
    initial_amp, future_amp : int
        Stored amplification at the start and at the end of the ramp (same units as ``amp``).
    initial_time, future_time : int
        Start and end of the ramp (unix seconds).
    timestamp : int
        Block timestamp (unix seconds), ``>= initial_time`` while ramping.

    Returns
    -------
    int
        ``A0 + (A1 - A0) * (t - t0) // (t1 - t0)`` (or ``A0 - (A0 - A1) * ...`` when decreasing)
        for ``t < t1``, else ``A1``.
    """
    ar = _Arith("Curve ramped_amp")
    a0 = _uint(initial_amp, ar.where, "initial_amp")
    a1 = _uint(future_amp, ar.where, "future_amp")
    t0 = _uint(initial_time, ar.where, "initial_time")
    t1 = _uint(future_time, ar.where, "future_time")
    t = _uint(timestamp, ar.where, "timestamp")
    if t >= t1:
        return a1
    elapsed = ar.sub(t, t0)
    span = ar.sub(t1, t0)
    if a1 > a0:
        return a0 + ar.div(ar.mul(a1 - a0, elapsed), span)
    return a0 - ar.div(ar.mul(a0 - a1, elapsed), span)


# --- the pool ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExchangeResult:
    """Outcome of :meth:`CurvePool.exchange_detailed`.

    Attributes
    ----------
    dy : int
        Coins ``j`` sent to the trader (coin units).
    dy_fee : int
        The whole fee, in normalised (18-decimal) units of coin ``j``.
    admin_fee : int
        The admin's part of the fee, coin ``j`` units, removed from the pool's balances.
    """

    dy: int
    dy_fee: int
    admin_fee: int


@dataclass(frozen=True)
class DepositResult:
    """Outcome of :meth:`CurvePool.add_liquidity_detailed`.

    Attributes
    ----------
    minted : int
        LP tokens minted (18 decimals).
    fees : tuple of int
        Imbalance fee charged on each coin (coin units); zeros on the first deposit.
    D0, D1, D2 : int
        Invariant before, after the deposit, and after the deposit less the fees (18-decimal units).
    """

    minted: int
    fees: tuple[int, ...]
    D0: int  # noqa: N815
    D1: int  # noqa: N815
    D2: int  # noqa: N815


@dataclass(frozen=True)
class WithdrawOneResult:
    """Outcome of :meth:`CurvePool.remove_liquidity_one_coin_detailed`.

    Attributes
    ----------
    dy : int
        Coins ``i`` sent to the LP (coin units).
    fee : int
        ``dy_0 - dy``: what the fee (and the 1-unit rounding) cost against a fee-less withdrawal
        (coin units). The 3pool and base template move ``admin_fee`` of it out of the balances; the
        stETH pool leaves it all to the LPs.
    admin_fee : int
        Coins ``i`` removed from the balances for the admin (coin units).
    """

    dy: int
    fee: int
    admin_fee: int


class CurvePool:
    """State of a Curve StableSwap pool and its external functions, integer-exact.

    A call that the contract would revert raises :class:`~contagion.errors.AmmError` and leaves the
    state as it was.

    Parameters
    ----------
    variant : {"3pool", "base", "steth"}
        Contract reproduced (see the module docstring).
    A : int
        The constructor's ``_A`` (Curve's A, ``A n^(n-1)`` of the whitepaper). Stored as
        :attr:`amp` = ``A * A_PRECISION`` (``A`` itself for the 3pool).
    fee : int
        Swap fee over ``10**10``, at most ``MAX_FEE`` (50 %).
    admin_fee : int
        Admin share of the fee over ``10**10``, at most ``MAX_ADMIN_FEE`` (100 %).
    rates : sequence of int, optional
        ``10**(36 - decimals)`` per coin; must be multiples of ``10**18`` (plain coins). Default:
        :data:`THREEPOOL_RATES` for ``"3pool"``, ``[10**18, 10**18]`` for ``"steth"`` (the only
        value it accepts); required for ``"base"``.
    balances : sequence of int, optional
        Pool balances in coin units, excluding admin fees (default: all zero, an empty pool).
    lp_supply : int
        LP token total supply (18 decimals); 0 for an empty pool.
    admin_balances : sequence of int, optional
        Admin fees held by the pool on top of ``balances`` (coin units; default zeros).

    Attributes
    ----------
    balances : list of int
        Pool balances (coin units) as the contract's ``balances(i)`` returns them.
    admin_balances : list of int
        Accrued admin fees (coin units): the contract's ``admin_balances(i)``.
    lp_supply : int
        LP token total supply.

    Examples
    --------
    >>> pool = CurvePool("base", A=200, fee=4_000_000, admin_fee=0, rates=[10**18, 10**30])
    >>> pool.A_precise
    20000
    >>> pool.add_liquidity([10**24, 10**12])
    2000000000000000000000000
    """

    def __init__(self, variant: str, A: int, fee: int, admin_fee: int,  # noqa: N803
                 rates: Sequence[int] | None = None, balances: Sequence[int] | None = None,
                 lp_supply: int = 0, admin_balances: Sequence[int] | None = None):
        self.variant = _variant(variant)
        where = f"CurvePool({variant!r})"
        a = _uint(A, where, "A")
        if a == 0:
            raise AmmError(f"{where}: A must be > 0, got 0")
        self._amp = a * A_PRECISION[self.variant]
        self.fee = fee
        self.admin_fee = admin_fee
        if rates is None:
            if self.variant == "3pool":
                rates = THREEPOOL_RATES
            elif self.variant == "steth":
                rates = (PRECISION, PRECISION)
            else:
                raise AmmError(f"{where}: rates are required for the base template "
                               "(10**(36 - decimals) per coin)")
        rates = _uints(rates, where, "rates")
        for k, r in enumerate(rates):
            if r == 0 or r % PRECISION:
                raise AmmError(f"{where}: rates[{k}] must be a positive multiple of 10**18 "
                               f"(10**(36 - decimals) of a plain coin), got {r}")
        if self.variant == "steth" and any(r != PRECISION for r in rates):
            raise AmmError(f"{where}: the stETH pool has no rates (both coins 18 decimals): "
                           f"rates must be [10**18, 10**18], got {rates}")
        self.rates: tuple[int, ...] = tuple(rates)
        self.precision_mul: tuple[int, ...] = tuple(r // PRECISION for r in rates)
        n = len(rates)
        self.balances: list[int] = [0] * n if balances is None else _uints(balances, where, "balances", n)
        self.admin_balances: list[int] = ([0] * n if admin_balances is None
                                          else _uints(admin_balances, where, "admin_balances", n))
        self.lp_supply: int = _uint(lp_supply, where, "lp_supply")

    # -- parameters --------------------------------------------------------------------------

    @property
    def n_coins(self) -> int:
        """Number of coins."""
        return len(self.rates)

    @property
    def amp(self) -> int:
        """Amplification as stored (raw A for the 3pool, ``A * 100`` otherwise); settable for ramps."""
        return self._amp

    @amp.setter
    def amp(self, value: int) -> None:
        v = _uint(value, f"CurvePool({self.variant!r})", "amp")
        if v == 0:
            raise AmmError(f"CurvePool({self.variant!r}): amp must be > 0, got 0")
        self._amp = v

    @property
    def fee(self) -> int:
        """Swap fee over ``10**10`` (at most ``MAX_FEE``); settable, like ``apply_new_fee``."""
        return self._fee

    @fee.setter
    def fee(self, value: int) -> None:
        where = f"CurvePool({self.variant!r})"
        v = _uint(value, where, "fee")
        if v > MAX_FEE:
            raise AmmError(f"{where}: fee must be <= MAX_FEE = {MAX_FEE} (over 1e10), got {v}")
        self._fee = v

    @property
    def admin_fee(self) -> int:
        """Admin share of the fee over ``10**10`` (at most ``MAX_ADMIN_FEE``); settable."""
        return self._admin_fee

    @admin_fee.setter
    def admin_fee(self, value: int) -> None:
        where = f"CurvePool({self.variant!r})"
        v = _uint(value, where, "admin_fee")
        if v > MAX_ADMIN_FEE:
            raise AmmError(f"{where}: admin_fee must be <= MAX_ADMIN_FEE = {MAX_ADMIN_FEE} "
                           f"(over 1e10), got {v}")
        self._admin_fee = v

    @property
    def A(self) -> int:  # noqa: N802
        """The contract's ``A()``: ``amp // A_PRECISION``."""
        return self._amp // A_PRECISION[self.variant]

    @property
    def A_precise(self) -> int:  # noqa: N802
        """The contract's ``A_precise()`` (``A()`` for the 3pool, which has no such getter)."""
        return self._amp

    @property
    def holdings(self) -> list[int]:
        """Coins the pool contract holds: ``balances + admin_balances`` (coin units)."""
        return [b + a for b, a in zip(self.balances, self.admin_balances)]

    def copy(self) -> CurvePool:
        """An independent copy of the pool (for what-if calls)."""
        other = object.__new__(CurvePool)
        other.__dict__.update(self.__dict__)
        other.balances = list(self.balances)
        other.admin_balances = list(self.admin_balances)
        return other

    def __repr__(self) -> str:
        return (f"CurvePool({self.variant!r}, A={self.A}, fee={self.fee}, admin_fee={self.admin_fee}, "
                f"rates={list(self.rates)}, balances={self.balances}, lp_supply={self.lp_supply})")

    # -- helpers -----------------------------------------------------------------------------

    def _arith(self, fn: str) -> _Arith:
        return _Arith(f"Curve {self.variant} {fn}")

    def _xp(self, balances: Sequence[int]) -> list[int]:
        ar = self._arith("xp")
        return [ar.mul(r, b) // PRECISION for r, b in zip(self.rates, balances)]

    def _D(self, balances: Sequence[int]) -> int:  # noqa: N802
        return _get_D(self._xp(balances), self._amp, self.variant)

    def _fee_liquidity(self) -> int:
        n = self.n_coins
        return self.fee * n // (4 * (n - 1))

    def _amounts(self, amounts: Sequence[int], where: str) -> list[int]:
        return _uints(amounts, where, "amounts", self.n_coins)

    # -- views -------------------------------------------------------------------------------

    def xp(self) -> list[int]:
        """Normalised balances ``balance * rate // 10**18`` (18-decimal units)."""
        return self._xp(self.balances)

    def invariant(self) -> int:
        """D of the current balances (18-decimal units)."""
        return self._D(self.balances)

    def get_virtual_price(self) -> int:
        """``D * 10**18 // lp_supply``: the LP token's value in 18-decimal units (``10**18`` = 1)."""
        ar = self._arith("get_virtual_price")
        return ar.div(ar.mul(self._D(self.balances), PRECISION), self.lp_supply)

    def get_dy(self, i: int, j: int, dx: int) -> int:
        """Coins ``j`` received for ``dx`` coins ``i`` (both coin units), as the contract's ``get_dy``.

        The 3pool converts to coin units before taking the fee, its ``exchange`` after, so the
        3pool's quote can differ from what :meth:`exchange` pays by one unit; the later templates
        quote exactly.
        """
        ar = self._arith("get_dy")
        i, j, dx = self._trade_args(i, j, dx, ar.where)
        xp = self._xp(self.balances)
        x = ar.add(xp[i], ar.mul(dx, self.rates[i]) // PRECISION)
        y = _get_y(i, j, x, xp, self._amp, self.variant)
        dy = ar.sub(ar.sub(xp[j], y), 1)
        if self.variant == "3pool":
            dy = ar.mul(dy, PRECISION) // self.rates[j]
            return dy - ar.mul(self.fee, dy) // FEE_DENOMINATOR
        fee = ar.mul(self.fee, dy) // FEE_DENOMINATOR
        return ar.mul(dy - fee, PRECISION) // self.rates[j]

    def _trade_args(self, i: object, j: object, dx: object, where: str) -> tuple[int, int, int]:
        n = self.n_coins
        i = _index(i, n, where, "i")
        j = _index(j, n, where, "j")
        if i == j:
            raise AmmError(f"{where}: i and j must differ (same coin), got i = j = {i}")
        return i, j, _uint(dx, where, "dx")

    def calc_token_amount(self, amounts: Sequence[int], is_deposit: bool) -> int:
        """LP tokens minted (deposit) or burnt (withdrawal) for ``amounts``, without fees.

        The contract's ``calc_token_amount``: ``|D1 - D0| * supply // D0`` (slippage included,
        imbalance fees not).
        """
        ar = self._arith("calc_token_amount")
        amounts = self._amounts(amounts, ar.where)
        d0 = self._D(self.balances)
        if is_deposit:
            new = [ar.add(b, a) for b, a in zip(self.balances, amounts)]
        else:
            new = [ar.sub(b, a) for b, a in zip(self.balances, amounts)]
        d1 = self._D(new)
        diff = ar.sub(d1, d0) if is_deposit else ar.sub(d0, d1)
        return ar.div(ar.mul(diff, self.lp_supply), d0)

    def _calc_withdraw_one_coin(self, token_amount: int, i: int) -> tuple[int, int]:
        ar = self._arith("calc_withdraw_one_coin")
        amp = self._amp
        xp = self._xp(self.balances)
        d0 = _get_D(xp, amp, self.variant)
        d1 = ar.sub(d0, ar.div(ar.mul(token_amount, d0), self.lp_supply))
        new_y = _get_y_D(amp, i, xp, d1, self.variant)
        fee = self._fee_liquidity()
        xp_reduced = list(xp)
        for k in range(self.n_coins):
            if k == i:
                dx_expected = ar.sub(ar.div(ar.mul(xp[k], d1), d0), new_y)
            else:
                dx_expected = ar.sub(xp[k], ar.div(ar.mul(xp[k], d1), d0))
            xp_reduced[k] = ar.sub(xp_reduced[k], ar.mul(fee, dx_expected) // FEE_DENOMINATOR)
        dy = ar.sub(xp_reduced[i], _get_y_D(amp, i, xp_reduced, d1, self.variant))
        dy = ar.sub(dy, 1) // self.precision_mul[i]  # "withdraw less to account for rounding"
        dy_0 = ar.sub(xp[i], new_y) // self.precision_mul[i]  # without fees
        if self.variant == "steth":
            # the stETH contract does not compute the fee; reported here, it can never revert
            return dy, max(dy_0 - dy, 0)
        return dy, ar.sub(dy_0, dy)

    def calc_withdraw_one_coin(self, token_amount: int, i: int) -> int:
        """Coins ``i`` (coin units) received for burning ``token_amount`` LP tokens, fees included."""
        ar = self._arith("calc_withdraw_one_coin")
        token_amount = _uint(token_amount, ar.where, "token_amount")
        i = _index(i, self.n_coins, ar.where, "i")
        return self._calc_withdraw_one_coin(token_amount, i)[0]

    # -- state-changing calls ----------------------------------------------------------------

    def exchange_detailed(self, i: int, j: int, dx: int, min_dy: int = 0) -> ExchangeResult:
        """:meth:`exchange`, returning the fee and the admin's share as well."""
        ar = self._arith("exchange")
        i, j, dx = self._trade_args(i, j, dx, ar.where)
        min_dy = _uint(min_dy, ar.where, "min_dy")
        old = self.balances
        xp = self._xp(old)
        x = ar.add(xp[i], ar.mul(dx, self.rates[i]) // PRECISION)
        y = _get_y(i, j, x, xp, self._amp, self.variant)
        dy = ar.sub(ar.sub(xp[j], y), 1)  # "-1 just in case there were rounding errors"
        dy_fee = ar.mul(dy, self.fee) // FEE_DENOMINATOR
        dy = ar.mul(dy - dy_fee, PRECISION) // self.rates[j]
        if dy < min_dy:
            raise AmmError(f"{ar.where}: Exchange resulted in fewer coins than expected "
                           f"(dy = {dy} < min_dy = {min_dy})")
        dy_admin_fee = ar.mul(dy_fee, self.admin_fee) // FEE_DENOMINATOR
        dy_admin_fee = ar.mul(dy_admin_fee, PRECISION) // self.rates[j]
        new_i = ar.add(old[i], dx)
        new_j = ar.sub(ar.sub(old[j], dy), dy_admin_fee)
        self.balances[i] = new_i
        self.balances[j] = new_j
        self.admin_balances[j] += dy_admin_fee
        return ExchangeResult(dy=dy, dy_fee=dy_fee, admin_fee=dy_admin_fee)

    def exchange(self, i: int, j: int, dx: int, min_dy: int = 0) -> int:
        """Swap ``dx`` coins ``i`` for coins ``j`` (coin units); returns ``dy``.

        The fee is taken in normalised units before conversion; its admin share leaves
        :attr:`balances` for :attr:`admin_balances`. Raises :class:`AmmError` if ``dy < min_dy``.
        """
        return self.exchange_detailed(i, j, dx, min_dy).dy

    def add_liquidity_detailed(self, amounts: Sequence[int], min_mint_amount: int = 0) -> DepositResult:
        """:meth:`add_liquidity`, returning the imbalance fees and the invariants as well."""
        ar = self._arith("add_liquidity")
        amounts = self._amounts(amounts, ar.where)
        min_mint_amount = _uint(min_mint_amount, ar.where, "min_mint_amount")
        n = self.n_coins
        supply = self.lp_supply
        old = self.balances
        # The 3pool computes D0 only when there is a supply; the later templates always do.
        d0 = self._D(old) if (supply > 0 or self.variant != "3pool") else 0
        new = list(old)
        for k in range(n):
            if supply == 0 and amounts[k] == 0:
                raise AmmError(f"{ar.where}: initial deposit requires all coins (amounts[{k}] = 0)")
            new[k] = ar.add(old[k], amounts[k])
        d1 = self._D(new)
        if not d1 > d0:
            raise AmmError(f"{ar.where}: the deposit must increase D (D0 = {d0}, D1 = {d1})")
        fees = [0] * n
        if supply > 0:
            fee = self._fee_liquidity()
            stored = list(new)
            for k in range(n):
                ideal = ar.div(ar.mul(d1, old[k]), d0)
                difference = abs(ideal - new[k])
                fees[k] = ar.mul(fee, difference) // FEE_DENOMINATOR
                admin = ar.mul(fees[k], self.admin_fee) // FEE_DENOMINATOR
                stored[k] = ar.sub(new[k], admin)
                new[k] = ar.sub(new[k], fees[k])
            d2 = self._D(new)
            minted = ar.div(ar.mul(supply, ar.sub(d2, d0)), d0)
        else:
            stored = new
            d2 = d1
            minted = d1  # the first deposit mints D ("take the dust if there was any")
        if minted < min_mint_amount:
            raise AmmError(f"{ar.where}: Slippage screwed you (minted {minted} < min_mint_amount "
                           f"{min_mint_amount})")
        new_supply = ar.add(supply, minted)
        for k in range(n):
            self.admin_balances[k] += (old[k] + amounts[k]) - stored[k]
        self.balances = stored
        self.lp_supply = new_supply
        return DepositResult(minted=minted, fees=tuple(fees), D0=d0, D1=d1, D2=d2)

    def add_liquidity(self, amounts: Sequence[int], min_mint_amount: int = 0) -> int:
        """Deposit ``amounts`` (coin units); returns the LP tokens minted.

        The first deposit needs every coin and mints D. Later deposits pay, on each coin,
        ``fee * n / (4 (n - 1))`` of their distance from the balanced deposit (the admin share
        leaves the balances) and mint ``supply * (D2 - D0) // D0``.
        """
        return self.add_liquidity_detailed(amounts, min_mint_amount).minted

    def remove_liquidity(self, amount: int, min_amounts: Sequence[int] | None = None) -> list[int]:
        """Burn ``amount`` LP tokens for the pro-rata share of every balance (no fee).

        Returns the coins paid out, ``balance * amount // supply`` each (coin units).
        """
        ar = self._arith("remove_liquidity")
        amount = _uint(amount, ar.where, "amount")
        n = self.n_coins
        mins = [0] * n if min_amounts is None else _uints(min_amounts, ar.where, "min_amounts", n)
        supply = self.lp_supply
        values = [ar.div(ar.mul(b, amount), supply) for b in self.balances]
        for k in range(n):
            if values[k] < mins[k]:
                raise AmmError(f"{ar.where}: Withdrawal resulted in fewer coins than expected "
                               f"(coin {k}: {values[k]} < {mins[k]})")
        new_supply = ar.sub(supply, amount, note=" (burn: LP amount exceeds the supply)")
        self.balances = [ar.sub(b, v) for b, v in zip(self.balances, values)]
        self.lp_supply = new_supply
        return values

    def remove_liquidity_imbalance(self, amounts: Sequence[int],
                                   max_burn_amount: int | None = None) -> int:
        """Withdraw exactly ``amounts`` (coin units); returns the LP tokens burnt.

        Imbalance fees as in :meth:`add_liquidity`; the burn is ``(D0 - D2) * supply // D0``,
        plus one unit except in the stETH pool.
        """
        ar = self._arith("remove_liquidity_imbalance")
        amounts = self._amounts(amounts, ar.where)
        max_burn = _UINT256_MAX if max_burn_amount is None else _uint(max_burn_amount, ar.where, "max_burn_amount")
        n = self.n_coins
        supply = self.lp_supply
        if supply == 0 and self.variant == "3pool":
            raise AmmError(f"{ar.where}: zero total supply")
        old = self.balances
        d0 = self._D(old)
        new = [ar.sub(b, a) for b, a in zip(old, amounts)]
        d1 = self._D(new)
        if supply == 0 and self.variant == "steth":
            raise AmmError(f"{ar.where}: zero total supply")
        fee = self._fee_liquidity()
        stored = list(new)
        for k in range(n):
            ideal = ar.div(ar.mul(d1, old[k]), d0)
            difference = abs(ideal - new[k])
            fee_k = ar.mul(fee, difference) // FEE_DENOMINATOR
            stored[k] = ar.sub(new[k], ar.mul(fee_k, self.admin_fee) // FEE_DENOMINATOR)
            new[k] = ar.sub(new[k], fee_k)
        d2 = self._D(new)
        burnt = ar.div(ar.mul(ar.sub(d0, d2), supply), d0)
        if burnt == 0:
            raise AmmError(f"{ar.where}: zero tokens burned")
        if self.variant != "steth":
            burnt += 1  # "in case of rounding errors - make it unfavorable for the attacker"
        if burnt > max_burn:
            raise AmmError(f"{ar.where}: Slippage screwed you (burn {burnt} > max_burn_amount {max_burn})")
        new_supply = ar.sub(supply, burnt, note=" (burn: LP amount exceeds the supply)")
        for k in range(n):
            self.admin_balances[k] += (old[k] - amounts[k]) - stored[k]
        self.balances = stored
        self.lp_supply = new_supply
        return burnt

    def remove_liquidity_one_coin_detailed(self, token_amount: int, i: int,
                                           min_amount: int = 0) -> WithdrawOneResult:
        """:meth:`remove_liquidity_one_coin`, returning the fee and the admin's share as well."""
        ar = self._arith("remove_liquidity_one_coin")
        token_amount = _uint(token_amount, ar.where, "token_amount")
        i = _index(i, self.n_coins, ar.where, "i")
        min_amount = _uint(min_amount, ar.where, "min_amount")
        dy, dy_fee = self._calc_withdraw_one_coin(token_amount, i)
        if dy < min_amount:
            raise AmmError(f"{ar.where}: Not enough coins removed ({dy} < min_amount {min_amount})")
        if self.variant == "steth":
            admin = 0  # the stETH pool leaves the whole fee to the LPs
        else:
            admin = ar.mul(dy_fee, self.admin_fee) // FEE_DENOMINATOR
        new_balance = ar.sub(self.balances[i], ar.add(dy, admin))
        new_supply = ar.sub(self.lp_supply, token_amount, note=" (burn: LP amount exceeds the supply)")
        self.balances[i] = new_balance
        self.admin_balances[i] += admin
        self.lp_supply = new_supply
        return WithdrawOneResult(dy=dy, fee=dy_fee, admin_fee=admin)

    def remove_liquidity_one_coin(self, token_amount: int, i: int, min_amount: int = 0) -> int:
        """Burn ``token_amount`` LP tokens for coins ``i`` only; returns the coins paid (coin units).

        Pays :meth:`calc_withdraw_one_coin`. The 3pool and the base template also move the admin
        share of the fee out of the balances; the stETH pool leaves the whole fee to the LPs.
        """
        return self.remove_liquidity_one_coin_detailed(token_amount, i, min_amount).dy
