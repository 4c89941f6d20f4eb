"""Oracle lag study: heartbeat x deviation threshold x report latency on a shipped scenario.

For every combination of the push oracle's heartbeat, deviation threshold and aggregation
latency, run the scenario (same seed) and measure

* the oracle's lag: mean time from observation to publication, and mean relative error of the
  on-chain answer against its sources;
* liquidated volume (repaid debt, USD) and bad debt at the end (USD);
* time to liquidation: for each liquidated position, the time from the moment the *exogenous*
  price path first crossed its initial liquidation price to its first liquidation (median over
  positions) — how long the protocol took to act on a loss the market had already made.

The combinations run as one :func:`contagion.sweep` (in parallel worker processes by default),
which keeps every run's tables in ``--out/sweep/`` so that the time to liquidation can be
computed from them afterwards; run the script again with the same options and finished runs are
not repeated. Writes ``study.csv`` (one row per run) and ``study.png`` (the three outcomes
against the mean error of the answer, coloured by heartbeat) into ``--out``.

    python examples/oracle_lag_study.py --scenario networks/minimal.yaml --out runs/oracle-lag
    python examples/oracle_lag_study.py --quick          # 2 x 2 x 1 grid, shorter run
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import contagion
from contagion.experiment import SweepStore

GRID = {
    "heartbeat": ["10min", "1h", "3h"],
    "deviation_threshold": [0.001, 0.005, 0.02],
    "latency": ["0s", "30s", "2min"],
}
QUICK = {"heartbeat": ["10min", "3h"], "deviation_threshold": [0.005, 0.02], "latency": ["0s"]}


def time_to_liquidation(res: contagion.Result, protocol: str, venue: str) -> float:
    """Median seconds from the exogenous price crossing a position's initial liquidation price to
    the position's first liquidation (NaN without liquidations)."""
    liq = res.liquidations[res.liquidations["protocol"] == protocol]
    if liq.empty:
        return float("nan")
    first = liq.sort_values("time").drop_duplicates("position")
    initial = res.positions[(res.positions["protocol"] == protocol) & (res.positions["snapshot"] == "initial")]
    key = initial.set_index("position")["liquidation_price"]
    path = res.prices[res.prices["source"] == venue].sort_values("time")
    times, exo = path["time"].to_numpy(), path["exogenous"].to_numpy()
    running_low = np.minimum.accumulate(exo)
    waits = []
    for position, when in zip(first["position"], first["time"]):
        crossed = np.flatnonzero(running_low <= key[position])
        if crossed.size:                      # positions reached only by the cascade are skipped
            waits.append(when - times[crossed[0]])
    return float(np.median(waits)) if waits else float("nan")


def run_study(scenario: Path, grid: dict, seed: int, until: str | None, out: Path, *,
              executor: str = "processes", workers: int | None = None) -> pd.DataFrame:
    net = contagion.load_network(scenario)
    oracle = next(name for name, o in net.scenario.oracles.items() if o.kind == "push")
    protocol = next(iter(net.scenario.protocols))
    venue = net.scenario.oracles[oracle].sources[0]
    keys = {name: f"oracles.{oracle}.{name}" for name in grid}
    table = contagion.sweep(net, grid={keys[name]: values for name, values in grid.items()}, seeds=[seed],
                            until=until, executor=executor, workers=workers, out=out / "sweep", keep_tables=True,
                            progress=True)
    store = SweepStore(out / "sweep")
    rows = []
    for _, run in table.iterrows():
        ok = run["status"] == "ok"
        wait = time_to_liquidation(store.result(run["run_key"]), protocol, venue) if ok else float("nan")
        rows.append({**{name: run[keys[name]] for name in grid},
                     "oracle_updates": run[f"oracle_updates.{oracle}"], "lag_s": run[f"oracle_lag_s.{oracle}"],
                     "answer_error": run[f"oracle_error.{oracle}"], "liquidated_debt_usd": run["liquidated_debt_usd"],
                     "bad_debt_usd": run["bad_debt_usd"], "time_to_liquidation_s": wait})
        print(rows[-1] if ok else f"run {run['run_id']} failed: {run['error']}", flush=True)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = [("liquidated_debt_usd", "liquidated debt (USD)"), ("bad_debt_usd", "bad debt (USD)"),
                ("time_to_liquidation_s", "median time to liquidation (s)")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (column, label) in zip(axes, outcomes):
        for heartbeat, group in table.groupby("heartbeat", sort=False):
            ax.scatter(group["answer_error"] * 100, group[column], label=f"heartbeat {heartbeat}")
        ax.set_xlabel("mean error of the on-chain answer (%)")
        ax.set_ylabel(label)
    axes[0].legend()
    fig.suptitle("Oracle lag: deviation threshold x heartbeat x latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=Path(__file__).resolve().parent.parent / "networks" / "minimal.yaml")
    parser.add_argument("--out", type=Path, default=Path("runs/oracle-lag"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a 2 x 2 x 1 grid over one simulated hour")
    parser.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes")
    parser.add_argument("--workers", type=int, help="worker processes (default: the CPUs available)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table = run_study(args.scenario, QUICK if args.quick else GRID, args.seed, "1h" if args.quick else None,
                      args.out, executor=args.executor, workers=args.workers)
    table.to_csv(args.out / "study.csv", index=False)
    plot(table, args.out / "study.png")
    print(f"wrote {args.out / 'study.csv'} and {args.out / 'study.png'}")


if __name__ == "__main__":
    main()
