"""What every oracle shares: published answers with provenance, subscribers, age, and sampling.

Every published answer is an :class:`OracleUpdate` with a run-wide id. Publishing inside a
transaction is journaled like any other state change: if the transaction reverts, the feed's
answer, the update's registration and its ``oracle_updates`` row are undone with it.

The *age* of an answer is what a consumer's staleness check compares with its bound; each kind
defines the timestamp it is measured from (:meth:`Feed.timestamp`):

=========  =====================================================================================
``push``   publication time (Chainlink's ``updatedAt``: the block of the report transaction)
``osm``    ``zzz``, the time of the last poke rounded down to a multiple of ``hop``
``median`` publication time (it republishes whenever one of its sources does)
``pull``   the signed price's publish time (Pyth's ``publishTime``), not the update transaction's
``twap``   now: computed when read
``spot``   now: computed when read
``fixed``  now: a constant is never stale
=========  =====================================================================================
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from contagion.oracle_rules import median
from contagion.scenario.models import FixedOracle as FixedSpec
from contagion.scenario.references import source_quote

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["OracleUpdate", "Feed", "FixedOracle", "SourceSampler", "TRANSMITTER_FUNDING"]

TRANSMITTER_FUNDING = 1_000.0  # native units minted to a feed's transmitter at genesis, for gas


@dataclass(frozen=True)
class OracleUpdate:
    """One published answer of a feed.

    Attributes
    ----------
    update_id : int
        Run-wide id.
    oracle, asset : str
        The feed and the asset it prices.
    price : float
        The answer, quote units per unit of ``asset``.
    exogenous_price : float
        The same aggregate taken over the sources' exogenous prices at the observation time:
        what the feed would have said without the simulated trades. It is what tells a
        liquidation caused by the exogenous move from one caused by earlier liquidations.
    reason : str
        ``genesis``, ``deviation``, ``heartbeat``, ``first`` (push), ``poke`` (osm), ``median``,
        ``twap``, ``spot``, ``pull``.
    observed_at : float
        Time (s) of the source prices the answer is made of.
    submitted_at : float
        Time (s) the publishing transaction was submitted (``published_at`` for reads).
    published_at : float
        Time (s) the answer took effect on chain.
    block, tx_id : int
        Block number and transaction id of the publication (``-1`` outside a transaction).
    previous_observed_at : float
        ``observed_at`` of the answer this one replaced.
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
    def on_price_update(self, oracle: "Feed", update: OracleUpdate) -> None: ...


