"""Where a sweep's runs are computed: in this process, in worker processes, or on a Dask cluster.

Every executor runs chunks of runs with :func:`contagion.experiment.runner.run_chunk` and hands
back each run's outcome as soon as its chunk is done; the sweep stores it before asking for the
next. Executors hold no results.

``serial``
    One run after the other in this process.
``processes``
    A :class:`concurrent.futures.ProcessPoolExecutor` with ``workers`` processes (default: the
    CPUs this process may use). The start method is chosen per call (``forkserver`` where the
    platform has it, else ``spawn``; never ``fork``, which can deadlock a process that has
    threads) through a :mod:`multiprocessing` context, so the global start method is never
    changed. Workers ignore ``SIGINT``: on Ctrl-C (or any exception while the sweep stores a
    result) the sweep terminates them and stops; finished runs are already stored.
``dask``
    A ``dask.distributed`` client: a ``LocalCluster`` of ``workers`` single-threaded worker
    processes when no ``scheduler`` is given, else ``Client(scheduler)`` for a scheduler address
    (or an existing ``Client``, used as it is). A ``LocalCluster`` the sweep starts runs with
    the diagnostics that compete with the runs for cores slowed or off (``_LOCAL_CLUSTER_CONFIG``).
    The base network is scattered to the workers once. A chunk whose worker dies (``KilledWorker``, after Dask's own retries) is recorded as
    failed.

Chunking
--------
A chunk is the unit of work sent to a worker. With ``chunksize=None`` the first chunks hold
one run each; once runs have been timed, a chunk holds enough runs to last about
:data:`CHUNK_TARGET_S` seconds, but never so many that fewer than :data:`CHUNKS_PER_WORKER`
chunks per worker remain (so the last chunks do not leave workers idle). The per-chunk cost
(sending the base network and the tasks, returning the outcomes: about a millisecond) is then
well below 1 % of a chunk, and a chunk of fast runs is large. At most two chunks per worker are
in flight, so memory does not grow with the number of runs.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from contagion.experiment.errors import SweepError
from contagion.experiment.runner import RunContext, RunOutcome, RunTask, run_chunk

__all__ = ["EXECUTORS", "Chunker", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor",
           "default_workers", "CHUNK_TARGET_S", "CHUNKS_PER_WORKER"]

log = logging.getLogger(__name__)

EXECUTORS = ("serial", "processes", "dask")
#: Seconds of work a chunk aims at once run times are known.
CHUNK_TARGET_S = 0.5
#: Chunks per worker that must remain after a chunk is cut (load balance at the end).
CHUNKS_PER_WORKER = 4
_IN_FLIGHT_PER_WORKER = 2


def default_workers() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Chunker:
    """Cuts the runs to do into chunks (see the module docstring).

    Parameters
    ----------
    tasks : sequence of RunTask
        The runs to do, in order.
    workers : int
        Workers that share them.
    chunksize : int, optional
        Fixed number of runs per chunk (default: adaptive).
    """

    def __init__(self, tasks: Sequence[RunTask], workers: int, chunksize: int | None = None):
        self._tasks = tasks
        self._next = 0
        self.workers = max(1, workers)
        self.chunksize = chunksize
        self._timed = 0
        self._seconds = 0.0

    @property
    def remaining(self) -> int:
        """Runs not yet handed out."""
        return len(self._tasks) - self._next

    def size(self) -> int:
        """Runs in the next chunk."""
        if self.chunksize is not None:
            return self.chunksize
        if self._timed == 0:
            return 1
        mean = self._seconds / self._timed
        wanted = math.ceil(CHUNK_TARGET_S / mean) if mean > 0 else self.remaining
        balanced = self.remaining // (CHUNKS_PER_WORKER * self.workers)
        return max(1, min(wanted, balanced))

    def take(self) -> list[RunTask]:
        """The next chunk (empty when every run has been handed out)."""
        chunk = list(self._tasks[self._next:self._next + self.size()])
        self._next += len(chunk)
        return chunk

    def observe(self, outcomes: Sequence[RunOutcome]) -> None:
        """Learn run times from finished runs."""
        for outcome in outcomes:
            self._timed += 1
            self._seconds += outcome.elapsed_s


class SerialExecutor:
    """Runs in this process, one at a time (each is stored before the next starts)."""

    name = "serial"

    def __init__(self) -> None:
        self.workers = 1

    def describe(self) -> dict[str, Any]:
        """What the sweep's manifest records about the executor."""
        return {"executor": self.name, "workers": 1}

    def run(self, context: RunContext, tasks: Sequence[RunTask], chunksize: int | None = None
            ) -> Iterator[RunOutcome]:
        """Outcomes of ``tasks`` in order."""
        for task in tasks:
            yield from run_chunk(context, [task])


def _ignore_sigint() -> None:  # worker-process initializer
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _default_context_state():
    """Whether :mod:`multiprocessing`'s default start method has been fixed yet (None if not)."""
    return multiprocessing.get_start_method(allow_none=True)


def _unfix_default_context(before) -> None:
    """Starting a ``spawn`` or ``forkserver`` process makes :mod:`multiprocessing` fix its global
    default start method (``spawn.get_preparation_data`` calls ``get_start_method()``), after
    which the caller's own ``multiprocessing.set_start_method`` would fail. If it was not fixed
    before the sweep, leave it unfixed again."""
    if before is not None:
        return
    default = getattr(multiprocessing.context, "_default_context", None)
    if default is not None and hasattr(default, "_actual_context"):
        default._actual_context = None


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (their running chunks are lost; they were not stored)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


