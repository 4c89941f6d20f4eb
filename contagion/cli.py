"""Command line: ``contagion run | sweep | inspect | schema | report``.

Errors in the user's input are printed as one line per problem (``FILE: key.path: rule, got
VALUE``) with exit status 2; no traceback. ``contagion sweep`` exits with status 1 when runs
failed (they are recorded and summarized) and 130 when interrupted (run it again to resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence

import pandas as pd

__all__ = ["main"]


def _format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
            return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def format_summary(summary: pd.Series) -> str:
    """Two-column text table of a summary row."""
    width = max(len(str(k)) for k in summary.index)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 16}"]
    lines += [f"{str(k):<{width}}  {_format_value(v)}" for k, v in summary.items()]
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from contagion import Simulation, load_network
    from contagion.reports import write_report
    from contagion.units import parse_duration

    net = load_network(args.scenario, overrides=args.set)
    sim = Simulation(net, seed=args.seed, check_invariants=args.check_invariants)
    try:
        until = net.scenario.until if args.until is None else parse_duration(args.until)
    except ValueError as err:
        print(f"contagion run: --until {err}, got {args.until!r}", file=sys.stderr)
        return 2
    show = sys.stderr.isatty() if args.progress is None else args.progress
    if show:
        from tqdm import tqdm

        steps = 100
        with tqdm(total=round(until), unit="s", desc=f"{net.name} seed {sim.seed}", file=sys.stderr) as bar:
            for k in range(1, steps + 1):
                sim.advance(until * k / steps)
                bar.update(round(until * k / steps) - bar.n)
        res = sim.result()
    else:
        res = sim.run(until)
    summary = res.summary()
    print(format_summary(summary))
    if args.out:
        out = res.save(args.out)
        if not args.no_plots:
            write_report(res, out)
        (out / "summary.json").write_text(json.dumps({k: (v if not isinstance(v, float) or math.isfinite(v)
                                                          else str(v)) for k, v in summary.items()},
                                                     indent=2, default=str), encoding="utf-8")
        print(f"\nwrote {out}/ (tables: *.parquet, manifest.json, summary.json"
              f"{', plots/*.png, report.html' if not args.no_plots else ''})")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from contagion import load_network

    net = load_network(args.scenario, overrides=args.set)
    print(net.describe())
    png = Path(args.png) if args.png else Path(args.scenario).with_suffix(".png").name
    path = net.draw(png)
    print(f"\ndrawing: {path}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from contagion.scenario import json_schema

    text = json.dumps(json_schema(), indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from contagion import load_result
    from contagion.experiment.store import SweepStore
    from contagion.reports import write_report, write_sweep_report

    if SweepStore(args.run).is_sweep():
        written = write_sweep_report(args.run)
        table = SweepStore(args.run).table()
        print(f"sweep {SweepStore(args.run).manifest.get('scenario_name', '?')}: {len(table):,} runs "
              f"({int((table['status'] == 'ok').sum()):,} ok, {int((table['status'] != 'ok').sum()):,} failed)")
    else:
        res = load_result(args.run)
        print(format_summary(res.summary()))
        written = write_report(res, args.run)
    for path in written:
        print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------------- sweep
def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at the commas that are not inside brackets, braces or quotes
    (``[1,2],[3,4]`` is two values)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, None
    for char in text:
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse_axis(option: str, items: Sequence[str]) -> dict[str, list]:
    """``["key.path=V1,V2", ...]`` -> ``{"key.path": [V1, V2]}`` (values read as YAML scalars or lists)."""
    from contagion.errors import ScenarioError
    from contagion.scenario.loader import parse_override_value

    axis: dict[str, list] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"{option} {item!r}: expected KEY.PATH=V1,V2,...")
        values = split_values(text) if text.strip() else []
        if any(v == "" for v in values):
            raise ScenarioError(f"{option} {key.strip()}: empty value in {text!r}")
        if key.strip() in axis:
            raise ScenarioError(f"{option} {key.strip()}: given twice")
        axis[key.strip()] = [parse_override_value(v) for v in values]
    return axis


def parse_seeds(text: str):
    """``N`` (a count: seeds spawned from --seed), ``A:B`` (seeds A to B-1) or ``a,b,c``."""
    from contagion.errors import ScenarioError

    try:
        if ":" in text:
            start, _, stop = text.partition(":")
            return range(int(start), int(stop))
        if "," in text:
            return [int(v) for v in text.split(",")]
        return int(text)
    except ValueError:
        raise ScenarioError(f"--seeds: expected a count N, a range A:B or a list a,b,c, got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


SWEEP_METRICS = ("liquidations", "liquidated_debt_usd", "bad_debt_usd", "cascade_depth")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from contagion import load_network
    from contagion.experiment import RunFailedWarning, SweepStore, summarize_failures, sweep
    from contagion.reports import write_sweep_report
    from contagion.reports.sweep_plots import point_table

    net = load_network(args.scenario)
    grid = parse_axis("--grid", args.grid)
    zipped = parse_axis("--zip", args.zip)
    seeds = parse_seeds(args.seeds)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    out = Path(args.out)
    try:
        with warnings.catch_warnings():  # the failures are summarized below
            warnings.simplefilter("ignore", RunFailedWarning)
            table = sweep(net, grid=grid or None, zip=zipped or None, seeds=seeds, seed=args.seed, until=args.until,
                          overrides=args.set, executor=args.executor, workers=args.workers,
                          scheduler=args.scheduler, chunksize=args.chunksize, out=out, keep_tables=args.keep_tables,
                          retry_failed=args.retry_failed, progress=show)
    except KeyboardInterrupt:
        finished = len(SweepStore(out).finished()) if SweepStore(out).is_sweep() else 0
        print(f"\ninterrupted: {finished:,} finished runs are stored in {out}/; run the same command again to "
              "resume", file=sys.stderr)
        return 130
    store = SweepStore(out)
    failures = store.failures()
    manifest = store.manifest
    ok = int((table["status"] == "ok").sum())
    print(f"sweep {net.name}: {len(table):,} runs ({ok:,} ok, {len(failures):,} failed), "
          f"{len(manifest['points']):,} point(s) x {len(manifest['seeds']):,} seed(s), "
          f"executor {manifest['executor']}")
    parameters = list(manifest["parameters"])
    metrics = [m for m in SWEEP_METRICS if m in table.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(point_table(table, parameters, metrics).to_string(index=False))
    written = [out / "table.parquet", out / "failures.parquet"]
    if not args.no_report:
        written += write_sweep_report(out)
    print(f"\nwrote {', '.join(str(p) for p in written)}")
    if len(failures):
        for line in summarize_failures(failures):
            print(f"failed: {line}", file=sys.stderr)
        print(f"tracebacks: {out / 'failures.parquet'}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contagion", description="Simulate contagion in DeFi networks.")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate a scenario and write its tables, manifest and plots")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="folder for the run (Parquet tables, manifest.json, plots/)")
    run.add_argument("--seed", type=int, help="seed (default: the scenario's seed)")
    run.add_argument("--until", help="simulated duration, e.g. 3h (default: the scenario's until)")
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a scenario value (repeatable)")
    run.add_argument("--check-invariants", action="store_true", help="check conservation every block")
    run.add_argument("--no-plots", action="store_true", help="do not draw plots")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar (default: when stderr is a terminal)")
    run.set_defaults(func=_cmd_run)

    inspect = sub.add_parser("inspect", help="validate a scenario, print and draw its graph")
    inspect.add_argument("scenario")
    inspect.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    inspect.add_argument("--png", help="drawing path (default: <scenario name>.png here)")
    inspect.set_defaults(func=_cmd_inspect)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.add_argument("--out", help="write to a file instead of stdout")
    schema.set_defaults(func=_cmd_schema)

    sweep = sub.add_parser("sweep", help="run a scenario over a parameter grid and seeds (resumable)",
                           description="Run a scenario over a grid of key-path values and several seeds; "
                                       "every finished run is stored in --out, so the same command resumes an "
                                       "interrupted sweep.")
    sweep.add_argument("scenario", help="scenario YAML file")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY.PATH=V1,V2,...",
                       help="values to cross with every other --grid key (repeatable)")
    sweep.add_argument("--zip", action="append", default=[], metavar="KEY.PATH=V1,V2,...",
                       help="values varied together with the other --zip keys (same length; repeatable)")
    sweep.add_argument("--seeds", default="1", metavar="N | A:B | a,b,c",
                       help="a count (seeds spawned from --seed), a range or a list of seeds (default 1)")
    sweep.add_argument("--seed", type=int, help="seed the run seeds are spawned from (default: the scenario's)")
    sweep.add_argument("--until", help="simulated duration of every run, e.g. 3h (default: the scenario's)")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a scenario value in every run (repeatable)")
    sweep.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes",
                       help="where runs are computed (default: processes)")
    sweep.add_argument("--workers", type=_positive_int, help="worker processes (default: the CPUs available)")
    sweep.add_argument("--scheduler", help="dask scheduler address (default: a LocalCluster)")
    sweep.add_argument("--chunksize", type=_positive_int, help="runs per unit of work (default: adaptive)")
    sweep.add_argument("--out", required=True, help="folder of the sweep (runs, table.parquet, report.html)")
    sweep.add_argument("--keep-tables", action="store_true", help="keep every run's tables in --out/runs/")
    sweep.add_argument("--retry-failed", action="store_true", help="run again the runs that failed before")
    sweep.add_argument("--no-report", action="store_true", help="do not write report.html and plots")
    sweep.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar: runs done, failed, ETA (default: when stderr is a terminal)")
    sweep.set_defaults(func=_cmd_sweep)

    report = sub.add_parser("report", help="summary, plots and report.html of a saved run or sweep")
    report.add_argument("run", help="folder written by `contagion run --out` or `contagion sweep --out`")
    report.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from contagion.errors import ContagionError, ScenarioError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ScenarioError as err:
        print(str(err), file=sys.stderr)
        return 2
    except ContagionError as err:
        print(f"contagion: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
