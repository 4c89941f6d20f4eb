"""Results of a run: tidy DataFrames, a summary row, and a folder format (Parquet + JSON).

A saved run is a folder with one ``<table>.parquet`` per table and ``manifest.json`` (scenario,
overrides, seed, simulated time, version, conservation check). :func:`load_result` reads it back;
:meth:`Result.summary` is computed from the tables and the manifest alone, so a loaded run
summarizes exactly like the live one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from contagion.engine.recorder import SCHEMAS, empty_frame
from contagion.errors import ResultError
from contagion.metrics import summarize

__all__ = ["Result", "load_result", "TABLES"]

TABLES = tuple(SCHEMAS)
MANIFEST = "manifest.json"


class Result:
    """Tables of one run.

    Attributes
    ----------
    blocks, transactions, prices, oracle_updates, swaps, liquidations, protocols, positions
        :class:`pandas.DataFrame` per table; columns are documented in ``networks/README.md``.
    manifest : dict
        ``scenario`` (the validated scenario as data), ``source``, ``overrides``, ``seed``,
        ``until`` (seconds simulated), ``version``, ``conservation`` (per asset).
    """

    def __init__(self, frames: dict[str, pd.DataFrame], manifest: dict[str, Any]):
        missing = [t for t in TABLES if t not in frames]
        if missing:
            raise ResultError(f"result is missing tables: {', '.join(missing)}")
        self.frames = dict(frames)
        self.manifest = manifest

    def __getattr__(self, name: str) -> pd.DataFrame:
        frames = self.__dict__.get("frames", {})
        if name in frames:
            return frames[name]
        raise AttributeError(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(TABLES))

    def __repr__(self) -> str:
        scn = self.manifest.get("scenario", {}).get("name", "?")
        return (f"<Result {scn!r} seed={self.manifest.get('seed')} until={self.manifest.get('until')}s: "
                f"{len(self.frames['liquidations'])} liquidations, {len(self.frames['blocks'])} blocks>")

    @property
    def seed(self) -> int:
        return self.manifest["seed"]

    def summary(self) -> pd.Series:
        """Headline metrics (one row); see :mod:`contagion.metrics` for definitions."""
        return summarize(self.frames, self.manifest)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the tables as Parquet and the manifest as JSON into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            self.frames[table].to_parquet(out / f"{table}.parquet", index=False)
        (out / MANIFEST).write_text(json.dumps(self.manifest, indent=2, default=str), encoding="utf-8")
        return out


def load_result(directory: str | os.PathLike) -> Result:
    """Read a run saved by :meth:`Result.save`.

    Raises
    ------
    ResultError
        If the folder has no manifest or a table cannot be read.
    """
    folder = Path(directory)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultError(f"{folder}: not a saved run (no {MANIFEST})") from None
    except json.JSONDecodeError as err:
        raise ResultError(f"{folder / MANIFEST}: invalid JSON: {err}") from err
    frames = {}
    for table in TABLES:
        path = folder / f"{table}.parquet"
        if not path.exists():
            frames[table] = empty_frame(table)
            continue
        try:
            frames[table] = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types
            raise ResultError(f"{path}: cannot read: {err}") from err
    return Result(frames, manifest)
