"""Black-Scholes pricing, greeks and option margin, on scalars and numpy arrays.

European options on an underlying that pays a continuous yield ``dividend`` (0 for a token
without one), with a continuously compounded ``rate``. Units throughout:

* ``spot`` and ``strike``: quote units per unit of the underlying (e.g. USDC per ETH);
* ``tau``: time to expiry in **years** (365-day years, :data:`SECONDS_PER_YEAR` seconds each);
  ``tau <= 0`` means expired: the price is the intrinsic value;
* ``vol``: annualized volatility as a fraction (0.8 = 80 %);
* ``rate``, ``dividend``: annual continuously compounded rates as fractions;
* one option is on one unit of the underlying; prices are quote units per option.

With ``S_q = S e^(-q tau)``, ``K_r = K e^(-r tau)``, ``sd = vol sqrt(tau)``,
``d1 = (ln(S / K) + (r - q + vol^2 / 2) tau) / sd`` and ``d2 = d1 - sd`` (Hull, *Options,
Futures, and Other Derivatives*, chapters 15 and 19; Merton's yield form):

=========  ================================================  ================================================
           call                                              put
=========  ================================================  ================================================
price      ``S_q N(d1) - K_r N(d2)``                         ``K_r N(-d2) - S_q N(-d1)``
delta      ``e^(-q tau) N(d1)``                              ``-e^(-q tau) N(-d1)``
gamma      ``e^(-q tau) phi(d1) / (S sd)``                   same
vega       ``S_q phi(d1) sqrt(tau)``                         same
theta      ``-S_q phi(d1) vol / (2 sqrt tau)``               ``-S_q phi(d1) vol / (2 sqrt tau)``
           ``- r K_r N(d2) + q S_q N(d1)``                   ``+ r K_r N(-d2) - q S_q N(-d1)``
rho        ``K tau e^(-r tau) N(d2)``                        ``-K tau e^(-r tau) N(-d2)``
=========  ================================================  ================================================

Delta is in underlying units per option, gamma in underlying units per quote unit of spot move,
vega in quote units per 1.00 (100 vol points) of volatility, theta in quote units per year of
calendar time (``dV/dt = -dV/dtau``; divide by 365 for a calendar day), rho in quote units per
1.00 of rate. At expiry (``tau <= 0``) delta is the step ``1{S > K}`` (``-1{S < K}`` for a put;
half a step at ``S == K``) and gamma, vega, theta and rho are 0. With ``vol == 0`` and
``tau > 0`` the formulas are taken at their limits (``d1 = d2 = +-inf``).

The normal distribution function is Cephes' ``ndtr`` (rational approximations of ``erf`` and
``erfc``, with ``exp(-x^2)`` evaluated in two parts for accuracy in the tails), vectorized with
numpy. It agrees with the C library's ``erfc`` to a few units of 1e-16 for ``|x| < 1`` and
within ``4e-13`` relative down to ``x = -37`` (both round ``x / sqrt 2``, whose error is
amplified by about ``x^2`` in the tail), so put-call parity ``C - P = S_q - K_r`` holds to
rounding.

Margin
------
Two maintenance rules for a portfolio of options plus an amount of the underlying (an options
writer whose collateral is the underlying holds it in the portfolio):

* :func:`scenario_losses` / :func:`scenario_margin` — the *scenario* (SPAN-style portfolio)
  method: revalue the portfolio under a grid of price and volatility shocks and take the worst
  weighted loss. :func:`scenario_grid` builds the grid; its defaults are SPAN's sixteen risk
  scenarios (CME Group, *SPAN methodology*: price moves of 0, +-1/3, +-2/3 and +-3/3 of the
  price scan range, each with volatility up and down by the volatility scan range, plus two
  "extreme" moves of +-2 price scan ranges at unchanged volatility of which 35 % of the loss
  counts). Deribit's portfolio margin is the same kind of grid (price buckets within +-16 %,
  volatility up / same / down).
* :func:`greeks_margin` — the delta-gamma-vega approximation of the same worst loss:
  ``max(0, |Delta| S h - Gamma (S h)^2 / 2) + |Vega| v`` for a price move of ``+-h`` (a fraction
  of spot) and a volatility move of ``v``.

Examples
--------
>>> from contagion.options import bs_price
>>> round(bs_price(42.0, 40.0, 0.5, 0.2, call=True, rate=0.1), 2)    # Hull, Example 15.6
4.76
>>> round(bs_price(42.0, 40.0, 0.5, 0.2, call=False, rate=0.1), 2)
0.81
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from contagion.errors import ContagionError

__all__ = [
    "SECONDS_PER_YEAR",
    "OptionError",
    "normal_cdf",
    "normal_pdf",
    "d1_d2",
    "bs_price",
    "bs_delta",
    "bs_gamma",
    "bs_vega",
    "bs_theta",
    "bs_rho",
    "bs_delta_gamma",
    "Greeks",
    "bs_greeks",
    "ScenarioGrid",
    "scenario_grid",
    "scenario_values",
    "scenario_losses",
    "scenario_margin",
    "greeks_margin",
]

SECONDS_PER_YEAR = 365.0 * 86400.0


class OptionError(ContagionError, ValueError):
    """Invalid input to the option math (a non-positive spot or strike, a negative volatility)."""


# ----------------------------------------------------------------------- normal distribution
# Cephes (Stephen L. Moshier), ndtr.c: erf on |x| < 1, erfc on [1, 8) and [8, inf).
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)
_SQRTH = 7.07106781186547524401e-1
_INV_SQRT_2PI = 0.3989422804014326779399461


def _polevl(x: np.ndarray, coef) -> np.ndarray:
    out = np.full_like(x, coef[0])
    for c in coef[1:]:
        out = out * x + c
    return out


def _p1evl(x: np.ndarray, coef) -> np.ndarray:
    out = x + coef[0]
    for c in coef[1:]:
        out = out * x + c
    return out


def _exp_neg_square(x: np.ndarray) -> np.ndarray:
    """``exp(-x^2)`` for ``x >= 0`` without the error of rounding ``x^2`` (Cephes ``expx2``);
    0 at infinity."""
    finite = np.isfinite(x)
    xf = np.where(finite, x, 0.0)
    m = np.floor(xf * 128.0 + 0.5) / 128.0
    f = xf - m
    return np.where(finite, np.exp(-m * m) * np.exp(-(2.0 * m * f + f * f)), 0.0)


def _erf_small(x: np.ndarray) -> np.ndarray:
    z = x * x
    return x * _polevl(z, _T) / _p1evl(z, _U)


def normal_cdf(x):
    """Standard normal distribution function ``N(x)`` (Cephes ``ndtr``), elementwise.

    Parameters
    ----------
    x : float or array_like

    Returns
    -------
    float or numpy.ndarray
        ``P(Z <= x)`` for ``Z ~ N(0, 1)``; exact 0 and 1 at ``-inf`` and ``inf``, NaN for NaN.
    """
    arr = np.asarray(x, dtype=np.float64)
    t = arr * _SQRTH
    z = np.abs(t)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        # erf on [0, 1] (odd, so erf(t) = sign(t) erf(|t|)); Cephes uses it for |t| < sqrt(1/2),
        # and erfc = 1 - erf on [sqrt(1/2), 1)
        head = np.minimum(z, 1.0)
        erf_head = _erf_small(head)
        # erfc on [1, inf) by the rational fits of [1, 8) and [8, inf); exp(-z^2) is 0 beyond 40
        tail = np.clip(z, 1.0, 40.0)
        if (z >= 8.0).any():
            mid = tail < 8.0
            ratio = np.where(mid, _polevl(tail, _P) / _p1evl(tail, _Q), _polevl(tail, _R) / _p1evl(tail, _S))
        else:
            ratio = _polevl(tail, _P) / _p1evl(tail, _Q)
        erfc = np.where(z < 1.0, 1.0 - erf_head, _exp_neg_square(tail) * ratio)
        y = 0.5 * erfc
        out = np.where(z < _SQRTH, 0.5 + 0.5 * np.copysign(erf_head, t), np.where(t > 0, 1.0 - y, y))
    out = np.where(np.isnan(arr), np.nan, out)
    return float(out) if arr.ndim == 0 else out


def normal_pdf(x):
    """Standard normal density ``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)``, elementwise."""
    arr = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore"):
        out = _INV_SQRT_2PI * _exp_neg_square(np.abs(arr) * _SQRTH)
    return float(out) if arr.ndim == 0 else out


# ------------------------------------------------------------------------------- inputs
def _inputs(spot, strike, tau, vol, call, rate, dividend):
    arrays = [np.asarray(v, dtype=np.float64) for v in (spot, strike, tau, vol, rate, dividend)]
    call_arr = np.asarray(call, dtype=bool)
    scalar = all(a.ndim == 0 for a in arrays) and call_arr.ndim == 0
    s, k, t, v, r, q, c = np.broadcast_arrays(*[np.atleast_1d(a) for a in arrays], np.atleast_1d(call_arr))
    if np.any(~(s > 0)) or np.any(~np.isfinite(s)):
        raise OptionError(f"spot must be a finite number > 0, got {_first_bad(s, ~(s > 0) | ~np.isfinite(s))}")
    if np.any(~(k > 0)) or np.any(~np.isfinite(k)):
        raise OptionError(f"strike must be a finite number > 0, got {_first_bad(k, ~(k > 0) | ~np.isfinite(k))}")
    if np.any(~(v >= 0)) or np.any(~np.isfinite(v)):
        raise OptionError(f"vol must be a finite number >= 0, got {_first_bad(v, ~(v >= 0) | ~np.isfinite(v))}")
    if np.any(np.isnan(t)) or np.any(np.isnan(r)) or np.any(np.isnan(q)):
        raise OptionError("tau, rate and dividend must be numbers, got NaN")
    return s, k, t, v, r, q, c, scalar


def _first_bad(values: np.ndarray, bad: np.ndarray) -> float:
    return float(values[bad].ravel()[0])


def _out(x: np.ndarray, scalar: bool):
    return float(x.ravel()[0]) if scalar else x


class _Core(NamedTuple):
    s: np.ndarray
    k: np.ndarray
    t: np.ndarray          # tau clipped at 0
    v: np.ndarray
    r: np.ndarray
    q: np.ndarray
    call: np.ndarray
    live: np.ndarray       # tau > 0
    sd: np.ndarray         # vol sqrt(tau)
    d1: np.ndarray
    d2: np.ndarray
    dq: np.ndarray         # e^(-q tau)
    dr: np.ndarray         # e^(-r tau)
    n1: np.ndarray         # N(d1)
    n2: np.ndarray         # N(d2)
    m1: np.ndarray         # N(-d1)
    m2: np.ndarray         # N(-d2)
    pdf1: np.ndarray       # phi(d1)


def _core(spot, strike, tau, vol, call, rate, dividend) -> tuple[_Core, bool]:
    s, k, t, v, r, q, c, scalar = _inputs(spot, strike, tau, vol, call, rate, dividend)
    live = t > 0
    t = np.where(live, t, 0.0)
    sqrt_t = np.sqrt(t)
    sd = v * sqrt_t
    drift = np.log(s / k) + (r - q) * t
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (drift + 0.5 * sd * sd) / sd
    # vol * sqrt(tau) == 0: the limit is +-inf by the sign of ln(F / K) (0 exactly at the forward);
    # expired options use the same rule with tau = 0 (the sign of ln(S / K))
    degenerate = ~(sd > 0)
    if degenerate.any():
        limit = np.where(drift > 0, np.inf, np.where(drift < 0, -np.inf, 0.0))
        d1 = np.where(degenerate, limit, d1)
    d2 = np.where(degenerate, d1, d1 - sd)
    n1, n2, m1, m2 = normal_cdf(np.stack([d1, d2, -d1, -d2]))    # one pass; N(-x) is not 1 - N(x) in the tails
    return _Core(s, k, t, v, r, q, c, live, sd, d1, d2, np.exp(-q * t), np.exp(-r * t), n1, n2, m1, m2,
                 normal_pdf(d1)), scalar


def d1_d2(spot, strike, tau, vol, rate=0.0, dividend=0.0):
    """``(d1, d2)`` of Black-Scholes-Merton (``+-inf`` when ``vol sqrt(tau) == 0``, 0 at the forward).

    Parameters
    ----------
    spot, strike : float or array_like
        Quote units per underlying unit (> 0).
    tau : float or array_like
        Years to expiry (``<= 0``: expired).
    vol : float or array_like
        Annualized volatility (>= 0).
    rate, dividend : float or array_like
        Continuously compounded annual rates.
    """
    core, scalar = _core(spot, strike, tau, vol, True, rate, dividend)
    return _out(core.d1, scalar), _out(core.d2, scalar)


def _price(c: _Core) -> np.ndarray:
    sq, kr = c.s * c.dq, c.k * c.dr
    return np.where(c.call, sq * c.n1 - kr * c.n2, kr * c.m2 - sq * c.m1)


def _delta(c: _Core) -> np.ndarray:
    return np.where(c.call, c.dq * c.n1, -c.dq * c.m1)


def _gamma(c: _Core) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g = c.dq * c.pdf1 / (c.s * c.sd)
    # sd == 0 while live (zero vol): 0 away from the forward, unbounded exactly at it; expired: 0
    return np.where(c.sd > 0, g, np.where(c.live & (c.d1 == 0), np.inf, 0.0))


def _vega(c: _Core) -> np.ndarray:
    return np.where(c.live, c.s * c.dq * c.pdf1 * np.sqrt(c.t), 0.0)


def _theta(c: _Core) -> np.ndarray:
    sq, kr = c.s * c.dq, c.k * c.dr
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = np.where(c.sd > 0, -sq * c.pdf1 * c.v / (2.0 * np.sqrt(c.t)), 0.0)
    call = decay - c.r * kr * c.n2 + c.q * sq * c.n1
    put = decay + c.r * kr * c.m2 - c.q * sq * c.m1
    return np.where(c.live, np.where(c.call, call, put), 0.0)


def _rho(c: _Core) -> np.ndarray:
    rho = np.where(c.call, c.k * c.t * c.dr * c.n2, -c.k * c.t * c.dr * c.m2)
    return np.where(c.live, rho, 0.0)


def bs_price(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """Black-Scholes-Merton price of a European option, quote units per option.

    Parameters
    ----------
    spot, strike : float or array_like
        Quote units per underlying unit (> 0).
    tau : float or array_like
        Years to expiry; ``<= 0`` gives the intrinsic value.
    vol : float or array_like
        Annualized volatility (>= 0).
    call : bool or array_like of bool
        True for calls, False for puts.
    rate, dividend : float or array_like
        Continuously compounded annual rates.

    Returns
    -------
    float or numpy.ndarray
        A float when every input is a scalar, else an array of the broadcast shape.

    Raises
    ------
    OptionError
        If a spot or strike is not > 0, or a volatility is negative or not finite.
    """
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_price(core), scalar)


def bs_delta(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """``dV/dS``, underlying units per option (calls in [0, 1], puts in [-1, 0]); inputs as
    :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_delta(core), scalar)


