"""Plots of one run, from its tables and manifest.

Each function draws one PNG and returns its path; :data:`RUN_PLOTS` lists them with the title and
caption the HTML report shows.

``prices.png``
    Per asset: each venue's exogenous path and mid price, each pool's price and each oracle's
    answer, with every liquidation marked at the time and price it executed.
``liquidations.png``
    Seized collateral value per time bin, stacked by protocol (top) and by cascade generation
    (bottom).
``protocols.png``
    Each protocol's debt, bad debt and number of liquidatable positions over time.
``network.png``
    The network graph coloured by losses: protocols by bad debt plus the liquidation penalties
    their borrowers paid (USD), venues and pools by their largest fall.
``depth.png``
    Liquidation prices against pool depth, per lending protocol: for each collateral price
    (x) and each multiple of the scenario's pool depth (y), the collateral that liquidations
    would sell if the price fell there (every position liquidatable at that price liquidated
    once: close factor and bonus) divided by what the pools it is sold into absorb before
    their price falls as far. Above 1 (red) forced sales outrun the pools. Computed from the
    book and pools at time 0 (a simulation of the scenario is built, not run); the line marks
    the lowest pool price of the run, the histogram on top the collateral by liquidation price.
``gas.png``
    Per chain: base fee and the range of gas prices paid in each block (gwei), and block
    fullness.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from contagion.errors import ContagionError
from contagion.reports._figures import PALETTE, figure, save, time_bin, usd
from contagion.results import Result

__all__ = ["RUN_PLOTS", "prices", "liquidations", "protocols", "network", "depth", "gas", "PlotSkipped",
           "DepthMap", "depth_maps"]

log = logging.getLogger(__name__)


class PlotSkipped(Exception):
    """A plot that the run's data cannot support (the reason is shown in the report)."""


def _hours(seconds) -> np.ndarray:
    return np.asarray(seconds, dtype=float) / 3600.0


