"""StableSwap AMM math (Curve semantics) in float64 token units, for 2 to 4 coins.

Conventions
-----------
* Balances are token units; ``rates`` scale them into a common unit (``xp = balance * rate``; 1
  for plain coins, a redemption rate for e.g. an LST priced against its underlying).
* ``amplification`` is A as a Curve pool's ``A()`` returns it, i.e. A n^(n-1) of the whitepaper
  (pools that store ``A * A_PRECISION`` report ``A_precise() / 100`` here). With ``Ann = A * n``
  the invariant is ``Ann * S + D = Ann * D + D^(n+1) / (n^n prod x)``.
* ``fee`` is the fraction of the output kept by the pool (Curve's ``fee / 1e10``); ``admin_fee``
  the share of it that leaves the balances for the admin.
* D is solved by Newton's method in the compiled kernel ``contagion._ext.amm`` (reference:
  ``contagion._reference.amm``); if it does not converge within 255 iterations the call raises
  :class:`ConvergenceError` instead of returning a wrong number. For a trade the kernels solve
  the contracts' quadratic y-equation for the *change* of the output balance, in a form without
  cancellation, so small trades against large pools keep full precision (``x_j - y`` in
  floating point would not).

Differences from the integer contracts are the rounding only: the contracts floor every division
and subtract one wei from each output "just in case" (see :mod:`contagion.amm.curve` for the
integer-exact port).

Examples
--------
>>> from contagion.amm.stableswap import StableSwapPool
>>> pool = StableSwapPool([100e6, 100e6, 100e6], amplification=2000, fee=0.0001)
>>> round(pool.get_dy(0, 1, 1.0), 8)           # 3pool: 1 DAI -> USDC
0.9999
"""

from __future__ import annotations

import math

import numpy as np

from contagion import kernels
from contagion._validate import check_scalar
from contagion.errors import AmmError

__all__ = ["ConvergenceError", "get_D", "get_y", "get_dy", "spot_price", "arbitrage_dx", "StableSwapPool"]


class ConvergenceError(AmmError):
    """Newton's method did not converge (e.g. a balance near zero, or an absurd amplification)."""


