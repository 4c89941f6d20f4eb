"""What every agent has: a ledger account funded with its inventory, and a block-watching loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Chain
    from contagion.engine.simulation import Simulation

__all__ = ["Agent"]


class Agent:
    """Base of agents: ``<population>#<number>`` names its ledger account and random streams.

    Subclasses set ``agent_type``, call :meth:`watch` for the chains they act on, and implement
    :meth:`on_block`, called after each block of a watched chain once :meth:`reaction_delay`
    seconds have passed.
    """

    agent_type = "agent"

    def __init__(self, sim: "Simulation", population: str, number: int, spec):
        self.sim = sim
        self.name = f"{population}#{number}"
        self.spec = spec
        self.account = sim.ledger.add_account(self.name, self.agent_type)
        for asset, amount in spec.inventory.items():
            sim.ledger.mint(self.account, asset, amount)

    def watch(self, chains: Iterable["Chain"]) -> None:
        """Start one block-watching process per chain (each chain once, in order)."""
        for chain in dict.fromkeys(chains):
            self.sim.env.process(self._watch(chain))

    def reaction_delay(self) -> float:
        """Seconds between hearing of a block and acting (subclasses may randomize)."""
        return self.spec.reaction_latency

    def on_block(self, chain: "Chain") -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _watch(self, chain: "Chain"):
        env = self.sim.env
        while True:
            yield chain.block_event
            delay = self.reaction_delay()
            if delay > 0:
                yield env.timeout(delay)
            self.on_block(chain)
