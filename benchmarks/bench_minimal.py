"""End-to-end benchmark of ``networks/minimal.yaml`` (3 h simulated, 10,000 positions).

Per repeat (median reported):

end_to_end    wall time of ``contagion.run(contagion.load_network(path), seed=1)``.
stepped       a ``contagion.Simulation`` advanced with ``sim.step()`` until ``sim.env.peek() > until``
              (events at exactly ``until`` included, as ``Simulation.run`` does), timed and counted,
              then ``sim.result()``. Gives simpy events processed per second. Nothing in the
              library is wrapped or patched.

Also reported: simulated seconds per wall second, liquidation count and blocks produced; the
stepped run must produce the same counts as ``contagion.run`` (exit non-zero otherwise).
Run ``python benchmarks/bench_minimal.py [--quick] [--repeat N]`` (default 5 repeats, quick 1).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment, emit, fail, parser, resolve_repeat  # noqa: E402

import contagion  # noqa: E402
from contagion.units import parse_duration  # noqa: E402

SCENARIO = Path(__file__).resolve().parent.parent / "networks" / "minimal.yaml"
SEED = 1


def end_to_end() -> tuple[float, float, "contagion.Result"]:
    t0 = time.perf_counter()
    net = contagion.load_network(SCENARIO)
    t1 = time.perf_counter()
    res = contagion.run(net, seed=SEED)
    t2 = time.perf_counter()
    return t2 - t0, t1 - t0, res


def stepped() -> dict:
    t0 = time.perf_counter()
    sim = contagion.Simulation(contagion.load_network(SCENARIO), seed=SEED)
    t1 = time.perf_counter()
    until = float(parse_duration(sim.scenario.until))
    env, step = sim.env, sim.step
    events = 0
    t2 = time.perf_counter()
    # Step until the next event lies after `until`: events at exactly `until` are processed,
    # as Simulation.run(until) does (peek() is inf when the queue is empty).
    while env.peek() <= until:
        step()
        events += 1
    t3 = time.perf_counter()
    last_event_time = float(env.now)
    if env.now < until:  # no event at exactly `until`: move the clock there, as run() does
        env.run(until=until)
    t4 = time.perf_counter()
    res = sim.result()
    t5 = time.perf_counter()
    return {"build_s": t1 - t0, "step_s": t3 - t2, "clock_s": t4 - t3, "result_s": t5 - t4,
            "events": events, "until": until, "last_event_time": last_event_time, "result": res}


def counts(res) -> dict:
    return {"liquidations": int(len(res.liquidations)), "blocks": int(len(res.blocks)),
            "swaps": int(len(res.swaps)), "transactions": int(len(res.transactions)),
            "oracle_updates": int(len(res.oracle_updates)),
            "simulated_s": float(res.manifest["until"])}


def med(values) -> float:
    return float(statistics.median(values))


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0], default_repeat=5, quick_repeat=1)
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run")
    args = p.parse_args(argv)
    repeat = resolve_repeat(args)
    if not SCENARIO.exists():
        fail(f"scenario not found: {SCENARIO}")

    if not args.no_warmup:  # imports, pydantic models, first-call caches
        end_to_end()

    e2e, load, step_runs, ref_counts = [], [], [], None
    for r in range(repeat):
        gc.collect()
        total, load_s, res = end_to_end()
        e2e.append(total)
        load.append(load_s)
        c = counts(res)
        if ref_counts is None:
            ref_counts = c
        elif c != ref_counts:
            fail(f"repeat {r}: contagion.run is not reproducible: {c} != {ref_counts}")
        del res
        gc.collect()
        s = stepped()
        sc = counts(s.pop("result"))
        if sc != ref_counts:
            fail(f"repeat {r}: stepped run differs from contagion.run: {sc} != {ref_counts} (the stepped "
                 "loop processes events at exactly `until`; does Simulation.run(until) still do so?)")
        step_runs.append(s)

    until = ref_counts["simulated_s"]
    events = {s["events"] for s in step_runs}
    if len(events) != 1:
        fail(f"event count differs between repeats: {sorted(events)}")
    n_events = events.pop()
    step_s = [s["step_s"] for s in step_runs]
    e2e_med = med(e2e)
    step_med = med(step_s)
    build_med = med([s["build_s"] for s in step_runs])
    result_med = med([s["result_s"] for s in step_runs])

    emit({
        "benchmark": "minimal_end_to_end",
        "quick": bool(args.quick),
        "environment": environment(),
        "parameters": {"scenario": str(SCENARIO), "seed": SEED, "repeat": repeat,
                       "warmup_runs": 0 if args.no_warmup else 1, "simulated_s": until,
                       "statistic": "median over repeats; end-to-end and stepped runs alternate in one run"},
        "end_to_end": {
            "description": "contagion.run(contagion.load_network(path), seed=1), load included",
            "median_s": e2e_med,
            "min_s": min(e2e),
            "max_s": max(e2e),
            "samples_s": e2e,
            "load_network_median_s": med(load),
            "simulated_s_per_wall_s": until / e2e_med,
            "runs_per_s": 1.0 / e2e_med,
        },
        "stepped": {
            "description": "Simulation built, then sim.step() until env.peek() > until (events counted, only "
                           "this loop timed), then sim.result()",
            "events": n_events,
            "step_loop_median_s": step_med,
            "step_loop_samples_s": step_s,
            "events_per_s": n_events / step_med,
            "us_per_event": step_med / n_events * 1e6,
            "simulated_s_per_wall_s": until / step_med,
            "build_median_s": build_med,
            "result_median_s": result_med,
            "total_median_s": med([s["build_s"] + s["step_s"] + s["clock_s"] + s["result_s"] for s in step_runs]),
            "last_event_time_s": step_runs[0]["last_event_time"],
        },
        "outcome": {
            "liquidations": ref_counts["liquidations"],
            "blocks": ref_counts["blocks"],
            "swaps": ref_counts["swaps"],
            "transactions": ref_counts["transactions"],
            "oracle_updates": ref_counts["oracle_updates"],
            "stepped_matches_run": True,
        },
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
