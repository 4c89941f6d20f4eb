"""What a worker does: run a chunk of a sweep's runs and report each one's outcome.

The same function, :func:`run_chunk`, runs the runs on every executor (in this process, in a
worker process, on a Dask worker), so a run's results depend only on its scenario, overrides and
seed. A run that raises is reported with its error and traceback; the next run goes on.
``KeyboardInterrupt`` and ``SystemExit`` are not caught.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contagion.network import Network

__all__ = ["RunContext", "RunTask", "RunOutcome", "run_chunk", "run_one", "tmp_name"]


def tmp_name(key: str, token: str) -> str:
    """Name of the folder a run is written into before it is renamed to ``key``."""
    return f".tmp-{key}-{token}"


@dataclass(frozen=True)
class RunContext:
    """What every run of a sweep shares (sent to each worker once per chunk or once per cluster).

    Attributes
    ----------
    net : Network
        The base network (the sweep's fixed overrides applied).
    runs_dir : str or None
        Absolute path of the store's ``runs/`` folder; where tables are written when
        ``keep_tables`` (it must be reachable from the workers).
    keep_tables : bool
        Save every run's tables (:meth:`Result.save`) into its folder.
    check_invariants : bool
        Check conservation after every block.
    """

    net: Network
    runs_dir: str | None = None
    keep_tables: bool = False
    check_invariants: bool = False


@dataclass(frozen=True)
class RunTask:
    """One run to make: its key, seed, overrides, duration and the token of its temporary folder."""

    key: str
    seed: int
    overrides: dict
    until: float
    token: str


@dataclass
class RunOutcome:
    """What a worker reports about one run.

    Attributes
    ----------
    key, token : str
        The task's key and temporary-folder token.
    status : str
        ``"ok"`` or ``"failed"``.
    metrics : dict or None
        The run's summary row (:meth:`Result.summary`) as plain Python values, without the
        ``seed`` (the sweep table has it already).
    error_type, error, traceback : str or None
        The exception's class, message and formatted traceback for a failed run.
    elapsed_s : float
        Wall seconds the run took in the worker.
    host, pid
        Where it ran.
    tables : bool
        Whether its tables were written into the temporary folder.
    """

    key: str
    token: str
    status: str
    metrics: dict | None = None
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None
    elapsed_s: float = 0.0
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    tables: bool = False


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (the summary is sent between processes)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def run_one(context: RunContext, task: RunTask) -> RunOutcome:
    """Simulate one run and summarize it; any ``Exception`` becomes a failed outcome."""
    from contagion.engine.simulation import Simulation

    started = time.perf_counter()
    folder = Path(context.runs_dir) / tmp_name(task.key, task.token) if context.keep_tables else None
    try:
        net = context.net.with_overrides(task.overrides) if task.overrides else context.net
        result = Simulation(net, seed=task.seed, check_invariants=context.check_invariants).run(task.until)
        metrics = {str(k): _plain(v) for k, v in result.summary().items() if k != "seed"}
        if folder is not None:
            if not folder.parent.is_dir():
                raise FileNotFoundError(
                    f"{folder.parent} is not visible from {socket.gethostname()}: keep_tables needs the sweep's "
                    "folder on a file system the workers share")
            result.save(folder)
    except Exception as err:  # a run's failure is data: record it and go on
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return RunOutcome(key=task.key, token=task.token, status="failed", error_type=type(err).__name__,
                          error=str(err) or repr(err), traceback=traceback.format_exc(),
                          elapsed_s=time.perf_counter() - started)
    return RunOutcome(key=task.key, token=task.token, status="ok", metrics=metrics,
                      elapsed_s=time.perf_counter() - started, tables=folder is not None)


def run_chunk(context: RunContext, tasks: list[RunTask]) -> list[RunOutcome]:
    """Run ``tasks`` one after the other (the unit of work sent to a worker)."""
    return [run_one(context, task) for task in tasks]
