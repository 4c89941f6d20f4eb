"""Push feeds: the Chainlink OCR rule, published by transactions.

Every ``round_interval`` the nodes observe their sources (venues or pools) and take the median;
with an ``observation_latency`` the price they report is the sources' price that long ago (the
sample of the latest round at or before ``t - observation_latency``: data-source responses take
that long to arrive). :func:`contagion.oracle_rules.should_report` decides whether to report
(deviation from the on-chain answer, or heartbeat). A report waits ``latency`` seconds
(aggregation: observation to submission), then is submitted as a transaction with the feed's gas
price, so it lands only when a block includes it. While a report is pending, rounds do not
submit another. When the transaction executes, the on-chain answer changes and the protocols
reading the feed are notified inside the same block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contagion.engine.chain import Block
from contagion.engine.gas import GasPolicy
from contagion.markets.oracles.base import TRANSMITTER_FUNDING, Feed, SourceSampler
from contagion.oracle_rules import should_report
from contagion.scenario.models import PushOracle as PushSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["PushOracle"]


class PushOracle(Feed):
    """A deviation + heartbeat feed publishing through the mempool."""

    oracle_kind = "push"

    def __init__(self, sim: "Simulation", name: str, spec: PushSpec):
        self.sampler = SourceSampler(sim, spec.asset, spec.sources, spec.observation_latency)
        super().__init__(sim, name, spec, spec.asset, sim.chains[spec.chain], self.sampler.quote)
        self.sources = self.sampler.sources
        self.quotes = self.sampler.quotes
        self.account = sim.ledger.add_account(f"oracle:{name}", "oracle")
        sim.ledger.mint(self.account, self.chain.native_asset, TRANSMITTER_FUNDING)
        self.pending = None

    def observe(self) -> tuple[float, float]:
        """``(median price, median exogenous price)`` of the sources now, in the feed's quote unit."""
        return self.sampler.current()

    def genesis(self) -> None:
        self.sampler.sample(0.0)
        _, price, exo = self.sampler.observed(0.0)
        self._publish(self._update(price, exo, "genesis", 0.0), 0.0)
        self.sim.env.process(self._rounds())

    def _rounds(self):
        env = self.sim.env
        spec = self.spec
        while True:
            yield env.timeout(spec.round_interval)
            now = env.now
            self.sampler.sample(now)
            if self.pending is not None:
                continue
            observed_at, price, exo = self.sampler.observed(now)
            reason = should_report(price, self.answer, self.updated_at, now,
                                   spec.deviation_threshold, spec.heartbeat)
            if reason is None:
                continue
            self.pending = True
            if spec.latency > 0:
                yield env.timeout(spec.latency)
            self._submit(price, exo, reason, observed_at)

    def _submit(self, price: float, exo: float, reason: str, observed_at: float) -> None:
        submitted_at = self.sim.env.now

        def publish(block: Block) -> None:
            self._publish(self._update(price, exo, reason, observed_at, submitted_at))

        def done(tx) -> None:
            self.pending = None

        self.pending = self.chain.submit(
            sender=self.account, agent_type="oracle", kind="oracle_update", gas_used=self.spec.gas_used,
            action=publish, target=("oracle", self.name), on_result=done, **GasPolicy(self.spec).fixed(self.chain))