def bs_gamma(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """``d2V/dS2``, underlying units per quote unit (the same for calls and puts); inputs as
    :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_gamma(core), scalar)


def bs_vega(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """``dV/dvol``, quote units per 1.00 of volatility (the same for calls and puts; divide by
    100 for one vol point); inputs as :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_vega(core), scalar)


def bs_theta(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """``dV/dt = -dV/dtau``, quote units per year of calendar time (divide by 365 for a day);
    inputs as :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_theta(core), scalar)


def bs_rho(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """``dV/dr``, quote units per 1.00 of rate; inputs as :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_rho(core), scalar)


def bs_delta_gamma(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0):
    """``(delta, gamma)`` at once; inputs as :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return _out(_delta(core), scalar), _out(_gamma(core), scalar)


class Greeks(NamedTuple):
    """Price and greeks of options (floats or arrays), units as in the module docstring."""

    price: object
    delta: object
    gamma: object
    vega: object
    theta: object
    rho: object


def bs_greeks(spot, strike, tau, vol, call=True, rate=0.0, dividend=0.0) -> Greeks:
    """Price, delta, gamma, vega, theta and rho at once (``d1``, ``d2`` computed once); inputs
    as :func:`bs_price`."""
    core, scalar = _core(spot, strike, tau, vol, call, rate, dividend)
    return Greeks(*(_out(f(core), scalar) for f in (_price, _delta, _gamma, _vega, _theta, _rho)))


# ----------------------------------------------------------------------------- margin
class ScenarioGrid(NamedTuple):
    """Risk scenarios: relative price moves, absolute volatility moves and the share of each
    scenario's loss that counts (arrays of equal length)."""

    price_moves: np.ndarray
    vol_moves: np.ndarray
    weights: np.ndarray


