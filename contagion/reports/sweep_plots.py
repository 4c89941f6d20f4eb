"""Plots and tables of a sweep: response curves with confidence bands across seeds.

For each swept key path, one figure with a panel per headline metric: the metric's mean over
seeds against the parameter's value, with a 95 % confidence band of the mean (Student's t,
``mean +- t(0.975, n-1) * sd / sqrt(n)``) and every run as a dot; one line per combination of
the other swept values (up to :data:`MAX_LINES`; beyond that they are pooled). Failed runs are
left out. Parameter values that are durations (``"10min"``) are placed at their seconds, other
text values in the order given. A sweep without parameters (Monte Carlo only) gets histograms
of the metrics across seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from contagion.reports._figures import PALETTE, figure, save, t_quantile
from contagion.units import parse_duration

__all__ = ["response_curves", "headline_metrics", "point_table", "numeric_axis", "MAX_LINES", "HEADLINE"]

MAX_LINES = 8
#: Metrics shown first when the table has them (then ``amplification.*``).
HEADLINE = ("liquidated_debt_usd", "bad_debt_usd", "liquidations", "cascade_depth", "contagion_coefficient",
            "protocols_infected")


def headline_metrics(table: pd.DataFrame, limit: int = 6) -> list[str]:
    """The metrics to plot: :data:`HEADLINE` ones present, then amplifications, numeric only."""
    names = [m for m in HEADLINE if m in table.columns]
    names += [c for c in table.columns if c.startswith("amplification.")]
    return [m for m in names if pd.api.types.is_numeric_dtype(table[m])][:limit]


def numeric_axis(values: pd.Series) -> tuple[np.ndarray, str | None, list | None]:
    """Positions of a parameter's values on an x axis: numbers as they are, durations in seconds,
    other text by order of first appearance (then the tick labels are returned)."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float).to_numpy(), None, None
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float), None, None
    try:
        return np.array([parse_duration(v) for v in values], dtype=float), "s", None
    except (ValueError, TypeError):
        order = list(dict.fromkeys(values))
        return np.array([order.index(v) for v in values], dtype=float), None, order


def _aggregate(frame: pd.DataFrame, x: np.ndarray, metric: str) -> pd.DataFrame:
    data = pd.DataFrame({"x": x, "y": pd.to_numeric(frame[metric], errors="coerce").to_numpy(float)})
    data = data[np.isfinite(data["y"])]
    stats = data.groupby("x")["y"].agg(["mean", "std", "count"]).sort_index()
    half = [t_quantile(int(n) - 1) * s / math.sqrt(n) if n > 1 and np.isfinite(s) else 0.0
            for s, n in zip(stats["std"], stats["count"])]
    return stats.assign(half=half)


def response_curves(table: pd.DataFrame, parameters: list[str], directory: Path) -> list[tuple[Path, str, str]]:
    """Draw the response curves; returns ``(path, title, caption)`` per figure."""
    ok = table[table["status"] == "ok"]
    metrics = headline_metrics(ok)
    if ok.empty or not metrics:
        return []
    out = []
    if not parameters:
        cols = min(3, len(metrics))
        rows = math.ceil(len(metrics) / cols)
        fig, axes = figure(4.2 * cols, 3.4 * rows, rows=rows, cols=cols)
        for ax, metric in zip(axes.flat, metrics):
            values = pd.to_numeric(ok[metric], errors="coerce").dropna()
            ax.hist(values, bins=min(30, max(5, len(values) // 3)), color=PALETTE[0], alpha=0.8)
            ax.axvline(values.mean(), color="black", lw=1.0, label=f"mean {values.mean():.4g}")
            ax.set_xlabel(metric)
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_axis_off()
        path = save(fig, directory / "distributions.png")
        out.append((path, "Distributions across seeds", f"{len(ok)} runs; the line is the mean."))
        return out
    for index, parameter in enumerate(parameters):
        x, unit, labels = numeric_axis(ok[parameter])
        others = [p for p in parameters if p != parameter]
        groups = list(ok.groupby(others, sort=False, dropna=False)) if others else [((), ok)]
        pooled = len(groups) > MAX_LINES
        if pooled:
            groups = [((), ok)]
        cols = min(3, len(metrics))
        rows = math.ceil(len(metrics) / cols)
        fig, axes = figure(4.6 * cols, 3.6 * rows + 0.4, rows=rows, cols=cols)
        for ax, metric in zip(axes.flat, metrics):
            for k, (key, rows_) in enumerate(groups):
                colour = PALETTE[k % len(PALETTE)]
                xs = x[ok.index.get_indexer(rows_.index)]
                stats = _aggregate(rows_, xs, metric)
                if stats.empty:
                    continue
                key = key if isinstance(key, tuple) else (key,)
                label = ", ".join(f"{p.rsplit('.', 1)[-1]}={v}" for p, v in zip(others, key)) if others and not pooled \
                    else ("all other values pooled" if pooled else None)
                centre = stats.index.to_numpy()
                ax.plot(centre, stats["mean"], marker="o", ms=4, color=colour, label=label)
                ax.fill_between(centre, stats["mean"] - stats["half"], stats["mean"] + stats["half"], color=colour,
                                alpha=0.2, linewidth=0)
                ax.scatter(xs, pd.to_numeric(rows_[metric], errors="coerce"), s=8, color=colour, alpha=0.3,
                           linewidths=0)
            ax.set_title(metric, fontsize=10)
            ax.set_xlabel(parameter + (f" ({unit})" if unit else ""))
            if labels is not None:
                ax.set_xticks(range(len(labels)), [str(v) for v in labels], rotation=20)
            ax.grid(alpha=0.3)
        handles, names = axes.flat[0].get_legend_handles_labels()
        if any(names):
            fig.legend(handles, names, loc="lower center", ncol=min(4, len(names)), fontsize=8, frameon=False)
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_axis_off()
        fig.suptitle(f"response to {parameter}: mean over seeds with a 95 % confidence band")
        fig.tight_layout(rect=(0, 0.06 if any(names) else 0, 1, 0.97))
        path = directory / f"response_{index}.png"
        fig.savefig(path, dpi=110)
        n_seeds = int(ok.groupby("point").size().median()) if "point" in ok else len(ok)
        out.append((path, f"Response to {parameter}",
                    f"Mean of each metric over seeds (about {n_seeds} per point) with a 95 % confidence band of the "
                    f"mean; dots are single runs." + (" Other swept values are pooled." if pooled else "")))
    return out


def point_table(table: pd.DataFrame, parameters: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per parameter point: its values, runs ok / failed, and ``mean +- half-width``
    of the 95 % confidence interval of each metric."""
    rows = []
    for _, group in table.groupby("point", sort=True):
        ok = group[group["status"] == "ok"]
        row = {p: group[p].iloc[0] for p in parameters}
        row["runs ok"] = len(ok)
        row["failed"] = len(group) - len(ok)
        for metric in metrics:
            values = pd.to_numeric(ok[metric], errors="coerce").dropna() if metric in ok else pd.Series(dtype=float)
            if values.empty:
                row[metric] = "n/a"
                continue
            mean = float(values.mean())
            if len(values) > 1:
                half = t_quantile(len(values) - 1) * float(values.std()) / math.sqrt(len(values))
                row[metric] = f"{mean:,.4g} ± {half:,.2g}"
            else:
                row[metric] = f"{mean:,.4g}"
        rows.append(row)
    return pd.DataFrame(rows)
