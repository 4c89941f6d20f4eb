"""Reference batch arithmetic of Maker's collateral auctions (spec of ``contagion._ext.auctions``).

Float64 prices in debt-asset units per unit of collateral; ``dur`` is the time (seconds) since
the auction started (or was last reset), ``top`` its starting price.

* linear: ``top * (tau - dur) / tau`` while ``dur < tau``, else 0 (abaci ``LinearDecrease``);
* stairstep: ``top * cut ** floor(dur / step)`` (``StairstepExponentialDecrease``: ``cut`` is the
  multiplier per step of ``step`` seconds);
* exponential: ``top * cut ** dur`` (``ExponentialDecrease``: ``cut`` per second);
* an auction needs a reset (``clip.redo``) when ``dur > tail`` or ``price / top < cusp``.
"""

from __future__ import annotations

import numpy as np

BUILD_DEBUG = False


def linear_prices(top, dur, tau, out) -> None:
    top = np.asarray(top, dtype=np.float64)
    dur = np.asarray(dur, dtype=np.float64)
    out[:] = np.where(dur >= tau, 0.0, top * ((tau - dur) / tau))


def stairstep_prices(top, dur, cut, step, out) -> None:
    top = np.asarray(top, dtype=np.float64)
    dur = np.asarray(dur, dtype=np.float64)
    out[:] = top * np.power(cut, np.floor(dur / step))


def exponential_prices(top, dur, cut, out) -> None:
    top = np.asarray(top, dtype=np.float64)
    dur = np.asarray(dur, dtype=np.float64)
    out[:] = top * np.power(cut, dur)


def redo_flags(top, price, dur, tail, cusp, out) -> None:
    top = np.asarray(top, dtype=np.float64)
    price = np.asarray(price, dtype=np.float64)
    dur = np.asarray(dur, dtype=np.float64)
    out[:] = ((dur > tail) | (price / top < cusp)).astype(np.uint8)