def _xp(xp, where: str) -> np.ndarray:
    arr = np.ascontiguousarray(xp, dtype=np.float64).reshape(-1)
    if not 2 <= arr.size <= 4:
        raise AmmError(f"{where}: a StableSwap pool has 2 to 4 coins, got {arr.size}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise AmmError(f"{where}: balances must be finite and > 0, got {arr.tolist()}")
    return arr


def _amp(amp, where: str) -> float:
    return check_scalar(AmmError, where, "amplification", amp, low=0.0, low_open=True)


def _fee(fee, where: str, name: str = "fee") -> float:
    return check_scalar(AmmError, where, name, fee, low=0.0, high=1.0, high_open=True)


def _coin(k, n: int, where: str, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n:
        raise AmmError(f"{where}: {name} must be a coin index in [0, {n}), got {k!r}")
    return int(k)


def _finite(value: float, where: str, xp, amp: float) -> float:
    if math.isnan(value):
        raise ConvergenceError(f"{where}: Newton's method did not converge for balances "
                               f"{np.asarray(xp).tolist()} and amplification {amp!r} (balances this far "
                               f"apart, or this close to 0, are beyond float64)")
    return value


def get_D(xp, amplification: float) -> float:
    """The invariant ``D`` of balances ``xp`` (common units)."""
    arr, amp = _xp(xp, "get_D"), _amp(amplification, "get_D")
    return _finite(kernels.amm.ss_get_D(arr, amp), "get_D", arr, amp)


def get_y(i: int, j: int, x: float, xp, amplification: float) -> float:
    """Balance of coin ``j`` that keeps ``D`` when coin ``i``'s balance becomes ``x``."""
    where = "get_y"
    arr = _xp(xp, where)
    i, j = _coin(i, arr.size, where, "i"), _coin(j, arr.size, where, "j")
    if i == j:
        raise AmmError(f"{where}: i and j must differ, got {i}")
    amp = _amp(amplification, where)
    x = check_scalar(AmmError, where, "x", x, low=0.0, low_open=True)
    D = _finite(kernels.amm.ss_get_D(arr, amp), where, arr, amp)
    return _finite(kernels.amm.ss_get_y(i, j, x, arr, amp, D), where, arr, amp)


def get_dy(i: int, j: int, dx, xp, amplification: float, fee: float = 0.0004):
    """Output of coin ``j`` (common units, after the fee) for ``dx`` of coin ``i``; ``dx`` may be
    an array (one pool state, many trade sizes: D is solved once)."""
    where = "get_dy"
    arr = _xp(xp, where)
    i, j = _coin(i, arr.size, where, "i"), _coin(j, arr.size, where, "j")
    if i == j:
        raise AmmError(f"{where}: i and j must differ, got {i}")
    amp, fee = _amp(amplification, where), _fee(fee, where)
    if np.ndim(dx) == 0:
        dx = check_scalar(AmmError, where, "dx", dx, low=0.0)
        return _finite(kernels.amm.ss_get_dy(i, j, dx, arr, amp, fee), where, arr, amp)
    amounts = np.ascontiguousarray(dx, dtype=np.float64)
    if not np.all(np.isfinite(amounts)) or np.any(amounts < 0):
        raise AmmError(f"{where}: dx must be finite and >= 0")
    out = np.empty(amounts.size)
    kernels.amm.ss_get_dy_batch(i, j, amounts.reshape(-1), arr, amp, fee, out)
    if np.isnan(out).any():
        _finite(math.nan, where, arr, amp)
    return out.reshape(amounts.shape)


def spot_price(i: int, j: int, xp, amplification: float) -> float:
    """Marginal price of coin ``i`` in coin ``j`` (common units), fee excluded."""
    where = "spot_price"
    arr = _xp(xp, where)
    i, j = _coin(i, arr.size, where, "i"), _coin(j, arr.size, where, "j")
    amp = _amp(amplification, where)
    return _finite(kernels.amm.ss_price(i, j, arr, amp), where, arr, amp)


def arbitrage_dx(i: int, j: int, xp, amplification: float, fee: float, target_price: float) -> float:
    """Input of coin ``i`` that maximizes profit when one ``i`` is worth ``target_price`` of ``j``
    outside: sell ``i`` while the marginal output net of fee exceeds ``target_price`` (0 if it does
    not at the start). Solved by bisection in the compiled kernel."""
    where = "arbitrage_dx"
    arr = _xp(xp, where)
    i, j = _coin(i, arr.size, where, "i"), _coin(j, arr.size, where, "j")
    if i == j:
        raise AmmError(f"{where}: i and j must differ, got {i}")
    target = check_scalar(AmmError, where, "target_price", target_price, low=0.0, low_open=True)
    return kernels.amm.ss_arbitrage_dx(i, j, arr, _amp(amplification, where), _fee(fee, where), target)


class StableSwapPool:
    """A Curve pool's balances, LP supply and math (the later plain-pool template's fee rules).

    Parameters
    ----------
    balances : sequence of float
        Token units, 2 to 4 coins (> 0).
    amplification : float
        A as ``A()`` returns it.
    fee, admin_fee : float
        Fee on outputs, and the admin's share of it.
    rates : sequence of float, optional
        Common-unit value of one token (default 1 each).
    assets : sequence of str, optional
        Coin names (default ``coin0``...).
    lp_supply : float, optional
        LP tokens outstanding (default: ``D``, as after a first deposit).
    """

    def __init__(self, balances, amplification: float, fee: float = 0.0004, admin_fee: float = 0.0,
                 rates=None, assets=None, lp_supply: float | None = None):
        where = "StableSwapPool"
        self.balances = _xp(balances, where).copy()
        n = self.balances.size
        self.rates = np.ones(n) if rates is None else _xp(rates, f"{where} rates").copy()
        if self.rates.size != n:
            raise AmmError(f"{where}: rates must have {n} entries, got {self.rates.size}")
        self.amplification = _amp(amplification, where)
        self.fee = _fee(fee, where)
        self.admin_fee = check_scalar(AmmError, where, "admin_fee", admin_fee, low=0.0, high=1.0)
        self.assets = tuple(assets) if assets is not None else tuple(f"coin{k}" for k in range(n))
        if len(self.assets) != n or len(set(self.assets)) != n:
            raise AmmError(f"{where}: assets must be {n} distinct names, got {self.assets!r}")
        self.admin_balances = np.zeros(n)
        self.lp_supply = self.D() if lp_supply is None else check_scalar(AmmError, where, "lp_supply",
                                                                          lp_supply, low=0.0, low_open=True)

    def __repr__(self) -> str:
        return (f"<StableSwapPool {'/'.join(self.assets)} A={self.amplification:g} "
                f"balances={self.balances.round(6).tolist()}>")

    @property
    def n(self) -> int:
        return self.balances.size

    def xp(self) -> np.ndarray:
        return self.balances * self.rates

    def index(self, asset: str) -> int:
        try:
            return self.assets.index(asset)
        except ValueError:
            raise AmmError(f"StableSwapPool: asset must be one of {self.assets}, got {asset!r}") from None

    def snapshot(self) -> tuple:
        return self.balances.copy(), self.admin_balances.copy(), self.lp_supply

    def restore(self, state: tuple) -> None:
        self.balances, self.admin_balances, self.lp_supply = state[0].copy(), state[1].copy(), state[2]

    # --------------------------------------------------------------------------------- math
    def D(self) -> float:
        return get_D(self.xp(), self.amplification)

    def virtual_price(self) -> float:
        """``D / lp_supply``: value of one LP token in common units."""
        return self.D() / self.lp_supply

    def price(self, i: int = 0, j: int = 1) -> float:
        """Marginal price of coin ``i`` in coin ``j`` (token units), fee excluded."""
        return spot_price(i, j, self.xp(), self.amplification) * self.rates[i] / self.rates[j]

    def get_dy(self, i: int, j: int, dx):
        """Output of coin ``j`` (token units, after fee) for ``dx`` token units of coin ``i``; never
        more than the balance (which a huge ``dx`` approaches, and the rates' rounding could pass)."""
        r = self.rates
        if np.ndim(dx):
            out = get_dy(i, j, np.asarray(dx, dtype=np.float64) * r[i], self.xp(), self.amplification,
                         self.fee) / r[j]
            return np.minimum(out, self.balances[j])
        dx = check_scalar(AmmError, "StableSwapPool.get_dy", "dx", dx, low=0.0)
        return min(float(get_dy(i, j, dx * r[i], self.xp(), self.amplification, self.fee) / r[j]),
                   float(self.balances[j]))

    def exchange(self, i: int, j: int, dx: float) -> float:
        """Swap ``dx`` of coin ``i`` for coin ``j``; returns the output. The admin's share of the fee
        leaves the balances into ``admin_balances``."""
        where = "StableSwapPool.exchange"
        dx = check_scalar(AmmError, where, "dx", dx, low=0.0)
        i, j = _coin(i, self.n, where, "i"), _coin(j, self.n, where, "j")
        if i == j:
            raise AmmError(f"{where}: i and j must differ, got {i}")
        # the drop of xp[j] straight from the kernel (xp[j] - get_y would cancel for small trades),
        # and the fee applied as get_dy applies it, so that get_dy quotes exactly what is paid
        dy_raw = float(get_dy(i, j, dx * self.rates[i], self.xp(), self.amplification, 0.0))
        dy = dy_raw * (1.0 - self.fee) / self.rates[j]
        admin = dy_raw * self.fee * self.admin_fee / self.rates[j]
        if dy + admin >= self.balances[j]:
            raise AmmError(f"{where}: output would drain coin {j}")
        self.balances[i] += dx
        self.balances[j] -= dy + admin
        self.admin_balances[j] += admin
        return dy

    def add_liquidity(self, amounts) -> float:
        """Deposit ``amounts`` (token units per coin); returns LP tokens minted. Deposits away from
        the pool's proportions pay the imbalance fee ``fee * n / (4 (n - 1))`` on the deviation."""
        where = "StableSwapPool.add_liquidity"
        add = np.asarray(amounts, dtype=np.float64).reshape(-1)
        if add.size != self.n or not np.all(np.isfinite(add)) or np.any(add < 0) or not add.any():
            raise AmmError(f"{where}: amounts must be {self.n} numbers >= 0, not all 0, got {add.tolist()}")
        amp, r = self.amplification, self.rates
        old = self.balances.copy()
        xp = old * r
        D0 = get_D(xp, amp)
        # the changes of D straight from the kernel: D1 - D0 and D2 - D0 as differences of two
        # solved invariants would keep only 1e-15 D / (D1 - D0) of their digits for small deposits
        dD1 = _finite(kernels.amm.ss_D_change(xp, np.ascontiguousarray(add * r), amp, D0), where, xp, amp)
        fee_liq = self.fee * self.n / (4.0 * (self.n - 1))
        fees = fee_liq * np.abs(old * (dD1 / D0) - add)    # |ideal - new|, ideal = D1 old / D0
        dD2 = _finite(kernels.amm.ss_D_change(xp, np.ascontiguousarray((add - fees) * r), amp, D0), where, xp,
                      amp)
        minted = self.lp_supply * dD2 / D0
        self.admin_balances += fees * self.admin_fee
        self.balances = old + add - fees * self.admin_fee
        self.lp_supply += minted
        return minted

    def remove_liquidity(self, lp_amount: float) -> np.ndarray:
        """Burn LP tokens for a proportional share of every coin (no fee)."""
        where = "StableSwapPool.remove_liquidity"
        amount = check_scalar(AmmError, where, "lp_amount", lp_amount, low=0.0, high=self.lp_supply)
        out = self.balances * (amount / self.lp_supply)
        self.balances = self.balances - out
        self.lp_supply -= amount
        return out

    def calc_withdraw_one_coin(self, lp_amount: float, i: int) -> tuple[float, float]:
        """``(amount, fee)`` in token units of coin ``i`` for burning ``lp_amount`` into one coin."""
        where = "StableSwapPool.calc_withdraw_one_coin"
        amount = check_scalar(AmmError, where, "lp_amount", lp_amount, low=0.0, high=self.lp_supply, high_open=True)
        i = _coin(i, self.n, where, "i")
        amp, r = self.amplification, self.rates
        xp = self.xp()
        D0 = get_D(xp, amp)
        d = -amount * D0 / self.lp_supply                   # D1 = D0 + d
        drop = _finite(kernels.amm.ss_delta_D(i, xp, amp, D0, d), where, xp, amp)   # xp[i] - new_y
        fee = self.fee * self.n / (4.0 * (self.n - 1))
        # what each balance would lose in a balanced withdrawal vs this one: the imbalance pays the fee
        expected = -xp * d / D0
        expected[i] = drop + xp[i] * d / D0
        cut = fee * expected                                # xp_reduced = xp - cut
        # dy = xp_reduced[i] - y, y the balance of coin i on D1 with the others reduced. Reached in
        # small steps, so that no two large numbers are subtracted: lower each other coin along
        # D0 (coin i grows by `up`), then move to D1 (coin i drops by `drop2`)
        point, up = xp.copy(), 0.0
        for k in range(self.n):
            if k != i and cut[k] != 0.0:
                move = _finite(kernels.amm.ss_delta_x(k, i, -cut[k], point, amp, D0), where, point, amp)
                point[k] -= cut[k]
                point[i] -= move
                up -= move
        drop2 = _finite(kernels.amm.ss_delta_D(i, point, amp, D0, d), where, point, amp)
        dy = (drop2 - up - cut[i]) / r[i]
        return dy, drop / r[i] - dy

    def remove_liquidity_one_coin(self, lp_amount: float, i: int) -> float:
        """Burn ``lp_amount`` into coin ``i``; returns the amount paid out."""
        dy, fee = self.calc_withdraw_one_coin(lp_amount, i)
        admin = fee * self.admin_fee
        self.balances[i] -= dy + admin
        self.admin_balances[i] += admin
        self.lp_supply -= lp_amount
        return dy

    def arbitrage(self, i: int, j: int, target_price: float) -> float:
        """Profit-maximizing input of coin ``i`` when one ``i`` is worth ``target_price`` of ``j``
        outside (token units); 0 if selling ``i`` here is not profitable."""
        r = self.rates
        dx_xp = arbitrage_dx(i, j, self.xp(), self.amplification, self.fee, target_price * r[j] / r[i])
        return dx_xp / r[i]
