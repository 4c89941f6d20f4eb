"""The runtime class of each agent population ``kind``."""

from __future__ import annotations

from contagion.agents.absorber import Absorber, TroveLiquidator
from contagion.agents.adversary import Adversary
from contagion.agents.arbitrageur import Arbitrageur
from contagion.agents.auction_keeper import AuctionKeeper
from contagion.agents.borrower import Borrowers
from contagion.agents.collateral_buyer import CollateralBuyer
from contagion.agents.keeper import Keeper
from contagion.agents.liquidity_provider import LiquidityProvider
from contagion.agents.market_maker import MarketMaker
from contagion.agents.stability_depositor import StabilityDepositor

__all__ = ["AGENT_CLASSES"]

AGENT_CLASSES: dict[str, type] = {
    "keeper": Keeper,
    "arbitrageur": Arbitrageur,
    "liquidity_provider": LiquidityProvider,
    "borrowers": Borrowers,
    "adversary": Adversary,
    "absorber": Absorber,
    "trove_liquidator": TroveLiquidator,
    "collateral_buyer": CollateralBuyer,
    "stability_depositor": StabilityDepositor,
    "auction_keeper": AuctionKeeper,
    "market_maker": MarketMaker,
}
