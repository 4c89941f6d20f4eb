"""The runtime class of each agent population ``kind``."""

from __future__ import annotations

from contagion.agents.adversary import Adversary
from contagion.agents.arbitrageur import Arbitrageur
from contagion.agents.borrower import Borrowers
from contagion.agents.keeper import Keeper
from contagion.agents.liquidity_provider import LiquidityProvider

__all__ = ["AGENT_CLASSES"]

AGENT_CLASSES: dict[str, type] = {
    "keeper": Keeper,
    "arbitrageur": Arbitrageur,
    "liquidity_provider": LiquidityProvider,
    "borrowers": Borrowers,
    "adversary": Adversary,
}
