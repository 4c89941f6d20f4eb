"""contagion: a discrete-event simulator of systemic contagion in decentralized finance.

Quick use::

    import contagion
    net = contagion.load_network("networks/minimal.yaml")
    res = contagion.run(net, seed=1)
    res.summary()
    res.save("runs/minimal")
    table = contagion.sweep(net, grid={"oracles.eth_usd.heartbeat": ["10min", "1h"]}, seeds=8)

The mechanism math is importable on its own: :mod:`contagion.amm`, :mod:`contagion.liquidation`,
:mod:`contagion.oracle_rules`.
"""

from contagion._version import __version__
from contagion import kernels
from contagion.engine.simulation import Simulation
from contagion.errors import (
    ContagionError,
    InvariantError,
    ResultError,
    ScenarioError,
    SimulationError,
)
from contagion.network import Network, load_network
from contagion.results import Result, load_result
from contagion.experiment import load_sweep, sweep

__all__ = [
    "__version__",
    "kernels",
    "Network",
    "load_network",
    "Simulation",
    "run",
    "sweep",
    "load_sweep",
    "Result",
    "load_result",
    "ContagionError",
    "ScenarioError",
    "SimulationError",
    "InvariantError",
    "ResultError",
]


def run(net: Network, seed: int | None = None, until: float | str | None = None, overrides=None,
        *, check_invariants: bool = False) -> Result:
    """Simulate ``net`` and return its :class:`Result`.

    Parameters
    ----------
    net : Network
        From :func:`load_network` or :meth:`Network.from_dict`.
    seed : int, optional
        Seed of all random streams (default: the scenario's ``seed``).
    until : float or str, optional
        Simulated duration, seconds or ``"36h"``-style (default: the scenario's ``until``).
    overrides : mapping or iterable of ``"key.path=value"``, optional
        Scenario values to change for this run, validated like the file.
    check_invariants : bool
        Check conservation after every block (slower).
    """
    return Simulation(net, seed=seed, overrides=overrides, check_invariants=check_invariants).run(until)