def prices(res: Result, path: Path) -> Path:
    table = res.prices
    liq = res.liquidations
    assets = list(dict.fromkeys(table["asset"])) if len(table) else []
    if not assets:
        raise PlotSkipped("the run recorded no prices")
    assets = assets[:6]
    fig, axes = figure(11, 3.6 * len(assets) + 0.6, rows=len(assets), sharex=True)
    for ax, asset in zip(axes[:, 0], assets):
        rows = table[table["asset"] == asset]
        for k, ((source, kind), series) in enumerate(rows.groupby(["source", "source_kind"], sort=False)):
            t = _hours(series["time"])
            colour = PALETTE[k % len(PALETTE)]
            if kind == "venue":
                ax.plot(t, series["exogenous"], ls="--", lw=1.0, color=colour, label=f"{source} exogenous")
                ax.plot(t, series["price"], lw=1.3, color=colour, label=f"{source} venue mid")
            elif kind == "pool":
                ax.plot(t, series["price"], lw=1.3, color=colour, label=f"{source} pool")
            else:
                ax.step(t, series["price"], where="post", lw=1.1, color=colour, label=f"{source} oracle")
        mine = liq[liq["collateral_asset"] == asset] if len(liq) else liq
        if len(mine):
            ax.scatter(_hours(mine["time"]), mine["price"], marker="v", s=14, color="#d62728", alpha=0.35,
                       linewidths=0, zorder=5, label=f"liquidations ({len(mine):,})")
        quote = rows["quote"].iloc[0]
        ax.set_ylabel(f"{asset} price ({quote})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("time (h)")
    axes[0, 0].set_title(f"{res.manifest['scenario']['name']}: venue, pool and oracle prices (seed {res.seed})")
    return save(fig, path)


def _stacked(ax, liq: pd.DataFrame, column: str, width: float, labels) -> None:
    bins = (liq["time"] // width).astype(int)
    table = liq.assign(bin=bins, group=liq[column]).pivot_table(index="bin", columns="group", values="seized_usd",
                                                                aggfunc="sum", fill_value=0.0)
    x = _hours(table.index.to_numpy() * width)
    bottom = np.zeros(len(table))
    for k, group in enumerate(table.columns):
        values = table[group].to_numpy() / 1e6
        ax.bar(x, values, width=width / 3600.0 * 0.9, bottom=bottom, align="edge", label=labels(group),
               color=PALETTE[k % len(PALETTE)])
        bottom += values
    ax.legend(fontsize=8)


def liquidations(res: Result, path: Path) -> Path:
    liq = res.liquidations
    width = time_bin(float(res.manifest["until"]))
    fig, axes = figure(11, 7, rows=2, sharex=True)
    top, bottom = axes[0, 0], axes[1, 0]
    if len(liq):
        _stacked(top, liq, "protocol", width, str)
        gens = liq.assign(generation=liq["generation"].clip(upper=4))
        _stacked(bottom, gens, "generation", width, lambda g: f"generation {g}" if g < 4 else "generation 4+")
    else:
        for ax in (top, bottom):
            ax.text(0.5, 0.5, "no liquidations", ha="center", va="center", transform=ax.transAxes)
    minutes = f"{width / 60:g} min" if width < 3600 else f"{width / 3600:g} h"
    top.set_title(f"liquidations: seized collateral per {minutes}, by protocol (top) and cascade generation")
    for ax in (top, bottom):
        ax.set_ylabel("seized (USD m)")
        ax.grid(alpha=0.3)
    bottom.set_xlabel("time (h)")
    return save(fig, path)


def protocols(res: Result, path: Path) -> Path:
    table = res.protocols
    if table.empty:
        raise PlotSkipped("the run recorded no protocol state")
    fig, axes = figure(11, 7, rows=3, sharex=True)
    for k, (name, rows) in enumerate(table.groupby("protocol", sort=False)):
        t = _hours(rows["time"])
        colour = PALETTE[k % len(PALETTE)]
        axes[0, 0].plot(t, rows["debt_value"] / 1e6, color=colour, label=name)
        axes[1, 0].plot(t, rows["bad_debt"] / 1e6, color=colour, label=name)
        axes[2, 0].plot(t, rows["n_liquidatable"], color=colour, label=name)
    for ax, label in zip(axes[:, 0], ("debt (USD m)", "bad debt (USD m)", "liquidatable positions")):
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_title("protocol state")
    axes[2, 0].set_xlabel("time (h)")
    return save(fig, path)


def _market_drops(res: Result) -> dict[str, float]:
    drops = {}
    for (source, kind), rows in res.prices.groupby(["source", "source_kind"], sort=False):
        if kind in ("venue", "pool") and len(rows):
            start = float(rows["price"].iloc[0])
            drops[source] = 1.0 - float(rows["price"].min()) / start if start > 0 else math.nan
    return drops


def _protocol_losses(res: Result) -> dict[str, tuple[float, float]]:
    """Bad debt at the end and liquidation penalties paid (USD) per protocol."""
    out = {}
    table, liq = res.protocols, res.liquidations
    for name in res.manifest["scenario"].get("protocols", {}):
        rows = table[table["protocol"] == name]
        bad = float(rows["bad_debt"].iloc[-1]) if len(rows) else 0.0
        mine = liq[liq["protocol"] == name]
        penalty = float((mine["seized_usd"] - mine["repaid_usd"]).clip(lower=0).sum()) if len(mine) else 0.0
        out[name] = (bad, penalty)
    return out


def network(res: Result, path: Path) -> Path:
    import networkx as nx
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from contagion.network import Network

    try:
        net = Network.from_dict(res.manifest["scenario"], source=res.manifest.get("source", "<manifest>"),
                                base_dir=Path(res.manifest.get("source", ".")).parent)
    except ContagionError as err:
        raise PlotSkipped(f"the scenario cannot be rebuilt here: {err}") from err
    graph = net.graph
    layer = {"asset": 0, "venue": 1, "pool": 1, "oracle": 2, "protocol": 3, "agents": 4, "chain": 5}
    layout = nx.DiGraph()
    for node, kind in graph.nodes(data="kind"):
        layout.add_node(node, layer=layer.get(kind, 6))
    pos = nx.multipartite_layout(layout, subset_key="layer")
    drops = _market_drops(res)
    losses = _protocol_losses(res)
    loss_m = {name: (bad + penalty) / 1e6 for name, (bad, penalty) in losses.items()}
    money = Normalize(vmin=0.0, vmax=max([0.01, *loss_m.values()]))
    falls = Normalize(vmin=0.0, vmax=100.0 * max([0.05, *[d for d in drops.values() if np.isfinite(d)]]))
    reds, purples = colormaps["Reds"], colormaps["Purples"]

    fig, axes = figure(13, 8)
    ax = axes[0, 0]
    ax.set_axis_off()
    for u, v in graph.edges():
        (x0, y0), (x1, y1) = pos[u], pos[v]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="#999999", lw=0.8, alpha=0.6, shrinkA=13, shrinkB=13,
                                    connectionstyle="arc3,rad=0.08"))
    for node, kind in graph.nodes(data="kind"):
        x, y = pos[node]
        label = node
        if kind == "protocol":
            colour = reds(0.1 + 0.9 * money(loss_m.get(node, 0.0)))
            bad, penalty = losses.get(node, (0.0, 0.0))
            label = f"{node}\nbad debt {usd(bad)}\npenalties {usd(penalty)}"
        elif node in drops and np.isfinite(drops[node]):
            colour = purples(0.1 + 0.9 * falls(100.0 * drops[node]))
            label = f"{node}\nfell {drops[node]:.1%}"
        else:
            colour = "#e8e8e8"
        ax.scatter([x], [y], s=650, color=colour, edgecolors="black", zorder=3)
        ax.annotate(f"{label}\n({kind})", (x, y), xytext=(0, -16), textcoords="offset points", ha="center",
                    va="top", fontsize=7.5, zorder=4)
    ax.margins(0.08, 0.12)
    ax.set_title(f"{net.name}: network coloured by losses (seed {res.seed})")
    fig.subplots_adjust(left=0.02, right=0.98, top=0.94, bottom=0.16)
    for left, norm, cmap, label in (
            (0.06, money, reds, "protocol losses: bad debt + liquidation penalties paid (USD m)"),
            (0.56, falls, purples, "largest fall of the venue or pool price (%)")):
        cax = fig.add_axes((left, 0.07, 0.38, 0.025))
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal", label=label)
    return save(fig, path, tight=False)


