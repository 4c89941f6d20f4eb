"""Maker's Oracle Security Module (``OSM.sol``): a one-hop delay in front of another oracle.

State, as in the contract: ``cur`` (the value protocols read, ``peek``), ``nxt`` (the value that
becomes current at the next poke, ``peep``) and ``zzz`` (time of the last poke rounded down to a
multiple of ``hop``: ``prev(ts) = ts - ts % hop``).

``poke()`` requires ``pass()``, i.e. ``now >= zzz + hop`` (else it reverts ``OSM/not-passed``),
then ``cur = nxt``, ``nxt = src.peek()``, ``zzz = prev(now)``. A value read from the source at a
poke therefore takes effect at the following poke, one hop later. Because ``zzz`` is rounded to
hop boundaries, pokes are aligned to multiples of ``hop`` whatever their inclusion delay: a poke
delayed by congestion still leaves the next one due at the next boundary.

Here the OSM's poker submits a ``poke`` transaction (its own gas price) at every boundary
``zzz + hop``; it takes effect when a block includes it. As Maker's MegaPoker does, the same
transaction also pokes the Spotter, so protocols see the new ``cur`` in that block. Each poke
publishes an :class:`~contagion.markets.oracles.base.OracleUpdate` (reason ``poke``) carrying the
provenance of the value that became current: its price, the source's exogenous price and the
source's observation time at the moment it entered ``nxt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contagion.engine.chain import Revert
from contagion.engine.gas import GasPolicy
from contagion.markets.oracles.base import TRANSMITTER_FUNDING, Feed
from contagion.scenario.models import OsmOracle as OsmSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["OsmOracle", "OsmValue"]


@dataclass(frozen=True)
class OsmValue:
    """A value held by the OSM (``cur`` or ``nxt``) with the source's provenance when it was read.

    ``price`` and ``exogenous`` are quote units per unit of the asset; ``observed_at`` is the
    source answer's observation time and ``read_at`` the time the poke read it (seconds).
    """

    price: float
    exogenous: float
    observed_at: float
    read_at: float


class OsmOracle(Feed):
    """An OSM reading another oracle, poked every ``hop``."""

    oracle_kind = "osm"

    def __init__(self, sim: "Simulation", name: str, spec: OsmSpec):
        self.source = sim.oracles[spec.source]
        super().__init__(sim, name, spec, spec.asset, sim.chains[spec.chain], self.source.quote)
        self.hop = float(spec.hop)
        self.account = sim.ledger.add_account(f"oracle:{name}", "oracle")
        sim.ledger.mint(self.account, self.chain.native_asset, TRANSMITTER_FUNDING)
        self.cur: OsmValue | None = None
        self.nxt: OsmValue | None = None
        self.zzz = 0.0
        self.pending = None

    # -------------------------------------------------------------------------- contract view
    def prev(self, ts: float) -> float:
        """``ts`` rounded down to a multiple of ``hop``."""
        return ts - ts % self.hop

    def pass_(self, now: float | None = None) -> bool:
        """Whether a poke may execute at ``now``: ``now >= zzz + hop``."""
        now = self.sim.env.now if now is None else now
        return now >= self.zzz + self.hop

    def peek(self) -> tuple[float, bool]:
        """``(current value, has value)``: what protocols read."""
        return (self.cur.price, True) if self.cur is not None else (0.0, False)

    def peep(self) -> tuple[float, bool]:
        """``(next value, has value)``: public one hop ahead (keepers watch it)."""
        return (self.nxt.price, True) if self.nxt is not None else (0.0, False)

    def timestamp(self) -> float:
        return self.zzz

    # ------------------------------------------------------------------------------- running
    def _read_source(self, now: float) -> OsmValue:
        src = self.source
        src.refresh()
        return OsmValue(src.answer, src.answer_exogenous, src.latest.observed_at, now)

    def genesis(self) -> None:
        """``cur = nxt = `` the source's answer at time 0, ``zzz = 0``; the first poke is due at ``hop``."""
        value = self._read_source(0.0)
        self.cur = self.nxt = value
        self.zzz = 0.0
        self._publish(self._update(value.price, value.exogenous, "genesis", value.observed_at), 0.0)
        self.sim.env.process(self._poker())

    def poke(self) -> None:
        """Execute ``poke()`` now, inside the current transaction (reverts ``OSM/not-passed``)."""
        now = self.sim.env.now
        if not self.pass_(now):
            raise Revert(f"OSM/not-passed: {self.name} was poked at {self.zzz:g}s; next poke from "
                         f"{self.zzz + self.hop:g}s")
        value = self._read_source(now)
        current = self.nxt
        self._set("cur", current)
        self._set("nxt", value)
        self._set("zzz", self.prev(now))
        submitted = self.pending.submitted_at if self.pending not in (None, True) else now
        self._publish(self._update(current.price, current.exogenous, "poke", current.observed_at, submitted))

    def _poker(self):
        env = self.sim.env
        while True:
            due = self.zzz + self.hop
            if env.now < due:
                yield env.timeout(due - env.now)
                continue
            result = env.event()
            self.pending = self.chain.submit(
                sender=self.account, agent_type="oracle", kind="oracle_poke", gas_used=self.spec.gas_used,
                action=lambda block: self.poke(), **GasPolicy(self.spec).fixed(self.chain),
                target=("oracle", self.name), on_result=lambda tx, done=result: done.succeed(tx))
            yield result | env.timeout(self.hop)  # a transaction the chain never reports is given up
            tx, self.pending = self.pending, None
            if not result.triggered or tx.status != "included":  # failed: try again after the next block
                yield self.chain.block_event
