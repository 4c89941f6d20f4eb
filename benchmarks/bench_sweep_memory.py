"""Sweep memory: resident memory of the sweeping process and of its workers over 10,000 runs.

The runs are ``networks/minimal.yaml`` cut to two simulated minutes and 100 positions (tens of
milliseconds each), 10,000 spawned seeds of one point (``--runs``; quick: 1,000), on the
``processes`` executor (``--executor``) with ``--workers`` processes, streamed into a temporary
folder. After every ``--every`` stored runs (default: 1 % of the runs) the ``on_run`` callback
samples the resident set size (``VmRSS`` of ``/proc/<pid>/status``) of this process and of each
of its worker processes. Figures:

``samples``                 runs stored, seconds since the call, parent RSS (MiB), largest worker RSS
``parent_rss_mib``          at the first sample after 10 % of the runs, and at the last sample
``parent_growth_mib``       last minus the 10 % sample: what the other 90 % of the runs added
``parent_growth_kib_per_run`` that growth per run
``worker_rss_mib``          largest worker RSS at the 10 % sample and at the last one
``peak_parent_rss_mib``     this process's peak RSS (``ru_maxrss``), which includes reading the
                            final table back
``table_rows``              rows of the returned table (must equal ``--runs``; exit 1 otherwise)

Bounded memory means the growth per run is small against what a run's results would cost if
they were held (a summary row is ~2 KiB as objects, a run's tables far more). Linux only (reads
``/proc``). Run ``python benchmarks/bench_sweep_memory.py [--quick] [--runs N] [--workers N]``.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment, emit, fail, parser  # noqa: E402

import contagion  # noqa: E402
from contagion.experiment.executors import default_workers  # noqa: E402

SCENARIO = Path(__file__).resolve().parent.parent / "networks" / "minimal.yaml"
OVERRIDES = {"until": "2min", "protocols.lend.positions.count": 100}


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Descendant processes of ``pid`` (workers, a forkserver and its children)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        frontier += kids
    return out


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=None, help="runs in the sweep (default 10,000; quick 1,000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: the CPUs available)")
    p.add_argument("--executor", default="processes", choices=["processes", "serial", "dask"])
    p.add_argument("--every", type=int, default=None, help="sample every N stored runs (default: 1 %% of the runs)")
    args = p.parse_args(argv)
    if not os.path.exists("/proc/self/status"):
        fail("this benchmark reads /proc (Linux)")
    runs = args.runs if args.runs is not None else (1_000 if args.quick else 10_000)
    every = args.every or max(1, runs // 100)
    workers = args.workers or default_workers()
    net = contagion.load_network(SCENARIO)
    me = os.getpid()
    samples: list[tuple[int, float, float, float]] = []
    count = {"n": 0}
    t0 = time.perf_counter()

    def on_run(record) -> None:
        count["n"] += 1
        if count["n"] % every == 0 or count["n"] == runs:
            worker_rss = [r for r in (rss_mib(c) for c in children(me)) if r is not None]
            samples.append((count["n"], time.perf_counter() - t0, rss_mib(me), max(worker_rss, default=0.0)))

    with tempfile.TemporaryDirectory(prefix="bench-sweep-memory-") as folder:
        table = contagion.sweep(net, seeds=runs, overrides=OVERRIDES, executor=args.executor,
                                workers=None if args.executor == "serial" else workers, out=folder,
                                on_run=on_run)
        wall = time.perf_counter() - t0
        on_disk = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    if len(table) != runs or table["run_id"].nunique() != runs:
        fail(f"the table has {len(table)} rows ({table['run_id'].nunique()} distinct runs), expected {runs}")
    failed = int((table["status"] != "ok").sum())
    if failed:
        fail(f"{failed} runs failed")
    early = next(s for s in samples if s[0] >= runs // 10)
    last = samples[-1]
    growth = last[2] - early[2]
    emit({
        "benchmark": "sweep_memory",
        "environment": environment(),
        "parameters": {"scenario": "networks/minimal.yaml", "overrides": OVERRIDES, "runs": runs,
                       "executor": args.executor, "workers": workers, "sample_every": every},
        "wall_s": wall,
        "runs_per_s": runs / wall,
        "table_rows": len(table),
        "folder_mib": on_disk / 2**20,
        "parent_rss_mib": {"at_10_percent": early[2], "at_end": last[2]},
        "parent_growth_mib": growth,
        "parent_growth_kib_per_run": growth * 1024.0 / max(last[0] - early[0], 1),
        "worker_rss_mib": {"at_10_percent": early[3], "at_end": last[3]},
        "peak_parent_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "samples": [{"runs": n, "s": round(t, 3), "parent_rss_mib": round(r, 2), "max_worker_rss_mib": round(w, 2)}
                    for n, t, r, w in samples],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
