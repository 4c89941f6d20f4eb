"""Fee-market rules, usable without a simulation: the EIP-1559 base fee and effective tips.

* :func:`next_base_fee` — go-ethereum's ``CalcBaseFee`` in integer wei: the base fee moves towards
  the gas target (``gas_limit / elasticity``) by at most ``1 / denominator`` of itself per block,
  rising by at least 1 wei when the parent used more than the target.
* :func:`effective_tip` and :func:`effective_gas_price` — what a transaction with ``max_fee`` and
  ``priority_fee`` (gwei per gas) pays above the base fee, and in all; a legacy (first-price) bid
  ``gas_price`` is ``max_fee = priority_fee = gas_price``.

Examples
--------
>>> next_base_fee(1_000_000_000, 11_000_000, 20_000_000)       # 10 % over target: +1.25 %
1012500000
>>> effective_tip(max_fee=40.0, priority_fee=2.0, base_fee=39.0)  # capped by max_fee - base_fee
1.0
"""

from __future__ import annotations

import math

from contagion.errors import ContagionError

__all__ = [
    "INITIAL_BASE_FEE",
    "BASE_FEE_CHANGE_DENOMINATOR",
    "ELASTICITY_MULTIPLIER",
    "next_base_fee",
    "effective_tip",
    "effective_gas_price",
]

INITIAL_BASE_FEE = 1_000_000_000  # wei: the base fee of the first London block
BASE_FEE_CHANGE_DENOMINATOR = 8
ELASTICITY_MULTIPLIER = 2


def _int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ContagionError(f"next_base_fee: {name} must be an integer >= {low}, got {value!r}")
    return value


def next_base_fee(parent_base_fee: int | None, parent_gas_used: int, parent_gas_limit: int, *,
                  elasticity: int = ELASTICITY_MULTIPLIER, denominator: int = BASE_FEE_CHANGE_DENOMINATOR,
                  initial_base_fee: int = INITIAL_BASE_FEE) -> int:
    """Base fee (wei per gas) of the block after a parent block.

    Parameters
    ----------
    parent_base_fee : int or None
        The parent's base fee in wei; ``None`` when the parent is not a London block (the child is
        the first one: ``initial_base_fee``).
    parent_gas_used, parent_gas_limit : int
        Gas the parent used and its limit; the target is ``parent_gas_limit // elasticity``.
    elasticity, denominator : int
        ``ElasticityMultiplier`` (2) and ``BaseFeeChangeDenominator`` (8).

    Returns
    -------
    int
        ``parent + max(1, parent * (used - target) // target // denominator)`` above target,
        ``parent - parent * (target - used) // target // denominator`` below (not below 0), the
        parent's base fee at target.
    """
    if parent_base_fee is None:
        return _int("initial_base_fee", initial_base_fee, 0)
    base = _int("parent_base_fee", parent_base_fee, 0)
    used = _int("parent_gas_used", parent_gas_used, 0)
    limit = _int("parent_gas_limit", parent_gas_limit, 1)
    elasticity = _int("elasticity", elasticity, 1)
    denominator = _int("denominator", denominator, 1)
    target = limit // elasticity
    if target == 0 or used == target:
        return base
    if used > target:
        return base + max(1, base * (used - target) // target // denominator)
    return max(0, base - base * (target - used) // target // denominator)


def effective_tip(max_fee: float, priority_fee: float, base_fee: float) -> float:
    """Tip per gas to the block producer: ``min(priority_fee, max_fee - base_fee)``; ``-inf`` if the
    transaction cannot be included at this base fee (``max_fee < base_fee``). Gwei per gas."""
    if max_fee < base_fee:
        return -math.inf
    return min(priority_fee, max_fee - base_fee)


def effective_gas_price(max_fee: float, priority_fee: float, base_fee: float) -> float:
    """What one gas costs the sender: ``base_fee + effective_tip`` (gwei); ``nan`` if the
    transaction cannot be included."""
    tip = effective_tip(max_fee, priority_fee, base_fee)
    return base_fee + tip if tip > -math.inf else math.nan
