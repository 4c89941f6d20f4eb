"""Pull oracles (Pyth-like): prices signed off chain, brought on chain by whoever needs them.

Off chain, every ``interval`` the publishers sign the median of their sources (venues or pools)
— with an ``observation_latency``, the sources' price that long ago (see
:class:`~contagion.markets.oracles.base.SourceSampler`). The newest :class:`SignedPrice` is
public (:meth:`PullOracle.newest_signed`).

On chain nothing changes until a transaction brings a signed price (:meth:`PullOracle.push`,
Pyth's ``updatePriceFeeds``): it is stored if its publish time is newer than the stored one
(an older one is ignored, not an error) and published as an ``OracleUpdate`` (reason ``pull``)
whose ``observed_at`` is the publish time. Consumers read the stored price with a staleness bound
(Pyth's ``getPriceNoOlderThan``): a protocol reverts a liquidation when
``block time - publish time > max_age``. Keepers of a protocol that reads a pull oracle bundle
"update price, then liquidate" in one transaction with the newest signed price they have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contagion.markets.oracles.base import Feed, SourceSampler
from contagion.scenario.models import PullOracle as PullSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["PullOracle", "SignedPrice"]


@dataclass(frozen=True)
class SignedPrice:
    """A price signed off chain: ``price`` and ``exogenous`` in quote units per unit of the asset,
    ``publish_time`` the time (s) of the source prices it is made of, ``signed_at`` when it was
    signed (s)."""

    oracle: str
    price: float
    exogenous: float
    publish_time: float
    signed_at: float


class PullOracle(Feed):
    """Signed prices every ``interval`` off chain; on chain only when a transaction brings one."""

    oracle_kind = "pull"

    def __init__(self, sim: "Simulation", name: str, spec: PullSpec):
        self.sampler = SourceSampler(sim, spec.asset, spec.sources, spec.observation_latency)
        super().__init__(sim, name, spec, spec.asset, sim.chains[spec.chain], self.sampler.quote)
        self.max_age = float(spec.max_age)
        self.update_gas = spec.update_gas
        self.signed: SignedPrice | None = None

    def timestamp(self) -> float:
        return self.latest.observed_at

    @property
    def publish_time(self) -> float:
        """Publish time (s) of the stored price."""
        return self.latest.observed_at

    def newest_signed(self) -> SignedPrice:
        """The newest signed price available off chain."""
        return self.signed

    def _sign(self, now: float) -> None:
        self.sampler.sample(now)
        observed_at, price, exo = self.sampler.observed(now)
        self.signed = SignedPrice(self.name, price, exo, observed_at, now)

    def genesis(self) -> None:
        self._sign(0.0)
        signed = self.signed
        self._publish(self._update(signed.price, signed.exogenous, "genesis", signed.publish_time), 0.0)
        self.sim.env.process(self._publishers())

    def _publishers(self):
        env = self.sim.env
        while True:
            yield env.timeout(self.spec.interval)
            self._sign(env.now)

    def push(self, signed: SignedPrice, submitted_at: float | None = None) -> bool:
        """Store ``signed`` on chain (inside the current transaction) if it is newer than the stored
        price; returns whether it was stored."""
        if signed.oracle != self.name:
            raise ValueError(f"{self.name}: a signed price of {signed.oracle} cannot update it")
        if not signed.publish_time > self.publish_time:
            return False
        self._publish(self._update(signed.price, signed.exogenous, "pull", signed.publish_time, submitted_at))
        return True
