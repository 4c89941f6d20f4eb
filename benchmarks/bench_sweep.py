"""Sweep throughput: 200 runs of a ~0.2 s scenario on serial, processes and dask executors.

The scenario is ``networks/minimal.yaml`` shortened to one simulated hour with 2,000 positions
(about 0.2 s per run on an idle machine); the sweep is 10 parameter points (oracle heartbeat x
pool fee) x 20 seeds = 200 runs (quick: 2 x 20 = 40). Per repeat (median reported):

bare        the same runs as a plain loop of ``contagion.run(...).summary()`` in this process: no
            plan, no store, no workers. Its total is the work every executor has to do.
serial      ``contagion.sweep(..., executor="serial", out=<temporary folder>)``.
processes   ``executor="processes"`` with ``--workers`` processes (default: the CPUs available).
dask        ``executor="dask"``: a ``LocalCluster`` of ``--workers`` single-threaded processes,
            started and closed by the call (skipped, with the reason, without dask).

Every sweep time is the wall time of the whole call: planning, starting workers or the cluster,
the runs, storing each run, reading the table back. Derived figures:

``speedup_vs_serial``      serial wall time / this executor's wall time.
``overhead_s_per_run``     (wall time x workers - bare total) / runs: worker-seconds spent on
                           anything but the runs themselves (start-up, transfer, storing, idle
                           workers at the end), per run. ``overhead_fraction`` divides it by the
                           bare seconds per run.
``startup_s``              from the call to the first stored run, minus that run's own time.
``steady_speedup_vs_serial`` runs per second between the first and the last stored run,
                           against serial's: the speed-up once workers are up.

The tables of all executors must be identical (exit 1 otherwise). Run
``python benchmarks/bench_sweep.py [--quick] [--repeat N] [--workers N] [--no-dask]``.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment, emit, fail, parser, resolve_repeat  # noqa: E402

import contagion  # noqa: E402
from contagion.experiment import SweepPlan  # noqa: E402
from contagion.experiment.executors import default_workers  # noqa: E402

SCENARIO = Path(__file__).resolve().parent.parent / "networks" / "minimal.yaml"
OVERRIDES = {"until": "1h", "protocols.lend.positions.count": 2000}
GRID = {"oracles.eth_usd.heartbeat": ["10min", "1h"], "pools.uni_eth_usdc.fee": [0.001, 0.003, 0.005, 0.01, 0.03]}
QUICK_GRID = {"oracles.eth_usd.heartbeat": ["10min", "1h"]}
SEEDS = 20
TARGET_SPEEDUP = 1.7


def bare(net, plan: SweepPlan) -> float:
    t0 = time.perf_counter()
    for run in plan.runs:
        contagion.run(net, seed=run.seed, overrides={**OVERRIDES, **run.overrides}).summary()
    return time.perf_counter() - t0


def timed_sweep(net, grid: dict, executor: str, workers: int) -> dict:
    stored: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        t0 = time.perf_counter()
        table = contagion.sweep(net, grid=grid, seeds=SEEDS, overrides=OVERRIDES, executor=executor,
                                workers=None if executor == "serial" else workers, out=folder,
                                on_run=lambda r: stored.append((time.perf_counter(), r.elapsed_s)))
        wall = time.perf_counter() - t0
    first_at, first_run = stored[0]
    last_at = stored[-1][0]
    steady = (len(stored) - 1) / (last_at - first_at) if last_at > first_at else None
    return {"wall_s": wall, "startup_s": first_at - t0 - first_run, "steady_runs_per_s": steady,
            "worker_run_s": sum(e for _, e in stored), "table": table}


def med(values):
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0], default_repeat=1, quick_repeat=1)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: the CPUs available)")
    p.add_argument("--no-dask", action="store_true", help="skip the dask executor")
    args = p.parse_args(argv)
    repeat = resolve_repeat(args)
    workers = args.workers or default_workers()
    grid = QUICK_GRID if args.quick else GRID
    net = contagion.load_network(SCENARIO)
    plan = SweepPlan.build(net, grid=grid, seeds=SEEDS, overrides=OVERRIDES)
    n = len(plan)

    executors = ["serial", "processes"]
    dask_skipped = None
    if args.no_dask:
        dask_skipped = "--no-dask"
    else:
        try:
            import distributed  # noqa: F401
            executors.append("dask")
        except ImportError as err:
            dask_skipped = f"{type(err).__name__}: {err}"

    contagion.run(net, seed=0, overrides=OVERRIDES).summary()  # warm-up: imports, first-call caches
    samples: dict[str, list] = {"bare": [], **{e: [] for e in executors}}
    reference = None
    for r in range(repeat):
        gc.collect()
        samples["bare"].append(bare(net, plan))
        for executor in executors:
            gc.collect()
            result = timed_sweep(net, grid, executor, workers)
            table = result.pop("table")
            if reference is None:
                reference = table
            elif not table.equals(reference):
                fail(f"repeat {r}: the {executor} table differs from the serial one")
            if (table["status"] != "ok").any():
                fail(f"repeat {r}: {executor}: runs failed: {table.loc[table['status'] != 'ok', 'error'].iloc[0]}")
            samples[executor].append(result)

    bare_total = med(samples["bare"])
    bare_per_run = bare_total / n
    out: dict = {}
    serial_wall = med([s["wall_s"] for s in samples["serial"]])
    serial_steady = med([s["steady_runs_per_s"] for s in samples["serial"]])
    for executor in executors:
        used = 1 if executor == "serial" else workers
        wall = med([s["wall_s"] for s in samples[executor]])
        steady = med([s["steady_runs_per_s"] for s in samples[executor]])
        overhead = (wall * used - bare_total) / n
        block = {
            "workers": used,
            "wall_s": wall,
            "wall_samples_s": [s["wall_s"] for s in samples[executor]],
            "runs_per_s": n / wall,
            "speedup_vs_serial": serial_wall / wall,
            "speedup_vs_bare": bare_total / wall,
            "efficiency": serial_wall / wall / used,
            "overhead_s_per_run": overhead,
            "overhead_fraction": overhead / bare_per_run,
            "startup_s": med([s["startup_s"] for s in samples[executor]]),
            "steady_runs_per_s": steady,
            "steady_speedup_vs_serial": steady / serial_steady if steady and serial_steady else None,
            "mean_run_s_in_workers": med([s["worker_run_s"] for s in samples[executor]]) / n,
        }
        if executor != "serial":
            block["target_speedup_vs_serial"] = TARGET_SPEEDUP
            block["target_met"] = block["speedup_vs_serial"] >= TARGET_SPEEDUP
        out[executor] = block
    if dask_skipped:
        out["dask"] = {"skipped": dask_skipped}

    emit({
        "benchmark": "sweep_executors",
        "quick": bool(args.quick),
        "environment": {**environment(), "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")},
        "parameters": {"scenario": str(SCENARIO), "overrides": OVERRIDES, "grid": grid, "seeds": SEEDS, "runs": n,
                       "workers": workers, "repeat": repeat,
                       "statistic": "median over repeats; bare loop and executors alternate in each repeat"},
        "bare": {"description": "plain loop of contagion.run(...).summary() over the same runs, in this process",
                 "total_s": bare_total, "s_per_run": bare_per_run, "samples_s": samples["bare"]},
        **out,
        "checks": {"tables_identical": True, "runs": n, "failed_runs": 0},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
