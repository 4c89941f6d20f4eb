"""Scenario models of the options protocol family (see :mod:`contagion.scenario.families`)."""

from __future__ import annotations

__all__ = ["PROTOCOLS", "AGENTS"]

PROTOCOLS: list = []
AGENTS: list = []
