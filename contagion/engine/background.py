"""Background demand for block space: other users' transactions, busier when markets are.

Every second a chain's background process draws the number of arrivals from a Poisson law with
rate ``rate * (1 + rate_per_volatility * sigma)``, where ``sigma`` is the annualized realized
volatility of the ``volatility_source`` venue's mid price over ``volatility_window`` (sampled
every second). Each user draws a priority fee from a lognormal with median
``priority_fee * (1 + fee_per_volatility * sigma)``; under EIP-1559 also a willingness to pay per
gas, lognormal with median ``max_fee * (1 + fee_per_volatility * sigma)``. A user whose
willingness is below the current base fee does not transact (demand is elastic, which is what
lets the base fee settle); the others bid ``max_fee = willingness`` and
``priority_fee = min(tip, willingness)``. Under a first-price market the drawn fee is the gas
price. The transactions use block space and pay fees from the account ``background:<chain>``
(funded at genesis) but do nothing else; they leave the mempool after ``expiry``. They are
counted per block (``n_background``, ``background_gas`` in ``blocks``), not one row each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contagion.markets.volatility import RollingVolatility
from contagion.scenario.models import BackgroundDemand as BackgroundSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Chain
    from contagion.engine.simulation import Simulation

__all__ = ["BackgroundDemand", "BACKGROUND_FUNDING"]

BACKGROUND_FUNDING = 1e9   # native units minted to the background account at genesis
TICK = 1.0                 # seconds between arrival draws


class BackgroundDemand:
    """The background process of one chain."""

    def __init__(self, sim: "Simulation", chain: "Chain", spec: BackgroundSpec):
        self.sim = sim
        self.chain = chain
        self.spec = spec
        self.rng = sim.rng.stream(f"chain:{chain.name}:background")
        self.account = sim.ledger.add_account(f"background:{chain.name}", "background")
        sim.ledger.mint(self.account, chain.native_asset, BACKGROUND_FUNDING)
        self.volatility = RollingVolatility(spec.volatility_window)
        self.process = sim.env.process(self._run())

    def sigma(self) -> float:
        """Annualized realized volatility of the source now (0 without a source)."""
        return self.volatility.value() if self.spec.volatility_source is not None else 0.0

    def rate(self) -> float:
        """Arrivals per second now."""
        return self.spec.rate * (1.0 + self.spec.rate_per_volatility * self.sigma())

    def median_fee(self) -> float:
        """Median priority fee now, gwei."""
        return self.spec.priority_fee * (1.0 + self.spec.fee_per_volatility * self.sigma())

    def median_willingness(self) -> float:
        """Median willingness to pay per gas now (EIP-1559), gwei."""
        return self.spec.max_fee * (1.0 + self.spec.fee_per_volatility * self.sigma())

    def _draw(self, median: float, sigma: float, n: int):
        return median * self.rng.lognormal(0.0, sigma, n) if sigma > 0 else [median] * n

    def _run(self):
        sim, spec, chain = self.sim, self.spec, self.chain
        venue = sim.venues[spec.volatility_source] if spec.volatility_source is not None else None
        while True:
            if venue is not None:
                self.volatility.add(sim.env.now, venue.mid())
            n = int(self.rng.poisson(self.rate() * TICK))
            if n:
                tips = self._draw(self.median_fee(), spec.priority_fee_sigma, n)
                if chain.eip1559:
                    base = chain.base_fee
                    caps = self._draw(self.median_willingness(), spec.max_fee_sigma, n)
                    for tip, cap in zip(tips, caps):
                        if cap >= base:
                            chain.submit(sender=self.account, agent_type="background", kind="background",
                                         gas_used=spec.gas_per_tx, max_fee=float(cap),
                                         priority_fee=float(min(tip, cap)), action=None,
                                         expires_in=spec.expiry, record=False)
                else:
                    for tip in tips:
                        chain.submit(sender=self.account, agent_type="background", kind="background",
                                     gas_used=spec.gas_per_tx, gas_price=float(tip), action=None,
                                     expires_in=spec.expiry, record=False)
            yield sim.env.timeout(TICK)
