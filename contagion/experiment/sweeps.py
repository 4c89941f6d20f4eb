"""Parameter sweeps and Monte Carlo replications: :func:`sweep`.

A sweep plans its runs (:class:`~contagion.experiment.plan.SweepPlan`), skips those already in
its folder, hands the others to an executor (:mod:`contagion.experiment.executors`), stores
each finished run as soon as it arrives (:class:`~contagion.experiment.store.SweepStore`) and,
at the end, reads the table back from the folder. Nothing but the plan is held in memory, so a
sweep of 10,000 runs needs no more than one of 100.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contagion._version import __version__
from contagion.experiment.errors import RunFailedWarning
from contagion.experiment.executors import make_executor
from contagion.experiment.plan import RunSpec, SweepPlan
from contagion.experiment.runner import RunContext, RunTask
from contagion.experiment.store import SweepStore
from contagion.network import Network, load_network

__all__ = ["sweep", "RunRecord", "summarize_failures"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRecord:
    """A stored run, as passed to the ``on_run`` callback of :func:`sweep`.

    Attributes
    ----------
    run_id, run_key, seed, overrides
        The run (see :class:`~contagion.experiment.plan.RunSpec`).
    status : str
        ``"ok"`` or ``"failed"``.
    error : str or None
        ``"Type: message"`` of a failed run.
    elapsed_s : float
        Wall seconds the run took in its worker.
    done, failed, total : int
        Runs of the plan finished so far (this call and earlier ones), failed among them, and
        planned.
    """

    run_id: int
    run_key: str
    seed: int
    overrides: dict
    status: str
    error: str | None
    elapsed_s: float
    done: int
    failed: int
    total: int


def summarize_failures(failures: pd.DataFrame, *, limit: int = 5) -> list[str]:
    """One line per error type: count, first run ids and the first message.

    Parameters
    ----------
    failures : pandas.DataFrame
        A failures table (``run_id``, ``error_type``, ``error``).
    limit : int
        Run ids listed per line.
    """
    lines = []
    for error_type, rows in failures.groupby("error_type", sort=False):
        ids = ", ".join(str(i) for i in rows["run_id"].head(limit))
        more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
        first = str(rows["error"].iloc[0]).splitlines()[0] if len(rows) else ""
        lines.append(f"{error_type} in {len(rows)} run(s) (run_id {ids}{more}): {first}")
    return lines


def _network(net: Network | str | os.PathLike) -> Network:
    if isinstance(net, Network):
        return net
    if isinstance(net, (str, os.PathLike)):
        return load_network(net)
    raise TypeError(f"net must be a Network or a scenario file, got {type(net).__name__}")


def sweep(net: Network | str | os.PathLike, grid: Mapping[str, Sequence] | None = None,
          zip: Mapping[str, Sequence] | Sequence[Mapping[str, Sequence]] | None = None,
          seeds: int | Iterable[int] = 1, *, seed: int | None = None, until: float | str | None = None,
          overrides: Mapping[str, Any] | Iterable[str] | None = None, executor: str = "processes",
          workers: int | None = None, scheduler: Any = None, chunksize: int | None = None,
          start_method: str | None = None, out: str | os.PathLike | None = None, keep_tables: bool = False,
          retry_failed: bool = False, progress: bool = False,
          on_run: Callable[[RunRecord], None] | None = None, check_invariants: bool = False) -> pd.DataFrame:
    """Run a scenario over a parameter grid and several seeds; one summary row per run.

    Parameters
    ----------
    net : Network or path-like
        The scenario (a scenario file is loaded).
    grid : mapping of key path to list, optional
        Cartesian product: ``{"oracles.eth_usd.heartbeat": ["10min", "1h"], "pools.uni.fee":
        [0.003, 0.01]}`` makes 4 points. Key paths are those of overrides
        (``pools.uni.reserves[0]`` for a list item).
    zip : mapping of key path to list, or a list of them, optional
        Values varied together: ``{"pools.uni.reserves": [[1e3, 2e6], [1e4, 2e7]],
        "agents.arb.inventory.ETH": [1e3, 1e4]}`` makes 2 points (times the grid's).
    seeds : int or iterable of int
        Replications per point. A count spawns run seeds from ``seed`` with
        ``numpy.random.SeedSequence`` (see :func:`~contagion.experiment.plan.spawn_seeds`); an
        iterable gives the run seeds themselves (``range(20)``). Every point uses the same seeds.
    seed : int, optional
        Seed of the sweep, that run seeds are spawned from (default: the scenario's ``seed``).
    until : float or str, optional
        Simulated duration of every run (default: the scenario's ``until``).
    overrides : mapping or iterable of ``"key.path=value"``, optional
        Values fixed for every run.
    executor : {"processes", "serial", "dask"}
        Where runs are computed (see :mod:`contagion.experiment.executors`).
    workers : int, optional
        Worker processes (``processes``, or a Dask ``LocalCluster``); default: the CPUs this
        process may use.
    scheduler : str or distributed.Client, optional
        ``executor="dask"`` only: a scheduler address or a client; without it a
        ``LocalCluster`` is started for the sweep and closed after it.
    chunksize : int, optional
        Runs per unit of work sent to a worker (default: adaptive, about 0.5 s of work).
    start_method : str, optional
        ``executor="processes"`` only: the multiprocessing start method (default
        ``forkserver`` where available, else ``spawn``).
    out : path-like, optional
        The sweep's folder (see :mod:`contagion.experiment.store`). Runs are written there as
        they finish; running the same sweep again skips them (resume). Without it, a temporary
        folder is used and removed.
    keep_tables : bool
        Also keep every run's tables in ``out/runs/<run_key>/`` (load one with
        ``SweepStore(out).result(run_key)``). With a remote Dask cluster, ``out`` must be on a
        file system the workers share.
    retry_failed : bool
        Run again the runs that failed in an earlier call (by default they count as finished:
        a run's failure is as deterministic as its success).
    progress : bool
        Show a progress bar (runs done, failed, ETA) on stderr.
    on_run : callable, optional
        Called with a :class:`RunRecord` after each run is stored, in this process. An
        exception it raises stops the sweep (finished runs stay stored).
    check_invariants : bool
        Check conservation after every block (slower).

    Returns
    -------
    pandas.DataFrame
        One row per planned run, by ``run_id``: ``run_id, run_key, point, replicate, seed``,
        one column per swept key path (values as given), ``status`` (``"ok"`` or
        ``"failed"``), ``error``, then every metric of :meth:`Result.summary` (``scenario``,
        ``until_s``, ``liquidations``, ...). Identical whichever executor computed it.

    Raises
    ------
    ScenarioError
        For a bad key path, value or seed list (naming the key path), before anything runs.
    SweepError
        If another sweep is writing into ``out``, or a worker process died.

    Warns
    -----
    RunFailedWarning
        If runs failed; they are rows with ``status == "failed"``, and the failures table
        (``SweepStore(out).failures()``) has their tracebacks.

    Examples
    --------
    >>> table = contagion.sweep(net, grid={"oracles.eth_usd.heartbeat": ["10min", "1h"]},
    ...                         seeds=8, out="runs/heartbeat")                # doctest: +SKIP
    >>> table.groupby("oracles.eth_usd.heartbeat")["bad_debt_usd"].describe()  # doctest: +SKIP
    """
    network = _network(net)
    plan = SweepPlan.build(network, grid=grid, zip=zip, seeds=seeds, seed=seed, until=until,
                           overrides=overrides)
    runner = make_executor(executor, workers=workers, scheduler=scheduler, start_method=start_method)
    if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1):
        raise ValueError(f"chunksize must be a whole number >= 1, got {chunksize!r}")
    if out is not None:
        return _sweep_into(SweepStore(out), plan, runner, keep_tables=keep_tables, retry_failed=retry_failed,
                           progress=progress, on_run=on_run, check_invariants=check_invariants,
                           chunksize=chunksize, temporary=False)
    with tempfile.TemporaryDirectory(prefix="contagion-sweep-") as folder:
        return _sweep_into(SweepStore(folder), plan, runner, keep_tables=keep_tables, retry_failed=retry_failed,
                           progress=progress, on_run=on_run, check_invariants=check_invariants,
                           chunksize=chunksize, temporary=True)


def _manifest(plan: SweepPlan, runner) -> dict:
    net = plan.net
    return {
        "version": __version__,
        "scenario": net.to_dict(),
        "source": net.source,
        "base_dir": str(net.base_dir),
        "overrides": dict(net.overrides),
        **plan.describe(),
        "seeding": ("run seeds spawned from the sweep's seed: SeedSequence(seed, spawn_key=(k,))"
                    ".generate_state(1, uint64)[0] >> 1" if plan.seed is not None else "run seeds as given"),
        **runner.describe(),
    }


def _sweep_into(store: SweepStore, plan: SweepPlan, runner, *, keep_tables: bool, retry_failed: bool,
                progress: bool, on_run, check_invariants: bool, chunksize: int | None,
                temporary: bool) -> pd.DataFrame:
    frame = plan.frame()
    by_key: dict[str, RunSpec] = {run.key: run for run in plan.runs}
    with store.lock():
        store.begin(_manifest(plan, runner), frame)
        stored = store.finished()
        done_before = {k: s for k, s in stored.items() if k in by_key
                       and not (retry_failed and s.status != "ok") and not (keep_tables and not s.tables)}
        todo = [run for run in plan.runs if run.key not in done_before]
        failed = sum(1 for s in done_before.values() if s.status != "ok")
        done = len(done_before)
        if done:
            log.info("%s: %d of %d runs already finished, %d to run", store.root, done, len(plan), len(todo))
        context = RunContext(net=plan.net, runs_dir=str(store.runs_dir.resolve()), keep_tables=keep_tables,
                             check_invariants=check_invariants)
        tasks = [RunTask(key=run.key, seed=run.seed, overrides=run.overrides, until=run.until,
                         token=store.new_token()) for run in todo]
        bar = _progress_bar(progress, len(plan), done, failed, plan.net.name)
        try:
            outcomes = runner.run(context, tasks, chunksize)
            try:
                for outcome in outcomes:
                    run = by_key[outcome.key]
                    store.save(outcome, run.seed, run.overrides)
                    done += 1
                    failed += outcome.status != "ok"
                    if bar is not None:
                        bar.update(1)
                        if outcome.status != "ok":
                            bar.set_postfix(failed=failed, refresh=False)
                    if on_run is not None:
                        error = None if outcome.status == "ok" else f"{outcome.error_type}: {outcome.error}"
                        on_run(RunRecord(run.run_id, run.key, run.seed, dict(run.overrides), outcome.status, error,
                                         outcome.elapsed_s, done, failed, len(plan)))
            finally:
                outcomes.close()
        finally:
            if bar is not None:
                bar.close()
        table = store.read_table(frame)
        failures = store.read_failures(frame)
        store.finish(table, failures, finished=len(table), failed=len(failures))
    if len(failures):
        where = "the table's error column" if temporary else f"{store.root / 'failures.parquet'}"
        lines = summarize_failures(failures)
        for line in lines:
            log.warning("sweep: %s", line)
        warnings.warn(f"{len(failures)} of {len(table)} runs failed: " + "; ".join(lines) +
                      f" (tracebacks: {where})", RunFailedWarning, stacklevel=3)
    return table


def _progress_bar(show: bool, total: int, done: int, failed: int, name: str):
    if not show:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, unit="run", desc=f"sweep {name}", file=sys.stderr, dynamic_ncols=True,
               smoothing=0.1)
    bar.set_postfix(failed=failed, refresh=False)
    return bar