class Feed:
    """What every oracle exposes to protocols: the on-chain answer, its provenance and its age.

    Attributes
    ----------
    name, asset : str
        The feed and the asset it prices.
    quote : str or None
        Unit of the answer (an asset), None for a ``fixed`` feed (the scenario's unit of account).
    chain : contagion.engine.chain.Chain or None
        Where it publishes (None for a chain-less ``fixed`` feed).
    latest : OracleUpdate
        The answer in effect.
    max_age : float or None
        Bound (s) that consumers enforce on the answer's age (``pull`` feeds), else None.
    """

    kind = "oracle"
    oracle_kind = "oracle"
    max_age: float | None = None

    def __init__(self, sim: "Simulation", name: str, spec, asset: str, chain, quote: str | None):
        self.sim = sim
        self.name = name
        self.spec = spec
        self.asset = asset
        self.chain = chain
        self.quote = quote
        self.latest: OracleUpdate | None = None
        self.consumers: list[PriceConsumer] = []

    # ----------------------------------------------------------------------------- reading
    @property
    def answer(self) -> float:
        """The answer in effect, quote units per unit of ``asset``."""
        return self.latest.price

    @property
    def answer_exogenous(self) -> float:
        return self.latest.exogenous_price

    @property
    def updated_at(self) -> float:
        """Time (s) the answer in effect was published."""
        return self.latest.published_at

    def timestamp(self) -> float:
        """Time (s) the answer's age is measured from (see the module docstring)."""
        return self.latest.published_at

    def age(self, now: float | None = None) -> float:
        """Seconds since :meth:`timestamp` at ``now`` (default: the current time)."""
        return (self.sim.env.now if now is None else now) - self.timestamp()

    def refresh(self) -> None:
        """Bring a computed-on-read answer up to the current time (no-op for published feeds)."""

    def subscribe(self, consumer: PriceConsumer) -> None:
        """Call ``consumer.on_price_update(self, update)`` after each publication."""
        self.consumers.append(consumer)

    def genesis(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -------------------------------------------------------------------------- publishing
    def _where(self) -> tuple[int, int]:
        """``(block number, tx id)`` of the current execution context (-1 outside blocks)."""
        sim = self.sim
        block = sim.current_block
        if block is None and self.chain is not None:
            block = self.chain.last_block
        return (block.number if block is not None else 0), sim.current_tx_id

    def _update(self, price: float, exogenous: float, reason: str, observed_at: float,
                submitted_at: float | None = None) -> OracleUpdate:
        """A new update published now, replacing :attr:`latest`."""
        sim = self.sim
        now = sim.env.now
        block, tx_id = self._where()
        previous = self.latest.observed_at if self.latest is not None else observed_at
        return OracleUpdate(sim.next_id("update"), self.name, self.asset, float(price), float(exogenous),
                            reason, observed_at, now if submitted_at is None else submitted_at, now, block,
                            tx_id, previous)

    def _publish(self, update: OracleUpdate, deviation: float | None = None) -> None:
        previous = self.latest
        if deviation is None:
            deviation = abs(update.price - previous.price) / previous.price if previous is not None else 0.0
        sim = self.sim
        journal = sim.journal
        self.latest = update
        sim.oracle_updates[update.update_id] = update
        journal.record(lambda: setattr(self, "latest", previous))
        journal.record(lambda: sim.oracle_updates.pop(update.update_id, None))
        sim.recorder.add("oracle_updates", (
            update.update_id, self.name, self.asset, update.price, update.exogenous_price,
            update.reason, update.observed_at, update.submitted_at, update.published_at,
            update.block, update.tx_id, deviation, update.published_at - update.observed_at))
        for consumer in self.consumers:
            consumer.on_price_update(self, update)

    def _set(self, attribute: str, value) -> None:
        """Set an attribute, journaled (undone if the current transaction reverts)."""
        old = getattr(self, attribute)
        setattr(self, attribute, value)
        self.sim.journal.record(lambda: setattr(self, attribute, old))


class FixedOracle(Feed):
    """A constant answer, published once at genesis; never stale."""

    oracle_kind = "fixed"

    def __init__(self, sim: "Simulation", name: str, spec: FixedSpec):
        chain = sim.chains[spec.chain] if spec.chain is not None else None
        super().__init__(sim, name, spec, spec.asset, chain, None)

    def timestamp(self) -> float:
        return self.sim.env.now

    def genesis(self) -> None:
        self._publish(self._update(self.spec.price, self.spec.price, "genesis", 0.0), 0.0)


class SourceSampler:
    """Median of venue and pool prices, sampled at given times and kept for ``latency`` seconds.

    A feed with an observation latency reports, at time ``t``, the sample taken at the latest
    sampling time at or before ``t - latency`` (the history has the resolution of the feed's
    rounds); before any such sample, the first one.

    Parameters
    ----------
    sim : Simulation
    asset : str
        Asset priced.
    sources : list of str
        Venues and pools (prices are taken in the feed's quote unit; a venue quoting ``asset``
        is inverted).
    latency : float
        Observation latency, seconds (>= 0).
    """

    def __init__(self, sim: "Simulation", asset: str, sources: list[str], latency: float):
        self.sim = sim
        self.asset = asset
        self.sources = [sim.market(src) for src in sources]
        self.quotes = [source_quote(sim.scenario, src, asset) for src in sources]
        self.quote = self.quotes[0]
        self.latency = float(latency)
        self.history: deque[tuple[float, float, float]] = deque()

    def current(self) -> tuple[float, float]:
        """``(median price, median exogenous price)`` of the sources now."""
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

    def sample(self, now: float) -> None:
        """Record the sources' prices at ``now`` and forget samples no longer needed."""
        price, exo = self.current()
        self.history.append((now, price, exo))
        cutoff = now - self.latency
        while len(self.history) > 1 and self.history[1][0] <= cutoff + 1e-9:
            self.history.popleft()

    def observed(self, now: float) -> tuple[float, float, float]:
        """``(sample time, price, exogenous price)`` a round at ``now`` reports."""
        cutoff = now - self.latency + 1e-9
        chosen = self.history[0]
        for entry in self.history:
            if entry[0] <= cutoff:
                chosen = entry
            else:
                break
        return chosen