@dataclass
class DepthMap:
    """What ``depth.png`` shows for one lending protocol.

    Attributes
    ----------
    protocol : str
    collateral, debt : str
        Asset names.
    start : float
        Collateral price (debt units) at time 0.
    price : numpy.ndarray
        Collateral prices on the x axis, falling from just below ``start``.
    sold : numpy.ndarray
        Collateral (token units) that liquidations would seize at each price: every position
        whose liquidation price is at or above it, liquidated once (``close_factor`` of its debt,
        plus ``liquidation_bonus``, at most its collateral).
    absorbed : numpy.ndarray
        Collateral the pools it is sold into take before their price falls as far
        (``RuntimePool.depth``, time-0 state), summed over the pools.
    scales : numpy.ndarray
        Multiples of the scenario's pool depth on the y axis.
    liquidation_price, collateral : numpy.ndarray
        The time-0 book (for the histogram).
    lowest_fall : float
        Largest fall of those pools' prices in the run.
    """

    protocol: str
    collateral_asset: str
    debt_asset: str
    start: float
    price: np.ndarray
    sold: np.ndarray
    absorbed: np.ndarray
    scales: np.ndarray
    liquidation_price: np.ndarray
    collateral: np.ndarray
    lowest_fall: float

    @property
    def ratio(self) -> np.ndarray:
        """``sold / (scale * absorbed)``, shape ``(len(scales), len(price))``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sold[None, :] / (self.scales[:, None] * self.absorbed[None, :])


def depth_maps(res: Result, *, points: int = 80) -> list[DepthMap]:
    """The data of ``depth.png``: one :class:`DepthMap` per lending protocol that sells into pools.

    The scenario is rebuilt from the run's manifest and a simulation of it is created (not
    run) with the run's seed, for the pools' depth at time 0.

    Raises
    ------
    PlotSkipped
        Without such a protocol, or if the scenario cannot be rebuilt here.
    """
    from contagion.engine.simulation import Simulation
    from contagion.network import Network

    scn = res.manifest["scenario"]
    lending = {n: p for n, p in scn.get("protocols", {}).items()
               if p.get("type") == "lending" and p.get("liquidates_into")}
    if not lending:
        raise PlotSkipped("no lending protocol that sells collateral into pools")
    initial = res.positions[res.positions["snapshot"] == "initial"]
    try:
        net = Network.from_dict(scn, source=res.manifest.get("source", "<manifest>"),
                                base_dir=Path(res.manifest.get("source", ".")).parent)
        sim = Simulation(net, seed=res.seed)
    except ContagionError as err:
        raise PlotSkipped(f"the scenario cannot be rebuilt here: {err}") from err
    drops = _market_drops(res)
    maps = []
    for name, proto in lending.items():
        book = initial[initial["protocol"] == name]
        pools = [sim.pools[p] for p in proto["liquidates_into"] if p in sim.pools]
        if book.empty or not pools:
            continue
        start = float(res.manifest["initial_price_ratio"][name])
        worst = max([d for p, d in drops.items() if p in proto["liquidates_into"] and np.isfinite(d)], default=0.0)
        falls = np.linspace(0.005, min(0.95, max(0.5, 1.3 * worst)), points)
        price = start * (1.0 - falls)
        keys = book["liquidation_price"].to_numpy(float)
        debt = book["debt"].to_numpy(float)
        coll = book["collateral"].to_numpy(float)
        seize = proto["close_factor"] * (1.0 + proto["liquidation_bonus"])
        sold = np.array([float(np.minimum(seize * debt[keys >= p] / p, coll[keys >= p]).sum()) for p in price])
        absorbed = np.array([_absorbed(pools, proto["collateral"], f) for f in falls])
        maps.append(DepthMap(name, proto["collateral"], proto["debt"], start, price, sold, absorbed,
                             2.0 ** np.linspace(-3, 3, 49), keys, coll, worst))
    if not maps:
        raise PlotSkipped("no lending book at time 0")
    return maps


def _absorbed(pools, asset: str, fall: float) -> float:
    total = 0.0
    for pool in pools:
        try:
            total += pool.depth(asset, fall)
        except (ContagionError, ValueError, ArithmeticError):
            return math.nan
    return total


def depth(res: Result, path: Path) -> Path:
    from matplotlib.colors import TwoSlopeNorm

    maps = depth_maps(res)
    fig, axes = figure(11, 5.2 * len(maps), rows=2 * len(maps), cols=1, layout="constrained",
                       gridspec_kw={"height_ratios": [1, 3] * len(maps)})
    for k, m in enumerate(maps):
        hist_ax, ax = axes[2 * k, 0], axes[2 * k + 1, 0]
        ratio = m.ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            shade = np.log10(np.where(ratio > 0, ratio, np.nan))
        mesh = ax.pcolormesh(m.price, m.scales, shade, cmap="RdBu_r", shading="nearest",
                             norm=TwoSlopeNorm(vcenter=0.0, vmin=-2.0, vmax=2.0))
        if np.isfinite(shade).any() and np.nanmin(shade) < 0 < np.nanmax(shade):
            ax.contour(m.price, m.scales, shade, levels=[0.0], colors="black", linewidths=1.2)
        ax.set_yscale("log", base=2)
        ax.set_yticks([1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8], ["1/8", "1/4", "1/2", "1", "2", "4", "8"])
        ax.axhline(1.0, color="black", lw=0.8, ls=":")
        if m.lowest_fall > 0:
            low = m.start * (1.0 - m.lowest_fall)
            ax.axvline(low, color="#2ca02c", lw=1.4, label=f"lowest pool price in the run ({low:,.4g})")
            ax.legend(fontsize=8, loc="lower left")
        ax.set_xlim(m.start, m.price.min())
        ax.set_xlabel(f"{m.collateral_asset} price ({m.debt_asset}): falling to the right")
        ax.set_ylabel("pool depth (x the scenario's)")
        fig.colorbar(mesh, ax=[hist_ax, ax], pad=0.01, fraction=0.04, label="log10(collateral sold / pools absorb)")
        inside = (m.liquidation_price >= m.price.min()) & (m.liquidation_price <= m.start)
        hist_ax.hist(m.liquidation_price[inside], bins=60, weights=m.collateral[inside], color="#7f7f7f",
                     range=(m.price.min(), m.start))
        hist_ax.set_xlim(m.start, m.price.min())
        hist_ax.set_ylabel(m.collateral_asset)
        hist_ax.set_title(f"{m.protocol}: collateral by liquidation price (top); forced sales against pool depth "
                          "(bottom)")
        hist_ax.grid(alpha=0.3)
    return save(fig, path, tight=False)


def gas(res: Result, path: Path) -> Path:
    blocks = res.blocks
    if blocks.empty:
        raise PlotSkipped("the run produced no blocks")
    chains = list(dict.fromkeys(blocks["chain"]))
    fig, axes = figure(11, 3.2 * len(chains) + 2.4, rows=len(chains) + 1, sharex=True)
    for ax, chain in zip(axes[:-1, 0], chains):
        rows = blocks[blocks["chain"] == chain]
        t = _hours(rows["time"])
        low, high = rows["min_gas_price"].to_numpy(float), rows["max_gas_price"].to_numpy(float)
        paid = np.isfinite(low) & np.isfinite(high)
        if paid.any():
            ax.fill_between(t, np.where(paid, low, np.nan), np.where(paid, high, np.nan), step="post", alpha=0.35,
                            color="#1f77b4", label="gas prices paid in the block (min to max)")
        if (rows["base_fee"] > 0).any():
            ax.step(t, rows["base_fee"], where="post", color="#d62728", lw=1.2, label="base fee")
        if not paid.any() and not (rows["base_fee"] > 0).any():
            ax.text(0.5, 0.5, "no transactions paid gas", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel(f"{chain} (gwei)")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left")
    full = axes[-1, 0]
    for k, chain in enumerate(chains):
        rows = blocks[blocks["chain"] == chain]
        full.plot(_hours(rows["time"]), rows["gas_used"] / rows["gas_limit"], lw=0.8, color=PALETTE[k % 10],
                  label=chain)
    full.set_ylabel("block fullness")
    full.set_ylim(0, 1.05)
    full.set_xlabel("time (h)")
    full.grid(alpha=0.3)
    full.legend(fontsize=8)
    axes[0, 0].set_title("gas: base fee and prices paid per block")
    return save(fig, path)


#: ``(file stem, function, title, caption)`` of every run plot, in report order.
RUN_PLOTS = (
    ("prices", prices, "Prices", "Venue (exogenous path dashed, mid solid), pool and oracle prices per asset; "
     "red triangles are liquidations at the price they executed."),
    ("liquidations", liquidations, "Liquidations over time", "Seized collateral value per time bin, by protocol "
     "and by cascade generation (1: made liquidatable by the shock; 2+: by earlier liquidations' sales)."),
    ("protocols", protocols, "Protocol state", "Debt, bad debt and liquidatable positions over time."),
    ("network", network, "Network coloured by losses", "Protocols by bad debt plus the liquidation penalties "
     "their borrowers paid; venues and pools by their largest price fall."),
    ("depth", depth, "Liquidation prices against pool depth", "For each collateral price and pool depth (as a "
     "multiple of the scenario's): log10 of the collateral liquidations would sell if the price fell there, over "
     "what the pools absorb before falling as far (time-0 book and pools). Red: forced sales outrun the pools; "
     "the black line is where they balance."),
    ("gas", gas, "Gas", "Base fee and the range of gas prices paid per block, and block fullness, per chain."),
)
