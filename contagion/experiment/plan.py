"""Sweep plans: which runs a sweep makes, with which overrides and seeds, under which keys.

A plan is built from a network and three descriptions of what to vary:

``grid``
    ``{key path: [values]}``: the cartesian product of the lists (the last key varies fastest,
    as in :func:`itertools.product`).
``zip``
    ``{key path: [values]}`` with lists of equal length, varied together (item ``i`` of every
    list makes one combination); a list of such mappings gives several groups. Each group is
    one more axis of the product, after the grid's keys.
``seeds``
    Replications of every parameter point. An ``int`` is a count: run ``k``'s seed is spawned
    from the sweep's seed (see :func:`spawn_seeds`); an iterable gives the run seeds
    themselves (``range(20)`` runs seeds 0 to 19, exactly as ``contagion.run(net, seed=k)``).
    Every point uses the same seeds (common random numbers: differences between points are not
    blurred by different random books or paths).

Runs are numbered point by point: ``run_id = point * len(seeds) + replicate``.

Every run has a **key**, a stable hash of what determines its results: the validated scenario
with the run's overrides applied (as data, so ``"1h"`` and ``3600`` give the same key), the
simulated duration and the seed. A run's results depend on nothing else, so a stored run with
the same key is the same run, whichever sweep, executor or machine computed it. Files that the
scenario reads (a replayed price path, a positions snapshot) enter the key by their path only.
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
import json
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from contagion.errors import ScenarioError
from contagion.network import Network
from contagion.scenario.loader import apply_overrides
from contagion.scenario.paths import format_path, parse_path
from contagion.units import parse_duration

__all__ = ["RunSpec", "SweepPlan", "spawn_seeds", "run_key", "PLAN_COLUMNS", "RESERVED_COLUMNS"]

#: Columns of a sweep table that come from the plan, before the swept parameters.
PLAN_COLUMNS = ("run_id", "run_key", "point", "replicate", "seed")
#: Columns a swept key path may not be named (plan columns and the run's status).
RESERVED_COLUMNS = PLAN_COLUMNS + ("status", "error")


def spawn_seeds(seed: int, count: int) -> list[int]:
    """Run seeds spawned from a sweep's seed.

    Seed ``k`` is ``SeedSequence(seed).spawn(count)[k]``'s first 64-bit word shifted right by one
    bit (63 bits, so it fits an ``int64`` column)::

        SeedSequence(seed, spawn_key=(k,)).generate_state(1, numpy.uint64)[0] >> 1

    It depends on ``seed`` and ``k`` only: asking for more seeds later keeps the first ones,
    so a sweep can be extended and resumed.

    Parameters
    ----------
    seed : int
        The sweep's seed (non-negative).
    count : int
        How many run seeds (at least 1).

    Returns
    -------
    list of int

    Examples
    --------
    >>> spawn_seeds(1, 3) == spawn_seeds(1, 5)[:3]
    True
    """
    return [int(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(1, np.uint64)[0] >> np.uint64(1))
            for k in range(count)]


def run_key(scenario: Mapping[str, Any], seed: int, until: float) -> str:
    """Stable key of a run: BLAKE2b (128 bits, hex) of the scenario, duration and seed.

    Parameters
    ----------
    scenario : mapping
        The validated scenario as data (:meth:`Network.to_dict`, overrides applied); its
        default ``seed`` and ``until`` are replaced by the run's.
    seed : int
        The run's seed.
    until : float
        Simulated seconds.

    Returns
    -------
    str
        32 hexadecimal digits.
    """
    data = {k: v for k, v in scenario.items() if k not in ("seed", "until")}
    payload = json.dumps({"scenario": data, "seed": int(seed), "until": float(until)},
                         sort_keys=True, separators=(",", ":"), allow_nan=True, default=str)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class RunSpec:
    """One planned run.

    Attributes
    ----------
    run_id : int
        Position in the plan (``point * len(seeds) + replicate``).
    point : int
        Index of the parameter point.
    replicate : int
        Index of the seed.
    seed : int
        Seed of every random stream of the run.
    overrides : dict
        The point's swept values by key path, as given.
    until : float
        Simulated seconds.
    key : str
        Stable key of the run (see :func:`run_key`).
    """

    run_id: int
    point: int
    replicate: int
    seed: int
    overrides: dict
    until: float
    key: str


def _values(where: str, path: str, values: Any, source: str) -> list:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ScenarioError(f"{source} (sweep {where}): {path}: values must be a non-empty list, "
                            f"got {values!r}")
    values = list(values)
    if not values:
        raise ScenarioError(f"{source} (sweep {where}): {path}: values must be a non-empty list, got []")
    return values


def _check_path(where: str, path: Any, source: str) -> str:
    try:
        parts = parse_path(path)
    except ValueError as err:
        raise ScenarioError(f"{source} (sweep {where}): {path!r}: {err}") from None
    text = format_path(parts)
    if text == "seed":
        raise ScenarioError(f"{source} (sweep {where}): seed: vary seeds with seeds=, not as a parameter")
    if text in RESERVED_COLUMNS:
        raise ScenarioError(f"{source} (sweep {where}): {text}: reserved column name of sweep tables")
    return text


def _axes(grid: Mapping | None, zipped: Mapping | Sequence[Mapping] | None, source: str
          ) -> tuple[list[str], list[list[tuple]]]:
    """Key paths (column order) and the axes of the product, each a list of value tuples."""
    paths: list[str] = []
    axes: list[list[tuple]] = []

    def add(where: str, raw_path: Any) -> str:
        path = _check_path(where, raw_path, source)
        if path in paths:
            raise ScenarioError(f"{source} (sweep {where}): {path}: key path given twice")
        paths.append(path)
        return path

    if grid is not None:
        if not isinstance(grid, Mapping):
            raise ScenarioError(f"{source} (sweep grid): must be a mapping of key path to values, "
                                f"got {type(grid).__name__}")
        for raw_path, values in grid.items():
            path = add("grid", raw_path)
            axes.append([(v,) for v in _values("grid", path, values, source)])
    groups = [] if zipped is None else [zipped] if isinstance(zipped, Mapping) else list(zipped)
    for group in groups:
        if not isinstance(group, Mapping) or not group:
            raise ScenarioError(f"{source} (sweep zip): must be a non-empty mapping of key path to values "
                                f"(or a list of them), got {group!r}")
        columns, lengths = [], {}
        for raw_path, values in group.items():
            path = add("zip", raw_path)
            columns.append(_values("zip", path, values, source))
            lengths[path] = len(columns[-1])
        if len(set(lengths.values())) > 1:
            text = ", ".join(f"{p} has {n}" for p, n in lengths.items())
            raise ScenarioError(f"{source} (sweep zip): lists varied together must have the same length: {text}")
        axes.append(list(zip(*columns)))
    return paths, axes


def _column_values(values: list) -> list:
    """A parameter's values in a form one table column can hold: numbers, booleans and strings
    as they are (ints become floats if mixed with floats); anything else (lists, mappings,
    mixtures) as JSON text."""
    if all(isinstance(v, bool) for v in values):
        return list(values)
    if all(isinstance(v, Integral) and not isinstance(v, bool) for v in values):
        return [int(v) for v in values]
    if all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    if all(isinstance(v, str) for v in values):
        return list(values)
    return [v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for v in values]


class SweepPlan:
    """The runs of a sweep (validated; nothing is run).

    Build one with :meth:`build`. Every parameter point is validated here, so a bad key path or
    value is reported before anything runs.

    Attributes
    ----------
    net : Network
        The base network (the sweep's fixed ``overrides`` applied).
    parameters : list of str
        Swept key paths, in column order (grid keys, then zip keys).
    points : list of dict
        Each point's overrides, by key path.
    seed : int or None
        The sweep's seed if run seeds were spawned from it, else None.
    seeds : list of int
        The run seeds shared by every point.
    until : float
        Simulated seconds of every run (the sweep's ``until``, else the scenario's; a point
        that overrides ``until`` uses its own).
    runs : list of RunSpec
        Every run, by ``run_id``.
    """

    def __init__(self, net: Network, parameters: list[str], points: list[dict], seeds: list[int],
                 seed: int | None, until: float | None, runs: list[RunSpec], columns: dict[str, list],
                 axes: dict[str, Any] | None = None):
        self.net = net
        self.axes = axes or {"grid": {}, "zip": []}
        self.parameters = parameters
        self.points = points
        self.seeds = seeds
        self.seed = seed
        self.until = until
        self.runs = runs
        self._columns = columns

    @classmethod
    def build(cls, net: Network, grid: Mapping | None = None, zip: Mapping | Sequence[Mapping] | None = None,
              seeds: int | Iterable[int] = 1, *, seed: int | None = None, until: float | str | None = None,
              overrides: Mapping | Iterable[str] | None = None) -> "SweepPlan":
        """Validate a sweep's description and list its runs.

        Parameters
        ----------
        net : Network
            The scenario to vary.
        grid, zip, seeds
            See the module docstring.
        seed : int, optional
            Seed the run seeds are spawned from when ``seeds`` is a count (default: the
            scenario's ``seed``). Ignored when ``seeds`` lists the seeds.
        until : float or str, optional
            Simulated duration of every run (default: the scenario's ``until``).
        overrides : mapping or iterable of ``"key.path=value"``, optional
            Values fixed for every run (applied before the swept ones).

        Raises
        ------
        ScenarioError
            Naming the key path: unknown key paths, empty or non-list values, zip lists of
            different lengths, values the scenario refuses, points that are the same scenario;
            bad seeds.
        """
        source = net.source
        base = net.with_overrides(overrides) if overrides else net
        parameters, axes = _axes(grid, zip, source)
        _check_paths(base, parameters, axes, source)
        run_seeds, spawned_from = _seeds(seeds, seed, base, source)
        try:
            default_until = None if until is None else parse_duration(until)
        except ValueError as err:
            raise ScenarioError(f"{source} (sweep): until: {err}, got {until!r}") from None
        if default_until is not None and default_until <= 0:
            raise ScenarioError(f"{source} (sweep): until: must be a duration > 0, got {until!r}")

        points: list[dict] = []
        states: list[tuple[dict, float] | None] = []
        problems: list[str] = []
        seen: dict[str, int] = {}
        for combo in itertools.product(*axes):
            point = dict(builtins.zip(parameters, (v for group in combo for v in group)))
            points.append(point)
            try:
                variant = base.with_overrides(point)
            except ScenarioError as err:
                problems.extend(p for p in err.problems if p not in problems)
                states.append(None)
                continue
            scenario = variant.to_dict()
            point_until = float(variant.scenario.until) if default_until is None or "until" in point \
                else default_until
            fingerprint = run_key(scenario, 0, point_until)
            if fingerprint in seen:
                first = seen[fingerprint]
                problems.append(f"{source} (sweep): points {first} and {len(points) - 1} are the same scenario "
                                f"({_show_point(points[first])} vs {_show_point(point)})")
            seen.setdefault(fingerprint, len(points) - 1)
            states.append((scenario, point_until))
        if problems:
            raise ScenarioError(problems)

        runs: list[RunSpec] = []
        for p, (point, state) in enumerate(builtins.zip(points, states)):
            scenario, point_until = state
            for r, s in enumerate(run_seeds):
                runs.append(RunSpec(run_id=len(runs), point=p, replicate=r, seed=s, overrides=point,
                                    until=point_until, key=run_key(scenario, s, point_until)))
        columns = {path: _column_values([point[path] for point in points]) for path in parameters}
        if default_until is None:
            default_until = float(base.scenario.until)
        groups = [] if zip is None else [zip] if isinstance(zip, Mapping) else list(zip)
        axes_info = {"grid": {format_path(parse_path(k)): list(v) for k, v in (grid or {}).items()},
                     "zip": [{format_path(parse_path(k)): list(v) for k, v in g.items()} for g in groups]}
        return cls(base, parameters, points, run_seeds, spawned_from, default_until, runs, columns, axes_info)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        return (f"<SweepPlan {self.net.name!r}: {len(self.points)} point(s) x {len(self.seeds)} seed(s) = "
                f"{len(self.runs)} runs over {', '.join(self.parameters) or 'no parameters'}>")

    def frame(self) -> pd.DataFrame:
        """The plan as a table: ``run_id, run_key, point, replicate, seed`` and one column per
        swept key path (values as given; see :func:`_column_values` for mixed types)."""
        n = len(self.seeds)
        data: dict[str, Any] = {
            "run_id": np.arange(len(self.runs), dtype=np.int64),
            "run_key": [r.key for r in self.runs],
            "point": np.repeat(np.arange(len(self.points), dtype=np.int64), n),
            "replicate": np.tile(np.arange(n, dtype=np.int64), len(self.points)),
            "seed": np.array([r.seed for r in self.runs], dtype=np.int64),
        }
        for path in self.parameters:
            values = self._columns[path]
            data[path] = [values[r.point] for r in self.runs]
        return pd.DataFrame(data)

    def describe(self) -> dict[str, Any]:
        """What the plan is, as JSON-able data (for the sweep's manifest)."""
        return {
            "scenario_name": self.net.name,
            "parameters": list(self.parameters),
            "grid": _jsonable(self.axes["grid"]),
            "zip": _jsonable(self.axes["zip"]),
            "points": [{k: _jsonable(v) for k, v in p.items()} for p in self.points],
            "seed": self.seed,
            "seeds": list(self.seeds),
            "until": self.until,
            "runs": len(self.runs),
        }


def _check_paths(net: Network, parameters: list[str], axes: list[list[tuple]], source: str) -> None:
    """Every key path must lead to a value of the scenario format (checked once per path, with
    its first value, before any point is validated)."""
    firsts = [v for axis in axes for v in axis[0]]
    problems: list[str] = []
    data = net.to_dict()
    for path, value in builtins.zip(parameters, firsts):
        try:
            apply_overrides(data, {path: value}, source)
        except ScenarioError as err:
            problems.extend(err.problems)
    if problems:
        raise ScenarioError(problems)


def _seeds(seeds: Any, seed: Any, net: Network, source: str) -> tuple[list[int], int | None]:
    where = f"{source} (sweep)"
    if isinstance(seeds, Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ScenarioError(f"{where}: seeds: a count must be at least 1, got {seeds}")
        base = net.scenario.seed if seed is None else seed
        try:
            base = operator.index(base)
        except TypeError:
            raise ScenarioError(f"{where}: seed: must be a non-negative integer, got {seed!r}") from None
        if base < 0:
            raise ScenarioError(f"{where}: seed: must be a non-negative integer, got {seed!r}")
        return spawn_seeds(base, int(seeds)), base
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise ScenarioError(f"{where}: seeds: must be a count or a list of seeds, got {seeds!r}")
    values = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, Integral) or s < 0:
            raise ScenarioError(f"{where}: seeds: every seed must be a non-negative integer, got {s!r}")
        values.append(int(s))
    if not values:
        raise ScenarioError(f"{where}: seeds: must not be empty")
    dup = [s for s, n in _counts(values).items() if n > 1]
    if dup:
        raise ScenarioError(f"{where}: seeds: each seed may appear once, got {dup[0]} twice or more")
    if any(s >= 2**63 for s in values):
        raise ScenarioError(f"{where}: seeds: must be below 2**63, got {max(values)}")
    return values, None


def _counts(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _show_point(point: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items()) or "no parameters"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
