"""Scenario models of the perps protocol family (see :mod:`contagion.scenario.families`)."""

from __future__ import annotations

__all__ = ["PROTOCOLS", "AGENTS"]

PROTOCOLS: list = []
AGENTS: list = []
