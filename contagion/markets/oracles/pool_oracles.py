"""Oracles computed from a pool when read: a time-weighted average (TWAP) and the spot price.

:class:`TwapOracle` reads the pool's price accumulator
(:class:`~contagion.markets.accumulator.PriceAccumulator`):
``(cum(t) - cum(t - window)) / window``, the arithmetic mean price for constant product and
StableSwap pools (Uniswap v2 convention) and ``1.0001^(mean tick)``, the geometric mean, for
concentrated pools (Uniswap v3 convention). Because a block's contribution is fixed by the state
at the end of the previous block, the value is the same for every transaction of a block: it is
computed at the first read inside the block (a liquidation, an OSM poke, ...) or, if nothing read
it, right after the block, and published as an ``OracleUpdate`` (reason ``twap``, no transaction)
whenever it changed. For a price falling linearly the TWAP trails it by about ``window / 2``.

Its exogenous price is the same average of the exogenous price of the pool's pair (from a venue),
sampled at block times with the same block-start convention.

:class:`SpotOracle` is the pool's current marginal price. It publishes inside the transaction,
after every swap on its pool, so a manipulation followed by a liquidation in the same
transaction (or a later one of the same block) sees the manipulated price.

Both have age 0: they are computed when read.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from contagion.markets.accumulator import PriceAccumulator, log_tick
from contagion.markets.oracles.base import Feed
from contagion.scenario.models import SpotOracle as SpotSpec
from contagion.scenario.models import TwapOracle as TwapSpec
from contagion.scenario.references import source_quote

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Block
    from contagion.engine.simulation import Simulation
    from contagion.markets.pool import RuntimePool

__all__ = ["TwapOracle", "SpotOracle"]

_UNCHANGED = 1e-12  # relative change below which a recomputed TWAP is "the same"


class _PoolFeed(Feed):
    """A feed computed from one pool's state; never stale."""

    def __init__(self, sim: "Simulation", name: str, spec):
        pool: "RuntimePool" = sim.pools[spec.pool]
        self.pool = pool
        quote = source_quote(sim.scenario, spec.pool, spec.asset)
        super().__init__(sim, name, spec, spec.asset, pool.chain, quote)
        self.inverse = pool.index(spec.asset) != 0  # prices assets[1] in assets[0]

    def timestamp(self) -> float:
        return self.sim.env.now

    def exogenous_now(self) -> float:
        return self.sim.exogenous_price(self.asset, self.quote)


class TwapOracle(_PoolFeed):
    """Time-weighted average price of a pool over ``window`` seconds."""

    oracle_kind = "twap"

    def __init__(self, sim: "Simulation", name: str, spec: TwapSpec):
        super().__init__(sim, name, spec)
        self.window = float(spec.window)
        self.accumulator = self.pool.accumulator
        self.accumulator.require(self.window)
        self.geometric = self.accumulator.geometric
        self._exo_held = math.nan
        self.exo_accumulator: PriceAccumulator | None = None
        self.computed_at = -math.inf

    def _exo_values(self) -> tuple[float, float]:
        """The exogenous counterpart of the pool's accumulated values (pair in pool order)."""
        exo = self._exo_held
        if self.geometric:
            tick = log_tick(exo) if exo > 0 else math.nan
            return (-tick, tick) if self.inverse else (tick, -tick)
        return (1.0 / exo, exo) if self.inverse else (exo, 1.0 / exo)

    def value(self, t: float | None = None) -> tuple[float, float]:
        """``(TWAP, exogenous TWAP)`` at ``t`` (default now), quote units per unit of the asset."""
        t = self.sim.env.now if t is None else t
        price = self.accumulator.average_price(t, self.window, inverse=self.inverse)
        exo = self.exo_accumulator.average_price(t, self.window, inverse=self.inverse)
        return price, exo

    def genesis(self) -> None:
        self._exo_held = self.exogenous_now()
        self.exo_accumulator = PriceAccumulator(self._exo_values, self.sim.journal, self.geometric)
        self.exo_accumulator.require(self.window)
        price, exo = self.value(0.0)
        self.computed_at = 0.0
        self._publish(self._update(price, exo, "genesis", 0.0), 0.0)
        self.chain.on_block(self._after_block)

    def refresh(self) -> None:
        """Compute this block's value at the first read and publish it if it changed."""
        now = self.sim.env.now
        if self.computed_at == now:
            return
        self._set("computed_at", now)
        price, exo = self.value(now)
        old = self.latest.price
        if abs(price - old) > _UNCHANGED * abs(old):
            self._publish(self._update(price, exo, "twap", now))

    def _after_block(self, block: "Block") -> None:
        self.refresh()
        # the exogenous price at this block holds until the next one (block-start convention)
        self.exo_accumulator.write(block.time)
        self._exo_held = self.exogenous_now()


class SpotOracle(_PoolFeed):
    """The pool's current marginal price, published after every swap on the pool."""

    oracle_kind = "spot"

    def __init__(self, sim: "Simulation", name: str, spec: SpotSpec):
        super().__init__(sim, name, spec)
        self.pool.listeners.append(self)

    def current(self) -> float:
        """The pool's marginal price of the asset now, quote units per unit (fee excluded)."""
        return self.pool.price_of(self.asset, self.quote)

    def genesis(self) -> None:
        self._publish(self._update(self.current(), self.exogenous_now(), "genesis", 0.0), 0.0)

    def on_pool_change(self, pool: "RuntimePool") -> None:
        price = self.current()
        if price != self.latest.price:
            now = self.sim.env.now
            self._publish(self._update(price, self.exogenous_now(), "spot", now))
