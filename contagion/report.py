"""Plots of a run, written as PNG files (matplotlib's object API, no global state).

:func:`write_report` draws, into ``<dir>/plots``:

``prices.png``
    Each venue's exogenous path and mid price, each pool's price and each push oracle's answer,
    with liquidations marked at the bottom.
``liquidations.png``
    Seized collateral value per 5-minute bin, stacked by cascade generation.
``protocols.png``
    Each protocol's debt, bad debt and number of liquidatable positions over time.
``network.png``
    The network graph.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from contagion.errors import ScenarioError
from contagion.results import Result

__all__ = ["write_report"]

log = logging.getLogger(__name__)


def _figure(width: float = 11, height: float = 6, rows: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True) if rows > 1 else fig.add_subplot()
    return fig, axes


def _prices(res: Result, path: Path) -> None:
    fig, ax = _figure()
    prices = res.prices
    hours = prices["time"] / 3600.0
    for (source, kind), rows in prices.groupby(["source", "source_kind"], sort=False):
        t = hours[rows.index]
        if kind == "venue":
            ax.plot(t, rows["exogenous"], ls="--", lw=1.2, label=f"{source} exogenous")
            ax.plot(t, rows["price"], lw=1.2, label=f"{source} mid")
        elif kind == "pool":
            ax.plot(t, rows["price"], lw=1.2, label=f"{source} pool")
        else:
            ax.step(t, rows["price"], where="post", lw=1.0, label=f"{source} oracle")
    liq = res.liquidations
    if len(liq):
        low = ax.get_ylim()[0]
        ax.plot(liq["time"] / 3600.0, np.full(len(liq), low), "|", color="red", alpha=0.3,
                label="liquidations")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("price (quote units)")
    ax.set_title(f"{res.manifest['scenario']['name']}: prices (seed {res.seed})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _liquidations(res: Result, path: Path) -> None:
    fig, ax = _figure()
    liq = res.liquidations
    if len(liq):
        bins = (liq["time"] // 300).astype(int)
        gen = liq["generation"].clip(upper=4)
        table = liq.assign(bin=bins, gen=gen).pivot_table(index="bin", columns="gen", values="seized_usd",
                                                          aggfunc="sum", fill_value=0.0)
        bottom = np.zeros(len(table))
        x = table.index.to_numpy() * 300 / 3600.0
        for g in table.columns:
            label = f"generation {g}" if g < 4 else "generation 4+"
            ax.bar(x, table[g].to_numpy() / 1e6, width=300 / 3600.0 * 0.9, bottom=bottom, label=label,
                   align="edge")
            bottom += table[g].to_numpy() / 1e6
        ax.legend(fontsize=8)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("seized collateral per 5 min (USD millions)")
    ax.set_title("liquidations by cascade generation")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _protocols(res: Result, path: Path) -> None:
    fig, axes = _figure(11, 7, rows=3)
    for name, rows in res.protocols.groupby("protocol", sort=False):
        t = rows["time"] / 3600.0
        axes[0].plot(t, rows["debt_value"] / 1e6, label=name)
        axes[1].plot(t, rows["bad_debt"] / 1e6, label=name)
        axes[2].plot(t, rows["n_liquidatable"], label=name)
    axes[0].set_ylabel("debt (USD m)")
    axes[1].set_ylabel("bad debt (USD m)")
    axes[2].set_ylabel("liquidatable")
    axes[2].set_xlabel("time (h)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(res: Result, directory: str | os.PathLike) -> list[Path]:
    """Write the run's plots into ``directory/plots``; returns the files written."""
    from contagion.network import Network

    out = Path(directory) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("prices", _prices), ("liquidations", _liquidations), ("protocols", _protocols)):
        path = out / f"{name}.png"
        draw(res, path)
        written.append(path)
    try:
        net = Network.from_dict(res.manifest["scenario"], source=res.manifest.get("source", "<manifest>"),
                                base_dir=Path(res.manifest.get("source", ".")).parent)
    except ScenarioError as err:  # e.g. a positions snapshot that is not on this machine
        log.warning("network.png skipped: %s", err)
    else:
        written.append(net.draw(out / "network.png"))
    return written