def scenario_grid(price_range: float, vol_range: float, *, price_steps: int = 3,
                  vol_steps=(1.0, -1.0), extreme_multiple: float = 2.0,
                  extreme_weight: float = 0.35) -> ScenarioGrid:
    """A SPAN-style grid of risk scenarios.

    For ``k`` in ``0, 1, -1, 2, -2, ..., price_steps, -price_steps`` and each ``m`` of
    ``vol_steps``: price move ``k / price_steps * price_range`` (a fraction of spot) and volatility
    move ``m * vol_range`` (absolute), weight 1; then, if ``extreme_multiple > 0``, the moves
    ``+-extreme_multiple * price_range`` at unchanged volatility with weight ``extreme_weight``.
    The defaults give SPAN's sixteen scenarios in SPAN's order.

    Parameters
    ----------
    price_range : float
        Price scan range, a fraction of spot (> 0).
    vol_range : float
        Volatility scan range, annualized volatility points as a fraction (>= 0).
    price_steps : int
        Steps of the price scan on each side (>= 1).
    vol_steps : sequence of float
        Multiples of ``vol_range`` applied at each price step (SPAN: up and down; Deribit also 0).
    extreme_multiple, extreme_weight : float
        Extreme moves (0: none) and the share of their loss that counts.
    """
    if not price_range > 0:
        raise OptionError(f"price_range must be > 0, got {price_range!r}")
    if not vol_range >= 0:
        raise OptionError(f"vol_range must be >= 0, got {vol_range!r}")
    if int(price_steps) != price_steps or price_steps < 1:
        raise OptionError(f"price_steps must be a whole number >= 1, got {price_steps!r}")
    if not len(vol_steps):
        raise OptionError("vol_steps must not be empty")
    if not extreme_multiple >= 0 or not 0 <= extreme_weight <= 1:
        raise OptionError(f"need extreme_multiple >= 0 and extreme_weight in [0, 1], got "
                          f"{extreme_multiple!r}, {extreme_weight!r}")
    order = [0]
    for k in range(1, int(price_steps) + 1):
        order += [k, -k]
    prices, vols, weights = [], [], []
    for k in order:
        for m in vol_steps:
            prices.append(k / price_steps * price_range)
            vols.append(float(m) * vol_range)
            weights.append(1.0)
    if extreme_multiple > 0:
        for sign in (1.0, -1.0):
            prices.append(sign * extreme_multiple * price_range)
            vols.append(0.0)
            weights.append(extreme_weight)
    return ScenarioGrid(np.array(prices), np.array(vols), np.array(weights))


