"""The runtime class of each protocol ``type``."""

from __future__ import annotations

from contagion.protocols.lending import LendingMarket

__all__ = ["PROTOCOL_CLASSES"]

PROTOCOL_CLASSES: dict[str, type] = {
    "lending": LendingMarket,
}
