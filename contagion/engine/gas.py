"""How an agent bids for block space: fixed bids, a share of the profit, priority gas auctions.

A bid is ``{"gas_price": p}`` (legacy: max fee = priority fee = ``p``) or
``{"max_fee": m, "priority_fee": t}`` (EIP-1559), in gwei per gas. Strategies (``gas_strategy``):

``fixed``
    ``gas_price``, or ``max_fee`` and ``priority_fee`` on an EIP-1559 chain when given.
``fraction_of_profit``
    Spend ``profit_fraction`` of the expected profit (before gas) on gas: the price per gas is
    ``profit_fraction * profit / gas``; on an EIP-1559 chain it is the max fee and the priority
    fee is what it leaves above the current base fee.
``pga``
    A public priority gas auction: open at the ``fixed`` bid; whenever a competitor's pending
    transaction for the same target outbids it, replace the own transaction with one that bids
    the competitor's price times ``1 + pga_increment`` (at least the chain's replacement bump
    over the own bid), as long as the price stays below the break-even ``profit / gas``.
``sealed_bid``
    The ``fraction_of_profit`` bid, sent to a sealed mempool's builder (competitors' bids are not
    seen; the builder includes the best and the losers pay nothing).

Every bid is capped at ``max_gas_price`` when given. Prices compare by what a transaction pays
per gas at the current base fee (first-price: its gas price).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from contagion.engine.chain import GWEI

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Chain, Transaction

__all__ = ["GasPolicy", "price_of"]


def price_of(tx: "Transaction", base_fee: float) -> float:
    """Gwei per gas ``tx`` would pay at ``base_fee`` (``-inf`` if it cannot be included)."""
    tip = tx.tip(base_fee)
    return base_fee + tip if tip > -math.inf else -math.inf


class GasPolicy:
    """The bidding rule of an agent spec with ``gas_strategy`` and its parameters."""

    def __init__(self, spec):
        self.spec = spec
        self.strategy = getattr(spec, "gas_strategy", "fixed")

    def _cap(self, price: float) -> float:
        cap = getattr(self.spec, "max_gas_price", None)
        return price if cap is None else min(price, cap)

    def _at_price(self, chain: "Chain", price: float) -> dict[str, float]:
        price = max(0.0, self._cap(price))
        if chain.eip1559:
            return {"max_fee": price, "priority_fee": max(0.0, price - chain.base_fee)}
        return {"gas_price": price}

    def fixed(self, chain: "Chain") -> dict[str, float]:
        spec = self.spec
        if chain.eip1559 and getattr(spec, "max_fee", None) is not None:
            return {"max_fee": self._cap(spec.max_fee), "priority_fee": min(spec.priority_fee, self._cap(spec.max_fee))}
        return {"gas_price": self._cap(spec.gas_price)}

    @staticmethod
    def breakeven(gas: int, profit_native: float) -> float:
        """Gwei per gas at which gas eats the whole profit."""
        return profit_native / (gas * GWEI) if gas > 0 else math.inf

    def opening(self, chain: "Chain", gas: int, profit_native: float) -> dict[str, float]:
        """First bid for a transaction using ``gas`` whose profit before gas is ``profit_native``."""
        if self.strategy in ("fraction_of_profit", "sealed_bid"):
            return self._at_price(chain, self.spec.profit_fraction * self.breakeven(gas, profit_native))
        return self.fixed(chain)

    def expected_price(self, chain: "Chain", bid: dict[str, float]) -> float:
        """Gwei per gas the bid pays at the current base fee."""
        if "gas_price" in bid:
            base = chain.base_fee
            return bid["gas_price"] if bid["gas_price"] >= base else math.inf
        base = chain.base_fee
        if bid["max_fee"] < base:
            return math.inf
        return base + min(bid["priority_fee"], bid["max_fee"] - base)

    def counter(self, chain: "Chain", own: "Transaction", rivals: list["Transaction"], gas: int,
                profit_native: float) -> dict[str, float] | None:
        """A ``pga`` re-bid that beats every rival in ``rivals``, or None (already ahead, or the
        auction has passed break-even)."""
        base = chain.base_fee
        mine = price_of(own, base)
        best = max((price_of(tx, base) for tx in rivals), default=-math.inf)
        if best < mine or (best == mine and all(tx.arrival > own.arrival for tx in rivals)):
            return None
        bump = 1.0 + chain.spec.replacement_bump
        price = max(best * (1.0 + self.spec.pga_increment), own.max_fee * bump)
        if price > self.breakeven(gas, profit_native) or self._cap(price) < price:
            return None
        if chain.eip1559:
            tip = max(price - base, own.priority_fee * bump)
            return {"max_fee": max(price, own.max_fee * bump), "priority_fee": tip}
        return {"gas_price": price}