def scenario_values(spot: float, vol: float, strike, tau, call, grid: ScenarioGrid, *, rate: float = 0.0,
                    dividend: float = 0.0, horizon: float = 0.0, vol_floor: float = 0.01):
    """Option values now and in each scenario.

    Each scenario moves the spot to ``spot * (1 + price_move)``, the volatility to
    ``max(vol_floor, vol + vol_move)`` and time forward by ``horizon`` years.

    Parameters
    ----------
    spot, vol : float
        Current spot (quote units) and volatility level.
    strike, tau, call : array_like
        The options (one entry each): strikes, years to expiry, call flags.
    grid : ScenarioGrid
    rate, dividend : float
        Continuously compounded annual rates.
    horizon : float
        Years the scenarios look ahead (SPAN: one trading day; 0: instantaneous shocks).
    vol_floor : float
        Smallest volatility a downward shock can reach.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Values now, shape ``(n_options,)``, and in each scenario, ``(n_options, n_scenarios)``,
        quote units per option.
    """
    strike = np.atleast_1d(np.asarray(strike, dtype=np.float64))
    tau = np.atleast_1d(np.asarray(tau, dtype=np.float64))
    call = np.atleast_1d(np.asarray(call, dtype=bool))
    # one evaluation: column 0 is now, the others the scenarios
    s = np.concatenate([[spot], spot * (1.0 + grid.price_moves)])
    v = np.concatenate([[vol], np.maximum(vol_floor, vol + grid.vol_moves)])
    t = (tau[:, None] - np.concatenate([[0.0], np.full(grid.weights.size, horizon)])[None, :])
    values = np.asarray(bs_price(s[None, :], strike[:, None], t, v[None, :], call[:, None], rate, dividend))
    values = values.reshape(strike.size, s.size)
    return values[:, 0].copy(), values[:, 1:]


