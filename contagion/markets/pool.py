"""On-chain pools as simulation components: reserves live in the ledger, math in ``contagion.amm``.

A pool's reserves are the balances of its ledger account ``pool:<name>``, so swaps conserve
tokens by construction. Swaps run inside transactions (they are reverted with them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contagion.amm import constant_product as cp
from contagion.engine.chain import Revert
from contagion.scenario.models import ConstantProductPool as PoolSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["Pool"]


class Pool:
    """A constant-product pool on a chain; price = quote per base."""

    kind = "pool"

    def __init__(self, sim: "Simulation", name: str, spec: PoolSpec):
        self.sim = sim
        self.name = name
        self.spec = spec
        self.chain = sim.chains[spec.chain]
        self.base, self.quote_asset = spec.assets
        self.fee = spec.fee
        self.swap_gas = spec.swap_gas
        self.account = sim.ledger.add_account(f"pool:{name}", "pool")
        sim.ledger.mint(self.account, self.base, spec.reserves[0])
        sim.ledger.mint(self.account, self.quote_asset, spec.reserves[1])

    def reserves(self) -> tuple[float, float]:
        """``(base, quote)`` reserves, token units."""
        ledger = self.sim.ledger
        return ledger.balance(self.account, self.base), ledger.balance(self.account, self.quote_asset)

    def price(self) -> float:
        """Spot price of the base asset in quote units (fee excluded)."""
        x, y = self.reserves()
        return y / x

    def exogenous_price(self) -> float:
        """The exogenous price of this pool's pair (from a venue trading it), NaN if none."""
        return self.sim.exogenous_price(self.base, self.quote_asset)

    def _sides(self, asset_in: str) -> tuple[str, float, float]:
        x, y = self.reserves()
        if asset_in == self.base:
            return self.quote_asset, x, y
        if asset_in == self.quote_asset:
            return self.base, y, x
        raise Revert(f"pool {self.name} does not trade {asset_in}")

    def quote(self, asset_in: str, amount_in: float) -> float:
        """Output for ``amount_in`` of ``asset_in`` at the current reserves."""
        _, r_in, r_out = self._sides(asset_in)
        return cp.amount_out(amount_in, r_in, r_out, self.fee)

    def swap(self, trader: str, asset_in: str, amount_in: float, min_out: float = 0.0,
             agent_type: str = "") -> float:
        """Swap inside the current transaction; reverts if the output is below ``min_out``."""
        asset_out, r_in, r_out = self._sides(asset_in)
        if not amount_in > 0:
            raise Revert("swap: amount_in must be > 0")
        out = cp.amount_out(amount_in, r_in, r_out, self.fee)
        if out >= r_out:
            raise Revert("swap: input too large for the pool (output rounds to the whole reserve)")
        if out < min_out:
            raise Revert(f"swap: output {out:.6g} below minimum {min_out:.6g}")
        before = self.price()
        ledger = self.sim.ledger
        ledger.transfer(trader, self.account, asset_in, amount_in)
        ledger.transfer(self.account, trader, asset_out, out)
        sim = self.sim
        block = self.chain.last_block if sim.current_block is None else sim.current_block
        sim.recorder.add("swaps", (sim.next_id("swap"), sim.env.now, block.number if block else -1,
                                   sim.current_tx_id, self.name, "pool", trader, agent_type, asset_in,
                                   amount_in, asset_out, out, before, self.price()))
        return out
