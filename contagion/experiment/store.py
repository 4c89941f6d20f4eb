"""The folder a sweep streams its runs into, and reads its table back from.

Layout of ``out/``::

    sweep.json            what the sweep is (scenario, parameters, seeds, until) and its state
    plan.parquet          the planned runs: run_id, run_key, point, replicate, seed, parameters
    runs/<run_key>/       one folder per finished run:
        summary.parquet     one row: run_key, seed, status, error, then the summary metrics
        run.json            key, seed, overrides, status, error and traceback, elapsed seconds,
                            host and pid, contagion version, whether tables were kept
        *.parquet, manifest.json   the run's tables (:meth:`Result.save`) with ``keep_tables``
    table.parquet         the sweep table, written when the sweep completes
    failures.parquet      one row per failed run with its traceback, written when it completes

Every finished run is written into ``runs/.tmp-<run_key>-<token>/`` and then renamed to
``runs/<run_key>`` with :func:`os.replace`: a folder named by a key is always complete, so a
killed sweep leaves nothing half-written and a resumed one skips exactly the finished runs. The
other files are written to a temporary name and renamed too. A lock file (``.lock``: host and
pid) keeps two sweeps from writing into one folder at once; a lock left by a process that no
longer exists on this host is taken over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contagion._version import __version__
from contagion.errors import ResultError
from contagion.experiment.errors import SweepError
from contagion.experiment.runner import RunOutcome, tmp_name

__all__ = ["SweepStore", "StoredRun", "FAILURE_COLUMNS", "load_sweep"]

log = logging.getLogger(__name__)

SWEEP_MANIFEST = "sweep.json"
PLAN = "plan.parquet"
TABLE = "table.parquet"
FAILURES = "failures.parquet"
RUNS = "runs"
RUN_MANIFEST = "run.json"
RUN_SUMMARY = "summary.parquet"
LOCK = ".lock"
FORMAT = "contagion-sweep"
FORMAT_VERSION = 1

#: Columns of the failures table after the plan's columns and parameters.
FAILURE_COLUMNS = ("error_type", "error", "traceback", "host", "pid", "elapsed_s")
_READ_BATCH = 256


@dataclass(frozen=True)
class StoredRun:
    """What the store knows about a finished run without reading its summary."""

    key: str
    status: str
    tables: bool


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return str(value)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class SweepStore:
    """A sweep's folder (see the module docstring for its layout).

    Parameters
    ----------
    directory : path-like
        Created if needed.
    """

    def __init__(self, directory: str | os.PathLike):
        self.root = Path(directory)

    # ---------------------------------------------------------------------------- layout
    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS

    def run_dir(self, key: str) -> Path:
        """Folder of a finished run."""
        return self.runs_dir / key

    def is_sweep(self) -> bool:
        """Whether the folder holds a sweep (has ``sweep.json``)."""
        return (self.root / SWEEP_MANIFEST).is_file()

    @property
    def manifest(self) -> dict:
        """The parsed ``sweep.json``."""
        path = self.root / SWEEP_MANIFEST
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultError(f"{self.root}: not a sweep (no {SWEEP_MANIFEST})") from None
        except json.JSONDecodeError as err:
            raise ResultError(f"{path}: invalid JSON: {err}") from err

    # ------------------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``.lock`` while writing; raises :class:`SweepError` if a live process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK
        me = {"host": socket.gethostname(), "pid": os.getpid()}
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    holder = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    holder = {}
                if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) \
                        and not _pid_alive(holder["pid"]):
                    log.info("%s: taking over the lock of process %s, which has ended", self.root, holder["pid"])
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
                raise SweepError(f"{self.root}: another sweep is writing here (host {holder.get('host', '?')}, "
                                 f"pid {holder.get('pid', '?')}); if it has ended, delete {path}") from None
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(me, handle)
            break
        else:  # pragma: no cover - a race with another process taking over the same stale lock
            raise SweepError(f"{self.root}: could not take the lock {path}")
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # ------------------------------------------------------------------------ begin/finish
    def begin(self, manifest: dict, plan: pd.DataFrame) -> None:
        """Write ``sweep.json`` (state ``running``) and ``plan.parquet``; remove temporary
        folders left by a killed sweep and the previous table (it is rewritten at the end)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(self.runs_dir):
            if entry.name.startswith(".tmp-"):
                shutil.rmtree(entry.path, ignore_errors=True)
        for name in (TABLE, FAILURES):
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()
        _write_parquet_atomic(plan, self.root / PLAN)
        self.write_manifest({"format": FORMAT, "format_version": FORMAT_VERSION, **manifest,
                             "state": "running", "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def write_manifest(self, manifest: dict) -> None:
        """Replace ``sweep.json``."""
        _write_text_atomic(self.root / SWEEP_MANIFEST, json.dumps(_jsonable(manifest), indent=2))

    def finish(self, table: pd.DataFrame, failures: pd.DataFrame, **state: Any) -> None:
        """Write the final table and failures, then mark ``sweep.json`` complete."""
        _write_parquet_atomic(table, self.root / TABLE)
        _write_parquet_atomic(failures, self.root / FAILURES)
        manifest = self.manifest
        manifest.update(state)
        manifest["state"] = "complete"
        manifest["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.write_manifest(manifest)

    # ------------------------------------------------------------------------------ runs
    def finished(self) -> dict[str, StoredRun]:
        """Every finished run in the folder, by key."""
        out: dict[str, StoredRun] = {}
        if not self.runs_dir.is_dir():
            return out
        for entry in os.scandir(self.runs_dir):
            if entry.name.startswith("."):
                continue
            try:
                info = json.loads(Path(entry.path, RUN_MANIFEST).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                log.warning("%s: run folder without a readable %s, ignored", entry.path, RUN_MANIFEST)
                continue
            out[entry.name] = StoredRun(entry.name, info.get("status", "failed"), bool(info.get("tables")))
        return out

    def tmp_dir(self, key: str, token: str) -> Path:
        """Temporary folder of a run before it is renamed (workers write kept tables there)."""
        return self.runs_dir / tmp_name(key, token)

    def new_token(self) -> str:
        """A fresh token for a run's temporary folder."""
        return uuid.uuid4().hex[:12]

    def save(self, outcome: RunOutcome, seed: int, overrides: dict) -> Path:
        """Write a finished run atomically: summary row and manifest into its temporary folder
        (next to the tables a worker may have written there), then rename it to its key."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tmp = self.tmp_dir(outcome.key, outcome.token)
        tmp.mkdir(parents=True, exist_ok=True)
        columns: dict[str, Any] = {
            "run_key": pa.array([outcome.key], pa.string()),
            "seed": pa.array([seed], pa.int64()),
            "status": pa.array([outcome.status], pa.string()),
            "error": pa.array([None if outcome.status == "ok" else f"{outcome.error_type}: {outcome.error}"],
                              pa.string()),
        }
        for name, value in (outcome.metrics or {}).items():
            columns[name] = pa.array([value])
        # one row: statistics, dictionaries and compression would only cost time
        pq.write_table(pa.table(columns), tmp / RUN_SUMMARY, write_statistics=False, use_dictionary=False,
                       compression="none")
        info = {"key": outcome.key, "seed": seed, "overrides": overrides, "status": outcome.status,
                "error_type": outcome.error_type, "error": outcome.error, "traceback": outcome.traceback,
                "elapsed_s": outcome.elapsed_s, "host": outcome.host, "pid": outcome.pid,
                "tables": outcome.tables, "version": __version__,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (tmp / RUN_MANIFEST).write_text(json.dumps(_jsonable(info), indent=2), encoding="utf-8")
        final = self.run_dir(outcome.key)
        if final.exists():  # rerun of a failed run, or of one stored without its tables
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final

    def discard(self, key: str, token: str) -> None:
        """Remove a run's temporary folder (a run that will not be stored)."""
        shutil.rmtree(self.tmp_dir(key, token), ignore_errors=True)

    def run_info(self, key: str) -> dict:
        """The parsed ``run.json`` of a finished run."""
        path = self.run_dir(key) / RUN_MANIFEST
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultError(f"{self.root}: run {key} has not finished") from None

    def result(self, key: str):
        """The tables of a run kept with ``keep_tables`` (a :class:`~contagion.Result`)."""
        from contagion.results import load_result

        if not self.run_info(key).get("tables"):
            raise ResultError(f"{self.run_dir(key)}: the run's tables were not kept (sweep with keep_tables=True)")
        return load_result(self.run_dir(key))

    # ---------------------------------------------------------------------------- tables
    def plan(self) -> pd.DataFrame:
        """The planned runs (``plan.parquet``)."""
        try:
            return pd.read_parquet(self.root / PLAN)
        except FileNotFoundError:
            raise ResultError(f"{self.root}: not a sweep (no {PLAN})") from None

    def read_table(self, plan: pd.DataFrame | None = None) -> pd.DataFrame:
        """The sweep table of the finished runs of ``plan`` (default: the stored plan), read
        from the run folders in ``run_id`` order.

        Columns: the plan's (``run_id, run_key, point, replicate, seed``, one per swept key
        path), then ``status`` (``ok`` or ``failed``), ``error`` (``Type: message`` of a failed
        run), then the summary metrics in the order they first appear (a metric a run does not
        report, e.g. ``amplification.<pool>`` without a shock, is missing for that run).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        plan = self.plan() if plan is None else plan
        parts: list[pa.Table] = []
        batch: list[pa.Table] = []
        present = []
        for key in plan["run_key"]:
            path = self.runs_dir / key / RUN_SUMMARY
            try:
                with pq.ParquetFile(path) as handle:       # far less overhead than pq.read_table
                    batch.append(handle.read(use_threads=False))
            except FileNotFoundError:
                present.append(False)
                continue
            present.append(True)
            if len(batch) >= _READ_BATCH:
                # compacted, so the one-row tables are freed: memory stays ~ the table's own size
                parts.append(pa.concat_tables(batch, promote_options="permissive").combine_chunks())
                batch = []
        if batch:
            parts.append(pa.concat_tables(batch, promote_options="permissive").combine_chunks())
        left = plan[present].reset_index(drop=True)
        if not parts:
            return left.assign(status=pd.Series([], dtype="str"), error=pd.Series([], dtype="str"))
        rows = pa.concat_tables(parts, promote_options="permissive").to_pandas()
        if list(rows["run_key"]) != list(left["run_key"]):  # pragma: no cover - defensive
            raise SweepError(f"{self.root}: run folders do not match the plan")
        rows = rows.drop(columns=["run_key", "seed"])
        return pd.concat([left, rows], axis=1)

    def read_failures(self, plan: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per failed run of ``plan``: the plan's columns, then ``error_type, error,
        traceback, host, pid, elapsed_s``."""
        plan = self.plan() if plan is None else plan
        rows = []
        for index, key in enumerate(plan["run_key"]):
            path = self.runs_dir / key / RUN_MANIFEST
            try:
                info = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            if info.get("status") == "ok":
                continue
            rows.append((index, [info.get(c) for c in FAILURE_COLUMNS]))
        frame = plan.iloc[[i for i, _ in rows]].reset_index(drop=True)
        extra = pd.DataFrame([values for _, values in rows], columns=list(FAILURE_COLUMNS))
        extra = extra.astype({"error_type": "str", "error": "str", "traceback": "str", "host": "str",
                              "pid": "int64", "elapsed_s": "float64"})
        return pd.concat([frame, extra], axis=1)

    def table(self) -> pd.DataFrame:
        """The sweep table: ``table.parquet`` of a completed sweep, else the runs finished so far."""
        if self.manifest.get("state") == "complete" and (self.root / TABLE).is_file():
            return pd.read_parquet(self.root / TABLE)
        return self.read_table()

    def failures(self) -> pd.DataFrame:
        """The failures table (see :meth:`read_failures`)."""
        if self.manifest.get("state") == "complete" and (self.root / FAILURES).is_file():
            return pd.read_parquet(self.root / FAILURES)
        return self.read_failures()


def load_sweep(directory: str | os.PathLike) -> pd.DataFrame:
    """The table of a sweep written by :func:`contagion.sweep` with ``out=directory``.

    A completed sweep's ``table.parquet``; for an interrupted one, the runs finished so far
    (run it again to resume). Failures with tracebacks: ``SweepStore(directory).failures()``.

    Raises
    ------
    ResultError
        If the folder is not a sweep.
    """
    store = SweepStore(directory)
    if not store.is_sweep():
        raise ResultError(f"{directory}: not a sweep (no {SWEEP_MANIFEST})")
    return store.table()
