"""Price oracles as simulation components.

:class:`PushOracle` models a Chainlink OCR feed. Every ``round_interval`` its nodes observe their
sources (venues or pools) and take the median; :func:`contagion.oracle_rules.should_report`
decides whether to report (deviation from the on-chain answer, or heartbeat). A report waits
``latency`` seconds (aggregation), then is submitted as a transaction with the feed's gas price,
so it lands only when a block includes it. While a report is pending, rounds do not submit another.
When the transaction executes, the on-chain answer changes and the protocols reading the feed are
notified inside the same block.

:class:`FixedOracle` is a constant on-chain price.

Every published answer is an :class:`OracleUpdate` with a run-wide id; the answer at time 0 is
the ``genesis`` update (published without a transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from contagion.engine.chain import Block
from contagion.oracle_rules import median, should_report
from contagion.scenario.models import FixedOracle as FixedSpec
from contagion.scenario.models import PushOracle as PushSpec
from contagion.scenario.references import source_quote

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["OracleUpdate", "PushOracle", "FixedOracle", "TRANSMITTER_FUNDING"]

TRANSMITTER_FUNDING = 1_000.0  # native units minted to a feed's transmitter at genesis, for gas


@dataclass(frozen=True)
class OracleUpdate:
    """One published answer of a feed.

    ``exogenous_price`` is the same aggregate taken over the sources' exogenous prices at the
    observation time: what the feed would have said without the simulated trades. It is what
    tells a liquidation caused by the exogenous move from one caused by earlier liquidations.
    """

    update_id: int
    oracle: str
    asset: str
    price: float
    exogenous_price: float
    reason: str
    observed_at: float
    submitted_at: float
    published_at: float
    block: int
    tx_id: int
    previous_observed_at: float


class PriceConsumer(Protocol):  # pragma: no cover - typing only
    def on_price_update(self, oracle: "PushOracle | FixedOracle", update: OracleUpdate) -> None: ...


class _Feed:
    """What every oracle exposes to protocols: the on-chain answer and its provenance."""

    kind = "oracle"

    def __init__(self, sim: "Simulation", name: str, asset: str):
        self.sim = sim
        self.name = name
        self.asset = asset
        self.latest: OracleUpdate | None = None
        self.consumers: list[PriceConsumer] = []

    @property
    def answer(self) -> float:
        return self.latest.price

    @property
    def answer_exogenous(self) -> float:
        return self.latest.exogenous_price

    @property
    def updated_at(self) -> float:
        return self.latest.published_at

    def subscribe(self, consumer: PriceConsumer) -> None:
        self.consumers.append(consumer)

    def _publish(self, update: OracleUpdate, deviation: float) -> None:
        self.latest = update
        sim = self.sim
        sim.oracle_updates[update.update_id] = update
        sim.recorder.add("oracle_updates", (
            update.update_id, self.name, self.asset, update.price, update.exogenous_price,
            update.reason, update.observed_at, update.submitted_at, update.published_at,
            update.block, update.tx_id, deviation, update.published_at - update.observed_at))
        for consumer in self.consumers:
            consumer.on_price_update(self, update)


class FixedOracle(_Feed):
    """A constant answer, published once at genesis."""

    def __init__(self, sim: "Simulation", name: str, spec: FixedSpec):
        super().__init__(sim, name, spec.asset)
        self.spec = spec

    def genesis(self) -> None:
        sim = self.sim
        self._publish(OracleUpdate(sim.next_id("update"), self.name, self.asset, self.spec.price,
                                   self.spec.price, "genesis", 0.0, 0.0, 0.0, 0, -1, 0.0), 0.0)


class PushOracle(_Feed):
    """A deviation + heartbeat feed publishing through the mempool."""

    def __init__(self, sim: "Simulation", name: str, spec: PushSpec):
        super().__init__(sim, name, spec.asset)
        self.spec = spec
        self.chain = sim.chains[spec.chain]
        self.sources = [sim.market(src) for src in spec.sources]
        self.quotes = [source_quote(sim.scenario, src, spec.asset) for src in spec.sources]
        self.quote = self.quotes[0]
        self.account = sim.ledger.add_account(f"oracle:{name}", "oracle")
        sim.ledger.mint(self.account, self.chain.native_asset, TRANSMITTER_FUNDING)
        self.pending = None

    def observe(self) -> tuple[float, float]:
        """``(median price, median exogenous price)`` of the sources now, in the feed's quote unit."""
        prices, exo = [], []
        for src, quote in zip(self.sources, self.quotes):
            if src.kind == "venue":
                p, e = src.price(), src.exogenous_price()
                if src.base != self.asset:  # the venue quotes the feed's asset: invert
                    p, e = 1.0 / p, 1.0 / e
            else:
                p, e = src.price_of(self.asset, quote), self.sim.exogenous_price(self.asset, quote)
            prices.append(p)
            exo.append(e)
        return median(prices), median(exo)

    def genesis(self) -> None:
        price, exo = self.observe()
        sim = self.sim
        self._publish(OracleUpdate(sim.next_id("update"), self.name, self.asset, price, exo,
                                   "genesis", 0.0, 0.0, 0.0, 0, -1, 0.0), 0.0)
        sim.env.process(self._rounds())

    def _rounds(self):
        env = self.sim.env
        spec = self.spec
        while True:
            yield env.timeout(spec.round_interval)
            if self.pending is not None:
                continue
            observed_at = env.now
            price, exo = self.observe()
            reason = should_report(price, self.answer, self.updated_at, observed_at,
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
            previous = self.latest
            deviation = abs(price - previous.price) / previous.price
            update = OracleUpdate(self.sim.next_id("update"), self.name, self.asset, price, exo,
                                  reason, observed_at, submitted_at, block.time, block.number,
                                  self.sim.current_tx_id, previous.observed_at)
            self._publish(update, deviation)

        def done(tx) -> None:
            self.pending = None

        self.pending = self.chain.submit(
            sender=self.account, agent_type="oracle", kind="oracle_update", gas_used=self.spec.gas_used,
            gas_price=self.spec.gas_price, action=publish, target=("oracle", self.name), on_result=done)
