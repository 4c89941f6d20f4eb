"""Pool depth x close factor under random crashes: a parameter sweep with Monte Carlo bands.

The shipped minimal scenario (a lending market of ETH-backed USDC loans whose keepers sell
seized ETH into a constant-product pool), with the off-chain ETH price replaced by a jump
diffusion: every seed draws its own crash path (and its own loan book). Each point of the grid

* pool depth: the pool's ETH reserve (its USDC reserve moves with it, same starting price), and
* close factor: the share of a position's debt one liquidation may repay,

is run on the same seeds (common random numbers: differences between points are not blurred
by different paths), so the response of each outcome to depth and close factor comes with a
95 % confidence band across seeds:

* liquidated debt (USD) and bad debt left (USD);
* cascade depth: the highest generation of liquidations caused by earlier liquidations' sales;
* amplification: how much further the pool fell than the exogenous crash alone.

Writes into ``--out``: ``sweep/`` (the sweep's folder: one folder per run, ``table.parquet``,
``failures.parquet``, ``report.html``), ``summary.csv`` (mean and 95 % confidence interval per
point) and ``response.png``. The sweep resumes: run the script again with the same options and
finished runs are skipped (e.g. after Ctrl-C, or with more ``--seeds``: the first ones are kept).

    python examples/parameter_sweep.py --out runs/depth-sweep            # 4 depths x 2 close factors x 16 seeds
    python examples/parameter_sweep.py --quick --out runs/depth-quick     # 2 x 2 x 3, one simulated hour
    python examples/parameter_sweep.py --executor dask --scheduler tcp://10.0.0.5:8786 --seeds 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import contagion
from contagion.reports import t_quantile, write_sweep_report

SCENARIO = Path(__file__).resolve().parent.parent / "networks" / "minimal.yaml"
DEPTH = "pools.uni_eth_usdc.reserves[0]"          # ETH in the pool ...
DEPTH_USDC = "pools.uni_eth_usdc.reserves[1]"     # ... and USDC, 2,000 per ETH
CLOSE_FACTOR = "protocols.lend.close_factor"
# A crash as a random path: 100 % annual volatility plus on average one -6 % jump an hour.
CRASH = {"kind": "jump_diffusion", "start": 2000, "drift": 0.0, "volatility": 1.0,
         "jump_intensity": 8760, "jump_mean": -0.06, "jump_std": 0.03}
OUTCOMES = (("liquidated_debt_usd", "liquidated debt (USD)"), ("bad_debt_usd", "bad debt (USD)"),
            ("cascade_depth", "cascade depth (generations)"),
            ("amplification.uni_eth_usdc", "amplification (pool fall / exogenous fall)"))


def run_sweep(out: Path, *, depths: list[float], close_factors: list[float], seeds: int, until: str | None,
              overrides: dict, executor: str, workers: int | None, scheduler: str | None) -> pd.DataFrame:
    """One row per run (see :func:`contagion.sweep`)."""
    net = contagion.load_network(SCENARIO)
    return contagion.sweep(
        net,
        grid={CLOSE_FACTOR: close_factors},
        zip={DEPTH: depths, DEPTH_USDC: [2000.0 * d for d in depths]},      # varied together
        seeds=seeds,                       # spawned from the scenario's seed with numpy's SeedSequence
        until=until,
        overrides={"venues.cex_eth_usd.path": CRASH, **overrides},    # applied in order
        executor=executor, workers=workers, scheduler=scheduler,
        out=out, progress=True)


def bands(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, 95 % confidence interval of the mean and run count of each outcome per point."""
    ok = table[table["status"] == "ok"]
    rows = []
    for (close_factor, depth), runs in ok.groupby([CLOSE_FACTOR, DEPTH], sort=True):
        row = {"close_factor": close_factor, "pool_eth": depth, "runs": len(runs)}
        for column, _ in OUTCOMES:
            values = runs[column].dropna()
            mean = values.mean()
            half = t_quantile(len(values) - 1) * values.std() / np.sqrt(len(values)) if len(values) > 1 else np.nan
            row.update({f"{column}.mean": mean, f"{column}.low": mean - half, f"{column}.high": mean + half})
        rows.append(row)
    return pd.DataFrame(rows)


def plot(summary: pd.DataFrame, table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ok = table[table["status"] == "ok"]
    for ax, (column, label) in zip(axes.flat, OUTCOMES):
        for k, (close_factor, rows) in enumerate(summary.groupby("close_factor")):
            colour = f"C{k}"
            ax.plot(rows["pool_eth"], rows[f"{column}.mean"], marker="o", color=colour,
                    label=f"close factor {close_factor:g}")
            ax.fill_between(rows["pool_eth"], rows[f"{column}.low"], rows[f"{column}.high"], color=colour, alpha=0.2)
            runs = ok[ok[CLOSE_FACTOR] == close_factor]
            ax.scatter(runs[DEPTH], runs[column], s=8, color=colour, alpha=0.3)
        ax.set_xscale("log")
        depths = sorted(summary["pool_eth"].unique())
        ax.set_xticks(depths, [f"{d:,.0f}" for d in depths])
        ax.minorticks_off()
        ax.set_xlabel("pool depth (ETH in the pool)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    n = int(summary["runs"].median())
    fig.suptitle(f"Liquidation outcomes against pool depth: mean over {n} random crashes, 95 % confidence band")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/parameter-sweep"))
    parser.add_argument("--seeds", type=int, help="crash paths per point (default 16; quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="2 depths x 2 close factors x 3 seeds: one simulated hour of a harsher crash, 2,000 loans")
    parser.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes")
    parser.add_argument("--workers", type=int, help="worker processes (default: the CPUs available)")
    parser.add_argument("--scheduler", help="address of a Dask scheduler (with --executor dask)")
    args = parser.parse_args(argv)
    if args.quick:  # a harsher crash (four jumps an hour) compressed into one hour, a smaller book
        settings = dict(depths=[5000.0, 80000.0], close_factors=[0.5, 1.0], seeds=args.seeds or 3, until="1h",
                        overrides={"protocols.lend.positions.count": 2000,
                                   "protocols.lend.positions.total_debt": 30_000_000,
                                   "venues.cex_eth_usd.path.jump_intensity": 4 * 8760})
    else:
        settings = dict(depths=[5000.0, 10000.0, 20000.0, 80000.0], close_factors=[0.5, 1.0], seeds=args.seeds or 16,
                        until=None, overrides={})
    args.out.mkdir(parents=True, exist_ok=True)
    table = run_sweep(args.out / "sweep", executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                      **settings)
    summary = bands(table)
    summary.to_csv(args.out / "summary.csv", index=False)
    plot(summary, table, args.out / "response.png")
    write_sweep_report(args.out / "sweep")
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 4):
        print(summary[["close_factor", "pool_eth", "runs", "liquidated_debt_usd.mean", "bad_debt_usd.mean",
                       "cascade_depth.mean", "amplification.uni_eth_usdc.mean"]].to_string(index=False))
    print(f"wrote {args.out / 'summary.csv'}, {args.out / 'response.png'} and {args.out / 'sweep' / 'report.html'}")


if __name__ == "__main__":
    main()