class ProcessExecutor:
    """Runs in a pool of worker processes on this machine.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: :func:`default_workers`).
    start_method : str, optional
        ``"forkserver"`` (default where available), ``"spawn"`` or ``"fork"``.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, start_method: str | None = None):
        self.workers = default_workers() if workers is None else workers
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "forkserver" if "forkserver" in methods else "spawn"
        if start_method not in methods:
            raise ValueError(f"start_method must be one of {', '.join(methods)}, got {start_method!r}")
        self.start_method = start_method

    def describe(self) -> dict[str, Any]:
        """What the sweep's manifest records about the executor."""
        return {"executor": self.name, "workers": self.workers, "start_method": self.start_method}

    def run(self, context: RunContext, tasks: Sequence[RunTask], chunksize: int | None = None
            ) -> Iterator[RunOutcome]:
        """Outcomes of ``tasks`` as their chunks finish."""
        chunker = Chunker(tasks, self.workers, chunksize)
        fixed_before = _default_context_state()
        pool = ProcessPoolExecutor(max_workers=self.workers,
                                   mp_context=multiprocessing.get_context(self.start_method),
                                   initializer=_ignore_sigint)
        pending: set = set()
        finished = False
        try:
            while True:
                while len(pending) < _IN_FLIGHT_PER_WORKER * self.workers:
                    chunk = chunker.take()
                    if not chunk:
                        break
                    pending.add(pool.submit(run_chunk, context, chunk))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        outcomes = future.result()
                    except BrokenProcessPool as err:
                        raise SweepError(
                            f"a worker process died ({err}). Finished runs are stored: run the sweep again to "
                            "resume. Workers cannot start when the main script is read from stdin or runs the "
                            "sweep outside an `if __name__ == \"__main__\":` block; a run may also have "
                            "exhausted memory") from err
                    chunker.observe(outcomes)
                    yield from outcomes
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:
                _terminate(pool)
            _unfix_default_context(fixed_before)


#: Dask settings of the ``LocalCluster`` a sweep starts itself (a cluster given by address keeps its
#: own): its workers share the machine's cores with the scheduler and the nannies, so the periodic
#: work that serves dashboards and diagnostics is switched off or slowed (the statistical profiler
#: samples every thread each 10 ms by default), and runs are not stolen between workers (chunks are
#: already sized to keep every worker busy).
_LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing": False,
}


class DaskExecutor:
    """Runs on a ``dask.distributed`` cluster.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the ``LocalCluster`` started when no scheduler is given (default:
        :func:`default_workers`); ignored with a scheduler.
    scheduler : str or distributed.Client, optional
        A scheduler address (``"tcp://10.0.0.5:8786"``) or a connected client.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: Any = None):
        try:
            import distributed  # noqa: F401
        except ImportError as err:
            raise ImportError("executor='dask' needs dask.distributed: pip install 'contagion[dask]' "
                              "(or 'dask[distributed]')") from err
        self.workers = default_workers() if workers is None else workers
        self.scheduler = scheduler

    def describe(self) -> dict[str, Any]:
        """What the sweep's manifest records about the executor."""
        where = "LocalCluster" if self.scheduler is None else \
            self.scheduler if isinstance(self.scheduler, str) else "Client"
        return {"executor": self.name, "workers": self.workers if self.scheduler is None else None,
                "scheduler": where}

    def _connect(self):
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            import dask

            with dask.config.set(_LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
            return Client(cluster), cluster, True
        if isinstance(self.scheduler, Client):
            return self.scheduler, None, False
        return Client(self.scheduler), None, True

    def run(self, context: RunContext, tasks: Sequence[RunTask], chunksize: int | None = None
            ) -> Iterator[RunOutcome]:
        """Outcomes of ``tasks`` as their chunks finish."""
        from distributed import as_completed

        client, cluster, own = self._connect()
        futures: dict = {}
        try:
            threads = sum(client.nthreads().values()) or 1
            chunker = Chunker(tasks, threads, chunksize)
            shared = client.scatter(context, broadcast=True, hash=False)
            running = as_completed()

            def submit() -> None:
                while len(futures) < _IN_FLIGHT_PER_WORKER * threads:
                    chunk = chunker.take()
                    if not chunk:
                        return
                    future = client.submit(run_chunk, shared, chunk, pure=False)
                    futures[future] = chunk
                    running.add(future)

            submit()
            for future in running:
                chunk = futures.pop(future)
                try:
                    outcomes = future.result()
                except Exception as err:  # the worker died (KilledWorker) or the task was lost
                    log.warning("a chunk of %d run(s) failed on the cluster: %r", len(chunk), err)
                    outcomes = [RunOutcome(key=t.key, token=t.token, status="failed", error_type=type(err).__name__,
                                           error=str(err) or repr(err), traceback=None) for t in chunk]
                chunker.observe([o for o in outcomes if o.status == "ok"])
                yield from outcomes
                submit()
        finally:
            if futures:
                client.cancel(list(futures))
            if own:
                client.close()
                if cluster is not None:
                    cluster.close()


def make_executor(executor: str, *, workers: int | None = None, scheduler: Any = None,
                  start_method: str | None = None):
    """The executor named ``executor`` (one of :data:`EXECUTORS`).

    Raises
    ------
    ValueError
        For an unknown name, ``workers < 1``, or options that the executor does not take.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler= is for executor='dask', got executor={executor!r}")
    if start_method is not None and executor != "processes":
        raise ValueError(f"start_method= is for executor='processes', got executor={executor!r}")
    if executor == "serial":
        return SerialExecutor()
    if executor == "processes":
        return ProcessExecutor(workers, start_method)
    return DaskExecutor(workers, scheduler)
