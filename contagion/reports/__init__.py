"""Reports: plots (PNG) and a self-contained ``report.html`` for a saved run or a sweep.

:func:`write_report`
    For a run (:class:`~contagion.Result`): the plots of :mod:`contagion.reports.run_plots` into
    ``<dir>/plots`` and ``<dir>/report.html`` with the run's facts, summary and plots.
:func:`write_sweep_report`
    For a sweep folder (:func:`contagion.sweep` with ``out=``): response curves
    (:mod:`contagion.reports.sweep_plots`) into ``<dir>/plots`` and ``<dir>/report.html`` with
    the sweep's facts, a table per parameter point, the failures and the curves.
:func:`write_folder_report`
    Either, depending on what the folder holds.

Plots use matplotlib's object API (no pyplot, no global state).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from contagion.errors import ResultError
from contagion.reports._figures import t_quantile
from contagion.reports.html import Figure, Page
from contagion.reports.run_plots import RUN_PLOTS, PlotSkipped
from contagion.reports.sweep_plots import headline_metrics, point_table, response_curves
from contagion.results import Result

__all__ = ["write_report", "write_sweep_report", "write_folder_report", "t_quantile", "REPORT"]

log = logging.getLogger(__name__)

REPORT = "report.html"


def write_report(res: Result, directory: str | os.PathLike, *, html: bool = True) -> list[Path]:
    """Write a run's plots into ``directory/plots`` and, with ``html``, ``directory/report.html``.

    Parameters
    ----------
    res : Result
        A run (from :func:`contagion.run` or :func:`contagion.load_result`).
    directory : path-like
        Where to write (usually the run's folder).
    html : bool
        Also write the HTML page.

    Returns
    -------
    list of pathlib.Path
        The files written (plots, then the page). A plot the run's data cannot support (e.g.
        the depth heat map without a lending protocol) is skipped, with the reason logged and
        shown in the page.
    """
    out = Path(directory)
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    figures, skipped = [], []
    for stem, draw, title, caption in RUN_PLOTS:
        try:
            path = draw(res, plots / f"{stem}.png")
        except PlotSkipped as why:
            log.info("%s.png skipped: %s", stem, why)
            skipped.append((title, str(why)))
            continue
        figures.append(Figure(path, title, caption))
    written = [f.path for f in figures]
    if html:
        written.append(_run_page(res, figures, skipped).write(out / REPORT))
    return written


def _run_page(res: Result, figures: list[Figure], skipped: list[tuple[str, str]]) -> Page:
    manifest = res.manifest
    scn = manifest["scenario"]
    page = Page(f"{scn['name']}: run report",
                f"seed {res.seed}, {float(manifest['until']) / 3600:g} h simulated, from {manifest.get('source', '?')}")
    page.heading("Run")
    page.pairs({"scenario": scn["name"], "description": " ".join(str(scn.get("description", "")).split()),
                "source": manifest.get("source"), "seed": res.seed, "simulated (s)": manifest["until"],
                "overrides": ", ".join(f"{k}={v}" for k, v in manifest.get("overrides", {}).items()) or "none",
                "contagion version": manifest.get("version")})
    page.heading("Summary")
    summary = res.summary()
    page.table(pd.DataFrame({"metric": summary.index, "value": list(summary.values)}))
    conservation = manifest.get("conservation") or []
    if conservation:
        page.heading("Conservation")
        page.table(pd.DataFrame(conservation))
    page.heading("Plots")
    for fig in figures:
        page.figure(fig)
    for title, why in skipped:
        page.paragraph(f"{title}: not drawn ({why}).", note=True)
    return page


def write_sweep_report(directory: str | os.PathLike) -> list[Path]:
    """Write a sweep's response curves into ``directory/plots`` and ``directory/report.html``.

    Works on a finished sweep and on an interrupted one (its finished runs).

    Returns
    -------
    list of pathlib.Path
        The files written (plots, then the page).

    Raises
    ------
    ResultError
        If ``directory`` is not a sweep.
    """
    from contagion.experiment.store import SweepStore
    from contagion.experiment.sweeps import summarize_failures

    out = Path(directory)
    store = SweepStore(out)
    if not store.is_sweep():
        raise ResultError(f"{out}: not a sweep (no sweep.json)")
    manifest = store.manifest
    table = store.table()
    failures = store.failures()
    parameters = list(manifest.get("parameters", []))
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    curves = response_curves(table, parameters, plots)

    planned = int(manifest.get("runs", len(table)))
    page = Page(f"{manifest.get('scenario_name', '?')}: sweep report",
                f"{len(table):,} of {planned:,} runs finished ({manifest.get('state', '?')}), "
                f"{len(failures):,} failed; {len(manifest.get('points', [])):,} parameter point(s) x "
                f"{len(manifest.get('seeds', [])):,} seed(s)")
    page.heading("Sweep")
    page.pairs({"scenario": manifest.get("scenario_name"), "source": manifest.get("source"),
                "swept key paths": ", ".join(parameters) or "none (Monte Carlo over seeds)",
                "grid": manifest.get("grid"), "zip": manifest.get("zip") or "none",
                "fixed overrides": manifest.get("overrides") or "none",
                "seeds": f"{len(manifest.get('seeds', []))} ({manifest.get('seeding', '')})",
                "simulated (s)": manifest.get("until"), "executor": manifest.get("executor"),
                "workers": manifest.get("workers"), "state": manifest.get("state"),
                "contagion version": manifest.get("version")})
    if len(table) < planned:
        page.paragraph(f"{planned - len(table):,} planned runs have not finished: run the sweep again to resume.",
                       note=True)
    metrics = headline_metrics(table[table["status"] == "ok"]) if len(table) else []
    if len(table):
        page.heading("Parameter points")
        page.paragraph("Mean over the point's finished runs ± half-width of the 95 % confidence interval of the mean.")
        page.table(point_table(table, parameters, metrics))
    page.heading("Failures")
    if len(failures):
        for line in summarize_failures(failures):
            page.paragraph(line, note=True)
        page.table(failures[["run_id", "seed", *parameters, "error_type", "error"]])
        page.paragraph("First traceback:")
        page.preformatted(str(failures["traceback"].iloc[0]))
    else:
        page.paragraph("No run failed.")
    page.heading("Response curves")
    for path, title, caption in curves:
        page.figure(Figure(path, title, caption))
    if not curves:
        page.paragraph("No finished run to plot.", note=True)
    written = [p for p, _, _ in curves]
    written.append(page.write(out / REPORT))
    return written


def write_folder_report(directory: str | os.PathLike) -> list[Path]:
    """Report on a folder: a sweep (``sweep.json``) or a saved run (``manifest.json``).

    Raises
    ------
    ResultError
        If the folder holds neither.
    """
    from contagion.experiment.store import SweepStore
    from contagion.results import load_result

    if SweepStore(directory).is_sweep():
        return write_sweep_report(directory)
    if not (Path(directory) / "manifest.json").is_file():
        raise ResultError(f"{directory}: not a saved run or sweep (no manifest.json or sweep.json)")
    return write_report(load_result(directory), directory)
