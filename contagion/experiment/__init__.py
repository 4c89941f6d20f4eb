"""Batch experiments: parameter sweeps and Monte Carlo replications.

:func:`sweep` runs a scenario over a grid of key-path values and several seeds, serially, in
worker processes or on a Dask cluster, streaming every finished run to a folder it can resume
from, and returns one tidy row per run.

Modules: :mod:`~contagion.experiment.plan` (which runs, their seeds and keys),
:mod:`~contagion.experiment.runner` (what a worker does), :mod:`~contagion.experiment.executors`
(serial, processes, dask), :mod:`~contagion.experiment.store` (the folder),
:mod:`~contagion.experiment.sweeps` (:func:`sweep` itself).
"""

from contagion.experiment.errors import RunFailedWarning, SweepError
from contagion.experiment.executors import EXECUTORS
from contagion.experiment.plan import RunSpec, SweepPlan, run_key, spawn_seeds
from contagion.experiment.store import SweepStore, load_sweep
from contagion.experiment.sweeps import RunRecord, summarize_failures, sweep

__all__ = [
    "sweep",
    "load_sweep",
    "SweepPlan",
    "RunSpec",
    "RunRecord",
    "SweepStore",
    "SweepError",
    "RunFailedWarning",
    "EXECUTORS",
    "spawn_seeds",
    "run_key",
    "summarize_failures",
]
