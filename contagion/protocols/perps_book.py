"""The book of a perps protocol: margin schedules and account generation, as numpy arrays.

An account is a row: a quote balance ``quote[i]`` and signed sizes ``size[i, m]`` (base units) in
each market ``m``, with average entry prices ``entry[i, m]`` and a margin mode (isolated accounts
hold one position). Accounts are never Python objects.

Generation (``accounts: {kind: generated}``), from the protocol's stream
``protocol:<name>:accounts``, with ``P_m`` the initial oracle prices:

1. an account is isolated with probability ``isolated_share``; an isolated account holds one
   position, in market ``m`` drawn with probability ``open_interest_m / sum(open_interest)``; a
   cross account holds a position in every market;
2. each position is long with probability ``long_share``;
3. raw notionals ``exp(size_sigma * Z)``, scaled so that in each market the longs sum to
   ``open_interest_m / 2`` and so do the shorts (a side without any position leaves its half
   to the market maker);
4. leverage ``L_i`` from ``leverage`` (lognormal or uniform, truncated to ``[low, high]`` by
   redrawing); equity ``E_i = max(sum_m N_im / L_i, sum_m IMR_m(N_im))`` — at least the initial
   margin, so no account starts below maintenance;
5. sizes ``s_im = +-N_im / P_m``, quote balances ``Q_i = E_i - sum_m s_im P_m`` (equity at the
   initial prices is ``E_i``), entry prices ``P_m exp(entry_sigma * Z)``.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from contagion import perps as math_perps
from contagion.protocols.positions import draw_truncated

__all__ = ["MarginSchedule", "Book", "draw_leverage", "generate_book"]


class MarginSchedule:
    """Initial and maintenance margin of one market as brackets (a liquidity tier is one bracket
    without a maintenance amount).

    Attributes
    ----------
    caps, initial_rates, maintenance_rates, amounts : numpy.ndarray
        Bracket caps (quote units, the last ``inf``), rates, and maintenance amounts (quote units).
    """

    def __init__(self, spec):
        if spec.kind == "brackets":
            caps = [math.inf if b.notional_cap is None else b.notional_cap for b in spec.brackets]
            caps[-1] = math.inf  # notionals above the last cap stay in the last bracket
            self.caps = np.asarray(caps, dtype=np.float64)
            self.initial_rates = np.asarray([b.initial_margin_rate for b in spec.brackets], dtype=np.float64)
            self.maintenance_rates = np.asarray([b.maintenance_margin_rate for b in spec.brackets], dtype=np.float64)
        else:
            self.caps = np.asarray([math.inf])
            self.initial_rates = np.asarray([spec.initial_margin])
            self.maintenance_rates = np.asarray([spec.initial_margin * spec.maintenance_fraction])
        self.amounts = math_perps.bracket_maintenance_amounts(self.caps, self.maintenance_rates)
        self._caps = self.caps.tolist()
        self._rates = self.maintenance_rates.tolist()
        self._amounts = self.amounts.tolist()

    def maintenance_of(self, notional: float) -> float:
        """:meth:`maintenance` of one notional (a scalar fast path)."""
        if not notional > 0.0:
            return 0.0
        k = min(bisect.bisect_left(self._caps, notional), len(self._caps) - 1)
        return notional * self._rates[k] - self._amounts[k]

    def maintenance(self, notional):
        """Maintenance margin (quote units) of positions of absolute ``notional``; 0 for 0."""
        notional = np.asarray(notional, dtype=np.float64)
        k = math_perps.bracket_index(notional, self.caps)
        out = notional * self.maintenance_rates[k] - self.amounts[k]
        return np.where(notional > 0, out, 0.0) if np.ndim(out) else (float(out) if notional > 0 else 0.0)

    def initial(self, notional):
        """Initial margin (quote units) of positions of absolute ``notional``."""
        return math_perps.bracket_initial_margin(notional, self.caps, self.initial_rates)

    def bracket(self, notional):
        """``(rate, amount)`` of the bracket of ``notional``."""
        k = math_perps.bracket_index(notional, self.caps)
        return self.maintenance_rates[k], self.amounts[k]


class Book:
    """The accounts of a perps protocol (arrays, one row per account)."""

    def __init__(self, quote: np.ndarray, size: np.ndarray, entry: np.ndarray, isolated: np.ndarray):
        self.quote = np.ascontiguousarray(quote, dtype=np.float64)
        self.size = np.ascontiguousarray(size, dtype=np.float64)
        self.entry = np.ascontiguousarray(entry, dtype=np.float64)
        self.isolated = np.ascontiguousarray(isolated, dtype=bool)

    @property
    def n(self) -> int:
        return self.quote.size


def draw_leverage(spec, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` leverages from a ``leverage`` spec, truncated to ``[low, high]`` by redrawing."""
    return draw_truncated(spec, n, rng, "leverage")


def generate_book(spec, open_interest: np.ndarray, prices: np.ndarray, margins: list[MarginSchedule],
                  rng: np.random.Generator) -> Book:
    """A generated book (see the module docstring).

    Parameters
    ----------
    spec : GeneratedAccounts
        The ``accounts`` entry.
    open_interest : numpy.ndarray
        Per market, the generated notional (both sides), quote units.
    prices : numpy.ndarray
        Initial oracle prices per market, quote per base.
    margins : list of MarginSchedule
        Per market.
    rng : numpy.random.Generator
    """
    n, m_count = spec.count, open_interest.size
    isolated = rng.random(n) < spec.isolated_share
    held = np.zeros((n, m_count), dtype=bool)
    held[~isolated, :] = True
    iso = np.flatnonzero(isolated)
    if iso.size:
        choice = rng.choice(m_count, size=iso.size, p=open_interest / open_interest.sum())
        held[iso, choice] = True
    long = rng.random((n, m_count)) < spec.long_share
    raw = np.exp(spec.size_sigma * rng.standard_normal((n, m_count))) * held
    notional = np.zeros((n, m_count))
    for m in range(m_count):
        for side in (long[:, m] & held[:, m], ~long[:, m] & held[:, m]):
            total = raw[side, m].sum()
            if total > 0:
                notional[side, m] = raw[side, m] * (open_interest[m] / 2.0 / total)
    leverage = draw_leverage(spec.leverage, n, rng)
    initial = np.zeros(n)
    for m, margin in enumerate(margins):
        initial += np.where(held[:, m], margin.initial(notional[:, m]), 0.0)
    equity = np.maximum(notional.sum(axis=1) / leverage, initial)
    sign = np.where(long, 1.0, -1.0)
    size = sign * notional / prices
    entry = np.where(held, prices * np.exp(spec.entry_sigma * rng.standard_normal((n, m_count))), 0.0)
    quote = equity - size @ prices
    return Book(quote, size, entry, isolated)
