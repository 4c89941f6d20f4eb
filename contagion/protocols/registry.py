"""The runtime class of each protocol ``type``."""

from __future__ import annotations

from contagion.protocols.comet import CometMarket
from contagion.protocols.lending import LendingMarket
from contagion.protocols.liquity import LiquitySystem
from contagion.protocols.maker import MakerVaults
from contagion.protocols.money_market import MoneyMarket
from contagion.protocols.options import OptionsMarket
from contagion.protocols.perps import PerpsExchange

__all__ = ["PROTOCOL_CLASSES"]

PROTOCOL_CLASSES: dict[str, type] = {
    "lending": LendingMarket,
    "comet": CometMarket,
    "liquity": LiquitySystem,
    "maker": MakerVaults,
    "aave_v2": MoneyMarket,
    "aave_v3": MoneyMarket,
    "compound_v2": MoneyMarket,
    "options": OptionsMarket,
    "perps": PerpsExchange,
}
