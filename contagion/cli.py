"""Command line: ``contagion run | inspect | schema | report``.

Errors in the user's input are printed as one line per problem (``FILE: key.path: rule, got
VALUE``) with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
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
    from contagion.report import write_report
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
              f"{', plots/*.png' if not args.no_plots else ''})")
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
    from contagion.report import write_report

    res = load_result(args.run)
    print(format_summary(res.summary()))
    for path in write_report(res, args.run):
        print(f"wrote {path}")
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

    report = sub.add_parser("report", help="summary and plots of a saved run")
    report.add_argument("run", help="folder written by `contagion run --out`")
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
