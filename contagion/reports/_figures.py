"""Figure helpers shared by the report modules: matplotlib's object API only (no pyplot, no global
state), time axes, money formatting, a t quantile for confidence bands."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["figure", "save", "time_bin", "usd", "t_quantile", "PALETTE"]

#: Colours for series in order (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def figure(width: float = 11.0, height: float = 6.0, rows: int = 1, cols: int = 1, *, layout: str | None = None,
           **kwargs):
    """A figure with an Agg canvas and its axes (``fig.subplots(rows, cols)``, always 2-d)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    return fig, axes


def save(fig, path: Path, dpi: int = 110, *, tight: bool = True) -> Path:
    """Lay out (``tight_layout`` unless ``tight=False``) and write a PNG."""
    if tight:
        fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def time_bin(until_s: float, bins: int = 80) -> float:
    """A round bin width (seconds) that cuts ``until_s`` into about ``bins`` bins or fewer."""
    for width in (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400):
        if until_s / width <= bins:
            return float(width)
    return float(math.ceil(until_s / bins / 86400.0) * 86400.0)


def usd(value: float) -> str:
    """``$1.23m``-style amount."""
    if value is None or not np.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, scale in (("bn", 1e9), ("m", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{sign}${value / scale:.3g}{unit}"
    return f"{sign}${value:.3g}"


def t_quantile(df: int) -> float:
    """Two-sided 95 % quantile of Student's t with ``df`` degrees of freedom (1.96 above 30)."""
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96