def scenario_losses(spot: float, vol: float, strike, tau, call, quantity, grid: ScenarioGrid, *,
                    underlying=0.0, rate: float = 0.0, dividend: float = 0.0,
                    horizon: float = 0.0, vol_floor: float = 0.01):
    """Weighted loss of portfolios in each scenario of ``grid``, quote units.

    A portfolio holds ``quantity`` of each option (negative: written) and ``underlying`` units of
    the underlying (cash it holds is worth the same in every scenario); its loss in scenario ``s``
    is ``weight_s * (value now - value in s)`` with ``value = sum(quantity * option value) +
    underlying * spot``. Time passes by ``horizon`` years in the scenarios (see
    :func:`scenario_values`).

    Parameters
    ----------
    spot, vol : float
        Current spot and volatility level.
    strike, tau, call : array_like, shape (n_options,)
        The options.
    quantity : array_like, shape (n_options,) or (n_portfolios, n_options)
        Options held (one row per portfolio), underlying units.
    grid : ScenarioGrid
    underlying : float or array_like, shape (n_portfolios,)
        Underlying held by each portfolio (for a writer collateralized in the underlying).
    rate, dividend, horizon, vol_floor : float
        As for :func:`scenario_values`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_scenarios,)`` for one portfolio, ``(n_portfolios, n_scenarios)`` for several.
    """
    quantity = np.asarray(quantity, dtype=np.float64)
    now, shocked = scenario_values(spot, vol, strike, tau, call, grid, rate=rate, dividend=dividend,
                                   horizon=horizon, vol_floor=vol_floor)
    option_loss = quantity @ (now[:, None] - shocked)            # value now - value in s
    held = np.asarray(underlying, dtype=np.float64)
    if quantity.ndim == 2:
        held = np.broadcast_to(held, quantity.shape[:1])[:, None]
    underlying_loss = -held * spot * grid.price_moves
    return grid.weights * (option_loss + underlying_loss)


