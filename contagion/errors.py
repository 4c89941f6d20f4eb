"""Exception hierarchy: everything contagion raises on purpose derives from :class:`ContagionError`."""

from __future__ import annotations

__all__ = [
    "ContagionError",
    "ScenarioError",
    "AmmError",
    "LiquidationError",
    "InvariantError",
    "SimulationError",
    "ResultError",
]


class ContagionError(Exception):
    """Base class of all errors raised by contagion."""


class ScenarioError(ContagionError, ValueError):
    """A scenario file, override or network is invalid.

    The message has one line per problem, each formatted ``FILE: key.path: rule, got VALUE``.
    ``problems`` holds the same lines as a list.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class AmmError(ContagionError, ValueError):
    """An AMM call with invalid input (e.g. zero reserves, output not below the reserve)."""


class LiquidationError(ContagionError, ValueError):
    """Invalid input to the liquidation math."""


class InvariantError(ContagionError, AssertionError):
    """A conservation or consistency invariant failed during a simulation."""


class SimulationError(ContagionError, RuntimeError):
    """The simulation cannot proceed (misuse of the engine, impossible state)."""


class ResultError(ContagionError, ValueError):
    """A saved run cannot be read."""
