"""Position books: generation from documented distributions, or snapshots from files.

Positions are rows of numpy arrays, never Python objects.

Generated books (``positions: {kind: generated}``), drawn from the protocol's own stream
``protocol:<name>:positions``:

1. debt sizes ``D_i = exp(debt_sigma * Z_i)`` with ``Z_i ~ N(0, 1)``, scaled so that
   ``sum(D_i) = total_debt``;
2. health factors ``H_i`` from the ``health_factor`` distribution — lognormal with the given
   ``median`` and ``sigma`` of ``log H``, or uniform on ``[low, high]`` — truncated to
   ``[low, high]`` by redrawing the values outside (so there is no point mass at a bound);
3. collateral ``C_i = H_i * D_i / (r * lt)`` where ``r`` is the protocol's initial price ratio
   (collateral price / debt price from its oracles at time 0) and ``lt`` the liquidation
   threshold, so that position ``i`` starts with health factor ``H_i`` exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from contagion.errors import ScenarioError
from contagion.scenario.models import GeneratedPositions, HealthFactorDistribution

__all__ = ["draw_health_factors", "draw_truncated", "generate_positions", "read_snapshot"]

_MAX_REDRAWS = 200


def draw_truncated(spec, n: int, rng: np.random.Generator, what: str = "health_factor") -> np.ndarray:
    """``n`` values from a truncated ``spec`` (``distribution`` lognormal with ``median`` and
    ``sigma`` of the log, or uniform, on ``[low, high]``), out-of-range draws redrawn; ``what``
    names the key in the error when the distribution has too little mass inside."""

    def draw(k: int) -> np.ndarray:
        if spec.distribution == "uniform":
            return rng.uniform(spec.low, spec.high, k)
        return spec.median * np.exp(spec.sigma * rng.standard_normal(k))

    values = draw(n)
    for _ in range(_MAX_REDRAWS):
        bad = (values < spec.low) | (values > spec.high)
        count = int(bad.sum())
        if not count:
            return values
        values[bad] = draw(count)
    raise ScenarioError(
        f"{what}: the distribution puts too little mass inside [low, high] "
        f"(median {spec.median}, sigma {spec.sigma}, low {spec.low}, high {spec.high})")


def draw_health_factors(spec: HealthFactorDistribution, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` health factors from ``spec``, truncated to ``[low, high]`` by redrawing."""
    return draw_truncated(spec, n, rng, "health_factor")


def generate_positions(spec: GeneratedPositions, rng: np.random.Generator, price_ratio: float,
                       liquidation_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``(collateral, debt)`` arrays (token units) for a generated book."""
    debt = np.exp(spec.debt_sigma * rng.standard_normal(spec.count))
    debt *= spec.total_debt / debt.sum()
    hf = draw_health_factors(spec.health_factor, spec.count, rng)
    collateral = hf * debt / (price_ratio * liquidation_threshold)
    return np.ascontiguousarray(collateral), np.ascontiguousarray(debt)


def read_snapshot(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(collateral, debt)`` from a CSV or Parquet file with those two columns (token units)."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(path, columns=None)
        else:
            table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise ScenarioError(f"{path}: cannot read positions: {err}") from err
    problems = []
    for column in ("collateral", "debt"):
        if column not in table.columns:
            problems.append(f"{path}: {where}: missing column {column!r}, got columns {list(table.columns)}")
    if problems:
        raise ScenarioError(problems)
    arrays = []
    for column in ("collateral", "debt"):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(f"{path}: {where}: column {column!r} must hold numbers >= 0, "
                                f"got {table[column].iloc[row]!r} in row {row + 1}")
        arrays.append(np.ascontiguousarray(values))
    if not len(arrays[0]):
        raise ScenarioError(f"{path}: {where}: no positions")
    return arrays[0], arrays[1]