def scenario_margin(spot: float, vol: float, strike, tau, call, quantity, grid: ScenarioGrid, **kwargs):
    """Worst weighted scenario loss of each portfolio, floored at 0 (quote units); arguments as
    :func:`scenario_losses`.

    Examples
    --------
    >>> from contagion.options import scenario_grid, scenario_margin
    >>> grid = scenario_grid(0.15, 0.2)
    >>> m = scenario_margin(2000.0, 0.8, [1800.0], [7 / 365], [False], [-1.0], grid)   # one short put
    >>> bool(m > 0)
    True
    """
    losses = scenario_losses(spot, vol, strike, tau, call, quantity, grid, **kwargs)
    return np.maximum(0.0, losses.max(axis=-1)) if losses.ndim == 2 else max(0.0, float(losses.max()))


def greeks_margin(delta, gamma, vega, spot, price_range: float, vol_range: float):
    """Delta-gamma-vega estimate of a portfolio's worst loss (quote units), floored at 0.

    For a price move ``dS = +-price_range * spot`` and a volatility move of ``vol_range``,
    the second-order change of value is ``delta dS + gamma dS^2 / 2 + vega dvol``; the worst
    loss over both signs is ``|delta| S h - gamma (S h)^2 / 2 + |vega| vol_range``, with the
    price part floored at 0 (no move at all is also a scenario).

    Parameters
    ----------
    delta, gamma, vega : float or array_like
        The portfolio's greeks (underlying units; underlying units per quote unit; quote units
        per 1.00 of volatility) — a written option contributes minus its greeks.
    spot : float or array_like
        Quote units per underlying unit.
    price_range, vol_range : float
        The move sizes: a fraction of spot, and absolute volatility.
    """
    delta, gamma, vega, spot = (np.asarray(x, dtype=np.float64) for x in (delta, gamma, vega, spot))
    move = spot * price_range
    price_part = np.maximum(0.0, np.abs(delta) * move - 0.5 * gamma * move * move)
    out = price_part + np.abs(vega) * vol_range
    return float(out) if out.ndim == 0 else out

